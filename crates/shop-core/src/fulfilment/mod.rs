//! fulfilment: ships an order once it can no longer be cancelled. Its queue is an SQS delay
//! queue subscribed to `OrderPlaced` (`DelaySeconds` = the cancel window), so the event
//! arrives when the window has closed.
//!
//! On `OrderPlaced` (`detail`: `orderId`, `userId`, `email`, `items` …):
//! 1. [`OrderStore::mark_fulfilled`](crate::orders::OrderStore::mark_fulfilled): `CONFIRMED` → `FULFILLED`, conditionally. An order
//!    in any other status (`CANCELLING`, `CANCELLED`, `FAILED` …) is not shipped: logged and
//!    acknowledged. Already `FULFILLED` (a redelivery after a crash) carries on with the
//!    remaining steps, which are idempotent.
//! 2. Deletes the order's reservation item of every line (reservations table, key `sku` +
//!    `order_id`): the units leave with the shipment, so the stock stays as it is and nothing
//!    is held for the order any more.
//! 3. Publishes `OrderShipped` (`detail`: `orderId`, `userId`, `email`) to the events topic.
//!    Its `eventId` is derived from the order id, so a second publish after a redelivery is
//!    the same event for the idempotent consumers.

use lambda_kit::config::{ConfigError, Settings, lookup_required};
use lambda_kit::messaging::IdempotencyConfig;

mod consumer;
pub use consumer::{Fulfilment, shipped_event_id};

/// Name of the function.
pub const FUNCTION_NAME: &str = "fulfilment";

/// The fulfilment function's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `ORDERS_TABLE` | the orders table (required) |
/// | `RESERVATIONS_TABLE` | the reservations table (required) |
/// | `EVENTS_TOPIC_ARN` | the topic `OrderShipped` is published to (required) |
/// | `IDEMPOTENCY_TABLE`, `IDEMPOTENCY_IN_PROGRESS_SECONDS` | the consumer's idempotency ([`IdempotencyConfig`]: required, optional with default 60) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfilmentSettings {
    /// The orders table.
    pub orders_table: String,
    /// The reservations table.
    pub reservations_table: String,
    /// The events topic.
    pub topic_arn: String,
    /// Where the consumer records the events it processed.
    pub idempotency: IdempotencyConfig,
}

impl Settings for FulfilmentSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: lookup_required("ORDERS_TABLE", lookup)?,
            reservations_table: lookup_required("RESERVATIONS_TABLE", lookup)?,
            topic_arn: lookup_required("EVENTS_TOPIC_ARN", lookup)?,
            idempotency: IdempotencyConfig::from_lookup(lookup)?,
        })
    }
}

#[cfg(test)]
mod tests;
