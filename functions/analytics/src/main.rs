//! analytics Lambda (SQS consumer): wiring only. The logic is `shop_core::consumers::analytics`.

use lambda_kit::config::{ConfigError, env_required};
use lambda_kit::messaging::{BatchProcessor, IdempotencyConfig, run_sqs_consumer};
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::analytics::{Analytics, DynamoCounterStore, FUNCTION_NAME};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let (table, idempotency) = (|| {
        Ok::<_, ConfigError>((
            env_required("ANALYTICS_TABLE")?,
            IdempotencyConfig::from_env()?,
        ))
    })()
    .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    run_sqs_consumer(BatchProcessor::new(
        FUNCTION_NAME,
        Analytics::new(DynamoCounterStore::new(dynamodb.clone(), table)),
        idempotency.into_dynamo(dynamodb, FUNCTION_NAME),
    ))
    .await
}
