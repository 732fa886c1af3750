//! audit-log: appends every event to the audit table exactly once, keyed by `eventId`.
//!
//! Table: key `event_id` (S); `event_type`, `occurred_at`, `source`, `correlation_id`,
//! `recorded_at` (S/N) and `envelope` (the whole event as JSON). The write is conditional
//! on the key not existing, so even without the idempotency record a redelivery cannot
//! rewrite history.

use crate::store::StoreError;
use lambda_kit::messaging::EventEnvelope;

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
