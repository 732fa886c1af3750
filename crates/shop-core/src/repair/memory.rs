//! repair: the in-memory adapter of [`StockRelease`] (unit tests and the `fakes` feature).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::StockRelease;
use crate::orders::OrderId;
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// Stock and reservations in memory: sku → stock, (sku, order) → units held.
#[derive(Debug, Default)]
pub struct InMemoryStockRelease {
    stock: Mutex<BTreeMap<String, i64>>,
    held: Mutex<BTreeMap<(String, String), u32>>,
}

impl InMemoryStockRelease {
    /// Sets `sku`'s stock and makes `order_id` hold `quantity` of it (test setup).
    pub fn hold(&self, sku: &str, stock: i64, order_id: &OrderId, quantity: u32) {
        lock(&self.stock).insert(sku.to_owned(), stock);
        lock(&self.held).insert((sku.to_owned(), order_id.to_string()), quantity);
    }

    /// `sku`'s stock.
    pub fn stock(&self, sku: &str) -> i64 {
        lock(&self.stock).get(sku).copied().unwrap_or_default()
    }

    /// Units `order_id` holds of `sku`.
    pub fn held(&self, sku: &str, order_id: &OrderId) -> Option<u32> {
        lock(&self.held)
            .get(&(sku.to_owned(), order_id.to_string()))
            .copied()
    }
}

impl StockRelease for InMemoryStockRelease {
    async fn release(
        &self,
        sku: &str,
        order_id: &OrderId,
        quantity: u32,
    ) -> Result<bool, StoreError> {
        let mut held = lock(&self.held);
        if held
            .remove(&(sku.to_owned(), order_id.to_string()))
            .is_none()
        {
            return Ok(false);
        }
        *lock(&self.stock).entry(sku.to_owned()).or_default() += i64::from(quantity);
        Ok(true)
    }
}
