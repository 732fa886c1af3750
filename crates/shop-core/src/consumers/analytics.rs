//! analytics: daily counters of logins and orders, updated with atomic `ADD`s and counted
//! once per event.
//!
//! The batch processor's idempotency record already skips redeliveries, but a crash between
//! the `ADD` and the `DONE` record would count the retry again. So the `ADD` goes into one
//! DynamoDB transaction with a marker item `COUNTED#<eventId>` that must not exist yet: the
//! counters move exactly once per event, whatever fails when.
//!
//! Table: key `day` (S, `YYYY-MM-DD` of the event's `occurredAt`), one numeric attribute per
//! counter; markers `COUNTED#<eventId>` with a TTL (`expires_at`).
//!
//! Counters (attribute names of the day item):
//!
//! | event | counters |
//! | --- | --- |
//! | `LoginSucceeded` | `logins` +1 |
//! | `LoginFailed` | `failed_logins` +1 |
//! | `AccountLocked` | `accounts_locked` +1 |
//! | `OrderPlaced` | `orders` +1, `revenue_minor` + `detail.total.amount` |
//! | `OrderCancelled` | `cancellations` +1 |

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use crate::events::EventType;
use crate::store::StoreError;
use crate::store::{backend, failed_conditions};
use lambda_kit::messaging::{EventEnvelope, EventHandler, ProcessError};

/// Name of the function.
pub const FUNCTION_NAME: &str = "analytics";

/// How long the once-only markers are kept: 15 days (> SQS maximum retention).
pub const MARKER_SECONDS: i64 = 15 * 86_400;

/// Successful logins per day.
pub const LOGINS: &str = "logins";
/// Failed logins per day.
pub const FAILED_LOGINS: &str = "failed_logins";
/// Accounts locked per day.
pub const ACCOUNTS_LOCKED: &str = "accounts_locked";
/// Orders placed per day.
pub const ORDERS: &str = "orders";
/// Revenue of the orders placed that day, minor units (sum of `detail.total.amount`).
pub const REVENUE_MINOR: &str = "revenue_minor";
/// Orders cancelled per day.
pub const CANCELLATIONS: &str = "cancellations";

/// Daily counters.
pub trait CounterStore: Send + Sync {
    /// Adds every `(counter, by)` of `increments` to `day` unless `event_id` was counted
    /// before, atomically with the marker that records it. Returns whether it counted.
    fn increment_once(
        &self,
        day: &str,
        increments: &[(&'static str, i64)],
        event_id: &str,
        marker_expires_at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The counters an event moves, and by how much (empty: the event is not counted).
pub fn increments_of(event: &EventEnvelope) -> Result<Vec<(&'static str, i64)>, ProcessError> {
    Ok(match EventType::of(event) {
        Some(EventType::LoginSucceeded) => vec![(LOGINS, 1)],
        Some(EventType::LoginFailed) => vec![(FAILED_LOGINS, 1)],
        Some(EventType::AccountLocked) => vec![(ACCOUNTS_LOCKED, 1)],
        Some(EventType::OrderPlaced) => {
            let revenue = event
                .detail
                .get("total")
                .and_then(|t| t.get("amount"))
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| {
                    ProcessError::Malformed("OrderPlaced without detail.total.amount".to_owned())
                })?;
            vec![(ORDERS, 1), (REVENUE_MINOR, revenue)]
        }
        Some(EventType::OrderCancelled) => vec![(CANCELLATIONS, 1)],
        _ => Vec::new(),
    })
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
        let increments = increments_of(event)?;
        if increments.is_empty() {
            tracing::info!("no counter for this event type");
            return Ok(());
        }
        let day = event
            .occurred_at
            .get(..10)
            .filter(|d| d.len() == 10 && d.as_bytes()[4] == b'-')
            .ok_or_else(|| {
                ProcessError::Malformed(format!("occurredAt {:?} has no date", event.occurred_at))
            })?;
        let expires_at = lambda_kit::clock::Clock::System
            .now()
            .saturating_add(MARKER_SECONDS);
        if !self
            .store
            .increment_once(day, &increments, &event.event_id, expires_at)
            .await?
        {
            tracing::info!("already counted");
        }
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
    async fn increment_once(
        &self,
        day: &str,
        increments: &[(&'static str, i64)],
        event_id: &str,
        marker_expires_at: i64,
    ) -> Result<bool, StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend {
            operation: "TransactWriteItems analytics",
            message: e.to_string(),
        };
        let marker = Put::builder()
            .table_name(&self.table)
            .item("day", AttributeValue::S(format!("COUNTED#{event_id}")))
            .item(
                "expires_at",
                AttributeValue::N(marker_expires_at.to_string()),
            )
            .condition_expression("attribute_not_exists(#d)")
            .expression_attribute_names("#d", "day")
            .build()
            .map_err(build)?;
        let mut add = Update::builder()
            .table_name(&self.table)
            .key("day", AttributeValue::S(day.to_owned()));
        let mut clauses = Vec::with_capacity(increments.len());
        for (i, (counter, by)) in increments.iter().enumerate() {
            clauses.push(format!("#c{i} :by{i}"));
            add = add
                .expression_attribute_names(format!("#c{i}"), *counter)
                .expression_attribute_values(format!(":by{i}"), AttributeValue::N(by.to_string()));
        }
        let add = add
            .update_expression(format!("ADD {}", clauses.join(", ")))
            .build()
            .map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(marker).build())
            .transact_items(TransactWriteItem::builder().update(add).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // Cancelled because the marker (the first item) exists: counted by an earlier delivery.
            Err(err) if failed_conditions(&err).contains(&0) => Ok(false),
            Err(err) => Err(backend("TransactWriteItems analytics", &err)),
        }
    }
}

/// Counters in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryCounterStore {
    counters: Mutex<HashMap<(String, &'static str), i64>>,
    counted: Mutex<std::collections::HashSet<String>>,
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
    async fn increment_once(
        &self,
        day: &str,
        increments: &[(&'static str, i64)],
        event_id: &str,
        _marker_expires_at: i64,
    ) -> Result<bool, StoreError> {
        if !self
            .counted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(event_id.to_owned())
        {
            return Ok(false);
        }
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        for (counter, by) in increments {
            *counters.entry((day.to_owned(), *counter)).or_default() += by;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    use lambda_kit::messaging::{BatchProcessor, Idempotent, InMemoryIdempotencyStore};

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

    #[tokio::test]
    async fn counts_once_even_when_the_idempotency_record_was_lost() {
        // A crash after the ADD and before the DONE record: the retry runs the handler again.
        let analytics = Analytics::new(InMemoryCounterStore::default());
        let login = EventEnvelope::new(
            EventType::LoginSucceeded,
            "t",
            "c",
            1_700_000_000,
            serde_json::json!({}),
        );
        assert!(analytics.handle(&login).await.is_ok());
        assert!(analytics.handle(&login).await.is_ok());
        assert_eq!(analytics.store().get("2023-11-14", "logins"), 1);
    }

    fn order_event(event_type: EventType, total: i64) -> EventEnvelope {
        EventEnvelope::new(
            event_type,
            "checkout",
            "c",
            1_700_000_000,
            serde_json::json!({
                "orderId": "ord_1", "userId": "u1", "email": "ann@example.com",
                "total": {"amount": total, "currency": "EUR"}, "itemCount": 2, "items": []
            }),
        )
    }

    #[tokio::test]
    async fn order_placed_counts_orders_and_revenue_once() {
        let analytics = Analytics::new(InMemoryCounterStore::default());
        let placed = order_event(EventType::OrderPlaced, 2598);
        let other = order_event(EventType::OrderPlaced, 1000);
        let cancelled = order_event(EventType::OrderCancelled, 2598);
        for event in [&placed, &placed, &other, &cancelled, &cancelled] {
            assert!(analytics.handle(event).await.is_ok());
        }
        let store = analytics.store();
        assert_eq!(store.get("2023-11-14", ORDERS), 2);
        assert_eq!(store.get("2023-11-14", REVENUE_MINOR), 3598);
        assert_eq!(store.get("2023-11-14", CANCELLATIONS), 1);
    }

    #[tokio::test]
    async fn order_placed_without_total_is_malformed() {
        let analytics = Analytics::new(InMemoryCounterStore::default());
        let mut placed = order_event(EventType::OrderPlaced, 1);
        placed.detail = serde_json::json!({"orderId": "ord_1"});
        assert!(matches!(
            analytics.handle(&placed).await,
            Err(ProcessError::Malformed(_))
        ));
        assert_eq!(analytics.store().get("2023-11-14", ORDERS), 0);
    }
}
