//! Publishing events to the SNS topic, `eventType` as a message attribute.

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_sns::Client;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;

use super::envelope::{EVENT_TYPE_ATTRIBUTE, EventEnvelope};
use crate::sync::lock;

/// Publishing an event failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The topic could not be reached or refused the message.
    #[error("publish {event_type} {event_id} failed: {message}")]
    Backend {
        /// Type of the event.
        event_type: String,
        /// Id of the event.
        event_id: String,
        /// The backend's description.
        message: String,
    },
    /// No answer within the time allowed.
    #[error("publish {event_type} {event_id} timed out after {millis} ms")]
    Timeout {
        /// Type of the event.
        event_type: String,
        /// Id of the event.
        event_id: String,
        /// The limit.
        millis: u128,
    },
}

/// Where events go. The SNS topic in production, a recording fake in tests.
pub trait EventPublisher: Send + Sync {
    /// Publishes one event.
    fn publish(
        &self,
        event: &EventEnvelope,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

impl<P: EventPublisher> EventPublisher for &P {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), PublishError> {
        (**self).publish(event).await
    }
}

impl<P: EventPublisher> EventPublisher for std::sync::Arc<P> {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), PublishError> {
        (**self).publish(event).await
    }
}

/// Publishes to an SNS topic: the envelope as the message body, `eventType` (and `source`)
/// as String message attributes for attribute filter policies.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: Client,
    topic_arn: String,
}

impl SnsPublisher {
    /// A publisher on `topic_arn` (build the client once per process).
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

fn string_attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .ok()
}

impl EventPublisher for SnsPublisher {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), PublishError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(event.to_json());
        for (name, value) in [
            (EVENT_TYPE_ATTRIBUTE, event.event_type.as_str()),
            ("source", event.source.as_str()),
        ] {
            if let Some(attribute) = string_attribute(value) {
                request = request.message_attributes(name, attribute);
            }
        }
        request.send().await.map_err(|err| PublishError::Backend {
            event_type: event.event_type.clone(),
            event_id: event.event_id.clone(),
            message: DisplayErrorContext(&err).to_string(),
        })?;
        Ok(())
    }
}

/// Publishes `event` after the state change it reports has been made, without letting a
/// slow or failing topic fail the caller: errors and timeouts are logged and reported as
/// `false`. Used on request paths (login) where the event is a side effect.
pub async fn publish_best_effort<P: EventPublisher>(
    publisher: &P,
    event: &EventEnvelope,
    timeout: Duration,
) -> bool {
    let result = match tokio::time::timeout(timeout, publisher.publish(event)).await {
        Ok(result) => result,
        Err(_) => Err(PublishError::Timeout {
            event_type: event.event_type.clone(),
            event_id: event.event_id.clone(),
            millis: timeout.as_millis(),
        }),
    };
    match result {
        Ok(()) => {
            tracing::info!(event_type = %event.event_type, event_id = %event.event_id, "event published");
            true
        }
        Err(err) => {
            tracing::error!(event_type = %event.event_type, event_id = %event.event_id, error = %err, "event not published");
            false
        }
    }
}

/// Records published events; can be told to fail (tests).
#[derive(Debug, Default)]
pub struct InMemoryPublisher {
    events: Mutex<Vec<EventEnvelope>>,
    failing: std::sync::atomic::AtomicBool,
}

impl InMemoryPublisher {
    /// Everything published so far.
    pub fn events(&self) -> Vec<EventEnvelope> {
        lock(&self.events).clone()
    }

    /// Makes every later publish fail (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        self.failing
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    }
}

impl EventPublisher for InMemoryPublisher {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), PublishError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(PublishError::Backend {
                event_type: event.event_type.clone(),
                event_id: event.event_id.clone(),
                message: "topic unavailable (test)".to_owned(),
            });
        }
        lock(&self.events).push(event.clone());
        Ok(())
    }
}
