//! fraud-detector Lambda (SQS consumer): wiring only. The logic is `shop_core::fraud`.

use lambda_kit::config::Settings;
use lambda_kit::messaging::{BatchProcessor, SnsPublisher, run_sqs_consumer};
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::auth::DynamoUserStore;
use shop_core::fraud::{DynamoFraudStore, FUNCTION_NAME, FraudDetector, FraudDetectorSettings};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = FraudDetectorSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let sns = aws_sdk_sns::Client::new(&sdk_config);
    run_sqs_consumer(BatchProcessor::new(
        FUNCTION_NAME,
        FraudDetector::new(
            DynamoFraudStore::new(dynamodb.clone(), settings.fraud_table),
            DynamoUserStore::new(dynamodb.clone(), settings.users_table),
            SnsPublisher::new(sns, settings.topic_arn),
            settings.fraud,
        ),
        settings.idempotency.into_dynamo(dynamodb, FUNCTION_NAME),
    ))
    .await
}
