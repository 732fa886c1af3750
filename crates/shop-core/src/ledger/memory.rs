//! ledger: the in-memory adapter (unit tests and the `fakes` feature).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{LedgerEntry, LedgerStore};
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// Entries in memory (tests); can be told to fail.
#[derive(Debug, Default)]
pub struct InMemoryLedgerStore {
    entries: Mutex<BTreeMap<(String, String), LedgerEntry>>,
    failing_operation: Mutex<Option<String>>,
}

impl InMemoryLedgerStore {
    /// The entries of `order_id`, in `seq` order.
    pub fn entries(&self, order_id: &str) -> Vec<LedgerEntry> {
        lock(&self.entries)
            .values()
            .filter(|e| e.order_id == order_id)
            .cloned()
            .collect()
    }

    /// Makes every write of `operation_id` fail (or none).
    pub fn fail_operation(&self, operation_id: Option<&str>) {
        *lock(&self.failing_operation) = operation_id.map(str::to_owned);
    }
}

impl LedgerStore for InMemoryLedgerStore {
    async fn record(&self, entry: &LedgerEntry) -> Result<bool, StoreError> {
        if lock(&self.failing_operation).as_deref() == Some(entry.operation_id.as_str()) {
            return Err(StoreError::Backend {
                operation: "TransactWriteItems ledger",
                message: "unavailable (test)".to_owned(),
            });
        }
        let mut entries = lock(&self.entries);
        let key = (entry.order_id.clone(), entry.seq.clone());
        if entries.contains_key(&key)
            || entries
                .values()
                .any(|e| e.operation_id == entry.operation_id)
        {
            return Ok(false);
        }
        entries.insert(key, entry.clone());
        Ok(true)
    }
}
