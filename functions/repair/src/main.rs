//! repair Lambda (SQS consumer of the repair queue): wiring only. The logic is
//! `shop_core::repair`.

use lambda_kit::config::Settings;
use lambda_kit::messaging::{BatchProcessor, SnsPublisher, SqsQueue, run_sqs_consumer};
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::cart::DynamoCartStore;
use shop_core::orders::DynamoOrderStore;
use shop_core::payment::{DynamoPaymentStore, SimulatedProvider};
use shop_core::repair::{FUNCTION_NAME, Repair, RepairSettings};
use shop_core::reservations::DynamoStockRelease;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = RepairSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let sqs = aws_sdk_sqs::Client::new(&sdk_config);
    let sns = aws_sdk_sns::Client::new(&sdk_config);
    run_sqs_consumer(BatchProcessor::new(
        FUNCTION_NAME,
        Repair::new(
            DynamoOrderStore::new(dynamodb.clone(), settings.orders_table),
            SimulatedProvider::new(DynamoPaymentStore::new(
                dynamodb.clone(),
                settings.payments_table,
            )),
            DynamoStockRelease::new(
                dynamodb.clone(),
                settings.reservations_table,
                settings.products_table,
            ),
            SqsQueue::new(sqs, settings.ledger_queue_url),
            SnsPublisher::new(sns, settings.topic_arn),
            DynamoCartStore::new(dynamodb.clone(), settings.sessions_table),
        ),
        settings.idempotency.into_dynamo(dynamodb, FUNCTION_NAME),
    ))
    .await
}
