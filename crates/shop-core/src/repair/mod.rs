//! repair: compensation that cannot be lost. Whatever could not be undone when it should have
//! been — a refund the provider refused, stock a release could not give back, an order the
//! workflow could not mark — arrives here as a [`RepairRequested`](crate::events::RepairRequested) on the repair queue (its
//! own DLQ and alarm) and is retried until it is done.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`RepairSettings`] |
//! | `consumer.rs` | the queue handler [`Repair`]: refund → ledger → release → end the order; or one follow-up of a confirmed order |
//!
//! The release is [`crate::reservations::StockRelease`], the same transaction as the
//! workflows' `ReleaseLine`.
//!
//! Who sends a request: the checkout and cancel-order workflows (a refund that failed after
//! its retries, a release or a status write that failed: every compensating state has a
//! `Catch` ending here) and the reconciler (orders stuck past their deadline, reservations
//! held for ended orders; a customer's repeated cancel starts a new cancel run instead). Every step is idempotent, so any of them may send the same request again:
//! - the refund is the provider's operation `refund-<orderId>` (recorded once);
//! - the ledger entries are sent with the FIFO deduplication ids `charge-<orderId>` then
//!   `refund-<orderId>`, and the ledger keeps one entry per operation id. The charge goes
//!   first because a checkout that failed between its charge and its ledger entry (the
//!   payment function timing out after the provider captured) never sent it; when it is
//!   there already, the resend changes nothing;
//! - a release deletes the order's reservation item and gives the stock back in one
//!   transaction, conditional on the item being there;
//! - the order ends with a write conditional on it not having ended.
//!
//! A refund that fails again leaves the order `REFUND_PENDING` with the reason and fails the
//! record: SQS delivers it again after the queue's visibility timeout (the backoff), up to its
//! receive count, then the DLQ (and its alarm) holds it for a human and the reconciler
//! re-sends it. An order reaches `CANCELLED`/`FAILED`/`REJECTED` only once its money is back.
//!
//! **Follow-ups.** After `ConfirmOrder` the checkout runs its side effects as parallel
//! branches; a branch that still fails after its retries sends a request with a
//! [`FollowUp`](crate::events::FollowUp) (`outcome: CONFIRMED`, `reason` = its name). The
//! repair then does that one thing and never touches the order's status (a confirmed order
//! stays confirmed):
//!
//! | `followUp` | what the repair does | idempotent by |
//! | --- | --- | --- |
//! | `ORDER_PLACED` | publishes the stored order's `OrderPlaced` (`source: repair`) if the order was ever confirmed (`CONFIRMED`, `FULFILLED`, `CANCELLING`, `CANCELLED`, or `REFUND_PENDING` on its way to `CANCELLED`); otherwise logs and skips | `eventId` = `OrderPlaced-<orderId>`, the checkout's own ([`order_placed_event_id`]) |
//! | `LEDGER_CHARGE` | sends `PaymentCaptured` for `charge-<orderId>` (the order's total: what was charged) to the ledger, as before a refund; skipped for an order without a charge id | FIFO dedup id `charge-<orderId>`, [`captured_event_id`], the ledger's one entry per operation |
//! | `CLEAR_CART` | deletes the sessions item `pk = cartKey` if its `version` is still `cartVersion` (a cart changed since, or gone, is left alone) | the version condition |
//!
//! A follow-up that fails fails the record (retried by SQS, then the DLQ), with the reason
//! in the log; each one done is counted (`FollowUpsRepaired` by `FollowUp`).

mod consumer;

pub use consumer::{
    FollowUpError, Repair, captured_event_id, metric, order_placed_event_id, refunded_event_id,
};

use lambda_kit::config::{ConfigError, Settings, lookup_required};
use lambda_kit::messaging::IdempotencyConfig;

/// Name of the function.
pub const FUNCTION_NAME: &str = "repair";

/// The repair function's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `ORDERS_TABLE` | the orders table (required) |
/// | `PAYMENTS_TABLE` | the payment provider's table, for refunds (required) |
/// | `RESERVATIONS_TABLE`, `PRODUCTS_TABLE` | the release transaction's tables (required) |
/// | `LEDGER_QUEUE_URL` | the payments-ledger FIFO queue (required) |
/// | `EVENTS_TOPIC_ARN` | the events topic (required) |
/// | `SESSIONS_TABLE` | the sessions table, for `CLEAR_CART` follow-ups (required) |
/// | `IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS` | the consumer's idempotency ([`IdempotencyConfig`]: required, optional with default 60) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairSettings {
    /// The orders table.
    pub orders_table: String,
    /// The payments table.
    pub payments_table: String,
    /// The reservations table.
    pub reservations_table: String,
    /// The products table.
    pub products_table: String,
    /// The payments-ledger FIFO queue.
    pub ledger_queue_url: String,
    /// The events topic.
    pub topic_arn: String,
    /// The sessions table (carts).
    pub sessions_table: String,
    /// Where the consumer records the events it processed.
    pub idempotency: IdempotencyConfig,
}

impl Settings for RepairSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: lookup_required("ORDERS_TABLE", lookup)?,
            payments_table: lookup_required("PAYMENTS_TABLE", lookup)?,
            reservations_table: lookup_required("RESERVATIONS_TABLE", lookup)?,
            products_table: lookup_required("PRODUCTS_TABLE", lookup)?,
            ledger_queue_url: lookup_required("LEDGER_QUEUE_URL", lookup)?,
            topic_arn: lookup_required("EVENTS_TOPIC_ARN", lookup)?,
            sessions_table: lookup_required("SESSIONS_TABLE", lookup)?,
            idempotency: IdempotencyConfig::from_lookup(lookup)?,
        })
    }
}

#[cfg(test)]
mod tests;
