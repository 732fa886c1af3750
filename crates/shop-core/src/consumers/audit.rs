//! audit-log: appends every event to the audit table exactly once, keyed by `eventId`.
//!
//! Table: key `event_id` (S); `event_type`, `occurred_at`, `source`, `correlation_id`,
//! `recorded_at` (S/N) and `envelope` (the whole event as JSON). The write is conditional
//! on the key not existing, so even without the idempotency record a redelivery cannot
//! rewrite history.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::store::StoreError;
use crate::store::{backend, is_conditional_failure};
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, EventHandler, ProcessError};

/// Name of the function.
pub const FUNCTION_NAME: &str = "audit-log";

/// Append-only event storage.
pub trait AuditStore: Send + Sync {
    /// Appends `event`; `Ok(false)` if an entry with its id exists already.
    fn append(
        &self,
        event: &EventEnvelope,
        recorded_at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The audit log consumer.
#[derive(Debug)]
pub struct AuditLog<A> {
    store: A,
    clock: Clock,
}

impl<A: AuditStore> AuditLog<A> {
    /// A consumer writing to `store`.
    pub fn new(store: A) -> Self {
        Self {
            store,
            clock: Clock::System,
        }
    }

    /// The store (tests).
    pub fn store(&self) -> &A {
        &self.store
    }
}

impl<A: AuditStore> EventHandler for AuditLog<A> {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        if !self.store.append(event, self.clock.now()).await? {
            tracing::info!("already in the audit log");
        }
        Ok(())
    }
}

/// The audit table in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoAuditStore {
    client: Client,
    table: String,
}

impl DynamoAuditStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl AuditStore for DynamoAuditStore {
    async fn append(&self, event: &EventEnvelope, recorded_at: i64) -> Result<bool, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("event_id", s(&event.event_id))
            .item("event_type", s(&event.event_type))
            .item("occurred_at", s(&event.occurred_at))
            .item("source", s(&event.source))
            .item("correlation_id", s(&event.correlation_id))
            .item("recorded_at", AttributeValue::N(recorded_at.to_string()))
            .item("envelope", s(&event.to_json()))
            .condition_expression("attribute_not_exists(event_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_failure(&err) => Ok(false),
            Err(err) => Err(backend("PutItem audit", &err)),
        }
    }
}

/// The audit log in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryAuditStore {
    entries: Mutex<HashMap<String, EventEnvelope>>,
}

impl InMemoryAuditStore {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AuditStore for InMemoryAuditStore {
    async fn append(&self, event: &EventEnvelope, _recorded_at: i64) -> Result<bool, StoreError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.contains_key(&event.event_id) {
            return Ok(false);
        }
        entries.insert(event.event_id.clone(), event.clone());
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventType;

    #[tokio::test]
    async fn every_event_once() {
        let log = AuditLog::new(InMemoryAuditStore::default());
        let event = EventEnvelope::new(EventType::LoginFailed, "t", "c", 0, serde_json::json!({}));
        assert!(log.handle(&event).await.is_ok());
        assert!(log.handle(&event).await.is_ok());
        let mut unknown = event.clone();
        unknown.event_id = "other".to_owned();
        unknown.event_type = "SomethingNew".to_owned();
        assert!(
            log.handle(&unknown).await.is_ok(),
            "unknown types are audited too"
        );
        assert_eq!(log.store().len(), 2);
    }
}
