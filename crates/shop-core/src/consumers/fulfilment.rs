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

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::OrderId;
use crate::events::EventType;
use crate::orders::{FulfilOutcome, OrderStore};
use crate::store::StoreError;
use crate::store::{backend, is_conditional_failure};
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, EventHandler, EventPublisher, ProcessError};

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

/// The `eventId` of the `OrderShipped` of `order_id`: a UUID made from its SHA-256, the same
/// for every publish of that order's shipment.
pub fn shipped_event_id(order_id: &OrderId) -> String {
    lambda_kit::ids::uuid_from_name(format!("OrderShipped\n{order_id}").as_bytes())
}

/// The fulfilment consumer.
#[derive(Debug)]
pub struct Fulfilment<O, M, P> {
    orders: O,
    markers: M,
    publisher: P,
    clock: Clock,
}

impl<O: OrderStore, M: ReservationMarkers, P: EventPublisher> Fulfilment<O, M, P> {
    /// A consumer over the orders table, the products' markers and the events topic.
    pub fn new(orders: O, markers: M, publisher: P) -> Self {
        Self {
            orders,
            markers,
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

    /// The markers (tests).
    pub fn markers(&self) -> &M {
        &self.markers
    }

    /// The publisher (tests).
    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    async fn order_placed(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        let order_id = event
            .detail_str("orderId")
            .ok_or_else(|| ProcessError::Malformed("OrderPlaced without detail.orderId".into()))
            .and_then(|id| {
                OrderId::parse(id).map_err(|e| ProcessError::Malformed(e.to_string()))
            })?;
        match self.orders.mark_fulfilled(&order_id).await? {
            FulfilOutcome::Fulfilled => {
                tracing::info!(order_id = %order_id, "order fulfilled");
            }
            FulfilOutcome::AlreadyFulfilled => {
                tracing::info!(order_id = %order_id, "order already fulfilled: finishing the remaining steps");
            }
            FulfilOutcome::NotConfirmed(status) => {
                tracing::info!(order_id = %order_id, status = %status, "order not confirmed (cancelled in the window?): not shipped");
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
            skus = event
                .detail
                .get("items")
                .and_then(serde_json::Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.get("sku").and_then(serde_json::Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
        }
        for sku in &skus {
            self.markers.release(sku, &order_id).await?;
        }
        tracing::info!(order_id = %order_id, lines = skus.len(), "stock reservation markers removed");
        let mut shipped = EventEnvelope::new(
            EventType::OrderShipped,
            FUNCTION_NAME,
            &event.correlation_id,
            self.clock.now(),
            serde_json::json!({
                "orderId": order_id.as_str(),
                "userId": order.user_id,
                "email": order.email,
            }),
        );
        shipped.event_id = shipped_event_id(&order_id);
        self.publisher
            .publish(&shipped)
            .await
            .map_err(|e| ProcessError::Failed(e.to_string()))?;
        tracing::info!(order_id = %order_id, shipped_event_id = %shipped.event_id, "OrderShipped published");
        Ok(())
    }
}

impl<O: OrderStore, M: ReservationMarkers, P: EventPublisher> EventHandler for Fulfilment<O, M, P> {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        match EventType::of(event) {
            Some(EventType::OrderPlaced) => self.order_placed(event).await,
            _ => {
                tracing::info!("not an OrderPlaced: ignored");
                Ok(())
            }
        }
    }
}

/// The markers on the products table (`PRODUCTS_TABLE`, key `sku`).
#[derive(Debug, Clone)]
pub struct DynamoReservationMarkers {
    client: Client,
    table: String,
}

impl DynamoReservationMarkers {
    /// Markers on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl ReservationMarkers for DynamoReservationMarkers {
    async fn release(&self, sku: &str, order_id: &OrderId) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("sku", AttributeValue::S(sku.to_owned()))
            .update_expression("DELETE reserved_for :o")
            .condition_expression("attribute_exists(sku)")
            .expression_attribute_values(":o", AttributeValue::Ss(vec![order_id.to_string()]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_conditional_failure(&err) => {
                tracing::info!(sku, "product no longer in the catalog: no marker to remove");
                Ok(())
            }
            Err(err) => Err(backend("UpdateItem products reserved_for", &err)),
        }
    }
}

/// Markers in memory (tests): sku → order ids.
#[derive(Debug, Default)]
pub struct InMemoryReservationMarkers {
    markers:
        std::sync::Mutex<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>>,
}

impl InMemoryReservationMarkers {
    /// Adds `order_id` to `sku`'s markers (test setup).
    pub fn reserve(&self, sku: &str, order_id: &OrderId) {
        self.markers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(sku.to_owned())
            .or_default()
            .insert(order_id.to_string());
    }

    /// The order ids holding `sku`.
    pub fn holders(&self, sku: &str) -> Vec<String> {
        self.markers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(sku)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl ReservationMarkers for InMemoryReservationMarkers {
    async fn release(&self, sku: &str, order_id: &OrderId) -> Result<(), StoreError> {
        if let Some(holders) = self
            .markers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_mut(sku)
        {
            holders.remove(order_id.as_str());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, IdempotencyKey, Money, Order, OrderLine, OrderStatus};
    use crate::orders::InMemoryOrderStore;
    use crate::orders::tests::sample_order;
    use lambda_kit::messaging::InMemoryPublisher;

    type Consumer = Fulfilment<InMemoryOrderStore, InMemoryReservationMarkers, InMemoryPublisher>;

    fn line(sku: &str, quantity: u32) -> OrderLine {
        let price = Money::new(1299, Currency::EUR);
        OrderLine {
            sku: sku.to_owned(),
            name: format!("Product {sku}"),
            quantity,
            unit_price: price,
            line_total: Money::new(1299 * i64::from(quantity), Currency::EUR),
        }
    }

    fn order(status: OrderStatus) -> Order {
        Order {
            email: "ann@example.com".to_owned(),
            status,
            correlation_id: "corr".to_owned(),
            items: vec![line("MUG", 2), line("TEE", 1)],
            total: Some(Money::new(3897, Currency::EUR)),
            item_count: Some(3),
            charge_id: Some("ch_1".to_owned()),
            ..sample_order("u1", "key-fulfil-1", 1000)
        }
    }

    fn consumer(status: OrderStatus) -> (Consumer, OrderId, EventEnvelope) {
        let orders = InMemoryOrderStore::new();
        let order = order(status);
        let id = order.order_id.clone();
        orders.put(order);
        let markers = InMemoryReservationMarkers::default();
        markers.reserve("MUG", &id);
        markers.reserve("TEE", &id);
        markers.reserve(
            "MUG",
            &OrderId::derive(
                "u2",
                &IdempotencyKey::parse("other-key").unwrap_or_else(|e| unreachable!("{e}")),
            ),
        );
        let event = EventEnvelope::new(
            EventType::OrderPlaced,
            "checkout",
            "corr-placed",
            1_800_000_000,
            serde_json::json!({
                "orderId": id.as_str(), "userId": "u1", "email": "ann@example.com",
                "total": {"amount": 3897, "currency": "EUR"}, "itemCount": 3,
                "items": [{"sku": "MUG", "quantity": 2}, {"sku": "TEE", "quantity": 1}]
            }),
        );
        (
            Fulfilment::new(orders, markers, InMemoryPublisher::default()),
            id,
            event,
        )
    }

    fn status(consumer: &Consumer) -> Option<OrderStatus> {
        consumer.orders().all().pop().map(|o| o.status)
    }

    #[tokio::test]
    async fn ships_a_confirmed_order() {
        let (consumer, id, event) = consumer(OrderStatus::Confirmed);
        assert!(consumer.handle(&event).await.is_ok());
        assert_eq!(status(&consumer), Some(OrderStatus::Fulfilled));
        assert_eq!(
            consumer.markers().holders("MUG").len(),
            1,
            "other orders keep theirs"
        );
        assert!(!consumer.markers().holders("MUG").contains(&id.to_string()));
        assert!(consumer.markers().holders("TEE").is_empty());
        let events = consumer.publisher().events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, "OrderShipped");
        assert_eq!(events[0].source, "fulfilment");
        assert_eq!(events[0].correlation_id, "corr-placed");
        assert_eq!(
            events[0].detail,
            serde_json::json!({"orderId": id.as_str(), "userId": "u1", "email": "ann@example.com"})
        );
    }

    #[tokio::test]
    async fn a_cancelled_or_cancelling_order_is_not_shipped() {
        for cancelled in [
            OrderStatus::Cancelling,
            OrderStatus::Cancelled,
            OrderStatus::Failed,
        ] {
            let (consumer, id, event) = consumer(cancelled);
            assert!(consumer.handle(&event).await.is_ok());
            assert_eq!(status(&consumer), Some(cancelled));
            assert!(consumer.markers().holders("TEE").contains(&id.to_string()));
            assert!(consumer.publisher().events().is_empty());
        }
    }

    #[tokio::test]
    async fn a_redelivery_after_a_crash_finishes_with_the_same_shipped_event() {
        let (consumer, _, event) = consumer(OrderStatus::Confirmed);
        consumer.publisher().set_failing(true);
        assert!(consumer.handle(&event).await.is_err(), "publish failed");
        assert_eq!(status(&consumer), Some(OrderStatus::Fulfilled));
        consumer.publisher().set_failing(false);
        assert!(
            consumer.handle(&event).await.is_ok(),
            "already fulfilled: carries on"
        );
        assert!(consumer.handle(&event).await.is_ok());
        let events = consumer.publisher().events();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0].event_id, events[1].event_id,
            "same OrderShipped event"
        );
        assert_eq!(
            uuid::Uuid::parse_str(&events[0].event_id)
                .ok()
                .map(|u| u.get_version_num()),
            Some(4)
        );
    }

    #[tokio::test]
    async fn an_unknown_order_is_malformed() {
        let (consumer, _, mut event) = consumer(OrderStatus::Confirmed);
        event.detail["orderId"] = format!("ord_{}", "0".repeat(32)).into();
        assert!(matches!(
            consumer.handle(&event).await,
            Err(ProcessError::Malformed(_))
        ));
        event.detail["orderId"] = "nope".into();
        assert!(matches!(
            consumer.handle(&event).await,
            Err(ProcessError::Malformed(_))
        ));
    }
}
