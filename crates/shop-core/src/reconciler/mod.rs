//! reconciler: a scheduled sweep that drives every order to its end. Orders stuck past their
//! deadline in a state that should have moved on, and reservations still held for orders that
//! ended, are handed to the repair consumer ([`crate::repair`]) as [`RepairRequested`]s —
//! the one code path that fixes things; a confirmed order that was never shipped gets its
//! `OrderPlaced` again on the fulfilment queue. Every action is logged and counted.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Report`], [`Action`], [`decide`] (what a stuck order needs), [`ReconcilerSettings`] |
//! | `schedule.rs` | [`Reconciler::run`], the scheduled entry (EventBridge schedule) |
//!
//! It reads the reservations through [`crate::reservations::Reservations::all`].
//!
//! "Stuck" is [`Deadlines::allowance`] (shared with the invariant checker), measured from the
//! order's last change:
//!
//! | order status | stuck when not updated for | action |
//! | --- | --- | --- |
//! | `PENDING`, `APPROVED` | `stuck_after` (a checkout that died) | repair: `FAILED` `CHECKOUT_STUCK`, refund if captured |
//! | `AWAITING_APPROVAL` | the approval timeout + `stuck_after` | repair: `REJECTED` `APPROVAL_TIMED_OUT`, refund if captured |
//! | `CONFIRMED` | the cancel window + `stuck_after` (its `OrderPlaced` is in the fulfilment DLQ, or was lost) | re-drive: `OrderPlaced` to the fulfilment queue only (fulfilment is idempotent on the order's status) |
//! | `CANCELLING` | the cancel window + `stuck_after` (a cancel that did not finish) | repair: `CANCELLED` `CUSTOMER_CANCELLED`, refund |
//! | `REFUND_PENDING` | the cancel window + `stuck_after` (its request may sit in the repair DLQ) | repair: its pending outcome, refund |
//! | `FULFILLED`, still holding a reservation | `stuck_after` (fulfilment may be consuming) | re-drive: fulfilment finishes a shipped order (it alone consumes stock) |
//! | otherwise ended, still holding a reservation | `stuck_after` (a release may be under way) | repair: its own status, release only |
//!
//! Each order is handed on at most once per `stuck_after` (`reconciled_at` on the order,
//! set conditionally): the request sent last time is still queued or retried by SQS, and a
//! sweep that sent another each time would grow the very backlog the order waits in.
//!
//! A request for an order whose workflow is in fact still running is harmless: the repair
//! ends the order, and the workflow's own conditional writes then fail into its compensation
//! (a refund with the same operation id, releases that find nothing held).
//!
//! [`RepairRequested`]: crate::events::RepairRequested

mod schedule;

use std::collections::BTreeMap;

pub use schedule::Reconciler;
use serde::Serialize;

pub use crate::orders::Deadlines;
use crate::orders::{Order, OrderStatus};
use lambda_kit::config::{ConfigError, Settings, lookup_positive, lookup_required};

/// Name of the function.
pub const FUNCTION_NAME: &str = "reconciler";

/// The reconciler function's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `ORDERS_TABLE` | the orders table, scanned (required) |
/// | `RESERVATIONS_TABLE` | the reservations table, scanned (required) |
/// | `REPAIR_QUEUE_URL` | where repair requests are sent (required) |
/// | `FULFILMENT_QUEUE_URL` | where a confirmed order's `OrderPlaced` is re-driven (required) |
/// | `STUCK_AFTER_SECONDS` | [`Deadlines::stuck_after_seconds`] (optional, default 900) |
/// | `APPROVAL_TIMEOUT_SECONDS` | [`Deadlines::approval_timeout_seconds`] (optional, default 86400) |
/// | `CANCEL_WINDOW_SECONDS` | [`Deadlines::cancel_window_seconds`] (optional, default 900) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilerSettings {
    /// The orders table.
    pub orders_table: String,
    /// The reservations table.
    pub reservations_table: String,
    /// The repair queue.
    pub repair_queue_url: String,
    /// The fulfilment queue.
    pub fulfilment_queue_url: String,
    /// When an order is stuck.
    pub deadlines: Deadlines,
}

impl Settings for ReconcilerSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: lookup_required("ORDERS_TABLE", lookup)?,
            reservations_table: lookup_required("RESERVATIONS_TABLE", lookup)?,
            repair_queue_url: lookup_required("REPAIR_QUEUE_URL", lookup)?,
            fulfilment_queue_url: lookup_required("FULFILMENT_QUEUE_URL", lookup)?,
            deadlines: Deadlines {
                stuck_after_seconds: lookup_positive("STUCK_AFTER_SECONDS", 900, lookup)?,
                approval_timeout_seconds: lookup_positive(
                    "APPROVAL_TIMEOUT_SECONDS",
                    86_400,
                    lookup,
                )?,
                cancel_window_seconds: lookup_positive("CANCEL_WINDOW_SECONDS", 900, lookup)?,
            },
        })
    }
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
    /// Confirmed orders whose `OrderPlaced` was sent to fulfilment again.
    pub fulfilments_redriven: usize,
    /// Follow-ups of those orders (`ORDER_PLACED`, `LEDGER_CHARGE`) asked of the repair.
    pub follow_ups_requested: usize,
    /// Stuck orders an earlier sweep handed on less than `stuck_after` ago: nothing sent.
    pub already_requested: usize,
    /// Requests that could not be sent (sent again by a later sweep).
    pub send_failures: usize,
    /// Orders the sweep cannot act on (a confirmed order without a total), logged as errors
    /// for a human.
    pub not_actionable: usize,
}

/// CloudWatch metric names of a sweep (EMF, Count each, emitted once per sweep).
pub mod metric {
    /// Orders stuck past their deadline, by `Status`.
    pub const ORDERS_STUCK: &str = "OrdersStuck";
    /// Repair requests sent (refunds owed, releases, orders ended).
    pub const REPAIRS_REQUESTED: &str = "RepairsRequested";
    /// `OrderPlaced` re-driven to the fulfilment queue.
    pub const FULFILMENTS_REDRIVEN: &str = "FulfilmentsRedriven";
    /// Follow-ups (`ORDER_PLACED`, `LEDGER_CHARGE`) of confirmed orders asked of the repair.
    pub const FOLLOW_UPS_REQUESTED: &str = "FollowUpsRequested";
    /// Reservations held for orders that ended.
    pub const STRANDED_RESERVATIONS: &str = "StrandedReservations";
    /// Requests that could not be sent, and orders the sweep cannot act on (for a human).
    pub const RECONCILE_PROBLEMS: &str = "ReconcileProblems";
}

impl Report {
    /// The sweep's findings as metrics: a dashboard shows the backlog of repairs, an alarm
    /// can watch [`metric::RECONCILE_PROBLEMS`].
    pub fn emit_metrics(&self) {
        use lambda_kit::metrics::count;
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        for (status, stuck) in &self.stuck {
            count(
                metric::ORDERS_STUCK,
                n(*stuck),
                &[("Status", status.as_str())],
            );
        }
        count(metric::REPAIRS_REQUESTED, n(self.repairs_requested), &[]);
        count(
            metric::FULFILMENTS_REDRIVEN,
            n(self.fulfilments_redriven),
            &[],
        );
        count(
            metric::FOLLOW_UPS_REQUESTED,
            n(self.follow_ups_requested),
            &[],
        );
        count(
            metric::STRANDED_RESERVATIONS,
            n(self.stranded_reservations),
            &[],
        );
        count(
            metric::RECONCILE_PROBLEMS,
            n(self.send_failures + self.not_actionable),
            &[],
        );
    }
}

/// What a stuck order needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A [`RepairRequested`](crate::events::RepairRequested): end the order in `outcome`
    /// for `reason`, refunding first when `refund`.
    Repair {
        /// The status the order ends in.
        outcome: OrderStatus,
        /// Why (`failure_reason`).
        reason: String,
        /// Whether money may be held and must go back first.
        refund: bool,
    },
    /// Its `OrderPlaced` again, to the fulfilment queue only.
    RedriveFulfilment,
}

/// What a stuck `order` needs at `now_ms` (epoch ms), or `None` if it is not stuck.
pub fn decide(order: &Order, now_ms: i64, deadlines: Deadlines) -> Option<Action> {
    let idle_seconds = now_ms.saturating_sub(order.updated_at) / 1000;
    let waited_for_approval = order.approval_token.is_some();
    if !deadlines.is_overdue(order.status, waited_for_approval, idle_seconds) {
        return None;
    }
    let repair = |outcome: OrderStatus, reason: &str| {
        Some(Action::Repair {
            outcome,
            reason: reason.to_owned(),
            refund: true,
        })
    };
    match order.status {
        OrderStatus::Pending | OrderStatus::Approved => {
            repair(OrderStatus::Failed, "CHECKOUT_STUCK")
        }
        OrderStatus::AwaitingApproval => repair(OrderStatus::Rejected, "APPROVAL_TIMED_OUT"),
        OrderStatus::Cancelling => repair(OrderStatus::Cancelled, "CUSTOMER_CANCELLED"),
        OrderStatus::RefundPending => repair(
            order.refund_pending_outcome.unwrap_or(OrderStatus::Failed),
            order.failure_reason.as_deref().unwrap_or("REFUND_OWED"),
        ),
        OrderStatus::Confirmed => Some(Action::RedriveFulfilment),
        OrderStatus::Fulfilled
        | OrderStatus::Failed
        | OrderStatus::Rejected
        | OrderStatus::Cancelled => None,
    }
}

#[cfg(test)]
mod tests;
