//! Sending many messages to one SQS queue: batches of 10 (`SendMessageBatch`, the API's
//! maximum), the entries SQS refused retried with a back-off, and a report of what could
//! still not be sent. For operator tools that move stored messages back onto a queue
//! (e.g. replaying events from an event store to one consumer).
//!
//! [`OutgoingMessage::event`] builds a message exactly as an SNS subscription with raw message
//! delivery hands an event published by [`super::SnsPublisher`] to its queue: the envelope's
//! JSON as the body, and the publish's String message attributes (`eventType`, `source`) as
//! SQS message attributes.
//!
//! ```
//! # async fn demo() {
//! use lambda_kit::messaging::{
//!     EventEnvelope, InMemoryBatchQueue, OutgoingMessage, RetryPolicy, send_all,
//! };
//! let queue = InMemoryBatchQueue::default();
//! let events: Vec<OutgoingMessage> = (0..25)
//!     .map(|i| OutgoingMessage::event(&EventEnvelope::new("Ping", "demo", "c", i, serde_json::json!({}))))
//!     .collect();
//! let report = send_all(&queue, &events, RetryPolicy::default()).await;
//! assert_eq!((report.sent, report.failed.len()), (25, 0));
//! assert_eq!(queue.batch_sizes(), [10, 10, 5]);
//! # }
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use super::envelope::{EVENT_TYPE_ATTRIBUTE, EventEnvelope};
use super::queue::SendError;
use crate::sync::lock;

/// The most entries one `SendMessageBatch` takes.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// One message for a standard queue: its body and String message attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The body.
    pub body: String,
    /// String message attributes, (name, value).
    pub attributes: Vec<(String, String)>,
}

impl OutgoingMessage {
    /// `event` as its subscribed queue receives it from the topic (raw message delivery): the
    /// envelope as the body, `eventType` and `source` as String attributes, as
    /// [`super::SnsPublisher`] publishes them.
    pub fn event(event: &EventEnvelope) -> Self {
        Self {
            body: event.to_json(),
            attributes: vec![
                (EVENT_TYPE_ATTRIBUTE.to_owned(), event.event_type.clone()),
                ("source".to_owned(), event.source.clone()),
            ],
        }
    }
}

/// One entry of a batch that the queue did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    /// Its position in the batch that was sent.
    pub index: usize,
    /// The queue's code and message.
    pub reason: String,
    /// The sender's fault (e.g. a body too large): sending it again cannot succeed.
    pub permanent: bool,
}

/// A queue that takes batches of up to [`MAX_BATCH_ENTRIES`] messages.
pub trait BatchQueueSender: Send + Sync {
    /// Sends `messages` (at most [`MAX_BATCH_ENTRIES`]) in one request. `Ok` lists the entries
    /// that were not taken (empty: all were); `Err` means the request as a whole failed.
    fn send_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> impl Future<Output = Result<Vec<EntryFailure>, SendError>> + Send;
}

/// How often [`send_all`] tries an entry, and how long it waits between tries (multiplied by
/// the attempt's number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per entry, at least 1.
    pub attempts: u32,
    /// Wait before the second try; the n-th waits n - 1 times as long.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    /// 4 tries, 200 ms, 400 ms, 600 ms apart.
    fn default() -> Self {
        Self {
            attempts: 4,
            backoff: Duration::from_millis(200),
        }
    }
}

/// A message [`send_all`] could not send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    /// Its position in the messages given to [`send_all`].
    pub index: usize,
    /// Why (the last failure).
    pub reason: String,
}

/// What [`send_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchSendReport {
    /// Messages the queue took.
    pub sent: usize,
    /// Entries sent again after a failure (one per retry of an entry).
    pub retries: usize,
    /// Messages not sent after every try, in input order.
    pub failed: Vec<Unsent>,
}

/// Sends `messages` in order, in batches of [`MAX_BATCH_ENTRIES`]: the entries of a batch that
/// fail are retried (with `policy`'s back-off) before the next batch goes, so the order is
/// kept as far as a retry allows; an entry that fails permanently, or on every try, is
/// reported in [`BatchSendReport::failed`]. Never stops early: every message is tried.
pub async fn send_all<Q: BatchQueueSender>(
    queue: &Q,
    messages: &[OutgoingMessage],
    policy: RetryPolicy,
) -> BatchSendReport {
    let mut report = BatchSendReport::default();
    let attempts = policy.attempts.max(1);
    let indices: Vec<usize> = (0..messages.len()).collect();
    for chunk in indices.chunks(MAX_BATCH_ENTRIES) {
        let mut pending: Vec<usize> = chunk.to_vec();
        let mut reasons: HashMap<usize, String> = HashMap::new();
        for attempt in 1..=attempts {
            if attempt > 1 {
                report.retries += pending.len();
                tokio::time::sleep(policy.backoff.saturating_mul(attempt - 1)).await;
            }
            let batch: Vec<OutgoingMessage> =
                pending.iter().map(|&i| messages[i].clone()).collect();
            let failures = match queue.send_batch(&batch).await {
                Ok(failures) => failures,
                Err(err) => (0..batch.len())
                    .map(|index| EntryFailure {
                        index,
                        reason: err.to_string(),
                        permanent: false,
                    })
                    .collect(),
            };
            let mut retry = Vec::new();
            let mut refused = 0;
            for failure in failures {
                let Some(&original) = pending.get(failure.index) else {
                    continue;
                };
                refused += 1;
                if failure.permanent {
                    report.failed.push(Unsent {
                        index: original,
                        reason: failure.reason,
                    });
                } else {
                    reasons.insert(original, failure.reason);
                    retry.push(original);
                }
            }
            report.sent += pending.len().saturating_sub(refused);
            pending = retry;
            if pending.is_empty() {
                break;
            }
        }
        report
            .failed
            .extend(pending.into_iter().map(|index| Unsent {
                index,
                reason: reasons.remove(&index).unwrap_or_default(),
            }));
    }
    report.failed.sort_by_key(|u| u.index);
    report
}

/// `SendMessageBatch` to the queue at `url` through `aws-sdk-sqs`.
#[derive(Debug, Clone)]
pub struct SqsBatchQueue {
    client: Client,
    url: String,
}

impl SqsBatchQueue {
    /// Sends to `url` with `client`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

impl BatchQueueSender for SqsBatchQueue {
    async fn send_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, SendError> {
        let mut entries = Vec::with_capacity(messages.len());
        for (index, message) in messages.iter().enumerate() {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(&message.body);
            for (name, value) in &message.attributes {
                let attribute = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .map_err(|e| SendError(e.to_string()))?;
                entry = entry.message_attributes(name, attribute);
            }
            entries.push(entry.build().map_err(|e| SendError(e.to_string()))?);
        }
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| SendError(DisplayErrorContext(&err).to_string()))?;
        Ok(output
            .failed()
            .iter()
            .filter_map(|failed| {
                Some(EntryFailure {
                    index: failed.id().parse().ok()?,
                    reason: format!(
                        "{}: {}",
                        failed.code(),
                        failed.message().unwrap_or_default()
                    ),
                    permanent: failed.sender_fault(),
                })
            })
            .collect())
    }
}

/// Records the batches sent; can be told to refuse given messages or every request (tests).
#[derive(Debug, Default)]
pub struct InMemoryBatchQueue {
    sent: Mutex<Vec<OutgoingMessage>>,
    batches: Mutex<Vec<usize>>,
    refusals: Mutex<Vec<(String, u32, bool)>>,
    unavailable: AtomicBool,
}

impl InMemoryBatchQueue {
    /// Every message taken so far, in order.
    pub fn sent(&self) -> Vec<OutgoingMessage> {
        lock(&self.sent).clone()
    }

    /// The size of every batch request received (taken or not).
    pub fn batch_sizes(&self) -> Vec<usize> {
        lock(&self.batches).clone()
    }

    /// Refuses the next `times` entries whose body contains `needle` (`permanent`: as a
    /// sender's fault).
    pub fn refuse(&self, needle: &str, times: u32, permanent: bool) {
        lock(&self.refusals).push((needle.to_owned(), times, permanent));
    }

    /// Makes every request fail as a whole (or work again).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }
}

impl BatchQueueSender for InMemoryBatchQueue {
    async fn send_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, SendError> {
        lock(&self.batches).push(messages.len());
        if messages.len() > MAX_BATCH_ENTRIES {
            return Err(SendError("TooManyEntriesInBatchRequest".to_owned()));
        }
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(SendError("simulated queue outage".to_owned()));
        }
        let mut failures = Vec::new();
        let mut refusals = lock(&self.refusals);
        for (index, message) in messages.iter().enumerate() {
            let refusal = refusals
                .iter_mut()
                .find(|(needle, times, _)| *times > 0 && message.body.contains(needle.as_str()));
            if let Some((_, times, permanent)) = refusal {
                *times -= 1;
                failures.push(EntryFailure {
                    index,
                    reason: "InternalError: simulated".to_owned(),
                    permanent: *permanent,
                });
            } else {
                lock(&self.sent).push(message.clone());
            }
        }
        Ok(failures)
    }
}

impl<Q: BatchQueueSender> BatchQueueSender for std::sync::Arc<Q> {
    async fn send_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<EntryFailure>, SendError> {
        (**self).send_batch(messages).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(n: usize) -> Vec<OutgoingMessage> {
        (0..n)
            .map(|i| OutgoingMessage {
                body: format!("m{i:02}"),
                attributes: Vec::new(),
            })
            .collect()
    }

    const QUICK: RetryPolicy = RetryPolicy {
        attempts: 3,
        backoff: Duration::ZERO,
    };

    #[tokio::test]
    async fn sends_in_order_in_batches_of_ten() {
        let queue = InMemoryBatchQueue::default();
        let all = messages(23);
        let report = send_all(&queue, &all, QUICK).await;
        assert_eq!(
            report,
            BatchSendReport {
                sent: 23,
                ..Default::default()
            }
        );
        assert_eq!(queue.batch_sizes(), [10, 10, 3]);
        assert_eq!(queue.sent(), all);
        let empty = send_all(&queue, &[], QUICK).await;
        assert_eq!(empty, BatchSendReport::default());
    }

    #[tokio::test]
    async fn retries_the_failed_entries_only_before_the_next_batch() {
        let queue = InMemoryBatchQueue::default();
        queue.refuse("m03", 2, false);
        let report = send_all(&queue, &messages(12), QUICK).await;
        assert_eq!((report.sent, report.retries), (12, 2));
        assert!(report.failed.is_empty());
        // 10, then m03 alone twice (refused once more, then taken), then the last 2.
        assert_eq!(queue.batch_sizes(), [10, 1, 1, 2]);
        let bodies: Vec<String> = queue.sent().into_iter().map(|m| m.body).collect();
        assert_eq!(bodies.iter().position(|b| b == "m03"), Some(9));
    }

    #[tokio::test]
    async fn reports_what_could_not_be_sent() {
        let queue = InMemoryBatchQueue::default();
        queue.refuse("m01", 99, false);
        queue.refuse("m02", 1, true);
        let report = send_all(&queue, &messages(4), QUICK).await;
        assert_eq!(report.sent, 2);
        assert_eq!(
            report.failed.iter().map(|u| u.index).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(report.failed[0].reason.contains("InternalError"));
        // m01 tried three times, m02 (the sender's fault) once.
        assert_eq!(queue.batch_sizes(), [4, 1, 1]);

        let down = InMemoryBatchQueue::default();
        down.set_unavailable(true);
        let report = send_all(&down, &messages(3), QUICK).await;
        assert_eq!((report.sent, report.failed.len()), (0, 3));
        assert!(report.failed[2].reason.contains("outage"));
        assert_eq!(down.batch_sizes(), [3, 3, 3]);
    }

    #[test]
    fn an_event_travels_as_raw_delivery_hands_it_over() {
        let event = EventEnvelope::new("OrderPlaced", "checkout", "c", 0, serde_json::json!({}));
        let message = OutgoingMessage::event(&event);
        assert_eq!(EventEnvelope::from_json(&message.body).ok(), Some(event));
        assert_eq!(
            message.attributes,
            [
                ("eventType".to_owned(), "OrderPlaced".to_owned()),
                ("source".to_owned(), "checkout".to_owned())
            ]
        );
    }
}
