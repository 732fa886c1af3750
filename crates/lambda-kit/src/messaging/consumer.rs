//! What every SQS consumer's `main` shares: its idempotency settings from the environment (a
//! [`Settings`], part of the consumer's own) and the Lambda loop that hands each batch to its
//! [`BatchProcessor`].

use aws_sdk_dynamodb::Client;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

use super::{
    BatchDeadline, BatchProcessor, DynamoIdempotencyStore, EventHandler, IdempotencyStore,
    Idempotent, SqsBatchResponse, SqsEvent,
};
use crate::config::{ConfigError, Settings, lookup_positive, lookup_required};

/// Where a consumer records the event ids it processed, and how long an in-progress claim
/// holds (`IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS`, default 60).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// The idempotency table.
    pub table: String,
    /// Seconds before another delivery may take over an unfinished claim.
    pub in_progress_seconds: i64,
}

/// Default of `IDEMPOTENCY_IN_PROGRESS_SECONDS`.
const DEFAULT_IN_PROGRESS_SECONDS: i64 = 60;

impl Settings for IdempotencyConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            table: lookup_required("IDEMPOTENCY_TABLE", lookup)?,
            in_progress_seconds: lookup_positive(
                "IDEMPOTENCY_IN_PROGRESS_SECONDS",
                DEFAULT_IN_PROGRESS_SECONDS,
                lookup,
            )?,
        })
    }
}

impl IdempotencyConfig {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<IdempotencyConfig, ConfigError> {
        IdempotencyConfig::from_lookup(&|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn reads_the_table_and_defaults_the_claim() {
        assert_eq!(
            read(&[("IDEMPOTENCY_TABLE", "idem")]),
            Ok(IdempotencyConfig {
                table: "idem".to_owned(),
                in_progress_seconds: DEFAULT_IN_PROGRESS_SECONDS,
            })
        );
        assert_eq!(
            read(&[
                ("IDEMPOTENCY_TABLE", "idem"),
                ("IDEMPOTENCY_IN_PROGRESS_SECONDS", "90")
            ])
            .map(|config| config.in_progress_seconds),
            Ok(90)
        );
    }

    #[test]
    fn names_the_missing_or_invalid_variable() {
        assert_eq!(read(&[]), Err(ConfigError::Missing("IDEMPOTENCY_TABLE")));
        assert!(matches!(
            read(&[
                ("IDEMPOTENCY_TABLE", "idem"),
                ("IDEMPOTENCY_IN_PROGRESS_SECONDS", "soon")
            ]),
            Err(ConfigError::Invalid {
                name: "IDEMPOTENCY_IN_PROGRESS_SECONDS",
                ..
            })
        ));
    }
}
