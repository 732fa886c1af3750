//! notifier: records the customer-facing message of events that need one in the
//! notifications table. No e-mail is sent.
//!
//! | event | recipient | `kind` |
//! | --- | --- | --- |
//! | `AccountLocked` | `detail.email` | `ACCOUNT_LOCKED` |
//! | `DuplicateRegistration` | `detail.email` | `DUPLICATE_REGISTRATION` |
//! | `OrderPlaced` | `detail.email` | `ORDER_PLACED` |
//! | `OrderShipped` | `detail.email` | `ORDER_SHIPPED` |
//! | `OrderCancelled` | `detail.email` | `ORDER_CANCELLED` |
//!
//! (`approvals` records `APPROVAL_REQUESTED` messages for the recipient `admins` through the
//! same store.)
//!
//! Table: key `recipient` (S, the e-mail), sort key `sk` (S, `<occurredAt>#<eventId>`);
//! `kind`, `channel`, `subject`, `message`, `event_id`, `created_at`. The write is
//! conditional on the key, so a redelivery records nothing twice.

use crate::store::StoreError;
use lambda_kit::config::{ConfigError, Settings, lookup_required};
use lambda_kit::messaging::IdempotencyConfig;

mod consumer;
pub use consumer::{Notifier, display_total, notification_for};
mod dynamo;
pub use dynamo::DynamoNotificationStore;
#[cfg(any(test, feature = "fakes"))]
mod memory;
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryNotificationStore;

/// Name of the function.
pub const FUNCTION_NAME: &str = "notifier";

/// The notifier function's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `NOTIFICATIONS_TABLE` | the notifications table (required) |
/// | `IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS` | the consumer's idempotency ([`IdempotencyConfig`]: required, optional with default 60) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierSettings {
    /// The notifications table.
    pub notifications_table: String,
    /// Where the consumer records the events it processed.
    pub idempotency: IdempotencyConfig,
}

impl Settings for NotifierSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            notifications_table: lookup_required("NOTIFICATIONS_TABLE", lookup)?,
            idempotency: IdempotencyConfig::from_lookup(lookup)?,
        })
    }
}

/// A message to a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// E-mail of the customer.
    pub recipient: String,
    /// `<occurredAt>#<eventId>`.
    pub sort_key: String,
    /// e.g. `ACCOUNT_LOCKED`.
    pub kind: String,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub message: String,
    /// The event it was made for.
    pub event_id: String,
}

/// Where notifications are recorded.
pub trait NotificationStore: Send + Sync {
    /// Records `notification`; `Ok(false)` if it was recorded before.
    fn record(
        &self,
        notification: &Notification,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests;
