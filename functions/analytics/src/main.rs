//! analytics Lambda (SQS consumer): wiring only. The logic is `shop_core::analytics`.

use lambda_kit::config::Settings;
use lambda_kit::messaging::{BatchProcessor, run_sqs_consumer};
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::analytics::{Analytics, AnalyticsSettings, DynamoCounterStore, FUNCTION_NAME};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = AnalyticsSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    run_sqs_consumer(BatchProcessor::new(
        FUNCTION_NAME,
        Analytics::new(DynamoCounterStore::new(
            dynamodb.clone(),
            settings.analytics_table,
        )),
        settings.idempotency.into_dynamo(dynamodb, FUNCTION_NAME),
    ))
    .await
}
