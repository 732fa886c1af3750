//! fulfilment Lambda (SQS consumer of the fulfilment delay queue): wiring only. The logic is
//! `shop_core::fulfilment`.

use lambda_kit::config::Settings;
use lambda_kit::messaging::{BatchProcessor, SnsPublisher, run_sqs_consumer};
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::fulfilment::{FUNCTION_NAME, Fulfilment, FulfilmentSettings};
use shop_core::orders::DynamoOrderStore;
use shop_core::reservations::DynamoReservations;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = FulfilmentSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let sns = aws_sdk_sns::Client::new(&sdk_config);
    run_sqs_consumer(BatchProcessor::new(
        FUNCTION_NAME,
        Fulfilment::new(
            DynamoOrderStore::new(dynamodb.clone(), settings.orders_table),
            DynamoReservations::new(dynamodb.clone(), settings.reservations_table),
            SnsPublisher::new(sns, settings.topic_arn),
        ),
        settings.idempotency.into_dynamo(dynamodb, FUNCTION_NAME),
    ))
    .await
}
