//! fraud-detector: the in-memory adapter (unit tests and the `fakes` feature).

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Flag, FraudStore, sort_key};
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// Failures in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryFraudStore {
    failures: Mutex<HashMap<String, std::collections::BTreeSet<String>>>,
    flags: Mutex<HashMap<String, Flag>>,
}

impl InMemoryFraudStore {
    /// The flag of `email`, if any.
    pub fn flag(&self, email: &str) -> Option<Flag> {
        lock(&self.flags).get(email).cloned()
    }
}

impl FraudStore for InMemoryFraudStore {
    async fn record_occurrence(
        &self,
        subject: &str,
        at: i64,
        event_id: &str,
        _expires_at: i64,
    ) -> Result<(), StoreError> {
        lock(&self.failures)
            .entry(subject.to_owned())
            .or_default()
            .insert(sort_key(at, event_id));
        Ok(())
    }

    async fn count_since(&self, subject: &str, since: i64) -> Result<u32, StoreError> {
        let since = format!("{:012}", since.max(0));
        Ok(lock(&self.failures).get(subject).map_or(0, |keys| {
            u32::try_from(keys.range(since..).count()).unwrap_or(u32::MAX)
        }))
    }

    async fn put_flag(&self, email: &str, flag: &Flag) -> Result<(), StoreError> {
        let mut flags = lock(&self.flags);
        if flags
            .get(email)
            .is_none_or(|existing| existing.flagged_until < flag.flagged_until)
        {
            flags.insert(email.to_owned(), flag.clone());
        }
        Ok(())
    }
}
