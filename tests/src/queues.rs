//! SQS queues and the DLQ runbook: [`Stack::queue_depth`], [`Stack::peek`] / [`Stack::holds`]
//! (read without consuming), [`Stack::take_from_queue`], [`Stack::send_fifo`], and
//! [`make_redrive`].

use crate::Stack;

impl Stack {
    /// (visible, in flight) messages of a queue.
    pub async fn queue_depth(&self, url: &str) -> (i64, i64) {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let attributes = self
            .sqs()
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        let get = |a: A| attributes.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
        (
            get(A::ApproximateNumberOfMessages),
            get(A::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// The bodies of the messages now visible in a queue, without consuming them
    /// (received with a zero visibility timeout).
    pub async fn peek(&self, url: &str) -> Vec<String> {
        let mut bodies = Vec::new();
        for _ in 0..3 {
            let output = self
                .sqs()
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .send()
                .await
                .expect("receive from a queue");
            bodies.extend(
                output
                    .messages()
                    .iter()
                    .filter_map(|m| m.body().map(str::to_owned)),
            );
        }
        bodies
    }

    /// Whether a message whose body contains `needle` is visible in a queue (see [`Stack::peek`]).
    pub async fn holds(&self, url: &str, needle: &str) -> bool {
        self.peek(url)
            .await
            .iter()
            .any(|body| body.contains(needle))
    }

    /// Deletes the visible messages of a queue whose body contains `needle` (a test's own
    /// poison, once it has served), leaving the others; how many were deleted.
    pub async fn take_from_queue(&self, url: &str, needle: &str) -> usize {
        let mut taken = std::collections::HashSet::new();
        for _ in 0..3 {
            let output = self
                .sqs()
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .send()
                .await
                .expect("receive from a queue");
            for message in output.messages() {
                let ours = message.body().is_some_and(|body| body.contains(needle));
                let id = message.message_id().unwrap_or_default().to_owned();
                // Received with no visibility timeout, a message can come back in the next
                // receive: deleted once, counted once.
                if let (true, Some(handle)) = (ours, message.receipt_handle())
                    && taken.insert(id)
                {
                    self.sqs()
                        .delete_message()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete a message");
                }
            }
        }
        taken.len()
    }

    /// Sends `body` straight to a FIFO queue in message group `group`.
    pub async fn send_fifo(&self, url: &str, group: &str, dedup_id: &str, body: &str) {
        self.sqs()
            .send_message()
            .queue_url(url)
            .message_group_id(group)
            .message_deduplication_id(dedup_id)
            .message_body(body)
            .send()
            .await
            .expect("send to a FIFO queue");
    }
}

/// The DLQ runbook: `make redrive QUEUE=<consumer>` (moves a DLQ's messages back to its queue);
/// returns its exit code.
pub fn make_redrive(consumer: &str) -> Option<i32> {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    std::process::Command::new("make")
        .args(["--no-print-directory", "-s", "-C", repo, "redrive"])
        .arg(format!("QUEUE={consumer}"))
        .status()
        .expect("run make redrive")
        .code()
}
