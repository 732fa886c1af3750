//! reconciler Lambda (EventBridge schedule): wiring only. The logic is
//! `shop_core::reconciler`.

use lambda_kit::config::{ConfigError, env_positive, env_required};
use lambda_kit::messaging::SqsQueue;
use lambda_kit::telemetry;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shop_core::orders::DynamoOrderStore;
use shop_core::reconciler::{Deadlines, DynamoReservationScan, FUNCTION_NAME, Reconciler};

struct Settings {
    orders_table: String,
    reservations_table: String,
    repair_queue_url: String,
    fulfilment_queue_url: String,
    deadlines: Deadlines,
}

impl Settings {
    fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: env_required("ORDERS_TABLE")?,
            reservations_table: env_required("RESERVATIONS_TABLE")?,
            repair_queue_url: env_required("REPAIR_QUEUE_URL")?,
            fulfilment_queue_url: env_required("FULFILMENT_QUEUE_URL")?,
            deadlines: Deadlines {
                stuck_after_seconds: env_positive("STUCK_AFTER_SECONDS", 900)?,
                approval_timeout_seconds: env_positive("APPROVAL_TIMEOUT_SECONDS", 86_400)?,
                cancel_window_seconds: env_positive("CANCEL_WINDOW_SECONDS", 900)?,
            },
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let settings = Settings::from_env()
        .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = lambda_kit::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let sqs = aws_sdk_sqs::Client::new(&sdk_config);
    let reconciler = Reconciler::new(
        DynamoOrderStore::new(dynamodb.clone(), settings.orders_table),
        DynamoReservationScan::new(dynamodb, settings.reservations_table),
        SqsQueue::new(sqs.clone(), settings.repair_queue_url),
        SqsQueue::new(sqs, settings.fulfilment_queue_url),
        settings.deadlines,
    );
    let reconciler = &reconciler;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            // The sweep's correlation id is its invocation: every request it sends carries it.
            let report = reconciler.run(&event.context.request_id).await?;
            Ok::<_, Error>(serde_json::to_value(report)?)
        },
    ))
    .await
}
