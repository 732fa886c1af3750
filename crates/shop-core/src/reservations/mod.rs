//! reservations: the units an open order holds, one item per (sku, order) in the reservations
//! table (key `sku` + `order_id`, attributes `quantity`, `reserved_at`), so a product item
//! stays the same size however many orders are open. Every access to the table is here or
//! in the workflows' ASL:
//!
//! | operation | who | how (one transaction where two tables change) |
//! | --- | --- | --- |
//! | reserve | checkout workflow, `ReserveLine` (ASL) | `Put` the reservation (`attribute_not_exists`) + product `stock - q` (`stock >= q`) |
//! | release | checkout/cancel workflows, `ReleaseLine` (ASL); [`StockRelease::release`] (repair) | `Delete` the reservation (`attribute_exists`) + product `stock + q` |
//! | consume | [`Reservations::consume`] (fulfilment) | `Delete` the reservation: the units left with the shipment, the stock stays down |
//! | scan | [`Reservations::all`] (reconciler); the invariant checker reads raw items (`reconcile`) | `Scan` |
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Reservation`], the traits [`Reservations`] and [`StockRelease`] |
//! | `dynamo.rs` | [`DynamoReservations`] (reservations table only), [`DynamoStockRelease`] (reservations + products tables) |
//! | `memory.rs` | `InMemoryReservations` (tests and the `fakes` feature): both traits over one in-memory stock and reservations |
//!
//! Two traits rather than one so that a function gets only the tables it needs: fulfilment
//! and the reconciler never write a product, the repair does.
//!
//! How fast one product can sell (about 500 reservations a second, set by the product item's
//! write limit) and how to lift it: `statemachines/README.md`, "How fast one product can sell".

mod dynamo;
#[cfg(any(test, feature = "fakes"))]
mod memory;

use std::future::Future;

pub use dynamo::{DynamoReservations, DynamoStockRelease};
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryReservations;

use crate::orders::OrderId;
use crate::store::StoreError;

/// Units of a product held for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The product.
    pub sku: String,
    /// The order holding the units.
    pub order_id: OrderId,
    /// Units held.
    pub quantity: u32,
}

/// The reservations table alone.
pub trait Reservations: Send + Sync {
    /// Consumes the reservation of `order_id` on `sku` without giving the stock back (the
    /// units are shipped). Idempotent: a reservation already consumed is fine.
    fn consume(
        &self,
        sku: &str,
        order_id: &OrderId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every reservation held now (a scan: fine for a periodic sweep).
    fn all(&self) -> impl Future<Output = Result<Vec<Reservation>, StoreError>> + Send;
}

/// Gives back the stock a reservation holds.
pub trait StockRelease: Send + Sync {
    /// Deletes the reservation of `order_id` on `sku` and adds `quantity` back to the
    /// product's stock, in one transaction. `Ok(false)` when the order holds nothing of
    /// `sku` (never reserved, or released already).
    fn release(
        &self,
        sku: &str,
        order_id: &OrderId,
        quantity: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests;
