//! Sending to one SQS queue, standard or FIFO: for messages that go to a queue directly
//! rather than through a topic (a command to one consumer, an entry of an ordered ledger).

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;

use crate::sync::lock;

/// Sending to the queue failed (the SDK's description, with its causes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("send to the queue failed: {0}")]
pub struct SendError(pub String);

/// The keys of a message on a FIFO queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FifoKeys<'a> {
    /// Messages of one group are delivered in order, one at a time.
    pub group_id: &'a str,
    /// A second send with the same id within 5 minutes is dropped by SQS.
    pub deduplication_id: &'a str,
}

/// Where messages go: an SQS queue in production, a recording fake in tests.
pub trait QueueSender: Send + Sync {
    /// Sends `body`; `fifo` must be given for a FIFO queue and must not for a standard one.
    fn send(
        &self,
        body: &str,
        fifo: Option<FifoKeys<'_>>,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// Sends to the queue at `url` through `aws-sdk-sqs`.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// Sends to `url` with `client` (build the client once per process).
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

impl QueueSender for SqsQueue {
    async fn send(&self, body: &str, fifo: Option<FifoKeys<'_>>) -> Result<(), SendError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body);
        if let Some(keys) = fifo {
            request = request
                .message_group_id(keys.group_id)
                .message_deduplication_id(keys.deduplication_id);
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|err| SendError(DisplayErrorContext(&err).to_string()))
    }
}

/// One message sent to an [`InMemoryQueue`]: its body and, on a FIFO queue, (group, dedup id).
pub type SentMessage = (String, Option<(String, String)>);

/// Records what is sent; can be told to fail (tests).
#[derive(Debug, Default)]
pub struct InMemoryQueue {
    sent: Mutex<Vec<SentMessage>>,
    failing: AtomicBool,
}

impl InMemoryQueue {
    /// Every message sent so far.
    pub fn sent(&self) -> Vec<SentMessage> {
        lock(&self.sent).clone()
    }

    /// Makes every send fail (or work again).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl QueueSender for InMemoryQueue {
    async fn send(&self, body: &str, fifo: Option<FifoKeys<'_>>) -> Result<(), SendError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(SendError("simulated queue outage".to_owned()));
        }
        lock(&self.sent).push((
            body.to_owned(),
            fifo.map(|k| (k.group_id.to_owned(), k.deduplication_id.to_owned())),
        ));
        Ok(())
    }
}

impl<Q: QueueSender> QueueSender for std::sync::Arc<Q> {
    async fn send(&self, body: &str, fifo: Option<FifoKeys<'_>>) -> Result<(), SendError> {
        (**self).send(body, fifo).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_fifo_keys_and_fails_when_told() {
        let queue = InMemoryQueue::default();
        queue
            .send(
                "a",
                Some(FifoKeys {
                    group_id: "g",
                    deduplication_id: "d",
                }),
            )
            .await
            .unwrap();
        queue.set_failing(true);
        assert!(queue.send("b", None).await.is_err());
        assert_eq!(
            queue.sent(),
            vec![("a".to_owned(), Some(("g".to_owned(), "d".to_owned())))]
        );
    }
}
