//! analytics: the in-memory adapter (unit tests and the `fakes` feature).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::CounterStore;
use crate::store::StoreError;

/// Counters in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryCounterStore {
    counters: Mutex<HashMap<(String, &'static str), i64>>,
    counted: Mutex<std::collections::HashSet<String>>,
}

impl InMemoryCounterStore {
    /// The value of `counter` on `day`.
    pub fn get(&self, day: &str, counter: &'static str) -> i64 {
        self.counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
        if !self
            .counted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(event_id.to_owned())
        {
            return Ok(false);
        }
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        for (counter, by) in increments {
            *counters.entry((day.to_owned(), *counter)).or_default() += by;
        }
        Ok(true)
    }
}
