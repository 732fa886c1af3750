//! analytics: the in-memory adapter (unit tests and the `fakes` feature).

use std::collections::HashMap;
use std::sync::Mutex;

use super::CounterStore;
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// Counters in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryCounterStore {
    counters: Mutex<HashMap<(String, &'static str), i64>>,
    counted: Mutex<std::collections::HashSet<String>>,
}

impl InMemoryCounterStore {
    /// The value of `counter` on `day`.
    pub fn get(&self, day: &str, counter: &'static str) -> i64 {
        lock(&self.counters)
            .get(&(day.to_owned(), counter))
            .copied()
            .unwrap_or_default()
    }
}

impl CounterStore for InMemoryCounterStore {
    async fn increment_once(
        &self,
        day: &str,
        increments: &[(&'static str, i64)],
        event_id: &str,
        _marker_expires_at: i64,
    ) -> Result<bool, StoreError> {
        if !lock(&self.counted).insert(event_id.to_owned()) {
            return Ok(false);
        }
        let mut counters = lock(&self.counters);
        for (counter, by) in increments {
            *counters.entry((day.to_owned(), *counter)).or_default() += by;
        }
        Ok(true)
    }
}
