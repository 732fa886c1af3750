//! analytics: counters in memory — the unit tests' store and the projection
//! `shopctl rebuild analytics` counts into ([`crate::replay::rebuild`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use super::CounterStore;
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// Counters by day (`YYYY-MM-DD`), then by name: the day items of the analytics table.
pub type Counters = BTreeMap<String, BTreeMap<String, i64>>;

/// Counters in memory, counted once per event id like the table's `COUNTED#` markers.
#[derive(Debug, Default)]
pub struct InMemoryCounterStore {
    counters: Mutex<Counters>,
    counted: Mutex<HashSet<String>>,
}

impl InMemoryCounterStore {
    /// The value of `counter` on `day` (0 when absent).
    pub fn get(&self, day: &str, counter: &str) -> i64 {
        lock(&self.counters)
            .get(day)
            .and_then(|counters| counters.get(counter))
            .copied()
            .unwrap_or_default()
    }

    /// Every counter so far.
    pub fn counters(&self) -> Counters {
        lock(&self.counters).clone()
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
        let day = counters.entry(day.to_owned()).or_default();
        for (counter, by) in increments {
            *day.entry((*counter).to_owned()).or_default() += by;
        }
        Ok(true)
    }
}
