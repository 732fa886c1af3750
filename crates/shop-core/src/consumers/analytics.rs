//! analytics: daily counters (logins, failed logins; later orders and revenue), updated
//! with atomic `ADD`s and counted once per event (the batch processor's idempotency record
//! guards against redeliveries).
//!
//! Table: key `day` (S, `YYYY-MM-DD` of the event's `occurredAt`), one numeric attribute per
//! counter.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::backend;
use crate::messaging::{EventEnvelope, EventHandler, EventType, ProcessError};
use crate::store::StoreError;

/// Name of the function.
pub const FUNCTION_NAME: &str = "analytics";

/// Daily counters.
pub trait CounterStore: Send + Sync {
    /// Adds `by` to `counter` of `day`, atomically.
    fn increment(
        &self,
        day: &str,
        counter: &'static str,
        by: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The counter an event type moves, if any.
pub fn counter_of(event_type: Option<EventType>) -> Option<&'static str> {
    match event_type? {
        EventType::LoginSucceeded => Some("logins"),
        EventType::LoginFailed => Some("failed_logins"),
        EventType::AccountLocked => Some("accounts_locked"),
    }
}

/// The analytics consumer.
#[derive(Debug)]
pub struct Analytics<C> {
    store: C,
}

impl<C: CounterStore> Analytics<C> {
    /// A consumer counting into `store`.
    pub fn new(store: C) -> Self {
        Self { store }
    }

    /// The store (tests).
    pub fn store(&self) -> &C {
        &self.store
    }
}

impl<C: CounterStore> EventHandler for Analytics<C> {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        let Some(counter) = counter_of(event.known_type()) else {
            tracing::info!("no counter for this event type");
            return Ok(());
        };
        let day = event
            .occurred_at
            .get(..10)
            .filter(|d| d.len() == 10 && d.as_bytes()[4] == b'-')
            .ok_or_else(|| {
                ProcessError::Malformed(format!("occurredAt {:?} has no date", event.occurred_at))
            })?;
        self.store.increment(day, counter, 1).await?;
        Ok(())
    }
}

/// Counters in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoCounterStore {
    client: Client,
    table: String,
}

impl DynamoCounterStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl CounterStore for DynamoCounterStore {
    async fn increment(&self, day: &str, counter: &'static str, by: i64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("day", AttributeValue::S(day.to_owned()))
            .update_expression("ADD #c :by")
            .expression_attribute_names("#c", counter)
            .expression_attribute_values(":by", AttributeValue::N(by.to_string()))
            .send()
            .await
            .map_err(|e| backend("UpdateItem analytics", &e))?;
        Ok(())
    }
}

/// Counters in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryCounterStore {
    counters: Mutex<HashMap<(String, &'static str), i64>>,
}

impl InMemoryCounterStore {
    /// The value of `counter` on `day`.
    pub fn get(&self, day: &str, counter: &'static str) -> i64 {
        self.counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(day.to_owned(), counter))
            .copied()
            .unwrap_or_default()
    }
}

impl CounterStore for InMemoryCounterStore {
    async fn increment(&self, day: &str, counter: &'static str, by: i64) -> Result<(), StoreError> {
        *self
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((day.to_owned(), counter))
            .or_default() += by;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messaging::{BatchProcessor, Idempotent, InMemoryIdempotencyStore};
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};

    #[tokio::test]
    async fn counts_each_event_once_by_event_day() {
        let processor = BatchProcessor::new(
            FUNCTION_NAME,
            Analytics::new(InMemoryCounterStore::default()),
            Idempotent::new(InMemoryIdempotencyStore::default(), FUNCTION_NAME),
        );
        let login = EventEnvelope::new(
            EventType::LoginSucceeded,
            "t",
            "c",
            1_700_000_000,
            serde_json::json!({}),
        );
        let failed = EventEnvelope::new(
            EventType::LoginFailed,
            "t",
            "c",
            1_700_000_000,
            serde_json::json!({}),
        );
        for _ in 0..2 {
            let mut batch = SqsEvent::default();
            for (i, e) in [&login, &failed].into_iter().enumerate() {
                let mut record = SqsMessage::default();
                record.message_id = Some(i.to_string());
                record.body = Some(e.to_json());
                batch.records.push(record);
            }
            let response = processor.process(batch).await;
            assert!(response.batch_item_failures.is_empty());
        }
        let store = processor.handler().store();
        assert_eq!(store.get("2023-11-14", "logins"), 1);
        assert_eq!(store.get("2023-11-14", "failed_logins"), 1);
    }
}
