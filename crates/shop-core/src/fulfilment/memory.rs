//! fulfilment: the in-memory adapter (unit tests and the `fakes` feature).

use super::Reservations;
use crate::orders::OrderId;
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// Reservations in memory (tests): sku → order ids holding it.
#[derive(Debug, Default)]
pub struct InMemoryReservations {
    reservations:
        std::sync::Mutex<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>>,
}

impl InMemoryReservations {
    /// Adds `order_id` to `sku`'s reservations (test setup).
    pub fn reserve(&self, sku: &str, order_id: &OrderId) {
        lock(&self.reservations)
            .entry(sku.to_owned())
            .or_default()
            .insert(order_id.to_string());
    }

    /// The order ids holding `sku`.
    pub fn holders(&self, sku: &str) -> Vec<String> {
        lock(&self.reservations)
            .get(sku)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl Reservations for InMemoryReservations {
    async fn consume(&self, sku: &str, order_id: &OrderId) -> Result<(), StoreError> {
        if let Some(holders) = lock(&self.reservations).get_mut(sku) {
            holders.remove(order_id.as_str());
        }
        Ok(())
    }
}
