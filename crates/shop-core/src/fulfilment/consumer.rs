//! fulfilment: the queue handler.

use super::FUNCTION_NAME;
use crate::events::{OrderPlaced, OrderShipped, ShopEvent};
use crate::orders::OrderId;
use crate::orders::{FulfilOutcome, OrderStore};
use crate::reservations::Reservations;
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, EventHandler, EventPublisher, ProcessError};

/// CloudWatch metric: orders shipped (EMF, Count), once per order.
pub const ORDERS_FULFILLED: &str = "OrdersFulfilled";
/// CloudWatch metric: `OrderPlaced` for an order no longer confirmed (cancelled in the
/// window), by `Status` (EMF, Count).
pub const ORDERS_NOT_SHIPPED: &str = "OrdersNotShipped";

/// The `eventId` of the `OrderShipped` of `order_id`: a UUID made from its SHA-256, the same
/// for every publish of that order's shipment.
pub fn shipped_event_id(order_id: &OrderId) -> String {
    lambda_kit::ids::uuid_from_name(format!("OrderShipped\n{order_id}").as_bytes())
}

/// The fulfilment consumer.
#[derive(Debug)]
pub struct Fulfilment<O, M, P> {
    orders: O,
    reservations: M,
    publisher: P,
    clock: Clock,
}

impl<O: OrderStore, M: Reservations, P: EventPublisher> Fulfilment<O, M, P> {
    /// A consumer over the orders table, the products' reservations and the events topic.
    pub fn new(orders: O, reservations: M, publisher: P) -> Self {
        Self {
            orders,
            reservations,
            publisher,
            clock: Clock::System,
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The orders store (tests).
    pub fn orders(&self) -> &O {
        &self.orders
    }

    /// The reservations (tests).
    pub fn reservations(&self) -> &M {
        &self.reservations
    }

    /// The publisher (tests).
    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    async fn order_placed(
        &self,
        event: &EventEnvelope,
        placed: OrderPlaced,
    ) -> Result<(), ProcessError> {
        let order_id = placed.order_id;
        match self.orders.mark_fulfilled(&order_id).await? {
            FulfilOutcome::Fulfilled => {
                tracing::info!(order_id = %order_id, "order fulfilled");
                // Counted on the conditional write that made it FULFILLED: once per order.
                lambda_kit::metrics::count(ORDERS_FULFILLED, 1, &[]);
            }
            FulfilOutcome::AlreadyFulfilled => {
                tracing::info!(order_id = %order_id, "order already fulfilled: finishing the remaining steps");
            }
            FulfilOutcome::NotConfirmed(status) => {
                tracing::info!(order_id = %order_id, status = %status, "order not confirmed (cancelled in the window?): not shipped");
                lambda_kit::metrics::count(ORDERS_NOT_SHIPPED, 1, &[("Status", status.as_str())]);
                return Ok(());
            }
            FulfilOutcome::NotFound => {
                return Err(ProcessError::Malformed(format!(
                    "OrderPlaced for an order that does not exist: {order_id}"
                )));
            }
        }
        let order = self.orders.get(&order_id).await?.ok_or_else(|| {
            ProcessError::Failed(format!("order {order_id} vanished after fulfilment"))
        })?;
        let mut skus: Vec<String> = order.items.iter().map(|line| line.sku.clone()).collect();
        if skus.is_empty() {
            // Not priced on the stored order (should not happen): the event's lines.
            skus = placed
                .items
                .iter()
                .map(|line| line.sku.as_str().to_owned())
                .collect();
        }
        for sku in &skus {
            self.reservations.consume(sku, &order_id).await?;
        }
        tracing::info!(order_id = %order_id, lines = skus.len(), "stock reservation reservations removed");
        let mut shipped = ShopEvent::OrderShipped(OrderShipped {
            order_id: order_id.clone(),
            user_id: order.user_id,
            email: order.email,
        })
        .to_envelope(FUNCTION_NAME, &event.correlation_id, self.clock.now());
        shipped.event_id = shipped_event_id(&order_id);
        self.publisher
            .publish(&shipped)
            .await
            .map_err(|e| ProcessError::Failed(e.to_string()))?;
        tracing::info!(order_id = %order_id, shipped_event_id = %shipped.event_id, "OrderShipped published");
        Ok(())
    }
}

impl<O: OrderStore, M: Reservations, P: EventPublisher> EventHandler for Fulfilment<O, M, P> {
    type Event = ShopEvent;

    async fn handle(&self, event: &EventEnvelope, decoded: ShopEvent) -> Result<(), ProcessError> {
        match decoded {
            ShopEvent::OrderPlaced(placed) => self.order_placed(event, placed).await,
            other => {
                tracing::info!(
                    event_type = other.event_type().as_str(),
                    "not an OrderPlaced: ignored"
                );
                Ok(())
            }
        }
    }
}
