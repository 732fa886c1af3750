//! analytics: the queue handler.

use super::{
    ACCOUNTS_LOCKED, CANCELLATIONS, CounterStore, FAILED_LOGINS, LOGINS, MARKER_SECONDS, ORDERS,
    REVENUE_MINOR,
};
use crate::events::EventType;
use lambda_kit::messaging::{EventEnvelope, EventHandler, ProcessError};

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
