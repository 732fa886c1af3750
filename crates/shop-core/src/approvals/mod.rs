//! approvals: the consumer of the approvals queue. The checkout workflow's `RequestApproval`
//! state (`sqs:sendMessage.waitForTaskToken`) sends an `ApprovalRequested` envelope
//! (`detail`: `orderId`, `userId`, `email`, `taskToken`, `total` `{amount, currency}`,
//! `flagged`) and waits.
//!
//! This consumer stores the task token on the order ([`OrderStore::set_awaiting_approval`](crate::orders::OrderStore::set_awaiting_approval):
//! `PENDING` or `AWAITING_APPROVAL` without a token or with this same token), so that the
//! orders API can answer the workflow (`SendTaskSuccess` / `SendTaskFailure OrderRejected`)
//! when an admin decides, and records an `APPROVAL_REQUESTED` message for the recipient
//! `admins` in the notifications table (the notifier's store).
//!
//! An order that is no longer waiting (failed, already decided, or holding another token) is
//! logged and acknowledged: nobody can act on this token any more, and the workflow's own
//! timeout ends it.

mod consumer;
pub use consumer::Approvals;

use lambda_kit::config::{ConfigError, Settings, lookup_required};
use lambda_kit::messaging::IdempotencyConfig;

/// Name of the function.
pub const FUNCTION_NAME: &str = "approvals";

/// The approvals function's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `ORDERS_TABLE` | the orders table, where the task token is stored (required) |
/// | `NOTIFICATIONS_TABLE` | the notifications table, for the admins' message (required) |
/// | `IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS` | the consumer's idempotency ([`IdempotencyConfig`]: required, optional with default 60) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalsSettings {
    /// The orders table.
    pub orders_table: String,
    /// The notifications table.
    pub notifications_table: String,
    /// Where the consumer records the events it processed.
    pub idempotency: IdempotencyConfig,
}

impl Settings for ApprovalsSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: lookup_required("ORDERS_TABLE", lookup)?,
            notifications_table: lookup_required("NOTIFICATIONS_TABLE", lookup)?,
            idempotency: IdempotencyConfig::from_lookup(lookup)?,
        })
    }
}

/// Recipient of the approval requests in the notifications table.
pub const ADMINS: &str = "admins";

/// `kind` of the admins' notification.
pub const APPROVAL_REQUESTED: &str = "APPROVAL_REQUESTED";

#[cfg(test)]
mod tests;
