use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, InMemoryQueue};

use super::*;
use crate::events::ShopEvent;
use crate::orders::tests::sample_order;
use crate::orders::{InMemoryOrderStore, OrderStore as _};
use crate::reservations::InMemoryReservations;

const SETTINGS: Deadlines = Deadlines {
    stuck_after_seconds: 600,
    approval_timeout_seconds: 3_600,
    cancel_window_seconds: 300,
};

fn repair(outcome: OrderStatus, reason: &str) -> Option<Action> {
    Some(Action::Repair {
        outcome,
        reason: reason.to_owned(),
        refund: true,
    })
}

fn outcome(action: Option<Action>) -> Option<OrderStatus> {
    match action? {
        Action::Repair { outcome, .. } => Some(outcome),
        _ => None,
    }
}
const NOW: i64 = 1_900_000_000;

fn order_at(key: &str, status: OrderStatus, idle_seconds: i64) -> Order {
    let mut order = sample_order("u-rec", key, (NOW - idle_seconds) * 1000);
    order.status = status;
    order.total = Some(crate::catalog::Money::new(
        1_000,
        crate::catalog::Currency::EUR,
    ));
    order
}

#[test]
fn decides_by_status_and_idle_time() {
    let now_ms = NOW * 1000;
    let at = |status, idle| decide(&order_at("k-1", status, idle), now_ms, SETTINGS);
    assert_eq!(at(OrderStatus::Pending, 60), None);
    assert_eq!(
        at(OrderStatus::Pending, 601),
        repair(OrderStatus::Failed, "CHECKOUT_STUCK")
    );
    assert_eq!(
        at(OrderStatus::AwaitingApproval, 601),
        None,
        "a human may still decide"
    );
    assert_eq!(
        outcome(at(OrderStatus::AwaitingApproval, 4_201)),
        Some(OrderStatus::Rejected)
    );
    assert_eq!(
        at(OrderStatus::Cancelling, 601),
        None,
        "within window + stuck"
    );
    assert_eq!(
        outcome(at(OrderStatus::Cancelling, 901)),
        Some(OrderStatus::Cancelled)
    );
    assert_eq!(
        at(OrderStatus::Confirmed, 900),
        None,
        "shipping may still come"
    );
    assert_eq!(
        at(OrderStatus::Confirmed, 901),
        Some(Action::RedriveFulfilment)
    );
    assert_eq!(at(OrderStatus::Failed, 100_000), None);
    assert_eq!(at(OrderStatus::Fulfilled, 100_000), None);
    let mut owed = order_at("k-2", OrderStatus::RefundPending, 901);
    owed.refund_pending_outcome = Some(OrderStatus::Cancelled);
    owed.failure_reason = Some("CUSTOMER_CANCELLED".into());
    assert_eq!(
        decide(&owed, now_ms, SETTINGS),
        repair(OrderStatus::Cancelled, "CUSTOMER_CANCELLED")
    );
}

#[tokio::test]
async fn a_sweep_requests_one_repair_per_stuck_or_stranded_order() {
    let orders = InMemoryOrderStore::new();
    let stuck = order_at("k-stuck", OrderStatus::Cancelling, 3_600);
    let fresh = order_at("k-fresh", OrderStatus::Pending, 10);
    let ended = order_at("k-ended", OrderStatus::Failed, 601);
    let shipped = order_at("k-shipped", OrderStatus::Fulfilled, 601);
    let just_ended = order_at("k-just-ended", OrderStatus::Cancelled, 10);
    for order in [&stuck, &fresh, &ended, &shipped, &just_ended] {
        orders.create(order).await.unwrap();
    }
    let reservations = InMemoryReservations::default();
    reservations.hold("MUG", &ended.order_id, 1);
    reservations.hold("TEE", &ended.order_id, 2);
    reservations.hold("MUG", &stuck.order_id, 1);
    reservations.hold("MUG", &fresh.order_id, 1);
    reservations.hold("MUG", &shipped.order_id, 1);
    reservations.hold("MUG", &just_ended.order_id, 1);
    let clock = Clock::manual(NOW);
    let reconciler = Reconciler::new(
        orders,
        reservations,
        InMemoryQueue::default(),
        InMemoryQueue::default(),
        SETTINGS,
    )
    .with_clock(clock.clone());

    let report = reconciler.run("corr").await.unwrap();
    assert_eq!(report.open_orders, 2);
    assert_eq!(report.stuck.get("CANCELLING"), Some(&1));
    assert_eq!(
        report.stranded_reservations, 2,
        "one per ended order, not per line; not the order that ended 10 s ago"
    );
    assert_eq!(report.repairs_requested, 2);
    // The shipped order's reservation goes back to fulfilment, which consumes it.
    assert_eq!(report.fulfilments_redriven, 1);
    let redriven = reconciler.fulfilment_queue().sent();
    assert_eq!(redriven.len(), 1);
    match ShopEvent::from_envelope(&EventEnvelope::from_json(&redriven[0].0).unwrap()) {
        Ok(ShopEvent::OrderPlaced(placed)) => assert_eq!(placed.order_id, shipped.order_id),
        other => panic!("{other:?}"),
    }
    let requests: Vec<_> = reconciler
        .repair_queue()
        .sent()
        .iter()
        .map(
            |(body, _)| match ShopEvent::from_envelope(&EventEnvelope::from_json(body).unwrap()) {
                Ok(ShopEvent::RepairRequested(r)) => (r.order_id, r.outcome, r.refund),
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert!(requests.contains(&(stuck.order_id.clone(), "CANCELLED".into(), true)));
    assert!(requests.contains(&(ended.order_id.clone(), "FAILED".into(), false)));

    // The next sweep finds the same orders but sends nothing: the requests are queued.
    clock.advance(20);
    let report = reconciler.run("corr").await.unwrap();
    assert_eq!(report.already_requested, 3, "{report:?}");
    assert_eq!(report.repairs_requested, 0);
    assert_eq!(report.fulfilments_redriven, 0);
    assert_eq!(reconciler.repair_queue().sent().len(), 2);

    // Once `stuck_after` has passed they are sent again; the order that ended 10 s before
    // the first sweep is stranded now, and the checkout that was fresh then is stuck. A
    // queue that cannot be reached is counted, not fatal.
    clock.advance(600);
    reconciler.repair_queue().set_failing(true);
    reconciler.fulfilment_queue().set_failing(true);
    let report = reconciler.run("corr").await.unwrap();
    assert_eq!(report.already_requested, 0, "{report:?}");
    assert_eq!(report.stranded_reservations, 3, "{report:?}");
    assert_eq!(report.stuck.get("PENDING"), Some(&1), "{report:?}");
    assert_eq!(report.send_failures, 5, "{report:?}");
}

/// A reconciler over `orders` and no reservations, at `NOW`.
fn sweeping(
    orders: InMemoryOrderStore,
) -> Reconciler<InMemoryOrderStore, InMemoryReservations, InMemoryQueue> {
    Reconciler::new(
        orders,
        InMemoryReservations::default(),
        InMemoryQueue::default(),
        InMemoryQueue::default(),
        SETTINGS,
    )
    .with_clock(Clock::manual(NOW))
}

#[tokio::test]
async fn a_confirmed_order_without_a_total_is_reported_not_redriven() {
    let orders = InMemoryOrderStore::new();
    let mut broken = order_at("k-broken", OrderStatus::Confirmed, 3_600);
    broken.total = None;
    orders.create(&broken).await.unwrap();
    let reconciler = sweeping(orders);
    let report = reconciler.run("corr").await.unwrap();
    assert_eq!(report.not_actionable, 1, "{report:?}");
    assert_eq!(report.send_failures, 0);
    assert!(reconciler.fulfilment_queue().sent().is_empty());
    assert!(reconciler.repair_queue().sent().is_empty());
}

#[tokio::test]
async fn a_confirmed_order_never_shipped_is_redriven_to_fulfilment_and_its_follow_ups_asked_for() {
    let orders = InMemoryOrderStore::new();
    let mut late = order_at("k-late", OrderStatus::Confirmed, 3_600);
    late.total = Some(crate::catalog::Money::new(
        2_500,
        crate::catalog::Currency::EUR,
    ));
    late.item_count = Some(2);
    let recent = order_at("k-recent", OrderStatus::Confirmed, 60);
    for order in [&late, &recent] {
        orders.create(order).await.unwrap();
    }
    let reconciler = sweeping(orders);
    let report = reconciler.run("corr").await.unwrap();
    assert_eq!(report.fulfilments_redriven, 1);
    assert_eq!(report.repairs_requested, 0);
    // A run cut off after its confirmation never ran its follow-ups: both asked for (each is
    // idempotent), never an ending of the order.
    assert_eq!(report.follow_ups_requested, 2);
    let asked: Vec<_> = reconciler
        .repair_queue()
        .sent()
        .iter()
        .map(
            |(body, _)| match ShopEvent::from_envelope(&EventEnvelope::from_json(body).unwrap()) {
                Ok(ShopEvent::RepairRequested(request)) => {
                    assert_eq!(request.order_id, late.order_id);
                    assert_eq!(request.outcome, "CONFIRMED");
                    assert!(!request.refund);
                    request.follow_up
                }
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert_eq!(
        asked,
        [
            Some(crate::events::FollowUp::OrderPlaced),
            Some(crate::events::FollowUp::LedgerCharge)
        ]
    );
    let sent = reconciler.fulfilment_queue().sent();
    assert_eq!(sent.len(), 1);
    let envelope = EventEnvelope::from_json(&sent[0].0).unwrap();
    match ShopEvent::from_envelope(&envelope) {
        Ok(ShopEvent::OrderPlaced(placed)) => {
            assert_eq!(placed.order_id, late.order_id);
            assert_eq!(placed.total.amount_minor, 2_500);
            assert_eq!(placed.item_count, 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(envelope.source, FUNCTION_NAME);
}

const ENV: &[(&str, &str)] = &[
    ("ORDERS_TABLE", "orders"),
    ("RESERVATIONS_TABLE", "reservations"),
    (
        "REPAIR_QUEUE_URL",
        "http://localhost:4566/000000000000/repair",
    ),
    (
        "FULFILMENT_QUEUE_URL",
        "http://localhost:4566/000000000000/fulfilment",
    ),
];

#[test]
fn settings_read_every_variable_with_defaults() {
    use crate::test_support::{settings_from, with_var};
    assert_eq!(
        settings_from(ENV),
        Ok(ReconcilerSettings {
            orders_table: "orders".to_owned(),
            reservations_table: "reservations".to_owned(),
            repair_queue_url: "http://localhost:4566/000000000000/repair".to_owned(),
            fulfilment_queue_url: "http://localhost:4566/000000000000/fulfilment".to_owned(),
            deadlines: Deadlines {
                stuck_after_seconds: 900,
                approval_timeout_seconds: 86_400,
                cancel_window_seconds: 900,
            },
        })
    );
    let vars = with_var(ENV, "STUCK_AFTER_SECONDS", "60");
    let vars = with_var(&vars, "APPROVAL_TIMEOUT_SECONDS", "120");
    let vars = with_var(&vars, "CANCEL_WINDOW_SECONDS", "30");
    let settings: Result<ReconcilerSettings, _> = settings_from(&vars);
    assert_eq!(
        settings.map(|s| s.deadlines),
        Ok(Deadlines {
            stuck_after_seconds: 60,
            approval_timeout_seconds: 120,
            cancel_window_seconds: 30,
        })
    );
}

#[test]
fn settings_name_the_missing_or_invalid_variable() {
    use crate::test_support::{assert_each_required, assert_invalid};
    assert_each_required::<ReconcilerSettings>(
        ENV,
        &[
            "ORDERS_TABLE",
            "RESERVATIONS_TABLE",
            "REPAIR_QUEUE_URL",
            "FULFILMENT_QUEUE_URL",
        ],
    );
    for name in [
        "STUCK_AFTER_SECONDS",
        "APPROVAL_TIMEOUT_SECONDS",
        "CANCEL_WINDOW_SECONDS",
    ] {
        assert_invalid::<ReconcilerSettings>(ENV, name, "0");
        assert_invalid::<ReconcilerSettings>(ENV, name, "15m");
    }
}

#[test]
fn a_sweep_reports_its_findings_as_metrics() {
    use lambda_kit::metrics::capture;
    let report = Report {
        stuck: [("PENDING".to_owned(), 2)].into_iter().collect(),
        repairs_requested: 2,
        send_failures: 1,
        not_actionable: 1,
        ..Report::default()
    };
    let ((), recorded) = capture(|| report.emit_metrics());
    let value = |name: &str| {
        recorded
            .iter()
            .find(|r| r.name == name)
            .map(|r| (r.dimensions.clone(), r.value))
    };
    assert_eq!(
        value(metric::ORDERS_STUCK),
        Some((vec![("Status".to_owned(), "PENDING".to_owned())], 2.0))
    );
    assert_eq!(value(metric::REPAIRS_REQUESTED), Some((vec![], 2.0)));
    assert_eq!(value(metric::RECONCILE_PROBLEMS), Some((vec![], 2.0)));
    // Zero counts are recorded too; the EMF recorder leaves them out of the documents.
    assert_eq!(value(metric::FULFILMENTS_REDRIVEN), Some((vec![], 0.0)));
}
