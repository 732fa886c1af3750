use std::sync::atomic::{AtomicU32, Ordering};

use lambda_kit::messaging::{
    EventHandler as _, InMemoryPublisher, InMemoryQueue, QueueSender as _,
};

use super::*;
use crate::auth::session::SessionId;
use crate::cart::{Cart, CartStore as _, InMemoryCartStore, Quantity, cart_pk};
use crate::catalog::{Currency, Money, Sku};
use crate::events::{EventType, FollowUp, ShopEvent};
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

type Subject = Repair<
    InMemoryOrderStore,
    Provider,
    InMemoryReservations,
    InMemoryQueue,
    InMemoryPublisher,
    InMemoryCartStore,
>;

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
        InMemoryCartStore::default(),
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
        follow_up: None,
        cart_key: None,
        cart_version: None,
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

// Follow-ups: the requests the checkout's parallel branches send from their Catch, built as
// raw JSON exactly as the ASL does (so the wire shape is what is tested).

fn follow_up_detail(order: &crate::orders::Order, follow_up: &str) -> serde_json::Value {
    serde_json::json!({
        "orderId": order.order_id.as_str(),
        "outcome": "CONFIRMED",
        "reason": follow_up,
        "refund": false,
        "cause": "{\"Error\":\"States.TaskFailed\"}",
        "followUp": follow_up,
    })
}

fn envelope_of(detail: serde_json::Value) -> EventEnvelope {
    EventEnvelope::new(
        EventType::RepairRequested,
        "checkout",
        "corr",
        1_000,
        detail,
    )
}

fn follow_up(order: &crate::orders::Order, follow_up: &str) -> EventEnvelope {
    envelope_of(follow_up_detail(order, follow_up))
}

fn clear_cart(order: &crate::orders::Order, cart_key: &str, version: &str) -> EventEnvelope {
    let mut detail = follow_up_detail(order, "CLEAR_CART");
    detail["cartKey"] = cart_key.into();
    detail["cartVersion"] = version.into();
    envelope_of(detail)
}

/// A confirmed order: charged, its stock still held until fulfilment.
async fn confirmed() -> (Subject, crate::orders::Order) {
    let (repair, mut order) = setup(OrderStatus::Pending, 0).await;
    order.status = OrderStatus::Confirmed;
    order.charge_id = Some("ch_1".into());
    order.item_count = Some(2);
    repair.orders().put(order.clone());
    (repair, order)
}

async fn status_of(repair: &Subject, order: &crate::orders::Order) -> OrderStatus {
    repair
        .orders()
        .get(&order.order_id)
        .await
        .unwrap()
        .unwrap()
        .status
}

#[tokio::test]
async fn order_placed_is_published_from_the_stored_order_under_one_id() {
    let (repair, order) = confirmed().await;
    let envelope = follow_up(&order, "ORDER_PLACED");
    // Delivered twice (a retry, or the same follow-up sent again): the same event twice.
    repair.handle_envelope(&envelope).await.unwrap();
    repair
        .handle_envelope(&follow_up(&order, "ORDER_PLACED"))
        .await
        .unwrap();
    let published = repair.publisher().events();
    assert_eq!(published.len(), 2);
    for event in &published {
        assert_eq!(event.event_type, "OrderPlaced");
        assert_eq!(event.source, "repair");
        assert_eq!(event.correlation_id, "corr");
        assert_eq!(
            event.event_id,
            order_placed_event_id(order.order_id.as_str())
        );
        match ShopEvent::from_envelope(event) {
            Ok(ShopEvent::OrderPlaced(placed)) => {
                assert_eq!(placed.order_id, order.order_id);
                assert_eq!(placed.email, order.email);
                assert_eq!(placed.total, Money::new(2_500, Currency::EUR));
                assert_eq!(placed.item_count, 2);
            }
            other => panic!("not an OrderPlaced: {other:?}"),
        }
    }
    // Only that: the order stays confirmed, its stock held, nothing in the ledger.
    assert_eq!(status_of(&repair, &order).await, OrderStatus::Confirmed);
    assert_eq!(repair.stock().held("MUG", &order.order_id), Some(2));
    assert!(repair.ledger().sent().is_empty());
    assert_eq!(repair.provider().refunds.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn order_placed_is_owed_by_every_order_that_was_confirmed_and_only_by_them() {
    let cases = [
        (OrderStatus::Confirmed, None, true),
        (OrderStatus::Fulfilled, None, true),
        (OrderStatus::Cancelling, None, true),
        (OrderStatus::Cancelled, None, true),
        (
            OrderStatus::RefundPending,
            Some(OrderStatus::Cancelled),
            true,
        ),
        // A checkout's own refund: charged, never confirmed.
        (OrderStatus::RefundPending, Some(OrderStatus::Failed), false),
        (OrderStatus::Pending, None, false),
        (OrderStatus::Failed, None, false),
        (OrderStatus::Rejected, None, false),
    ];
    for (status, pending_outcome, owed) in cases {
        let (repair, mut order) = confirmed().await;
        order.status = status;
        order.refund_pending_outcome = pending_outcome;
        repair.orders().put(order.clone());
        repair
            .handle_envelope(&follow_up(&order, "ORDER_PLACED"))
            .await
            .unwrap();
        assert_eq!(
            repair.publisher().events().len(),
            usize::from(owed),
            "{status:?} ({pending_outcome:?})"
        );
        assert_eq!(status_of(&repair, &order).await, status, "unchanged");
    }
}

#[tokio::test]
async fn ledger_charge_sends_the_charge_as_before_a_refund() {
    let (repair, order) = confirmed().await;
    let envelope = follow_up(&order, "LEDGER_CHARGE");
    repair.handle_envelope(&envelope).await.unwrap();
    repair.handle_envelope(&envelope).await.unwrap();
    let sent = repair.ledger().sent();
    assert_eq!(sent.len(), 2, "sent again: the ledger deduplicates");
    let charge_op = format!("charge-{}", order.order_id);
    for (body, keys) in &sent {
        assert_eq!(keys, &Some((order.order_id.to_string(), charge_op.clone())));
        let entry = EventEnvelope::from_json(body).unwrap();
        assert_eq!(EventType::of(&entry), Some(EventType::PaymentCaptured));
        assert_eq!(entry.event_id, captured_event_id(order.order_id.as_str()));
        assert_eq!(entry.source, "repair");
        assert_eq!(entry.detail["operationId"], charge_op.as_str());
        assert_eq!(entry.detail["amount"]["amount"], 2_500);
        assert_eq!(entry.detail["amount"]["currency"], "EUR");
    }
    assert_eq!(status_of(&repair, &order).await, OrderStatus::Confirmed);
    assert_eq!(repair.provider().refunds.load(Ordering::SeqCst), 0);
    assert!(repair.publisher().events().is_empty());
    assert_eq!(repair.stock().held("MUG", &order.order_id), Some(2));
}

#[tokio::test]
async fn ledger_charge_for_an_order_without_a_charge_sends_nothing() {
    let (repair, order) = setup(OrderStatus::Pending, 0).await;
    repair
        .handle_envelope(&follow_up(&order, "LEDGER_CHARGE"))
        .await
        .unwrap();
    assert!(repair.ledger().sent().is_empty());
}

/// A cart at version 1 (written once), and its key as the workflow carries it.
async fn stored_cart(repair: &Subject) -> (SessionId, String) {
    let id = SessionId::digest_of("a shopper's session token");
    let mut cart = Cart::default();
    cart.set_line(Sku::parse("MUG").unwrap(), Quantity::new(2).unwrap())
        .unwrap();
    repair
        .carts()
        .put_cart(&id, &cart, 1_000, 9_000)
        .await
        .unwrap();
    let key = cart_pk(&id);
    (id, key)
}

#[tokio::test]
async fn clear_cart_deletes_the_priced_cart_once() {
    let (repair, order) = confirmed().await;
    let (id, key) = stored_cart(&repair).await;
    let envelope = clear_cart(&order, &key, "1");
    repair.handle_envelope(&envelope).await.unwrap();
    let after = repair.carts().get_cart(&id, 1_000).await.unwrap();
    assert_eq!(after, Cart::default(), "deleted");
    // Again: nothing left to delete, and that is fine.
    repair.handle_envelope(&envelope).await.unwrap();
    assert_eq!(status_of(&repair, &order).await, OrderStatus::Confirmed);
    assert!(repair.publisher().events().is_empty());
    assert!(repair.ledger().sent().is_empty());
}

#[tokio::test]
async fn clear_cart_keeps_a_cart_changed_since_the_checkout() {
    let (repair, order) = confirmed().await;
    let (id, key) = stored_cart(&repair).await;
    // The shopper added to the cart after it was priced: version 2.
    let mut changed = repair.carts().get_cart(&id, 1_000).await.unwrap();
    changed
        .set_line(Sku::parse("TEE").unwrap(), Quantity::new(1).unwrap())
        .unwrap();
    repair
        .carts()
        .put_cart(&id, &changed, 1_000, 9_000)
        .await
        .unwrap();
    repair
        .handle_envelope(&clear_cart(&order, &key, "1"))
        .await
        .unwrap();
    let kept = repair.carts().get_cart(&id, 1_000).await.unwrap();
    assert_eq!(kept.version, 2);
    assert_eq!(kept.lines.len(), 2);
}

#[tokio::test]
async fn clear_cart_without_a_usable_cart_key_or_version_is_malformed() {
    let (repair, order) = confirmed().await;
    let (_, key) = stored_cart(&repair).await;
    let missing = repair
        .handle_envelope(&follow_up(&order, "CLEAR_CART"))
        .await;
    assert!(
        matches!(&missing, Err(ProcessError::Malformed(m)) if m.contains("cartKey and cartVersion")),
        "{missing:?}"
    );
    let bad_key = repair
        .handle_envelope(&clear_cart(&order, "SESSION#abc", "1"))
        .await;
    assert!(
        matches!(&bad_key, Err(ProcessError::Malformed(m)) if m.contains("SESSION#abc")),
        "{bad_key:?}"
    );
    for version in ["abc", "", "+1", "-1", "1.5"] {
        let bad = repair
            .handle_envelope(&clear_cart(&order, &key, version))
            .await;
        assert!(
            matches!(&bad, Err(ProcessError::Malformed(m)) if m.contains("cartVersion must be")),
            "{version:?}: {bad:?}"
        );
    }
    // A JSON number is read too (a producer that is not the ASL).
    let mut detail = follow_up_detail(&order, "CLEAR_CART");
    detail["cartKey"] = key.into();
    detail["cartVersion"] = 1.into();
    repair.handle_envelope(&envelope_of(detail)).await.unwrap();
}

#[tokio::test]
async fn a_follow_up_that_cannot_be_sent_fails_the_record() {
    let (repair, order) = confirmed().await;
    repair.publisher().set_failing(true);
    let placed = repair
        .handle_envelope(&follow_up(&order, "ORDER_PLACED"))
        .await;
    assert!(matches!(placed, Err(ProcessError::Failed(_))), "{placed:?}");
    repair.ledger().set_failing(true);
    let charge = repair
        .handle_envelope(&follow_up(&order, "LEDGER_CHARGE"))
        .await;
    assert!(matches!(charge, Err(ProcessError::Failed(_))), "{charge:?}");
    let mut unknown = order.clone();
    unknown.order_id = crate::orders::OrderId::parse(&format!("ord_{}", "f".repeat(32))).unwrap();
    let missing = repair
        .handle_envelope(&follow_up(&unknown, "ORDER_PLACED"))
        .await;
    assert!(
        matches!(missing, Err(ProcessError::Malformed(_))),
        "{missing:?}"
    );
    assert_eq!(status_of(&repair, &order).await, OrderStatus::Confirmed);
}

#[tokio::test]
async fn an_old_shaped_request_repairs_as_before() {
    // What the workflows and the reconciler sent before follow-ups existed.
    let (repair, order) = setup(OrderStatus::Pending, 0).await;
    let envelope = envelope_of(serde_json::json!({
        "orderId": order.order_id.as_str(),
        "outcome": "FAILED",
        "reason": "PAYMENT_UNAVAILABLE",
        "refund": true,
    }));
    match ShopEvent::from_envelope(&envelope) {
        Ok(ShopEvent::RepairRequested(request)) => {
            assert_eq!(request.follow_up, None);
            assert_eq!(request.cart_key, None);
            assert_eq!(request.cart_version, None);
            // And it is written back without the new fields.
            let detail = ShopEvent::RepairRequested(request).detail();
            assert!(detail.get("followUp").is_none(), "{detail}");
            assert!(detail.get("cartVersion").is_none(), "{detail}");
        }
        other => panic!("not a RepairRequested: {other:?}"),
    }
    repair.handle_envelope(&envelope).await.unwrap();
    let after = repair.orders().get(&order.order_id).await.unwrap().unwrap();
    assert_eq!(after.status, OrderStatus::Failed);
    assert_eq!(after.failure_reason.as_deref(), Some("PAYMENT_UNAVAILABLE"));
    assert_eq!(repair.provider().refunds.load(Ordering::SeqCst), 1);
    assert_eq!(
        repair.ledger().sent().len(),
        2,
        "the charge, then the refund"
    );
    assert_eq!(repair.stock().held("MUG", &order.order_id), None);
    assert!(repair.publisher().events().is_empty());
}

#[test]
fn a_follow_up_request_round_trips_as_the_workflow_sends_it() {
    let request = crate::events::RepairRequested {
        order_id: crate::orders::OrderId::parse(&format!("ord_{}", "a".repeat(32))).unwrap(),
        outcome: "CONFIRMED".into(),
        reason: FollowUp::ClearCart.as_str().into(),
        refund: false,
        cause: String::new(),
        follow_up: Some(FollowUp::ClearCart),
        cart_key: Some(format!("CART#{}", "b".repeat(64))),
        cart_version: Some(crate::events::CartVersion(7)),
    };
    let detail = ShopEvent::RepairRequested(request.clone()).detail();
    assert_eq!(detail["followUp"], "CLEAR_CART");
    assert_eq!(detail["cartVersion"], "7", "a string, as DynamoDB's N");
    let back: crate::events::RepairRequested = serde_json::from_value(detail).unwrap();
    assert_eq!(back, request);
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
    ("SESSIONS_TABLE", "sessions"),
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
            sessions_table: "sessions".to_owned(),
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
            "SESSIONS_TABLE",
            "IDEMPOTENCY_TABLE",
        ],
    );
    assert_invalid::<RepairSettings>(ENV, "IDEMPOTENCY_IN_PROGRESS_SECONDS", "0");
}
