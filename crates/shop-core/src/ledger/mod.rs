//! ledger: records every charge and refund in the order the payments-ledger FIFO queue
//! (`MessageGroupId` = order id) delivered them, one at a time
//! ([`lambda_kit::messaging::process_fifo_batch`]: a failed record holds back the rest of its
//! group).
//!
//! Events: `PaymentCaptured` and `PaymentRefunded` (`detail`: `orderId`, `operationId`,
//! `amount` `{amount, currency}`), sent by the checkout and cancel-order workflows.
//!
//! Table (`LEDGER_TABLE`): key `order_id` (S) + `seq` (S, the record's `SequenceNumber`
//! zero-padded to 20 digits, so string order is delivery order); attributes `operation_id`,
//! `kind` (the event type: `PaymentCaptured` | `PaymentRefunded`), `amount_minor` (N),
//! `currency`, `event_id`, `recorded_at` (N, epoch seconds).
//!
//! Once per operation, however it is resent: the entry is written in one transaction with a
//! guard item keyed by the operation (`order_id` = `operation#<operationId>`, `seq` = `guard`,
//! pointing at the entry), both conditional on not existing. A redelivery of the same message
//! (same sequence number) finds the entry; a resend of the operation after the queue's
//! 5-minute deduplication window (a new sequence number) finds the guard. Either counts as
//! done. Guards live in partitions of their own, so an order's query sees only its entries.

use crate::catalog::Money;
use crate::events::EventType;
use crate::store::StoreError;
use lambda_kit::config::{ConfigError, Settings, lookup_required};

mod consumer;
pub use consumer::{Ledger, padded_sequence};
mod dynamo;
pub use dynamo::DynamoLedgerStore;
#[cfg(any(test, feature = "fakes"))]
mod memory;
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryLedgerStore;

/// Name of the function.
pub const FUNCTION_NAME: &str = "ledger";

/// The ledger function's settings. No idempotency table: the ledger's own guard items make
/// every entry once-only (see the module docs).
///
/// | variable | meaning |
/// | --- | --- |
/// | `LEDGER_TABLE` | the ledger table (required) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSettings {
    /// The ledger table.
    pub ledger_table: String,
}

impl Settings for LedgerSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            ledger_table: lookup_required("LEDGER_TABLE", lookup)?,
        })
    }
}

/// `kind` of a charge's entry (its event type).
pub const CHARGE: &str = EventType::PaymentCaptured.as_str();

/// `kind` of a refund's entry (its event type).
pub const REFUND: &str = EventType::PaymentRefunded.as_str();

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The order (partition key).
    pub order_id: String,
    /// The FIFO sequence number, zero-padded to 20 digits (sort key).
    pub seq: String,
    /// `charge-<orderId>` or `refund-<orderId>`.
    pub operation_id: String,
    /// [`CHARGE`] or [`REFUND`].
    pub kind: &'static str,
    /// The amount charged or refunded.
    pub amount: Money,
    /// The event it records.
    pub event_id: String,
    /// When it was recorded (epoch seconds).
    pub recorded_at: i64,
}

/// Partition key of the guard item of `operation_id`.
pub fn guard_key(operation_id: &str) -> String {
    format!("operation#{operation_id}")
}

/// Sort key of every guard item.
pub const GUARD_SEQ: &str = "guard";

/// Where entries are kept.
pub trait LedgerStore: Send + Sync {
    /// Records `entry` unless its key or its operation is there already; `Ok(false)` for a
    /// duplicate.
    fn record(&self, entry: &LedgerEntry) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests;
