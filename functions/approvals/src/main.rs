//! approvals Lambda (SQS consumer of the approvals queue): wiring only. The logic is
//! `shop_core::approvals`.

use lambda_kit::config::Settings;
use lambda_kit::messaging::{BatchProcessor, run_sqs_consumer};
use lambda_kit::telemetry;
use lambda_runtime::Error;
use shop_core::approvals::{Approvals, ApprovalsSettings, FUNCTION_NAME};
use shop_core::notifications::DynamoNotificationStore;
use shop_core::orders::DynamoOrderStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = ApprovalsSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    run_sqs_consumer(BatchProcessor::new(
        FUNCTION_NAME,
        Approvals::new(
            DynamoOrderStore::new(dynamodb.clone(), settings.orders_table),
            DynamoNotificationStore::new(dynamodb.clone(), settings.notifications_table),
        ),
        settings.idempotency.into_dynamo(dynamodb, FUNCTION_NAME),
    ))
    .await
}
