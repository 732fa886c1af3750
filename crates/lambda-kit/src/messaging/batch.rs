//! The SQS batch processor shared by every consumer.
//!
//! - Records are processed concurrently, at most `concurrency` at a time.
//! - Only the records that failed are reported back (`batchItemFailures`), so SQS deletes
//!   the others and redelivers just the failed ones after the visibility timeout (the event
//!   source mapping must have `FunctionResponseTypes: [ReportBatchItemFailures]`).
//! - A malformed record, an error or a panic while processing one record fails that record
//!   alone, logged with the reason; the rest of the batch is unaffected. Panics are caught
//!   with `catch_unwind`, which needs `panic = "unwind"` (see the release profile).
//! - Every record is processed inside a span carrying its `message_id`, `event_id`,
//!   `event_type` and the `correlation_id` that came with the event from the API.
//! - [`BatchProcessor`] adds idempotency on `eventId` (see [`super::Idempotent`]): a
//!   redelivered event that was already processed is acknowledged without running again.
//! - With a [`BatchDeadline`] (the consumers' Lambda loop gives the invocation's), records stop
//!   short of the deadline and fail alone, so a slow record never times out the whole batch.
//! - Every record is counted as processed, duplicate or failed per consumer and event type
//!   ([`crate::metrics::event_outcome`]); the batch's metrics are flushed as it answers.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::FutureExt as _;
use futures::stream::{self, StreamExt as _};
use tracing::Instrument as _;

use super::deadline::{BatchDeadline, until};
use super::envelope::{EnvelopeError, EventEnvelope};
use super::idempotency::{Claim, IdempotencyStore, Idempotent};
use crate::clock::Clock;
use crate::metrics::EventOutcome;

/// Records processed at the same time by default (a batch holds at most 10 by default).
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Why one record failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The record is not something this consumer can ever process (it will end in the DLQ).
    #[error("malformed record: {0}")]
    Malformed(String),
    /// Processing failed; a later delivery may succeed.
    #[error("processing failed: {0}")]
    Failed(String),
    /// Another delivery of the same event is being processed right now.
    #[error("event {0} is being processed by another delivery")]
    InProgress(String),
}

impl From<EnvelopeError> for ProcessError {
    fn from(err: EnvelopeError) -> Self {
        Self::Malformed(err.to_string())
    }
}

/// What happened to a record that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Processed now.
    Processed,
    /// Already processed by an earlier delivery: nothing done.
    Duplicate,
}

/// Parses an SQS record body (raw message delivery: the envelope itself).
pub fn parse_record(record: &SqsMessage) -> Result<EventEnvelope, ProcessError> {
    let body = record
        .body
        .as_deref()
        .ok_or_else(|| ProcessError::Malformed("record has no body".to_owned()))?;
    Ok(EventEnvelope::from_json(body)?)
}

pub(super) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// Runs `handler` on every record's envelope, at most `concurrency` at a time, and returns
/// the ids of the records that failed (malformed, error, panic, or cut off by `deadline`) as
/// batch item failures.
pub async fn process_standard_batch<F, Fut>(
    consumer: &'static str,
    records: Vec<SqsMessage>,
    concurrency: usize,
    deadline: BatchDeadline,
    handler: F,
) -> SqsBatchResponse
where
    F: Fn(EventEnvelope) -> Fut,
    Fut: Future<Output = Result<RecordOutcome, ProcessError>>,
{
    let handler = &handler;
    let total = records.len();
    let failed: Vec<String> = stream::iter(records)
        .map(|record| async move {
            let message_id = record.message_id.clone().unwrap_or_default();
            let span = tracing::info_span!(
                "record",
                consumer,
                message_id = %message_id,
                event_id = tracing::field::Empty,
                event_type = tracing::field::Empty,
                correlation_id = tracing::field::Empty,
            );
            if deadline.records_stopped() {
                span.in_scope(|| {
                    tracing::warn!(
                        "not started: the invocation's deadline is near; will be retried"
                    );
                });
                return Some(message_id);
            }
            // Known once the record parses; read back for the metrics after the work ends
            // (also when the deadline cut it off).
            let event_type = std::sync::OnceLock::<String>::new();
            let work = async {
                let envelope = parse_record(&record)?;
                let current = tracing::Span::current();
                current.record("event_id", envelope.event_id.as_str());
                current.record("event_type", envelope.event_type.as_str());
                current.record("correlation_id", envelope.correlation_id.as_str());
                let _ = event_type.set(envelope.event_type.clone());
                // The call is inside the async block so that a panic while building the
                // handler's future is caught too.
                AssertUnwindSafe(async { handler(envelope).await })
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|payload| {
                        Err(ProcessError::Failed(format!(
                            "panic: {}",
                            panic_message(payload.as_ref())
                        )))
                    })
            }
            .instrument(span.clone());
            let result = until(deadline.hard_stop(), work).await.unwrap_or_else(|| {
                Err(ProcessError::Failed(
                    "cut off: the invocation's deadline is near".to_owned(),
                ))
            });
            record_outcome(
                consumer,
                event_type.get().map_or("", String::as_str),
                &result,
            );
            span.in_scope(|| match &result {
                Ok(RecordOutcome::Processed) => tracing::info!("record processed"),
                Ok(RecordOutcome::Duplicate) => {
                    tracing::info!("duplicate delivery, already processed")
                }
                Err(err @ ProcessError::InProgress(_)) => {
                    tracing::warn!(reason = %err, "record failed, will be retried")
                }
                Err(err) => tracing::error!(reason = %err, "record failed"),
            });
            result.err().map(|_| message_id)
        })
        .buffer_unordered(concurrency.max(1))
        .filter_map(|failed| async move { failed })
        .collect()
        .await;
    batch_response(consumer, failed, total)
}

/// Counts one record's outcome ([`crate::metrics::event_outcome`]).
pub(super) fn record_outcome(
    consumer: &str,
    event_type: &str,
    result: &Result<RecordOutcome, ProcessError>,
) {
    let outcome = match result {
        Ok(RecordOutcome::Processed) => EventOutcome::Processed,
        Ok(RecordOutcome::Duplicate) => EventOutcome::Duplicate,
        Err(_) => EventOutcome::Failed,
    };
    crate::metrics::event_outcome(consumer, event_type, outcome);
}

/// The answer to the event source mapping: the message ids to redeliver, logged as a warning
/// when there are any. The batch's metrics are flushed here, the end of the invocation's work.
pub(super) fn batch_response(
    consumer: &'static str,
    failed: Vec<String>,
    total: usize,
) -> SqsBatchResponse {
    if !failed.is_empty() {
        tracing::warn!(
            consumer,
            failed = failed.len(),
            total,
            "batch had failed or held-back records"
        );
    }
    crate::metrics::flush();
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// What a consumer decodes an envelope into before it handles it: typically an enum of the
/// application's events with a struct per type and version.
pub trait FromEnvelope: Sized + Send {
    /// Decodes `envelope` (its `eventType`, `eventVersion` and `detail`); the error says why
    /// it cannot be (an unknown type or version, a malformed detail). Such a record fails
    /// alone and, after its retries, goes to the queue's DLQ.
    fn from_envelope(envelope: &EventEnvelope) -> Result<Self, String>;
}

/// The event of a consumer that takes every envelope as it is (e.g. an audit log that must
/// also keep types it does not know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnyEvent;

impl FromEnvelope for AnyEvent {
    fn from_envelope(_: &EventEnvelope) -> Result<Self, String> {
        Ok(Self)
    }
}

/// Handles one event for a consumer. Implementations must be safe to run again for the same
/// event after a failure (the idempotency record only covers completed runs).
pub trait EventHandler: Send + Sync {
    /// What each record is decoded into (once, by the processor, before idempotency).
    type Event: FromEnvelope;

    /// Processes `event`, decoded from `envelope` (which carries its id, time and
    /// correlation id).
    fn handle(
        &self,
        envelope: &EventEnvelope,
        event: Self::Event,
    ) -> impl Future<Output = Result<(), ProcessError>> + Send;

    /// Decodes `envelope` and handles it, as the processor does but without idempotency or
    /// panic containment: for unit tests and for callers that run one event by hand.
    fn handle_envelope(
        &self,
        envelope: &EventEnvelope,
    ) -> impl Future<Output = Result<(), ProcessError>> + Send
    where
        Self: Sized,
    {
        async move {
            let event = Self::Event::from_envelope(envelope).map_err(ProcessError::Malformed)?;
            self.handle(envelope, event).await
        }
    }
}

/// A consumer: its handler behind idempotency on `eventId`, run by [`process_standard_batch`].
#[derive(Debug)]
pub struct BatchProcessor<H, I> {
    consumer: &'static str,
    handler: H,
    idempotency: Idempotent<I>,
    concurrency: usize,
    clock: Clock,
}

impl<H: EventHandler, I: IdempotencyStore> BatchProcessor<H, I> {
    /// A processor for `consumer` (also the idempotency key prefix).
    pub fn new(consumer: &'static str, handler: H, idempotency: Idempotent<I>) -> Self {
        Self {
            consumer,
            handler,
            idempotency,
            concurrency: DEFAULT_CONCURRENCY,
            clock: Clock::System,
        }
    }

    /// Sets how many records run at once.
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The handler (tests).
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Processes one SQS batch without a deadline; returns the records to retry.
    pub async fn process(&self, event: SqsEvent) -> SqsBatchResponse {
        self.process_within(event, BatchDeadline::NONE).await
    }

    /// Processes one SQS batch, stopping short of `deadline`; returns the records to retry.
    pub async fn process_within(
        &self,
        event: SqsEvent,
        deadline: BatchDeadline,
    ) -> SqsBatchResponse {
        process_standard_batch(
            self.consumer,
            event.records,
            self.concurrency,
            deadline,
            |envelope| self.process_one(envelope, deadline),
        )
        .await
    }

    async fn process_one(
        &self,
        event: EventEnvelope,
        deadline: BatchDeadline,
    ) -> Result<RecordOutcome, ProcessError> {
        // Decoded before the claim: a record that can never be processed claims nothing.
        let decoded = H::Event::from_envelope(&event).map_err(ProcessError::Malformed)?;
        let now = self.clock.now();
        match self
            .idempotency
            .claim(&event.event_id, now)
            .await
            .map_err(|e| ProcessError::Failed(e.to_string()))?
        {
            Claim::AlreadyDone => return Ok(RecordOutcome::Duplicate),
            Claim::InProgress => return Err(ProcessError::InProgress(event.event_id.clone())),
            Claim::Acquired => {}
        }
        // A panic in the handler, or a handler still running at the deadline, is caught here
        // too, so that the claim is released at once rather than left to expire.
        let handled = AssertUnwindSafe(self.handler.handle(&event, decoded)).catch_unwind();
        let result = match until(deadline.records_stop(), handled).await {
            Some(Ok(result)) => result,
            Some(Err(payload)) => Err(ProcessError::Failed(format!(
                "panic: {}",
                panic_message(payload.as_ref())
            ))),
            None => Err(ProcessError::Failed(
                "abandoned: the invocation's deadline is near".to_owned(),
            )),
        };
        match result {
            Ok(()) => {
                self.idempotency
                    .complete(&event.event_id, self.clock.now())
                    .await
                    .map_err(|e| ProcessError::Failed(e.to_string()))?;
                Ok(RecordOutcome::Processed)
            }
            Err(err) => {
                if let Err(release) = self.idempotency.release(&event.event_id).await {
                    tracing::warn!(error = %release, "could not release the idempotency claim; it will expire");
                }
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests;
