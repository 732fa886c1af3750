use std::sync::atomic::{AtomicU32, Ordering};

use lambda_kit::messaging::{
    EventHandler as _, InMemoryPublisher, InMemoryQueue, QueueSender as _,
};

use super::*;
use crate::catalog::{Currency, Money};
use crate::events::{EventType, ShopEvent};
use crate::orders::tests::sample_order;
use crate::orders::{InMemoryOrderStore, OrderLine, OrderStatus, OrderStore as _};
use crate::payment::{Charge, ChargeRequest, PaymentError, PaymentProvider, Refund, RefundRequest};
use crate::reservations::InMemoryReservations;
use lambda_kit::messaging::{EventEnvelope, ProcessError};

/// A provider whose refunds fail `failures` times, then succeed (once per operation).
#[derive(Debug, Default)]
struct Provider {
    failures: AtomicU32,
    refunds: AtomicU32,
}

impl PaymentProvider for Provider {
    async fn charge(&self, _: &ChargeRequest) -> Result<Charge, PaymentError> {
        Err(PaymentError::InvalidRequest("not in these tests".into()))
    }

    async fn refund(&self, _: &RefundRequest) -> Result<Refund, PaymentError> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(PaymentError::Unavailable("provider down".into()));
        }
        self.refunds.fetch_add(1, Ordering::SeqCst);
        Ok(Refund {
            refunded: true,
            refund_id: Some("re_1".into()),
            amount: Some(Money::new(2_500, Currency::EUR)),
        })
    }
}

type Subject =
    Repair<InMemoryOrderStore, Provider, InMemoryReservations, InMemoryQueue, InMemoryPublisher>;

async fn setup(status: OrderStatus, refund_failures: u32) -> (Subject, crate::orders::Order) {
    let orders = InMemoryOrderStore::new();
    let mut order = sample_order("u-repair", "repair-key-1", 1_000);
    order.status = status;
    order.total = Some(Money::new(2_500, Currency::EUR));
    order.items = vec![OrderLine {
        sku: "MUG".into(),
        name: "Mug".into(),
        quantity: 2,
        unit_price: Money::new(1_250, Currency::EUR),
        line_total: Money::new(2_500, Currency::EUR),
    }];
    orders.create(&order).await.unwrap();
    let stock = InMemoryReservations::default();
    stock.set_stock("MUG", 8);
    stock.hold("MUG", &order.order_id, 2);
    let provider = Provider {
        failures: AtomicU32::new(refund_failures),
        ..Provider::default()
    };
    let repair = Repair::new(
        orders,
        provider,
        stock,
        InMemoryQueue::default(),
        InMemoryPublisher::default(),
    );
    (repair, order)
}

fn request(order: &crate::orders::Order, outcome: &str, refund: bool) -> EventEnvelope {
    ShopEvent::RepairRequested(crate::events::RepairRequested {
        order_id: order.order_id.clone(),
        outcome: outcome.into(),
        reason: "CUSTOMER_CANCELLED".into(),
        refund,
        cause: "test".into(),
    })
    .to_envelope("test", "corr", 1_000)
}

#[tokio::test]
async fn an_owed_refund_is_pending_until_it_succeeds_then_the_order_ends() {
    let (repair, order) = setup(OrderStatus::Cancelling, 1).await;
    let envelope = request(&order, "CANCELLED", true);

    // The provider is down: the record fails, the order says why it waits, nothing is
    // released or ended yet.
    let first = repair.handle_envelope(&envelope).await;
    assert!(matches!(first, Err(ProcessError::Failed(_))), "{first:?}");
    let waiting = repair.orders().get(&order.order_id).await.unwrap().unwrap();
    assert_eq!(waiting.status, OrderStatus::RefundPending);
    assert_eq!(waiting.refund_pending_outcome, Some(OrderStatus::Cancelled));
    assert!(
        waiting
            .refund_pending_reason
            .unwrap()
            .contains("provider down")
    );
    assert!(repair.ledger().sent().is_empty());
    assert_eq!(repair.stock().held("MUG", &order.order_id), Some(2));

    // Retried: refunded, in the ledger (FIFO group = order, dedup = the operation), stock
    // back, order cancelled, OrderCancelled published.
    repair.handle_envelope(&envelope).await.unwrap();
    let done = repair.orders().get(&order.order_id).await.unwrap().unwrap();
    assert_eq!(done.status, OrderStatus::Cancelled);
    assert_eq!(done.refund_pending_reason, None);
    let sent = repair.ledger().sent();
    assert_eq!(sent.len(), 2, "the charge, then the refund");
    let (body, keys) = &sent[0];
    let charge_op = format!("charge-{}", order.order_id);
    assert_eq!(keys, &Some((order.order_id.to_string(), charge_op.clone())));
    let entry = EventEnvelope::from_json(body).unwrap();
    assert_eq!(EventType::of(&entry), Some(EventType::PaymentCaptured));
    assert_eq!(entry.event_id, captured_event_id(order.order_id.as_str()));
    assert_eq!(entry.detail["operationId"], charge_op.as_str());
    let (body, keys) = &sent[1];
    let refund_op = format!("refund-{}", order.order_id);
    assert_eq!(keys, &Some((order.order_id.to_string(), refund_op.clone())));
    let entry = EventEnvelope::from_json(body).unwrap();
    assert_eq!(EventType::of(&entry), Some(EventType::PaymentRefunded));
    assert_eq!(entry.event_id, refunded_event_id(order.order_id.as_str()));
    assert_eq!(entry.detail["operationId"], refund_op.as_str());
    assert_eq!(repair.stock().stock("MUG"), 10);
    assert_eq!(repair.stock().held("MUG", &order.order_id), None);
    let published = repair.publisher().events();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].event_type, "OrderCancelled");

    // A duplicate of the request changes nothing: the order has ended.
    repair.handle_envelope(&envelope).await.unwrap();
    assert_eq!(repair.provider().refunds.load(Ordering::SeqCst), 1);
    assert_eq!(repair.ledger().sent().len(), 2);
    assert_eq!(repair.stock().stock("MUG"), 10);
}

#[tokio::test]
async fn an_ended_order_only_gets_its_stranded_stock_back() {
    let (repair, order) = setup(OrderStatus::Failed, 0).await;
    repair
        .handle_envelope(&request(&order, "FAILED", true))
        .await
        .unwrap();
    assert_eq!(repair.stock().stock("MUG"), 10);
    assert_eq!(
        repair.provider().refunds.load(Ordering::SeqCst),
        0,
        "no refund of an ended order"
    );
    let after = repair.orders().get(&order.order_id).await.unwrap().unwrap();
    assert_eq!(after.status, OrderStatus::Failed);
}

#[tokio::test]
async fn a_failed_checkout_ends_failed_with_its_reason() {
    let (repair, order) = setup(OrderStatus::Pending, 0).await;
    repair
        .handle_envelope(&request(&order, "FAILED", false))
        .await
        .unwrap();
    let after = repair.orders().get(&order.order_id).await.unwrap().unwrap();
    assert_eq!(after.status, OrderStatus::Failed);
    assert_eq!(after.failure_reason.as_deref(), Some("CUSTOMER_CANCELLED"));
    assert!(
        repair.publisher().events().is_empty(),
        "only cancels announce themselves"
    );
}

#[tokio::test]
async fn a_bad_outcome_or_an_unknown_order_is_malformed() {
    let (repair, order) = setup(OrderStatus::Pending, 0).await;
    let bad = repair
        .handle_envelope(&request(&order, "CONFIRMED", false))
        .await;
    assert!(matches!(bad, Err(ProcessError::Malformed(_))), "{bad:?}");
    let mut unknown = order.clone();
    unknown.order_id = crate::orders::OrderId::parse(&format!("ord_{}", "f".repeat(32))).unwrap();
    let missing = repair
        .handle_envelope(&request(&unknown, "FAILED", false))
        .await;
    assert!(
        matches!(missing, Err(ProcessError::Malformed(_))),
        "{missing:?}"
    );
    // The queue sender fake is exercised by the happy path; this keeps the import honest.
    let _ = repair.ledger().send("x", None).await;
}

const ENV: &[(&str, &str)] = &[
    ("ORDERS_TABLE", "orders"),
    ("PAYMENTS_TABLE", "payments"),
    ("RESERVATIONS_TABLE", "reservations"),
    ("PRODUCTS_TABLE", "products"),
    (
        "LEDGER_QUEUE_URL",
        "http://localhost:4566/000000000000/ledger.fifo",
    ),
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
        Ok(RepairSettings {
            orders_table: "orders".to_owned(),
            payments_table: "payments".to_owned(),
            reservations_table: "reservations".to_owned(),
            products_table: "products".to_owned(),
            ledger_queue_url: "http://localhost:4566/000000000000/ledger.fifo".to_owned(),
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
    assert_each_required::<RepairSettings>(
        ENV,
        &[
            "ORDERS_TABLE",
            "PAYMENTS_TABLE",
            "RESERVATIONS_TABLE",
            "PRODUCTS_TABLE",
            "LEDGER_QUEUE_URL",
            "EVENTS_TOPIC_ARN",
            "IDEMPOTENCY_TABLE",
        ],
    );
    assert_invalid::<RepairSettings>(ENV, "IDEMPOTENCY_IN_PROGRESS_SECONDS", "0");
}
