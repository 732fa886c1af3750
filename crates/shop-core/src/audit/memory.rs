//! audit-log: the in-memory adapter (unit tests and the `fakes` feature).

use std::collections::HashMap;
use std::sync::Mutex;

use super::AuditStore;
use crate::store::StoreError;
use lambda_kit::messaging::EventEnvelope;
use lambda_kit::sync::lock;

/// The audit log in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryAuditStore {
    entries: Mutex<HashMap<String, EventEnvelope>>,
}

impl InMemoryAuditStore {
    /// Number of entries.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AuditStore for InMemoryAuditStore {
    async fn append(&self, event: &EventEnvelope, _recorded_at: i64) -> Result<bool, StoreError> {
        let mut entries = lock(&self.entries);
        if entries.contains_key(&event.event_id) {
            return Ok(false);
        }
        entries.insert(event.event_id.clone(), event.clone());
        Ok(true)
    }
}
