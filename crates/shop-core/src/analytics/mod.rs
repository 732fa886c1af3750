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
//!
//! The same events, counted now, are also CloudWatch metrics (EMF, [`metric`]):
//! `OrdersPlaced` and `RevenueMinor` by currency, `OrdersCancelled`, `Logins`, `LoginsFailed`
//! by reason, `AccountsLocked` — see [`emit_metrics`] for why this consumer emits them.

use crate::store::StoreError;
use lambda_kit::config::{ConfigError, Settings, lookup_required};
use lambda_kit::messaging::IdempotencyConfig;

mod consumer;
pub use consumer::{Analytics, emit_metrics, increments_of, metric};
mod dynamo;
pub use dynamo::DynamoCounterStore;
mod memory;
pub use memory::{Counters, InMemoryCounterStore};

/// Name of the function.
pub const FUNCTION_NAME: &str = "analytics";

/// The analytics function's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `ANALYTICS_TABLE` | the counters table (required) |
/// | `IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS` | the consumer's idempotency ([`IdempotencyConfig`]: required, optional with default 60) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsSettings {
    /// The counters table.
    pub analytics_table: String,
    /// Where the consumer records the events it processed.
    pub idempotency: IdempotencyConfig,
}

impl Settings for AnalyticsSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            analytics_table: lookup_required("ANALYTICS_TABLE", lookup)?,
            idempotency: IdempotencyConfig::from_lookup(lookup)?,
        })
    }
}

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

#[cfg(test)]
mod tests;
