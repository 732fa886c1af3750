//! reconciler: the in-memory adapter of [`ReservationScan`] (unit tests and the `fakes`
//! feature).

use std::sync::Mutex;

use super::ReservationScan;
use crate::orders::OrderId;
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// Reservations in memory.
#[derive(Debug, Default)]
pub struct InMemoryReservationScan {
    held: Mutex<Vec<(String, OrderId, u32)>>,
}

impl InMemoryReservationScan {
    /// Adds a reservation (test setup).
    pub fn hold(&self, sku: &str, order_id: &OrderId, quantity: u32) {
        lock(&self.held).push((sku.to_owned(), order_id.clone(), quantity));
    }
}

impl ReservationScan for InMemoryReservationScan {
    async fn all(&self) -> Result<Vec<(String, OrderId, u32)>, StoreError> {
        Ok(lock(&self.held).clone())
    }
}
