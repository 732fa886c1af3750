//! analytics Lambda (SQS consumer): wiring only. The logic is `shop_core::consumers::analytics`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use shop_core::config::{env_positive, env_required};
use shop_core::consumers::analytics::{Analytics, DynamoCounterStore, FUNCTION_NAME};
use shop_core::messaging::{
    BatchProcessor, DynamoIdempotencyStore, Idempotent, SqsBatchResponse, SqsEvent,
};
use shop_core::telemetry;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init(FUNCTION_NAME);
    let (table, idempotency_table, in_progress) = (|| {
        Ok::<_, shop_core::config::ConfigError>((
            env_required("ANALYTICS_TABLE")?,
            env_required("IDEMPOTENCY_TABLE")?,
            env_positive("IDEMPOTENCY_IN_PROGRESS_SECONDS", 60)?,
        ))
    })()
    .inspect_err(|err| tracing::error!(error = %err, "invalid configuration"))?;
    let sdk_config = shop_core::aws::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let processor = BatchProcessor::new(
        FUNCTION_NAME,
        Analytics::new(DynamoCounterStore::new(dynamodb.clone(), table)),
        Idempotent::new(
            DynamoIdempotencyStore::new(dynamodb, idempotency_table),
            FUNCTION_NAME,
        )
        .with_in_progress_seconds(in_progress),
    );
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(processor.process(event.payload).await)
    }))
    .await
}
