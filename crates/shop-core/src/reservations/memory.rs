//! reservations: the in-memory adapter (unit tests and the `fakes` feature).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Reservation, Reservations, StockRelease};
use crate::orders::OrderId;
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// Stock and reservations in memory: sku → stock, (sku, order) → units held. Both traits,
/// so a test sees what a release gives back and what a consume leaves.
#[derive(Debug, Default)]
pub struct InMemoryReservations {
    stock: Mutex<BTreeMap<String, i64>>,
    held: Mutex<BTreeMap<(String, OrderId), u32>>,
}

impl InMemoryReservations {
    /// Sets `sku`'s stock (test setup).
    pub fn set_stock(&self, sku: &str, stock: i64) {
        lock(&self.stock).insert(sku.to_owned(), stock);
    }

    /// Makes `order_id` hold `quantity` of `sku` (test setup; the stock is not changed).
    pub fn hold(&self, sku: &str, order_id: &OrderId, quantity: u32) {
        lock(&self.held).insert((sku.to_owned(), order_id.clone()), quantity);
    }

    /// `sku`'s stock.
    pub fn stock(&self, sku: &str) -> i64 {
        lock(&self.stock).get(sku).copied().unwrap_or_default()
    }

    /// Units `order_id` holds of `sku`.
    pub fn held(&self, sku: &str, order_id: &OrderId) -> Option<u32> {
        lock(&self.held)
            .get(&(sku.to_owned(), order_id.clone()))
            .copied()
    }

    /// The orders holding `sku`.
    pub fn holders(&self, sku: &str) -> Vec<String> {
        lock(&self.held)
            .keys()
            .filter(|(held_sku, _)| held_sku == sku)
            .map(|(_, order)| order.to_string())
            .collect()
    }
}

impl Reservations for InMemoryReservations {
    async fn consume(&self, sku: &str, order_id: &OrderId) -> Result<(), StoreError> {
        lock(&self.held).remove(&(sku.to_owned(), order_id.clone()));
        Ok(())
    }

    async fn all(&self) -> Result<Vec<Reservation>, StoreError> {
        Ok(lock(&self.held)
            .iter()
            .map(|((sku, order_id), quantity)| Reservation {
                sku: sku.clone(),
                order_id: order_id.clone(),
                quantity: *quantity,
            })
            .collect())
    }
}

impl StockRelease for InMemoryReservations {
    async fn release(
        &self,
        sku: &str,
        order_id: &OrderId,
        quantity: u32,
    ) -> Result<bool, StoreError> {
        if lock(&self.held)
            .remove(&(sku.to_owned(), order_id.clone()))
            .is_none()
        {
            return Ok(false);
        }
        *lock(&self.stock).entry(sku.to_owned()).or_default() += i64::from(quantity);
        Ok(true)
    }
}
