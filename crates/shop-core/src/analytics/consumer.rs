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
        if self
            .store
            .increment_once(day, &increments, &event.event_id, expires_at)
            .await?
        {
            emit_metrics(&decoded);
        } else {
            tracing::info!("already counted");
        }
        Ok(())
    }
}

/// CloudWatch metric names of the business events (EMF, see [`emit_metrics`]).
pub mod metric {
    /// Orders placed (Count), by `Currency`.
    pub const ORDERS_PLACED: &str = "OrdersPlaced";
    /// Revenue in minor units (a counter: its Sum is the revenue), by `Currency`.
    pub const REVENUE_MINOR: &str = "RevenueMinor";
    /// Orders cancelled (Count).
    pub const ORDERS_CANCELLED: &str = "OrdersCancelled";
    /// Successful logins (Count).
    pub const LOGINS: &str = "Logins";
    /// Failed logins (Count), by `Reason` (`INVALID_CREDENTIALS`, `ACCOUNT_LOCKED`).
    pub const LOGINS_FAILED: &str = "LoginsFailed";
    /// Accounts locked (Count).
    pub const ACCOUNTS_LOCKED: &str = "AccountsLocked";
}

/// The business metrics of an event, emitted by this consumer of the events rather than by
/// the APIs that caused them: loosely coupled (the APIs know nothing of metrics), and counted
/// once per event, like the daily counters (only when the transaction counted it now).
/// The cost is a delay of one queue hop, which a per-minute metric does not notice.
pub fn emit_metrics(event: &ShopEvent) {
    use lambda_kit::metrics::count;
    match event {
        ShopEvent::OrderPlaced(placed) => {
            let currency = placed.total.currency.as_str();
            count(metric::ORDERS_PLACED, 1, &[("Currency", currency)]);
            count(
                metric::REVENUE_MINOR,
                u64::try_from(placed.total.amount_minor).unwrap_or(0),
                &[("Currency", currency)],
            );
        }
        ShopEvent::OrderCancelled(_) => count(metric::ORDERS_CANCELLED, 1, &[]),
        ShopEvent::LoginSucceeded(_) => count(metric::LOGINS, 1, &[]),
        ShopEvent::LoginFailed(failed) => {
            count(
                metric::LOGINS_FAILED,
                1,
                &[("Reason", failed.reason.as_str())],
            );
        }
        ShopEvent::AccountLocked(_) => count(metric::ACCOUNTS_LOCKED, 1, &[]),
        ShopEvent::OrderShipped(_)
        | ShopEvent::DuplicateRegistration(_)
        | ShopEvent::ApprovalRequested(_)
        | ShopEvent::PaymentCaptured(_)
        | ShopEvent::PaymentRefunded(_)
        | ShopEvent::RepairRequested(_) => {}
    }
}
