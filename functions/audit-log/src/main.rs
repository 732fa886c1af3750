//! audit-log Lambda (SQS consumer): wiring only. The logic is `shop_core::consumers::audit`.

use lambda_kit::config::{ConfigError, env_required};
use lambda_kit::messaging::{BatchProcessor, IdempotencyConfig, run_sqs_consumer};
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::audit::{AuditLog, DynamoAuditStore, FUNCTION_NAME};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let (table, idempotency) =
        (|| Ok::<_, ConfigError>((env_required("AUDIT_TABLE")?, IdempotencyConfig::from_env()?)))()
            .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    run_sqs_consumer(BatchProcessor::new(
        FUNCTION_NAME,
        AuditLog::new(DynamoAuditStore::new(dynamodb.clone(), table)),
        idempotency.into_dynamo(dynamodb, FUNCTION_NAME),
    ))
    .await
}
