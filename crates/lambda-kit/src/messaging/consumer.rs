//! What every SQS consumer's `main` shares: its idempotency settings from the environment and
//! the Lambda loop that hands each batch to its [`BatchProcessor`].

use aws_sdk_dynamodb::Client;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

use super::{
    BatchDeadline, BatchProcessor, DynamoIdempotencyStore, EventHandler, IdempotencyStore,
    Idempotent, SqsBatchResponse, SqsEvent,
};
use crate::config::{ConfigError, env_positive, env_required};

/// Where a consumer records the event ids it processed, and how long an in-progress claim
/// holds (`IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS`, default 60).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// The idempotency table.
    pub table: String,
    /// Seconds before another delivery may take over an unfinished claim.
    pub in_progress_seconds: i64,
}

impl IdempotencyConfig {
    /// Reads the settings once, at cold start.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table: env_required("IDEMPOTENCY_TABLE")?,
            in_progress_seconds: env_positive("IDEMPOTENCY_IN_PROGRESS_SECONDS", 60)?,
        })
    }

    /// Idempotency on `eventId` for `consumer`, recorded in DynamoDB.
    pub fn into_dynamo(
        self,
        client: Client,
        consumer: &'static str,
    ) -> Idempotent<DynamoIdempotencyStore> {
        Idempotent::new(DynamoIdempotencyStore::new(client, self.table), consumer)
            .with_in_progress_seconds(self.in_progress_seconds)
    }
}

/// Serves SQS batches to `processor` until the runtime stops; each batch stops short of the
/// invocation's deadline ([`BatchDeadline`]) and answers with the records to retry
/// (`ReportBatchItemFailures`).
pub async fn run_sqs_consumer<H: EventHandler, I: IdempotencyStore>(
    processor: BatchProcessor<H, I>,
) -> Result<(), lambda_runtime::Error> {
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline =
            BatchDeadline::for_invocation(event.context.deadline(), std::time::SystemTime::now());
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            processor.process_within(event.payload, deadline).await,
        )
    }))
    .await
}
