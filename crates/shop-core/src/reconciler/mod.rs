//! reconciler: a scheduled sweep that drives every order to its end. Orders stuck past their
//! deadline in a state that should have moved on, and reservations still held for orders that
//! ended, are handed to the repair consumer ([`crate::repair`]) as [`RepairRequested`]s —
//! the one code path that fixes things — and every action is logged and counted.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`ReconcilerSettings`], [`ReservationScan`], [`Report`], [`decide`] (what a stuck order needs) |
//! | `schedule.rs` | [`Reconciler::run`], the scheduled entry (EventBridge schedule) |
//! | `dynamo.rs` / `memory.rs` | the reservations scan on DynamoDB / in memory |
//!
//! | order status | stuck when not updated for | request |
//! | --- | --- | --- |
//! | `PENDING`, `APPROVED` | `stuck_after` (a checkout that died) | `FAILED` `CHECKOUT_STUCK`, refund if captured |
//! | `AWAITING_APPROVAL` | the approval timeout + `stuck_after` | `REJECTED` `APPROVAL_TIMED_OUT`, refund if captured |
//! | `CANCELLING` | `stuck_after` (a cancel that did not finish) | `CANCELLED` `CUSTOMER_CANCELLED`, refund |
//! | `REFUND_PENDING` | `stuck_after` (its request may sit in the repair DLQ) | its pending outcome, refund |
//! | `CONFIRMED` | never: fulfilment's delay queue moves it (its DLQ has its own alarm) | — |
//! | ended, still holding a reservation | immediately | its own status, release only |
//!
//! A request for an order whose workflow is in fact still running is harmless: the repair
//! ends the order, and the workflow's own conditional writes then fail into its compensation
//! (a refund with the same operation id, releases that find nothing held).
//!
//! [`RepairRequested`]: crate::events::RepairRequested

mod dynamo;
#[cfg(any(test, feature = "fakes"))]
mod memory;
mod schedule;

use std::collections::BTreeMap;
use std::future::Future;

pub use dynamo::DynamoReservationScan;
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryReservationScan;
pub use schedule::Reconciler;
use serde::Serialize;

use crate::orders::{Order, OrderId, OrderStatus};
use crate::store::StoreError;

/// Name of the function.
pub const FUNCTION_NAME: &str = "reconciler";

/// When an order counts as stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcilerSettings {
    /// Seconds without an update after which an order in a moving state is stuck.
    pub stuck_after_seconds: i64,
    /// The checkout's approval timeout: an order waiting for a human is stuck only after it.
    pub approval_timeout_seconds: i64,
}

/// Every reservation item: (sku, order, units).
pub trait ReservationScan: Send + Sync {
    /// All reservations held now.
    fn all(&self) -> impl Future<Output = Result<Vec<(String, OrderId, u32)>, StoreError>> + Send;
}

/// What one sweep found and did (logged as one line, returned by the function).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Orders not ended.
    pub open_orders: usize,
    /// Stuck orders by status.
    pub stuck: BTreeMap<String, usize>,
    /// Reservations held for orders that ended.
    pub stranded_reservations: usize,
    /// Repair requests sent.
    pub repairs_requested: usize,
    /// Requests that could not be sent (retried by the next sweep).
    pub send_failures: usize,
}

/// The repair a stuck `order` needs at `now_ms` (epoch ms): (outcome, reason, refund), or
/// `None` if it is not stuck.
pub fn decide(
    order: &Order,
    now_ms: i64,
    settings: ReconcilerSettings,
) -> Option<(OrderStatus, String, bool)> {
    let idle_seconds = now_ms.saturating_sub(order.updated_at) / 1000;
    let stuck = |limit: i64| idle_seconds > limit;
    match order.status {
        OrderStatus::Pending | OrderStatus::Approved if stuck(settings.stuck_after_seconds) => {
            Some((OrderStatus::Failed, "CHECKOUT_STUCK".to_owned(), true))
        }
        OrderStatus::AwaitingApproval
            if stuck(
                settings
                    .approval_timeout_seconds
                    .saturating_add(settings.stuck_after_seconds),
            ) =>
        {
            Some((OrderStatus::Rejected, "APPROVAL_TIMED_OUT".to_owned(), true))
        }
        OrderStatus::Cancelling if stuck(settings.stuck_after_seconds) => Some((
            OrderStatus::Cancelled,
            "CUSTOMER_CANCELLED".to_owned(),
            true,
        )),
        OrderStatus::RefundPending if stuck(settings.stuck_after_seconds) => Some((
            order.refund_pending_outcome.unwrap_or(OrderStatus::Failed),
            order
                .failure_reason
                .clone()
                .unwrap_or_else(|| "REFUND_OWED".to_owned()),
            true,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
