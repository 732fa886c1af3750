//! audit-log Lambda (SQS consumer): wiring only. The logic is `shop_core::audit`.

use lambda_kit::config::Settings;
use lambda_kit::messaging::{BatchProcessor, run_sqs_consumer};
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::audit::{AuditLog, AuditLogSettings, DynamoAuditStore, FUNCTION_NAME};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = AuditLogSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    run_sqs_consumer(BatchProcessor::new(
        FUNCTION_NAME,
        AuditLog::new(DynamoAuditStore::new(
            dynamodb.clone(),
            settings.audit_table,
        )),
        settings.idempotency.into_dynamo(dynamodb, FUNCTION_NAME),
    ))
    .await
}
