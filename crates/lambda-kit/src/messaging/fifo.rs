//! The batch processor of SQS FIFO consumers (the payments ledger).
//!
//! FIFO semantics: the records of a batch are processed strictly in order, one at a time.
//! When one fails (malformed, error or panic), it and every later record of the same
//! `MessageGroupId` in the batch are reported as batch item failures without being
//! processed, so a group is never processed out of order: SQS redelivers them, in order,
//! after the visibility timeout. Records of other groups go on being processed.
//!
//! With a [`BatchDeadline`], a record not started by its stop is held back and a handler still
//! running is abandoned (failed), so the function always answers in time.
//!
//! Each record tried is counted (processed, duplicate, failed; held-back ones are not) and the
//! batch's metrics are flushed as it answers ([`crate::metrics`]).
//!
//! The handler gets the envelope with the record's `SequenceNumber` and `MessageGroupId`
//! (a FIFO queue gives each message a sequence number, strictly increasing per group).

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use futures::FutureExt as _;
use tracing::Instrument as _;

use super::batch::{
    ProcessError, RecordOutcome, batch_response, panic_message, parse_record, record_outcome,
};
use super::deadline::{BatchDeadline, until};
use super::envelope::EventEnvelope;

/// One record of a FIFO queue.
#[derive(Debug, Clone, PartialEq)]
pub struct FifoRecord {
    /// The event.
    pub envelope: EventEnvelope,
    /// The record's `SequenceNumber` attribute (decimal digits).
    pub sequence_number: String,
    /// The record's `MessageGroupId` attribute.
    pub message_group_id: String,
}

fn attribute(record: &SqsMessage, name: &str) -> Result<String, ProcessError> {
    record
        .attributes
        .get(name)
        .filter(|v| !v.is_empty())
        .cloned()
        .ok_or_else(|| ProcessError::Malformed(format!("FIFO record without {name}")))
}

/// Processes `records` in order with `handler` (see the module docs); returns the records to
/// retry.
pub async fn process_fifo_batch<F, Fut>(
    consumer: &'static str,
    records: Vec<SqsMessage>,
    deadline: BatchDeadline,
    handler: F,
) -> SqsBatchResponse
where
    F: Fn(FifoRecord) -> Fut,
    Fut: Future<Output = Result<RecordOutcome, ProcessError>>,
{
    let total = records.len();
    let mut blocked_groups: HashSet<String> = HashSet::new();
    let mut failed: Vec<String> = Vec::new();
    for record in records {
        let message_id = record.message_id.clone().unwrap_or_default();
        // A record without a group cannot be ordered against anything: it only blocks itself.
        let group = record
            .attributes
            .get("MessageGroupId")
            .cloned()
            .unwrap_or_default();
        let span = tracing::info_span!(
            "record",
            consumer,
            message_id = %message_id,
            message_group_id = %group,
            event_id = tracing::field::Empty,
            event_type = tracing::field::Empty,
            correlation_id = tracing::field::Empty,
        );
        if !group.is_empty() && blocked_groups.contains(&group) {
            span.in_scope(|| {
                tracing::warn!(
                    "earlier record of the group failed: not processed, will be retried"
                );
            });
            failed.push(message_id);
            continue;
        }
        if deadline.records_stopped() {
            span.in_scope(|| {
                tracing::warn!("not started: the invocation's deadline is near; will be retried");
            });
            if !group.is_empty() {
                blocked_groups.insert(group);
            }
            failed.push(message_id);
            continue;
        }
        let event_type = std::sync::OnceLock::<String>::new();
        let work = async {
            let envelope = parse_record(&record)?;
            let current = tracing::Span::current();
            current.record("event_id", envelope.event_id.as_str());
            current.record("event_type", envelope.event_type.as_str());
            current.record("correlation_id", envelope.correlation_id.as_str());
            let _ = event_type.set(envelope.event_type.clone());
            let fifo = FifoRecord {
                envelope,
                sequence_number: attribute(&record, "SequenceNumber")?,
                message_group_id: attribute(&record, "MessageGroupId")?,
            };
            // Boxed: nesting the SDK's deep futures inline overflows the compiler's layout
            // query depth in the Lambda main.
            AssertUnwindSafe(async { Box::pin(handler(fifo)).await })
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
        let result = until(deadline.records_stop(), work)
            .await
            .unwrap_or_else(|| {
                Err(ProcessError::Failed(
                    "abandoned: the invocation's deadline is near".to_owned(),
                ))
            });
        // Held-back records are not counted: only the ones this invocation tried.
        record_outcome(
            consumer,
            event_type.get().map_or("", String::as_str),
            &result,
        );
        span.in_scope(|| match &result {
            Ok(RecordOutcome::Processed) => tracing::info!("record processed"),
            Ok(RecordOutcome::Duplicate) => {
                tracing::info!("duplicate delivery, already processed");
            }
            Err(err) => tracing::error!(reason = %err, "record failed; later records of its group are held back"),
        });
        if result.is_err() {
            if !group.is_empty() {
                blocked_groups.insert(group);
            }
            failed.push(message_id);
        }
    }
    batch_response(consumer, failed, total)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::sync::lock;

    fn record(id: &str, group: &str, seq: u64, body: Option<String>) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.message_id = Some(id.to_owned());
        record.body = body;
        record
            .attributes
            .insert("MessageGroupId".to_owned(), group.to_owned());
        record
            .attributes
            .insert("SequenceNumber".to_owned(), seq.to_string());
        record
    }

    fn event(marker: &str) -> String {
        EventEnvelope::new(
            "Captured",
            "checkout",
            "c",
            0,
            serde_json::json!({"marker": marker}),
        )
        .to_json()
    }

    fn failures(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn a_failure_holds_back_the_rest_of_its_group_only() {
        let seen = Mutex::new(Vec::new());
        let records = vec![
            record("a1", "A", 1, Some(event("ok"))),
            record("b1", "B", 2, Some(event("ok"))),
            record("a2", "A", 3, Some(event("fail"))),
            record("b2", "B", 4, Some(event("ok"))),
            record("a3", "A", 5, Some(event("ok"))),
            record("a4", "A", 6, Some(event("panic"))),
            record("b3", "B", 7, Some(event("ok"))),
        ];
        let response = process_fifo_batch("ledger", records, BatchDeadline::NONE, |r| {
            let seen = &seen;
            async move {
                let marker = r
                    .envelope
                    .detail_str("marker")
                    .unwrap_or_default()
                    .to_owned();
                lock(seen).push(r.sequence_number.clone());
                match marker.as_str() {
                    "fail" => Err(ProcessError::Failed("boom".to_owned())),
                    #[allow(clippy::panic)]
                    "panic" => panic!("must never run: its group is blocked"),
                    _ => Ok(RecordOutcome::Processed),
                }
            }
        })
        .await;
        assert_eq!(failures(&response), vec!["a2", "a3", "a4"]);
        let seen = seen
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        assert_eq!(seen, vec!["1", "2", "3", "4", "7"], "strictly in order");
    }

    #[tokio::test]
    async fn malformed_and_panicking_records_block_their_group() {
        let records = vec![
            record("a1", "A", 1, None),
            record("a2", "A", 2, Some(event("ok"))),
            record("b1", "B", 3, Some(event("panic"))),
            record("b2", "B", 4, Some(event("ok"))),
            record("c1", "C", 5, Some(event("ok"))),
        ];
        let response = process_fifo_batch("ledger", records, BatchDeadline::NONE, |r| async move {
            #[allow(clippy::panic)]
            if r.envelope.detail_str("marker") == Some("panic") {
                panic!("handler bug");
            }
            Ok(RecordOutcome::Processed)
        })
        .await;
        assert_eq!(failures(&response), vec!["a1", "a2", "b1", "b2"]);
    }

    #[tokio::test]
    async fn a_record_without_a_sequence_number_is_malformed() {
        let mut no_seq = record("a1", "A", 1, Some(event("ok")));
        no_seq.attributes.remove("SequenceNumber");
        let response = process_fifo_batch("ledger", vec![no_seq], BatchDeadline::NONE, |_| async {
            Ok(RecordOutcome::Processed)
        })
        .await;
        assert_eq!(failures(&response), vec!["a1"]);
    }
}
