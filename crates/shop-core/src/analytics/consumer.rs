//! analytics: the queue handler.

use super::{
    ACCOUNTS_LOCKED, CANCELLATIONS, CounterStore, FAILED_LOGINS, LOGINS, MARKER_SECONDS, ORDERS,
    REVENUE_MINOR,
};
use crate::events::ShopEvent;
use lambda_kit::messaging::{EventEnvelope, EventHandler, ProcessError};

/// The counters an event moves, and by how much (empty: the event is not counted).
pub fn increments_of(event: &ShopEvent) -> Vec<(&'static str, i64)> {
    match event {
        ShopEvent::LoginSucceeded(_) => vec![(LOGINS, 1)],
        ShopEvent::LoginFailed(_) => vec![(FAILED_LOGINS, 1)],
        ShopEvent::AccountLocked(_) => vec![(ACCOUNTS_LOCKED, 1)],
        ShopEvent::OrderPlaced(placed) => {
            vec![(ORDERS, 1), (REVENUE_MINOR, placed.total.amount_minor)]
        }
        ShopEvent::OrderCancelled(_) => vec![(CANCELLATIONS, 1)],
        ShopEvent::OrderShipped(_)
        | ShopEvent::DuplicateRegistration(_)
        | ShopEvent::ApprovalRequested(_)
        | ShopEvent::PaymentCaptured(_)
        | ShopEvent::PaymentRefunded(_)
        | ShopEvent::RepairRequested(_) => Vec::new(),
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
    type Event = ShopEvent;

    async fn handle(&self, event: &EventEnvelope, decoded: ShopEvent) -> Result<(), ProcessError> {
        let increments = increments_of(&decoded);
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
