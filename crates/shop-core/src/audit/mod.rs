//! audit-log: appends every event to the audit table exactly once, keyed by `eventId`.
//!
//! Table: key `event_id` (S); `event_type`, `occurred_at`, `source`, `correlation_id`,
//! `recorded_at` (S/N) and `envelope` (the whole event as JSON). The write is conditional
//! on the key not existing, so even without the idempotency record a redelivery cannot
//! rewrite history.

use crate::store::StoreError;
use lambda_kit::config::{ConfigError, Settings, lookup_required};
use lambda_kit::messaging::{EventEnvelope, IdempotencyConfig};

mod consumer;
pub use consumer::AuditLog;
mod dynamo;
pub use dynamo::DynamoAuditStore;
#[cfg(any(test, feature = "fakes"))]
mod memory;
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryAuditStore;

/// Name of the function.
pub const FUNCTION_NAME: &str = "audit-log";

/// The audit-log function's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `AUDIT_TABLE` | the audit table (required) |
/// | `IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS` | the consumer's idempotency ([`IdempotencyConfig`]: required, optional with default 60) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLogSettings {
    /// The audit table.
    pub audit_table: String,
    /// Where the consumer records the events it processed.
    pub idempotency: IdempotencyConfig,
}

impl Settings for AuditLogSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            audit_table: lookup_required("AUDIT_TABLE", lookup)?,
            idempotency: IdempotencyConfig::from_lookup(lookup)?,
        })
    }
}

/// Append-only event storage.
pub trait AuditStore: Send + Sync {
    /// Appends `event`; `Ok(false)` if an entry with its id exists already.
    fn append(
        &self,
        event: &EventEnvelope,
        recorded_at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests;
