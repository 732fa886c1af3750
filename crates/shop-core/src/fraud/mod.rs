//! fraud-detector: counts failed logins per account and per source IP in a sliding window
//! and locks an account that reaches the threshold (default: 5 failures in 15 minutes lock
//! it for 15 minutes), publishing `AccountLocked`.
//!
//! Sliding window in DynamoDB: one item per failure, key `pk` = `ACCOUNT#<email>` or
//! `IP#<source ip>`, sort key `sk` = `<epoch seconds, 12 digits>#<eventId>` (so a
//! redelivered event writes the same item), TTL `expires_at` = failure time + window. The
//! count is a `Query` on `pk` with `sk >= <now - window>` (`Select: COUNT`).
//!
//! The lock is the `LOCK#<email>` item of the users table (see [`crate::auth::UserStore`]),
//! checked by login and by the authorizer. Only wrong-password failures count (a login
//! refused because the account is locked does not extend the lock).
//!
//! Flags for the checkout's risk check (its `RiskCheck` state reads them): the item
//! `pk = FLAG#<email>`, `sk = FLAG` with `flagged_until` (RFC 3339 UTC,
//! `YYYY-MM-DDTHH:MM:SSZ`, now + window), `reason`, `flagged_at` (N), `event_id` and the TTL
//! `expires_at` (= `flagged_until`). A flag is only ever extended, never shortened. An
//! account is flagged
//! - `FAILED_LOGINS`: when its failed logins in the window reach the flag threshold
//!   (default 3, below the lock threshold: orders of an account under attack need approval);
//! - `ORDER_VELOCITY`: when one user places more than `order_velocity` orders (default 5)
//!   within the window, counted on `OrderPlaced` in the same sliding-window records under
//!   `pk = ORDERS#<userId>`.

use crate::store::StoreError;
use lambda_kit::config::{ConfigError, Settings, lookup_count, lookup_positive, lookup_required};
use lambda_kit::messaging::IdempotencyConfig;

mod consumer;
pub use consumer::FraudDetector;
mod dynamo;
pub use dynamo::DynamoFraudStore;
#[cfg(any(test, feature = "fakes"))]
mod memory;
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryFraudStore;

/// Name of the function.
pub const FUNCTION_NAME: &str = "fraud-detector";

/// The `reason` of a `LoginFailed` that counts.
pub const COUNTED_REASON: &str = "INVALID_CREDENTIALS";

/// Window, threshold and lock duration.
///
/// | variable | field |
/// | --- | --- |
/// | `FRAUD_WINDOW_SECONDS` | [`window_seconds`](Self::window_seconds) |
/// | `FRAUD_THRESHOLD` | [`lock_threshold`](Self::lock_threshold) |
/// | `FRAUD_LOCK_SECONDS` | [`lock_seconds`](Self::lock_seconds) |
/// | `FRAUD_FLAG_THRESHOLD` | [`flag_threshold`](Self::flag_threshold) |
/// | `FRAUD_ORDER_VELOCITY` | [`order_velocity`](Self::order_velocity) |
///
/// Each is optional, a positive integer, its default when unset; a count too large for a
/// `u32` is its default too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FraudSettings {
    /// Length of the sliding window in seconds (default 900).
    pub window_seconds: i64,
    /// Failures within the window that lock the account (default 5).
    pub lock_threshold: u32,
    /// How long a lock lasts in seconds (default 900).
    pub lock_seconds: i64,
    /// Failures within the window that flag the account for order approval (default 3).
    pub flag_threshold: u32,
    /// Orders of one user within the window above which the account is flagged (default 5).
    pub order_velocity: u32,
}

impl Default for FraudSettings {
    fn default() -> Self {
        Self {
            window_seconds: 900,
            lock_threshold: 5,
            lock_seconds: 900,
            flag_threshold: 3,
            order_velocity: 5,
        }
    }
}

impl Settings for FraudSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            window_seconds: lookup_positive(
                "FRAUD_WINDOW_SECONDS",
                defaults.window_seconds,
                lookup,
            )?,
            lock_threshold: lookup_count("FRAUD_THRESHOLD", defaults.lock_threshold, lookup)?,
            lock_seconds: lookup_positive("FRAUD_LOCK_SECONDS", defaults.lock_seconds, lookup)?,
            flag_threshold: lookup_count("FRAUD_FLAG_THRESHOLD", defaults.flag_threshold, lookup)?,
            order_velocity: lookup_count("FRAUD_ORDER_VELOCITY", defaults.order_velocity, lookup)?,
        })
    }
}

/// The fraud-detector function's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `FRAUD_TABLE` | the sliding-window records and flags (required) |
/// | `USERS_TABLE` | the users table, where locks are written (required) |
/// | `EVENTS_TOPIC_ARN` | the topic `AccountLocked` is published to (required) |
/// | `IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS` | the consumer's idempotency ([`IdempotencyConfig`]: required, optional with default 60) |
/// | `FRAUD_*` | the detector's [`FraudSettings`] (optional, with defaults) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudDetectorSettings {
    /// The fraud table.
    pub fraud_table: String,
    /// The users table.
    pub users_table: String,
    /// The events topic.
    pub topic_arn: String,
    /// Where the consumer records the events it processed.
    pub idempotency: IdempotencyConfig,
    /// Window, thresholds and lock duration.
    pub fraud: FraudSettings,
}

impl Settings for FraudDetectorSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            fraud_table: lookup_required("FRAUD_TABLE", lookup)?,
            users_table: lookup_required("USERS_TABLE", lookup)?,
            topic_arn: lookup_required("EVENTS_TOPIC_ARN", lookup)?,
            idempotency: IdempotencyConfig::from_lookup(lookup)?,
            fraud: FraudSettings::from_lookup(lookup)?,
        })
    }
}

/// `reason` of a flag raised by failed logins.
pub const FLAG_FAILED_LOGINS: &str = "FAILED_LOGINS";

/// `reason` of a flag raised by too many orders.
pub const FLAG_ORDER_VELOCITY: &str = "ORDER_VELOCITY";

/// A risk flag on an account (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Until when (epoch seconds; also the TTL).
    pub flagged_until: i64,
    /// [`FLAG_FAILED_LOGINS`] or [`FLAG_ORDER_VELOCITY`].
    pub reason: &'static str,
    /// When it was raised (epoch seconds).
    pub flagged_at: i64,
    /// The event that raised it.
    pub event_id: String,
}

/// Sliding-window records (failed logins, orders) and flags.
pub trait FraudStore: Send + Sync {
    /// Records one occurrence (a failed login, an order) of `subject` at `at` (idempotent per
    /// `event_id`).
    fn record_occurrence(
        &self,
        subject: &str,
        at: i64,
        event_id: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Failures of `subject` at or after `since`.
    fn count_since(
        &self,
        subject: &str,
        since: i64,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Flags `email` (`FLAG#<email>`), unless a flag lasting at least as long is there.
    fn put_flag(
        &self,
        email: &str,
        flag: &Flag,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

fn sort_key(at: i64, event_id: &str) -> String {
    format!("{:012}#{event_id}", at.max(0))
}

#[cfg(test)]
mod tests;
