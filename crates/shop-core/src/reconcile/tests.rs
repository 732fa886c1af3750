//! Each invariant on one healthy shop ([`healthy`]) and on that shop broken in one place; the
//! reader's item mapping; and the reader against real tables on LocalStack (ignored).

use super::dynamo::{
    day_from_item, ledger_from_item, map_items, order_from_item, payment_from_item,
    product_from_item, reservation_from_item,
};
use super::*;
use crate::catalog::Currency;
use crate::store::{Item, n, s};

/// 2027-01-15T08:00:00Z, epoch ms.
const NOW_MS: i64 = 1_800_000_000_000;
/// Long before any grace period or deadline.
const LONG_AGO_S: i64 = NOW_MS / 1000 - 3_600;

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

/// A well-formed order id, distinct per `n`.
fn oid(n: u32) -> String {
    format!("ord_{n:032x}")
}

fn config() -> CheckConfig {
    CheckConfig::at(NOW_MS)
}

fn order(n: u32, status: OrderStatus, lines: &[(&str, i64)], total: i64) -> OrderRecord {
    OrderRecord {
        order_id: oid(n),
        status,
        created_at_ms: NOW_MS - 100_000,
        lines: lines
            .iter()
            .map(|(sku, quantity)| OrderUnits {
                sku: (*sku).to_owned(),
                quantity: *quantity,
            })
            .collect(),
        total: Some(eur(total)),
        charge_id: matches!(
            status,
            OrderStatus::Confirmed
                | OrderStatus::Fulfilled
                | OrderStatus::Cancelling
                | OrderStatus::Cancelled
                | OrderStatus::RefundPending
        )
        .then(|| format!("ch_{n}")),
        went_through_approval: false,
    }
}

fn op(kind: OperationKind, order: u32, amount: i64) -> PaymentOperation {
    PaymentOperation {
        operation_id: format!("{kind}-{}", oid(order)),
        kind,
        order_id: oid(order),
        amount: eur(amount),
        created_at_s: LONG_AGO_S,
    }
}

fn entry(op: &PaymentOperation, seq: u64) -> LedgerRecord {
    LedgerRecord {
        order_id: op.order_id.clone(),
        seq: format!("{seq:020}"),
        operation_id: op.operation_id.clone(),
        kind: match op.kind {
            OperationKind::Charge => crate::ledger::CHARGE,
            OperationKind::Refund => crate::ledger::REFUND,
        }
        .to_owned(),
        amount: op.amount,
        recorded_at_s: LONG_AGO_S,
    }
}

fn reservation(sku: &str, order: u32, quantity: i64) -> Reservation {
    Reservation {
        sku: sku.to_owned(),
        order_id: oid(order),
        quantity,
        reserved_at: "2027-01-15T06:00:00Z".to_owned(),
    }
}

// Orders of the healthy shop.
const CONFIRMED: u32 = 1;
const FULFILLED: u32 = 2;
const CANCELLED: u32 = 3;
const FAILED: u32 = 4;
const PENDING: u32 = 5;
const REFUND_PENDING: u32 = 6;

/// A shop where every invariant holds:
/// - MUG: 12 stocked = 7 in stock + 2 reserved (CONFIRMED) + 3 shipped (FULFILLED).
/// - TEE: 6 stocked = 5 in stock + 1 shipped; the CANCELLED order's 2 and the
///   REFUND_PENDING order's 1 went back.
/// - OLD: no `stocked_total` (skipped).
/// - Money: CONFIRMED 900 and FULFILLED 1500 charged, CANCELLED 1000 charged and refunded,
///   FAILED declined (nothing), REFUND_PENDING 700 charged and owed.
/// - Analytics: 4 orders placed (all but FAILED and PENDING) for 4100.
fn healthy() -> Snapshot {
    let payments = vec![
        op(OperationKind::Charge, CONFIRMED, 900),
        op(OperationKind::Charge, FULFILLED, 1500),
        op(OperationKind::Charge, CANCELLED, 1000),
        op(OperationKind::Refund, CANCELLED, 1000),
        op(OperationKind::Charge, REFUND_PENDING, 700),
    ];
    let ledger = payments
        .iter()
        .zip(10..)
        .map(|(op, seq)| entry(op, seq))
        .collect();
    let mut pending = order(PENDING, OrderStatus::Pending, &[], 0);
    pending.total = None;
    pending.created_at_ms = NOW_MS - 10_000;
    Snapshot {
        products: vec![
            ProductStock {
                sku: "MUG".to_owned(),
                stock: 7,
                stocked_total: Some(12),
            },
            ProductStock {
                sku: "TEE".to_owned(),
                stock: 5,
                stocked_total: Some(6),
            },
            ProductStock {
                sku: "OLD".to_owned(),
                stock: 3,
                stocked_total: None,
            },
        ],
        reservations: Some(vec![reservation("MUG", CONFIRMED, 2)]),
        orders: vec![
            order(CONFIRMED, OrderStatus::Confirmed, &[("MUG", 2)], 900),
            order(
                FULFILLED,
                OrderStatus::Fulfilled,
                &[("MUG", 3), ("TEE", 1)],
                1500,
            ),
            order(CANCELLED, OrderStatus::Cancelled, &[("TEE", 2)], 1000),
            order(FAILED, OrderStatus::Failed, &[("MUG", 1)], 450),
            pending,
            order(
                REFUND_PENDING,
                OrderStatus::RefundPending,
                &[("TEE", 1)],
                700,
            ),
        ],
        payments,
        ledger,
        analytics: Some(vec![
            DayCounters {
                day: "2027-01-14".to_owned(),
                orders: 1,
                revenue_minor: 900,
            },
            DayCounters {
                day: "2027-01-15".to_owned(),
                orders: 3,
                revenue_minor: 3200,
            },
        ]),
        malformed: Vec::new(),
    }
}

fn order_mut(snapshot: &mut Snapshot, n: u32) -> &mut OrderRecord {
    let id = oid(n);
    snapshot
        .orders
        .iter_mut()
        .find(|o| o.order_id == id)
        .unwrap()
}

fn product_mut<'a>(snapshot: &'a mut Snapshot, sku: &str) -> &'a mut ProductStock {
    snapshot.products.iter_mut().find(|p| p.sku == sku).unwrap()
}

fn reservations_mut(snapshot: &mut Snapshot) -> &mut Vec<Reservation> {
    snapshot.reservations.as_mut().unwrap()
}

#[test]
fn the_healthy_shop_passes_every_invariant() {
    let snapshot = healthy();
    for invariant in [stock, money, ledger, analytics, liveness] {
        assert_eq!(invariant(&snapshot, &config()), vec![]);
    }
    let report = check(&snapshot, &config());
    assert_eq!(report.violations, vec![]);
    assert_eq!(
        report.summary,
        "reconcile: all invariants hold (3 products, 1 reservations, 6 orders, \
         5 payment operations, 5 ledger entries, 2 analytics days)"
    );
    assert_eq!(report.notes, vec![Note::NoStockedTotal(vec!["OLD".into()])]);
}

// 1. Stock

#[test]
fn stock_catches_units_that_appeared_or_vanished() {
    let mut snapshot = healthy();
    // A release that gave the stock back twice.
    product_mut(&mut snapshot, "MUG").stock = 9;
    assert_eq!(
        stock(&snapshot, &config()),
        vec![Violation::StockMismatch {
            sku: "MUG".into(),
            stock: 9,
            reserved: 2,
            fulfilled: 3,
            stocked_total: 12,
        }]
    );
    // A product without stocked_total is never judged, however odd its stock.
    let mut snapshot = healthy();
    product_mut(&mut snapshot, "OLD").stock = -4;
    assert_eq!(stock(&snapshot, &config()), vec![]);
}

#[test]
fn stock_catches_units_held_for_a_dead_or_shipped_order() {
    for (n, status) in [
        (FAILED, OrderStatus::Failed),
        (CANCELLED, OrderStatus::Cancelled),
        (FULFILLED, OrderStatus::Fulfilled),
    ] {
        let mut snapshot = healthy();
        // The reservation is there but the stock went back (or was shipped) anyway: a
        // release or a fulfilment that forgot the reservation item.
        let held = order_mut(&mut snapshot, n).quantity_of("TEE").max(1);
        reservations_mut(&mut snapshot).push(reservation("TEE", n, held));
        let found = stock(&snapshot, &config());
        assert!(
            found.contains(&Violation::StockHeldForEndedOrder {
                sku: "TEE".into(),
                order_id: oid(n),
                status,
                quantity: held,
            }),
            "{status}: {found:?}"
        );
        assert!(
            found
                .iter()
                .any(|v| matches!(v, Violation::StockMismatch { sku, .. } if sku == "TEE")),
            "{status}: the held units are counted twice: {found:?}"
        );
    }
}

#[test]
fn stock_catches_reservations_of_unknown_orders_and_products_and_wrong_quantities() {
    let mut snapshot = healthy();
    reservations_mut(&mut snapshot)[0].quantity = 3;
    product_mut(&mut snapshot, "MUG").stock = 6;
    assert_eq!(
        stock(&snapshot, &config()),
        vec![Violation::ReservationQuantityMismatch {
            sku: "MUG".into(),
            order_id: oid(CONFIRMED),
            reserved: 3,
            ordered: 2,
        }]
    );

    let mut snapshot = healthy();
    reservations_mut(&mut snapshot).push(reservation("GONE", 99, 1));
    assert_eq!(
        stock(&snapshot, &config()),
        vec![
            Violation::ReservationWithoutOrder {
                sku: "GONE".into(),
                order_id: oid(99),
                quantity: 1,
            },
            Violation::ReservationWithoutProduct {
                sku: "GONE".into(),
                order_id: oid(99),
                quantity: 1,
            },
        ]
    );

    // Reserved a moment ago: its order may have been created after the orders were read.
    let mut snapshot = healthy();
    reservations_mut(&mut snapshot).push(Reservation {
        reserved_at: "2027-01-15T07:59:50.123456+00:00".into(),
        ..reservation("OLD", 99, 1)
    });
    assert_eq!(stock(&snapshot, &config()), vec![]);
    assert!(notes(&snapshot, &config()).contains(&Note::InFlight {
        operations: 0,
        entries: 0,
        reservations: 1,
        payments: 0,
    }));
}

#[test]
fn stock_is_not_checked_without_the_reservations_table() {
    let mut snapshot = healthy();
    snapshot.reservations = None;
    product_mut(&mut snapshot, "MUG").stock = 0;
    assert_eq!(stock(&snapshot, &config()), vec![]);
    let notes = notes(&snapshot, &config());
    assert!(notes.contains(&Note::ReservationsNotRead), "{notes:?}");
}

// 2. Money

#[test]
fn money_catches_a_confirmed_order_that_was_not_charged() {
    let mut snapshot = healthy();
    snapshot
        .payments
        .retain(|p| p.operation_id != format!("charge-{}", oid(CONFIRMED)));
    assert_eq!(
        money(&snapshot, &config()),
        vec![Violation::MoneyMismatch {
            order_id: oid(CONFIRMED),
            status: OrderStatus::Confirmed,
            captured: 0,
            refunded: 0,
            expected: 900,
        }]
    );
}

#[test]
fn money_catches_a_dead_order_that_kept_the_money() {
    // Cancelled without its refund.
    let mut snapshot = healthy();
    snapshot
        .payments
        .retain(|p| p.operation_id != format!("refund-{}", oid(CANCELLED)));
    assert_eq!(
        money(&snapshot, &config()),
        vec![Violation::MoneyMismatch {
            order_id: oid(CANCELLED),
            status: OrderStatus::Cancelled,
            captured: 1000,
            refunded: 0,
            expected: 0,
        }]
    );
    // Failed after a charge nobody refunded.
    let mut snapshot = healthy();
    snapshot
        .payments
        .push(op(OperationKind::Charge, FAILED, 450));
    assert_eq!(
        money(&snapshot, &config()),
        vec![Violation::MoneyMismatch {
            order_id: oid(FAILED),
            status: OrderStatus::Failed,
            captured: 450,
            refunded: 0,
            expected: 0,
        }]
    );
}

#[test]
fn money_catches_orphan_operations_foreign_currencies_and_missing_totals() {
    let mut snapshot = healthy();
    snapshot.payments.push(op(OperationKind::Charge, 99, 100));
    let mut young = op(OperationKind::Charge, 98, 100);
    young.created_at_s = NOW_MS / 1000 - 5;
    snapshot.payments.push(young);
    assert_eq!(
        money(&snapshot, &config()),
        vec![Violation::PaymentWithoutOrder {
            operation_id: format!("charge-{}", oid(99)),
            order_id: oid(99),
            amount: eur(100),
        }]
    );

    let mut snapshot = healthy();
    let usd = Currency::parse("USD").unwrap();
    snapshot.payments[0].amount = Money::new(900, usd);
    assert_eq!(
        money(&snapshot, &config()),
        vec![Violation::CurrencyMismatch {
            operation_id: format!("charge-{}", oid(CONFIRMED)),
            amount: Money::new(900, usd),
            total: eur(900),
        }]
    );

    let mut snapshot = healthy();
    order_mut(&mut snapshot, FULFILLED).total = None;
    assert_eq!(
        money(&snapshot, &config()),
        vec![Violation::OrderWithoutTotal {
            order_id: oid(FULFILLED),
            status: OrderStatus::Fulfilled,
        }]
    );
}

#[test]
fn money_skips_orders_in_flight() {
    let mut snapshot = healthy();
    // A PENDING order already charged, an APPROVED one, and REFUND_PENDING owing 700 (healthy).
    snapshot
        .payments
        .push(op(OperationKind::Charge, PENDING, 10));
    order_mut(&mut snapshot, CONFIRMED).status = OrderStatus::Cancelling;
    assert_eq!(money(&snapshot, &config()), vec![]);
}

// 3. Ledger

#[test]
fn ledger_catches_a_missing_entry_once_the_grace_period_is_over() {
    let mut snapshot = healthy();
    let charge = format!("charge-{}", oid(FULFILLED));
    snapshot.ledger.retain(|e| e.operation_id != charge);
    assert_eq!(
        ledger(&snapshot, &config()),
        vec![Violation::LedgerMissing {
            operation_id: charge.clone(),
            amount: eur(1500),
        }]
    );
    // Captured 5 s ago: the FIFO queue may not have delivered it yet.
    snapshot
        .payments
        .iter_mut()
        .filter(|p| p.operation_id == charge)
        .for_each(|p| p.created_at_s = NOW_MS / 1000 - 5);
    assert_eq!(ledger(&snapshot, &config()), vec![]);
    assert!(notes(&snapshot, &config()).contains(&Note::InFlight {
        operations: 1,
        entries: 0,
        reservations: 0,
        payments: 0,
    }));
}

#[test]
fn ledger_catches_duplicates_and_wrong_amounts() {
    let mut snapshot = healthy();
    let charge = snapshot.payments[0].clone();
    snapshot.ledger.push(entry(&charge, 40));
    assert_eq!(
        ledger(&snapshot, &config()),
        vec![Violation::LedgerDuplicated {
            operation_id: charge.operation_id.clone(),
            entries: vec![
                format!("{}/00000000000000000010", oid(CONFIRMED)),
                format!("{}/00000000000000000040", oid(CONFIRMED)),
            ],
        }]
    );

    let mut snapshot = healthy();
    snapshot.ledger[0].amount = eur(899);
    assert_eq!(
        ledger(&snapshot, &config()),
        vec![Violation::LedgerAmountMismatch {
            operation_id: charge.operation_id,
            payment: eur(900),
            ledger: eur(899),
        }]
    );
}

#[test]
fn ledger_catches_a_refund_recorded_before_its_charge() {
    let mut snapshot = healthy();
    let refund = format!("refund-{}", oid(CANCELLED));
    // Charge at 12, refund at 13 in the healthy shop: put the refund first.
    for e in &mut snapshot.ledger {
        if e.operation_id == refund {
            e.seq = format!("{:020}", 9);
        }
    }
    assert_eq!(
        ledger(&snapshot, &config()),
        vec![Violation::RefundBeforeCharge {
            order_id: oid(CANCELLED),
            charge_seq: format!("{:020}", 12),
            refund_seq: format!("{:020}", 9),
        }]
    );
    // Sequence numbers compare as numbers, even unpadded.
    for e in &mut snapshot.ledger {
        if e.operation_id == refund {
            e.seq = "100".to_owned();
        }
    }
    for e in &mut snapshot.ledger {
        if e.operation_id == format!("charge-{}", oid(CANCELLED)) {
            e.seq = "99".to_owned();
        }
    }
    assert_eq!(ledger(&snapshot, &config()), vec![]);
}

#[test]
fn ledger_catches_an_entry_without_a_payment_operation() {
    let mut snapshot = healthy();
    // Refunded in the ledger, never by the provider.
    let ghost = op(OperationKind::Refund, CONFIRMED, 900);
    snapshot.ledger.push(entry(&ghost, 50));
    assert_eq!(
        ledger(&snapshot, &config()),
        vec![Violation::LedgerWithoutPayment {
            order_id: oid(CONFIRMED),
            seq: format!("{:020}", 50),
            operation_id: ghost.operation_id,
            amount: eur(900),
        }]
    );
    // One recorded a moment ago may belong to a payment made after the payments were read.
    snapshot.ledger.last_mut().unwrap().recorded_at_s = NOW_MS / 1000 - 1;
    assert_eq!(ledger(&snapshot, &config()), vec![]);
}

// 4. Analytics

#[test]
fn analytics_catches_counters_that_do_not_add_up() {
    let mut snapshot = healthy();
    // A synthetic OrderPlaced from a test: one order and 500 more than were placed.
    snapshot.analytics.as_mut().unwrap()[1].orders += 1;
    snapshot.analytics.as_mut().unwrap()[1].revenue_minor += 500;
    assert_eq!(
        analytics(&snapshot, &config()),
        vec![
            Violation::AnalyticsMismatch {
                counter: "orders",
                recorded: 5,
                expected: 4,
                days: 2,
            },
            Violation::AnalyticsMismatch {
                counter: "revenue_minor",
                recorded: 4600,
                expected: 4100,
                days: 2,
            },
        ]
    );
    // Not read, not checked.
    snapshot.analytics = None;
    assert_eq!(analytics(&snapshot, &config()), vec![]);
    assert!(notes(&snapshot, &config()).contains(&Note::AnalyticsNotChecked));
}

#[test]
fn placed_orders_are_those_that_were_confirmed() {
    let snapshot = healthy();
    let placed: Vec<OrderStatus> = snapshot
        .orders
        .iter()
        .filter(|o| was_placed(o))
        .map(|o| o.status)
        .collect();
    assert_eq!(
        placed,
        vec![
            OrderStatus::Confirmed,
            OrderStatus::Fulfilled,
            OrderStatus::Cancelled,
            OrderStatus::RefundPending
        ]
    );
    // REFUND_PENDING before ConfirmOrder (no charge_id): never published.
    let mut refund_pending = order(9, OrderStatus::RefundPending, &[], 100);
    refund_pending.charge_id = None;
    assert!(!was_placed(&refund_pending));
    // FAILED after ConfirmOrder: the publish is what failed.
    let mut failed = order(9, OrderStatus::Failed, &[], 100);
    failed.charge_id = Some("ch".into());
    assert!(!was_placed(&failed));
    assert!(was_placed(&order(9, OrderStatus::Cancelling, &[], 100)));
}

// 5. Liveness

#[test]
fn liveness_catches_an_order_stuck_in_flight() {
    let mut snapshot = healthy();
    order_mut(&mut snapshot, PENDING).created_at_ms = NOW_MS - 901_000;
    assert_eq!(
        liveness(&snapshot, &config()),
        vec![Violation::Stuck {
            order_id: oid(PENDING),
            status: OrderStatus::Pending,
            age_seconds: 901,
            deadline_seconds: 900,
        }]
    );
}

#[test]
fn liveness_deadlines_follow_the_workflow() {
    let config = CheckConfig {
        stuck_after_seconds: 900,
        approval_timeout_seconds: 20,
        cancel_window_seconds: 8,
        ..config()
    };
    let aged = |status, seconds: i64, approval: bool| {
        let mut o = order(1, status, &[], 100);
        o.created_at_ms = NOW_MS - seconds * 1000;
        o.went_through_approval = approval;
        Snapshot {
            orders: vec![o],
            ..Snapshot::default()
        }
    };
    let stuck = |snapshot: &Snapshot| !liveness(snapshot, &config).is_empty();
    // Terminal orders are never stuck.
    for status in [
        OrderStatus::Fulfilled,
        OrderStatus::Failed,
        OrderStatus::Rejected,
        OrderStatus::Cancelled,
    ] {
        assert!(!stuck(&aged(status, 1_000_000, false)), "{status}");
    }
    // Before confirmation: stuck_after.
    for status in [OrderStatus::Pending, OrderStatus::Approved] {
        assert!(!stuck(&aged(status, 900, false)), "{status}");
    }
    assert!(stuck(&aged(OrderStatus::Pending, 901, false)));
    // Waiting for an admin: plus the approval timeout.
    assert!(!stuck(&aged(OrderStatus::AwaitingApproval, 920, false)));
    assert!(stuck(&aged(OrderStatus::AwaitingApproval, 921, false)));
    assert!(!stuck(&aged(OrderStatus::Approved, 920, false)));
    // CONFIRMED is settled until fulfilment, one cancel window after confirmation.
    assert!(!stuck(&aged(OrderStatus::Confirmed, 908, false)));
    assert!(stuck(&aged(OrderStatus::Confirmed, 909, false)));
    assert!(!stuck(&aged(OrderStatus::Confirmed, 928, true)));
    assert!(stuck(&aged(OrderStatus::Confirmed, 929, true)));
    // A cancel or a refund that never finishes.
    assert!(stuck(&aged(OrderStatus::Cancelling, 909, false)));
    assert!(!stuck(&aged(OrderStatus::RefundPending, 908, false)));
    assert!(stuck(&aged(OrderStatus::RefundPending, 909, false)));
}

// The report

#[test]
fn the_report_names_what_is_wrong_with_the_numbers() {
    let mut snapshot = healthy();
    product_mut(&mut snapshot, "MUG").stock = 9;
    snapshot
        .payments
        .retain(|p| p.operation_id != format!("refund-{}", oid(CANCELLED)));
    order_mut(&mut snapshot, PENDING).created_at_ms = NOW_MS - 1_000_000;
    snapshot.malformed.push(MalformedItem {
        table: "orders",
        key: "ord_x".into(),
        problem: "unknown order status \"SHIPPED\"".into(),
    });
    let report = check(&snapshot, &config());
    let lines: Vec<String> = report.violations.iter().map(ToString::to_string).collect();
    let cancelled = oid(CANCELLED);
    let pending = oid(PENDING);
    assert_eq!(
        lines,
        vec![
            "stock: product MUG: stock 9 + reserved 2 + fulfilled 3 = 14, stocked_total 12 (+2 units)".to_owned(),
            format!("money: order {cancelled} CANCELLED: captured 1000 − refunded 0 = 1000, expected 0 (+1000)"),
            format!("ledger: entry {cancelled}/00000000000000000013 records refund-{cancelled} (1000 EUR), which the payments table has not captured/refunded"),
            format!("liveness: order {pending} is PENDING 1000 s after creation (deadline 900 s)"),
            "data: orders item ord_x: unknown order status \"SHIPPED\"".to_owned(),
        ]
    );
    assert!(lines.iter().all(|l| !l.contains('\n')));
    assert_eq!(
        report.summary,
        "reconcile: 5 violations (stock 1, money 1, ledger 1, liveness 1, data 1) in 3 products, \
         1 reservations, 6 orders, 4 payment operations, 5 ledger entries, 2 analytics days"
    );
    let note = Note::NoStockedTotal((0..7).map(|i| format!("P{i}")).collect()).to_string();
    assert_eq!(
        note,
        "stock: 7 products have no stocked_total and were skipped: P0, P1, P2, P3, P4, … (2 more)"
    );
}

// The reader's item mapping

fn item(pairs: &[(&str, aws_sdk_dynamodb::types::AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn products_and_reservations_map() {
    assert_eq!(
        product_from_item(&item(&[
            ("sku", s("MUG")),
            ("stock", n(7)),
            ("stocked_total", n(12))
        ])),
        Ok(Some(ProductStock {
            sku: "MUG".into(),
            stock: 7,
            stocked_total: Some(12)
        }))
    );
    let old = product_from_item(&item(&[("sku", s("OLD")), ("stock", n(3))]));
    assert_eq!(old.map(|p| p.and_then(|p| p.stocked_total)), Ok(None));
    let err = product_from_item(&item(&[("sku", s("BAD"))])).unwrap_err();
    assert_eq!(
        (err.key.as_str(), err.problem.as_str()),
        ("BAD", "attribute stock is missing")
    );

    assert_eq!(
        reservation_from_item(&item(&[
            ("sku", s("MUG")),
            ("order_id", s(oid(1))),
            ("quantity", n(2)),
            ("reserved_at", s("2027-01-15T06:00:00Z")),
        ])),
        Ok(Some(reservation("MUG", 1, 2)))
    );
    let err = reservation_from_item(&item(&[("sku", s("MUG")), ("order_id", s("o"))]));
    assert_eq!(err.unwrap_err().key, "MUG/o");
}

#[test]
fn orders_map_with_their_lines() {
    let stored = item(&[
        ("order_id", s(oid(1))),
        ("status", s("REFUND_PENDING")),
        ("created_at", n(1_799_999_900_000_i64)),
        (
            "items_json",
            s(
                r#"[{"sku":"MUG","name":"Mug","quantity":2,"unitPrice":{"amount":450,"currency":"EUR"},"lineTotal":{"amount":900,"currency":"EUR"}}]"#,
            ),
        ),
        ("total_minor", n(900)),
        ("currency", s("EUR")),
        ("charge_id", s("ch_1")),
        ("approval_token", s("token")),
    ]);
    assert_eq!(
        order_from_item(&stored),
        Ok(Some(OrderRecord {
            order_id: oid(1),
            status: OrderStatus::RefundPending,
            created_at_ms: 1_799_999_900_000,
            lines: vec![OrderUnits {
                sku: "MUG".into(),
                quantity: 2
            }],
            total: Some(eur(900)),
            charge_id: Some("ch_1".into()),
            went_through_approval: true,
        }))
    );
    // Not priced yet.
    let fresh = item(&[
        ("order_id", s(oid(2))),
        ("status", s("PENDING")),
        ("created_at", n(1)),
    ]);
    let read = order_from_item(&fresh).unwrap().unwrap();
    assert_eq!((read.lines.len(), read.total), (0, None));

    let mut shipped = fresh.clone();
    shipped.insert("status".into(), s("SHIPPED"));
    let err = order_from_item(&shipped).unwrap_err();
    assert_eq!(
        (err.key, err.problem),
        (oid(2), "unknown order status \"SHIPPED\"".to_owned())
    );
    let mut broken = fresh;
    broken.insert("items_json".into(), s("{}"));
    assert!(order_from_item(&broken).is_err());
}

#[test]
fn payments_map_only_completed_operations() {
    let order = oid(1);
    // Attempts counted, nothing captured (tok_flaky_N, tok_down).
    let attempts = item(&[
        ("operation_id", s(format!("charge-{order}"))),
        ("kind", s("CHARGE")),
        ("attempts", n(2)),
    ]);
    assert_eq!(payment_from_item(&attempts), Ok(None));
    let mut captured = attempts;
    captured.extend([
        ("charge_id".to_owned(), s("ch_1")),
        ("order_id".to_owned(), s(&order)),
        ("amount_minor".to_owned(), n(900)),
        ("currency".to_owned(), s("EUR")),
        ("created_at".to_owned(), n(LONG_AGO_S)),
    ]);
    assert_eq!(
        payment_from_item(&captured),
        Ok(Some(op(OperationKind::Charge, 1, 900)))
    );
    let refund = item(&[
        ("operation_id", s(format!("refund-{order}"))),
        ("kind", s("REFUND")),
        ("refund_id", s("re_1")),
        ("charge_id", s("ch_1")),
        ("order_id", s(&order)),
        ("amount_minor", n(900)),
        ("currency", s("EUR")),
        ("created_at", n(LONG_AGO_S)),
    ]);
    assert_eq!(
        payment_from_item(&refund),
        Ok(Some(op(OperationKind::Refund, 1, 900)))
    );
    let mut unknown = refund.clone();
    unknown.insert("kind".into(), s("CHARGEBACK"));
    assert!(payment_from_item(&unknown).is_err());
    let mut no_refund_id = refund;
    no_refund_id.remove("refund_id");
    assert!(payment_from_item(&no_refund_id).is_err());
}

#[test]
fn ledger_entries_map_and_guards_are_skipped() {
    let charge = op(OperationKind::Charge, 1, 900);
    let stored = item(&[
        ("order_id", s(oid(1))),
        ("seq", s(format!("{:020}", 10))),
        ("operation_id", s(&charge.operation_id)),
        ("kind", s("PaymentCaptured")),
        ("amount_minor", n(900)),
        ("currency", s("EUR")),
        ("event_id", s("e-1")),
        ("recorded_at", n(LONG_AGO_S)),
    ]);
    assert_eq!(ledger_from_item(&stored), Ok(Some(entry(&charge, 10))));
    let guard = item(&[
        (
            "order_id",
            s(crate::ledger::guard_key(&charge.operation_id)),
        ),
        ("seq", s(crate::ledger::GUARD_SEQ)),
        ("entry_order_id", s(oid(1))),
        ("entry_seq", s(format!("{:020}", 10))),
    ]);
    assert_eq!(ledger_from_item(&guard), Ok(None));
}

#[test]
fn analytics_days_map_and_markers_are_skipped() {
    assert_eq!(
        day_from_item(&item(&[
            ("day", s("2027-01-15")),
            ("orders", n(3)),
            ("revenue_minor", n(3200)),
            ("logins", n(40)),
        ])),
        Ok(Some(DayCounters {
            day: "2027-01-15".into(),
            orders: 3,
            revenue_minor: 3200
        }))
    );
    // A day with logins only.
    let logins = day_from_item(&item(&[("day", s("2027-01-16")), ("logins", n(1))]));
    assert_eq!(
        logins.map(|d| d.map(|d| (d.orders, d.revenue_minor))),
        Ok(Some((0, 0)))
    );
    assert_eq!(
        day_from_item(&item(&[("day", s("COUNTED#e-1")), ("expires_at", n(1))])),
        Ok(None)
    );
}

#[test]
fn unmappable_items_are_kept_not_fatal() {
    let mut malformed = Vec::new();
    let products = map_items(
        "products",
        &[
            item(&[("sku", s("MUG")), ("stock", n(7))]),
            item(&[("sku", s("BAD")), ("stock", s("seven"))]),
        ],
        product_from_item,
        &mut malformed,
    );
    assert_eq!(products.len(), 1);
    assert_eq!(
        malformed,
        vec![MalformedItem {
            table: "products",
            key: "BAD".into(),
            problem: "attribute stock is not a number".into(),
        }]
    );
}

/// The reader against real tables: run with `cargo test -p shop-core --lib -- --ignored
/// reconcile` while LocalStack runs (`make integration-test` does). It creates its own
/// tables (names ending in the process id), writes a small broken shop, reads it back one
/// item per page, and deletes them.
mod real_tables {
    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::error::DisplayErrorContext;
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };

    use super::super::dynamo::read_snapshot_paged;
    use super::*;

    async fn client() -> Client {
        let conf = crate::test_support::local_sdk_config().await;
        Client::new(&conf)
    }

    async fn create(client: &Client, table: &str, hash: &str, range: Option<&str>) {
        let mut request = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest);
        for (name, kind) in
            std::iter::once((hash, KeyType::Hash)).chain(range.map(|r| (r, KeyType::Range)))
        {
            request = request
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(name)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .unwrap(),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(name)
                        .key_type(kind)
                        .build()
                        .unwrap(),
                );
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{table}: {}", DisplayErrorContext(&e)));
    }

    async fn put(
        client: &Client,
        table: &str,
        pairs: &[(&str, aws_sdk_dynamodb::types::AttributeValue)],
    ) {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item(pairs)))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{table}: {}", DisplayErrorContext(&e)));
    }

    fn order_item(id: u32, status: &str, sku: &str, quantity: i64, total: i64) -> Item {
        item(&[
            ("order_id", s(oid(id))),
            ("status", s(status)),
            ("created_at", n(NOW_MS - 100_000)),
            (
                "items_json",
                s(format!(r#"[{{"sku":"{sku}","quantity":{quantity}}}]"#)),
            ),
            ("total_minor", n(total)),
            ("currency", s("EUR")),
            ("charge_id", s(format!("ch_{id}"))),
            // Attributes the checker does not read.
            ("user_id", s("u1")),
            ("payment_token", s("tok_ok")),
        ])
    }

    fn payment_item(kind: &str, id: u32, amount: i64) -> Item {
        let mut stored = item(&[
            (
                "operation_id",
                s(format!("{}-{}", kind.to_lowercase(), oid(id))),
            ),
            ("kind", s(kind)),
            ("charge_id", s(format!("ch_{id}"))),
            ("order_id", s(oid(id))),
            ("amount_minor", n(amount)),
            ("currency", s("EUR")),
            ("created_at", n(LONG_AGO_S)),
        ]);
        if kind == "REFUND" {
            stored.insert("refund_id".into(), s(format!("re_{id}")));
        }
        stored
    }

    #[tokio::test]
    #[ignore = "needs a DynamoDB endpoint (AWS_ENDPOINT_URL, default LocalStack's); creates and deletes its own tables"]
    async fn reads_a_broken_shop_from_real_tables() {
        let client = client().await;
        let suffix = std::process::id();
        let tables = Tables {
            products: format!("reconcile-products-{suffix}"),
            reservations: Some(format!("reconcile-reservations-{suffix}")),
            orders: format!("reconcile-orders-{suffix}"),
            payments: format!("reconcile-payments-{suffix}"),
            ledger: format!("reconcile-ledger-{suffix}"),
            analytics: Some(format!("reconcile-analytics-{suffix}")),
        };
        let reservations = tables.reservations.clone().unwrap();
        let analytics_table = tables.analytics.clone().unwrap();
        create(&client, &tables.products, "sku", None).await;
        create(&client, &reservations, "sku", Some("order_id")).await;
        create(&client, &tables.orders, "order_id", None).await;
        create(&client, &tables.payments, "operation_id", None).await;
        create(&client, &tables.ledger, "order_id", Some("seq")).await;
        create(&client, &analytics_table, "day", None).await;

        // MUG: 10 stocked = 5 in stock + 2 held for the CONFIRMED order + 3 shipped, but 2 more
        // are still held for the FAILED order (a release that lost its reservation delete).
        put(
            &client,
            &tables.products,
            &[
                ("sku", s("MUG")),
                ("stock", n(5)),
                ("stocked_total", n(10)),
                ("name", s("Mug")),
            ],
        )
        .await;
        put(
            &client,
            &tables.products,
            &[("sku", s("OLD")), ("stock", n(1))],
        )
        .await;
        for (order, quantity) in [(1, 2), (3, 2)] {
            put(
                &client,
                &reservations,
                &[
                    ("sku", s("MUG")),
                    ("order_id", s(oid(order))),
                    ("quantity", n(quantity)),
                    ("reserved_at", s("2027-01-15T06:00:00Z")),
                ],
            )
            .await;
        }
        // Enough orders for several pages.
        let orders = [
            order_item(1, "CONFIRMED", "MUG", 2, 900),
            order_item(2, "FULFILLED", "MUG", 3, 1350),
            order_item(3, "FAILED", "MUG", 2, 900),
            order_item(4, "CANCELLED", "OLD", 1, 100),
        ];
        for stored in orders {
            client
                .put_item()
                .table_name(&tables.orders)
                .set_item(Some(stored))
                .send()
                .await
                .unwrap();
        }
        let mut shipped = order_item(5, "SHIPPED", "OLD", 1, 1);
        shipped.insert("status".into(), s("SHIPPED"));
        client
            .put_item()
            .table_name(&tables.orders)
            .set_item(Some(shipped))
            .send()
            .await
            .unwrap();

        // Payments: order 1 and 2 charged; order 4 charged and refunded; order 3 charged but
        // never refunded; an attempt counter.
        for stored in [
            payment_item("CHARGE", 1, 900),
            payment_item("CHARGE", 2, 1350),
            payment_item("CHARGE", 3, 900),
            payment_item("CHARGE", 4, 100),
            payment_item("REFUND", 4, 100),
        ] {
            client
                .put_item()
                .table_name(&tables.payments)
                .set_item(Some(stored))
                .send()
                .await
                .unwrap();
        }
        put(
            &client,
            &tables.payments,
            &[
                ("operation_id", s(format!("charge-{}", oid(6)))),
                ("kind", s("CHARGE")),
                ("attempts", n(3)),
            ],
        )
        .await;

        // Ledger: every operation but order 2's charge, with guards; order 4's refund first.
        let entries = [
            (1, "charge", "PaymentCaptured", 900, 10),
            (3, "charge", "PaymentCaptured", 900, 11),
            (4, "charge", "PaymentCaptured", 100, 13),
            (4, "refund", "PaymentRefunded", 100, 12),
        ];
        for (order, op, kind, amount, seq) in entries {
            let operation_id = format!("{op}-{}", oid(order));
            put(
                &client,
                &tables.ledger,
                &[
                    ("order_id", s(oid(order))),
                    ("seq", s(format!("{seq:020}"))),
                    ("operation_id", s(&operation_id)),
                    ("kind", s(kind)),
                    ("amount_minor", n(amount)),
                    ("currency", s("EUR")),
                    ("recorded_at", n(LONG_AGO_S)),
                ],
            )
            .await;
            put(
                &client,
                &tables.ledger,
                &[
                    ("order_id", s(crate::ledger::guard_key(&operation_id))),
                    ("seq", s(crate::ledger::GUARD_SEQ)),
                    ("entry_order_id", s(oid(order))),
                    ("entry_seq", s(format!("{seq:020}"))),
                ],
            )
            .await;
        }

        // Analytics: orders 1, 2 and 4 were placed (3 orders, 2350); one synthetic event more.
        put(
            &client,
            &analytics_table,
            &[
                ("day", s("2027-01-15")),
                ("orders", n(4)),
                ("revenue_minor", n(2350)),
                ("logins", n(9)),
            ],
        )
        .await;
        put(
            &client,
            &analytics_table,
            &[("day", s("COUNTED#e-1")), ("expires_at", n(1))],
        )
        .await;

        let snapshot = read_snapshot_paged(&client, &tables, Some(1)).await;
        for table in [
            &tables.products,
            &reservations,
            &tables.orders,
            &tables.payments,
            &tables.ledger,
            &analytics_table,
        ] {
            client.delete_table().table_name(table).send().await.ok();
        }
        let snapshot = snapshot.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                snapshot.products.len(),
                snapshot.reservations.as_ref().map(Vec::len),
                snapshot.orders.len(),
                snapshot.payments.len(),
                snapshot.ledger.len(),
                snapshot.analytics.as_ref().map(Vec::len),
            ),
            (2, Some(2), 4, 5, 4, Some(1)),
            "every page read, guards / markers / attempt counters left out"
        );
        let report = check(&snapshot, &config());
        assert_eq!(
            report.violations,
            vec![
                Violation::StockHeldForEndedOrder {
                    sku: "MUG".into(),
                    order_id: oid(3),
                    status: OrderStatus::Failed,
                    quantity: 2,
                },
                Violation::StockMismatch {
                    sku: "MUG".into(),
                    stock: 5,
                    reserved: 4,
                    fulfilled: 3,
                    stocked_total: 10,
                },
                Violation::MoneyMismatch {
                    order_id: oid(3),
                    status: OrderStatus::Failed,
                    captured: 900,
                    refunded: 0,
                    expected: 0,
                },
                Violation::LedgerMissing {
                    operation_id: format!("charge-{}", oid(2)),
                    amount: eur(1350),
                },
                Violation::RefundBeforeCharge {
                    order_id: oid(4),
                    charge_seq: format!("{:020}", 13),
                    refund_seq: format!("{:020}", 12),
                },
                Violation::AnalyticsMismatch {
                    counter: "orders",
                    recorded: 4,
                    expected: 3,
                    days: 1,
                },
                Violation::Unreadable(MalformedItem {
                    table: "orders",
                    key: oid(5),
                    problem: "unknown order status \"SHIPPED\"".into(),
                }),
            ],
            "{}",
            report.summary
        );
    }
}
