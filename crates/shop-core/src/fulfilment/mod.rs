//! fulfilment: ships an order once it can no longer be cancelled. Its queue is an SQS delay
//! queue subscribed to `OrderPlaced` (`DelaySeconds` = the cancel window), so the event
//! arrives when the window has closed.
//!
//! On `OrderPlaced` (`detail`: `orderId`, `userId`, `email`, `items` …):
//! 1. [`OrderStore::mark_fulfilled`]: `CONFIRMED` → `FULFILLED`, conditionally. An order
//!    in any other status (`CANCELLING`, `CANCELLED`, `FAILED` …) is not shipped: logged and
//!    acknowledged. Already `FULFILLED` (a redelivery after a crash) carries on with the
//!    remaining steps, which are idempotent.
//! 2. Removes the order id from every line's product `reserved_for` set (`UpdateItem DELETE
//!    reserved_for :o`, conditional on the product existing): the stock stays sold, the
//!    marker that let compensation release it is no longer needed.
//! 3. Publishes `OrderShipped` (`detail`: `orderId`, `userId`, `email`) to the events topic.
//!    Its `eventId` is derived from the order id, so a second publish after a redelivery is
//!    the same event for the idempotent consumers.

use crate::orders::OrderId;
use crate::store::StoreError;

mod consumer;
pub use consumer::{Fulfilment, shipped_event_id};
mod dynamo;
pub use dynamo::DynamoReservationMarkers;
#[cfg(any(test, feature = "fakes"))]
mod memory;
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryReservationMarkers;

/// Name of the function.
pub const FUNCTION_NAME: &str = "fulfilment";

/// The products' stock reservation markers (`reserved_for`, a string set of order ids).
pub trait ReservationMarkers: Send + Sync {
    /// Removes `order_id` from `reserved_for` of `sku` (idempotent; a product no longer in
    /// the catalog is fine).
    fn release(
        &self,
        sku: &str,
        order_id: &OrderId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests;
