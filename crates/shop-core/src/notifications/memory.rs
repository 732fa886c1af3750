//! notifier: the in-memory adapter (unit tests and the `fakes` feature).

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Notification, NotificationStore};
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// Notifications in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryNotificationStore {
    notifications: Mutex<HashMap<(String, String), Notification>>,
}

impl InMemoryNotificationStore {
    /// All recorded notifications.
    pub fn all(&self) -> Vec<Notification> {
        lock(&self.notifications).values().cloned().collect()
    }
}

impl NotificationStore for InMemoryNotificationStore {
    async fn record(&self, n: &Notification, _now: i64) -> Result<bool, StoreError> {
        let mut all = lock(&self.notifications);
        let key = (n.recipient.clone(), n.sort_key.clone());
        if all.contains_key(&key) {
            return Ok(false);
        }
        all.insert(key, n.clone());
        Ok(true)
    }
}
