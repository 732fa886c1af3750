//! reconciler Lambda (EventBridge schedule): wiring only. The logic is
//! `shop_core::reconciler`.

use lambda_kit::config::Settings;
use lambda_kit::messaging::SqsQueue;
use lambda_kit::telemetry;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shop_core::orders::DynamoOrderStore;
use shop_core::reconciler::{FUNCTION_NAME, Reconciler, ReconcilerSettings};
use shop_core::reservations::DynamoReservations;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = ReconcilerSettings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let sqs = aws_sdk_sqs::Client::new(&sdk_config);
    let reconciler = Reconciler::new(
        DynamoOrderStore::new(dynamodb.clone(), settings.orders_table),
        DynamoReservations::new(dynamodb, settings.reservations_table),
        SqsQueue::new(sqs.clone(), settings.repair_queue_url),
        SqsQueue::new(sqs, settings.fulfilment_queue_url),
        settings.deadlines,
    );
    let reconciler = &reconciler;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            // The sweep's correlation id is its invocation: every request it sends carries it.
            let report = reconciler.run(&event.context.request_id).await;
            // Its own loop: the sweep's metrics leave with the invocation, failed or not.
            lambda_kit::metrics::flush();
            Ok::<_, Error>(serde_json::to_value(report?)?)
        },
    ))
    .await
}
