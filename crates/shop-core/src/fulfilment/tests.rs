use super::*;
use crate::catalog::{Currency, Money};
use crate::events::EventType;
use crate::orders::InMemoryOrderStore;
use crate::orders::tests::sample_order;
use crate::orders::{IdempotencyKey, Order, OrderId, OrderLine, OrderStatus};
use crate::reservations::InMemoryReservations;
use lambda_kit::messaging::EventEnvelope;
use lambda_kit::messaging::EventHandler as _;
use lambda_kit::messaging::InMemoryPublisher;
use lambda_kit::messaging::ProcessError;

type Consumer = Fulfilment<InMemoryOrderStore, InMemoryReservations, InMemoryPublisher>;

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
    let reservations = InMemoryReservations::default();
    reservations.hold("MUG", &id, 2);
    reservations.hold("TEE", &id, 1);
    reservations.hold(
        "MUG",
        &OrderId::derive("u2", &IdempotencyKey::parse("other-key").unwrap()),
        1,
    );
    let event = EventEnvelope::new(
        EventType::OrderPlaced,
        "checkout",
        "corr-placed",
        1_800_000_000,
        serde_json::json!({
            "orderId": id.as_str(), "userId": "u1", "email": "ann@example.com",
            "total": {"amount": 3897, "currency": "EUR"}, "itemCount": 3,
            "items": [
                {"sku": "MUG", "name": "Mug", "quantity": 2,
                 "unitPrice": {"amount": 999, "currency": "EUR"},
                 "lineTotal": {"amount": 1998, "currency": "EUR"}},
                {"sku": "TEE", "name": "Tee", "quantity": 1,
                 "unitPrice": {"amount": 1899, "currency": "EUR"},
                 "lineTotal": {"amount": 1899, "currency": "EUR"}}
            ]
        }),
    );
    (
        Fulfilment::new(orders, reservations, InMemoryPublisher::default()),
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
    consumer.handle_envelope(&event).await.unwrap();
    assert_eq!(status(&consumer), Some(OrderStatus::Fulfilled));
    assert_eq!(
        consumer.reservations().holders("MUG").len(),
        1,
        "other orders keep theirs"
    );
    assert!(
        !consumer
            .reservations()
            .holders("MUG")
            .contains(&id.to_string())
    );
    assert!(consumer.reservations().holders("TEE").is_empty());
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
        consumer.handle_envelope(&event).await.unwrap();
        assert_eq!(status(&consumer), Some(cancelled));
        assert!(
            consumer
                .reservations()
                .holders("TEE")
                .contains(&id.to_string())
        );
        assert!(consumer.publisher().events().is_empty());
    }
}

#[tokio::test]
async fn a_redelivery_after_a_crash_finishes_with_the_same_shipped_event() {
    let (consumer, _, event) = consumer(OrderStatus::Confirmed);
    consumer.publisher().set_failing(true);
    assert!(
        consumer.handle_envelope(&event).await.is_err(),
        "publish failed"
    );
    assert_eq!(status(&consumer), Some(OrderStatus::Fulfilled));
    consumer.publisher().set_failing(false);
    assert!(
        consumer.handle_envelope(&event).await.is_ok(),
        "already fulfilled: carries on"
    );
    consumer.handle_envelope(&event).await.unwrap();
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
        consumer.handle_envelope(&event).await,
        Err(ProcessError::Malformed(_))
    ));
    event.detail["orderId"] = "nope".into();
    assert!(matches!(
        consumer.handle_envelope(&event).await,
        Err(ProcessError::Malformed(_))
    ));
}

const ENV: &[(&str, &str)] = &[
    ("ORDERS_TABLE", "orders"),
    ("RESERVATIONS_TABLE", "reservations"),
    (
        "EVENTS_TOPIC_ARN",
        "arn:aws:sns:eu-west-1:000000000000:events",
    ),
    ("IDEMPOTENCY_TABLE", "idem"),
];

#[test]
fn settings_read_every_variable_with_defaults() {
    use crate::test_support::settings_from;
    assert_eq!(
        settings_from(ENV),
        Ok(FulfilmentSettings {
            orders_table: "orders".to_owned(),
            reservations_table: "reservations".to_owned(),
            topic_arn: "arn:aws:sns:eu-west-1:000000000000:events".to_owned(),
            idempotency: lambda_kit::messaging::IdempotencyConfig {
                table: "idem".to_owned(),
                in_progress_seconds: 60,
            },
        })
    );
}

#[test]
fn settings_name_the_missing_or_invalid_variable() {
    use crate::test_support::{assert_each_required, assert_invalid};
    assert_each_required::<FulfilmentSettings>(
        ENV,
        &[
            "ORDERS_TABLE",
            "RESERVATIONS_TABLE",
            "EVENTS_TOPIC_ARN",
            "IDEMPOTENCY_TABLE",
        ],
    );
    assert_invalid::<FulfilmentSettings>(ENV, "IDEMPOTENCY_IN_PROGRESS_SECONDS", "0");
}
