//! replay: the in-memory adapters (unit tests and the `fakes` feature).

use std::collections::HashMap;
use std::sync::Mutex;

use lambda_kit::messaging::EventEnvelope;
use lambda_kit::sync::lock;

use super::rebuild::{AnalyticsTables, Counters};
use super::{EventLog, StoredEvents};
use crate::store::StoreError;

/// An event store in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryEventLog {
    stored: Mutex<StoredEvents>,
}

impl InMemoryEventLog {
    /// Appends `event`.
    pub fn push(&self, event: EventEnvelope) {
        lock(&self.stored).events.push(event);
    }

    /// Appends an entry whose envelope does not parse.
    pub fn push_unreadable(&self, event_id: &str) {
        lock(&self.stored).unreadable.push(event_id.to_owned());
    }
}

impl EventLog for InMemoryEventLog {
    async fn read_all(&self) -> Result<StoredEvents, StoreError> {
        Ok(lock(&self.stored).clone())
    }
}

/// Counter tables in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryAnalyticsTables {
    tables: Mutex<HashMap<String, Counters>>,
}

impl InMemoryAnalyticsTables {
    /// Sets `table`'s content (the live table of a test).
    pub fn set(&self, table: &str, counters: Counters) {
        lock(&self.tables).insert(table.to_owned(), counters);
    }

    /// The tables there are.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.tables).keys().cloned().collect();
        names.sort();
        names
    }
}

fn missing(table: &str) -> StoreError {
    StoreError::Backend {
        operation: "Scan analytics",
        message: format!("ResourceNotFoundException: no table {table}"),
    }
}

impl AnalyticsTables for InMemoryAnalyticsTables {
    async fn read(&self, table: &str) -> Result<Counters, StoreError> {
        lock(&self.tables)
            .get(table)
            .cloned()
            .ok_or_else(|| missing(table))
    }

    async fn create(&self, table: &str) -> Result<(), StoreError> {
        let mut tables = lock(&self.tables);
        if tables.contains_key(table) {
            return Err(StoreError::AlreadyExists(table.to_owned()));
        }
        tables.insert(table.to_owned(), Counters::new());
        Ok(())
    }

    async fn write(&self, table: &str, counters: &Counters) -> Result<(), StoreError> {
        let mut tables = lock(&self.tables);
        let existing = tables.get_mut(table).ok_or_else(|| missing(table))?;
        for (day, values) in counters {
            existing.insert(day.clone(), values.clone());
        }
        Ok(())
    }
}
