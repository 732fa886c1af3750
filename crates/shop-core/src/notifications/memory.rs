//! notifier: the in-memory adapter (unit tests and the `fakes` feature).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::{Notification, NotificationStore};
use crate::store::StoreError;

/// Notifications in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryNotificationStore {
    notifications: Mutex<HashMap<(String, String), Notification>>,
}

impl InMemoryNotificationStore {
    /// All recorded notifications.
    pub fn all(&self) -> Vec<Notification> {
        self.notifications
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

impl NotificationStore for InMemoryNotificationStore {
    async fn record(&self, n: &Notification, _now: i64) -> Result<bool, StoreError> {
        let mut all = self
            .notifications
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (n.recipient.clone(), n.sort_key.clone());
        if all.contains_key(&key) {
            return Ok(false);
        }
        all.insert(key, n.clone());
        Ok(true)
    }
}
