//! `shopctl trace` (`make trace ORDER=<id>`) on LocalStack: a fulfilled order's journey lists
//! the API call, the workflow's states and its Lambda steps, `OrderPlaced` reaching every
//! subscribed consumer, the ledger entry and `OrderShipped`, each after what caused it; an
//! unknown order is an error that says so. The trace is called as the library function the
//! binary prints.
//!
//! The order is causal, not total: the ledger (its own FIFO queue) and fulfilment (after the
//! cancel window) run side by side, so the ledger entry is checked against the payment, and
//! `OrderShipped` against the workflow's end. The functions must log the kit's `timestamp`
//! field: the local stack ships a function's lines to CloudWatch late, so CloudWatch's own
//! time of a line does not order it.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr
)] // test code; prints the journey it checked

use std::collections::HashMap;
use std::time::Duration;

use shop_tests::{Stack, eventually, unique_sku};
use shopctl::trace::{Clients, Entry, Journey, Kind, Targets, TraceError, trace};

/// Confirmed → fulfilled: the cancel window (the fulfilment queue's delay) and processing.
const FULFIL: Duration = Duration::from_secs(120);
/// The consumers' last lines and `OrderShipped` in the audit table trail `FULFILLED` a little;
/// on a slow machine one trace (a FilterLogEvents per log group) takes seconds itself: 60 s
/// ran out once on a loaded 2-core LocalStack.
const CATCH_UP: Duration = Duration::from_secs(150);

/// The consumers subscribed to `OrderPlaced` (the template's filter policies).
const ORDER_PLACED_CONSUMERS: [&str; 5] = [
    "audit-log",
    "analytics",
    "fraud-detector",
    "notifier",
    "fulfilment",
];

async fn targets_and_clients() -> (Targets, Clients) {
    let path = std::env::var("SHOP_STACK_OUTPUTS").expect("SHOP_STACK_OUTPUTS (make up)");
    let outputs: HashMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the outputs file"))
            .expect("outputs are a JSON object of strings");
    let targets = Targets::from_outputs(&outputs).expect("the shop's outputs");
    let clients = Clients::new(&lambda_kit::aws::sdk_config().await);
    (targets, clients)
}

fn position(journey: &Journey, what: &str, found: impl Fn(&Entry) -> bool) -> usize {
    journey
        .entries
        .iter()
        .position(found)
        .unwrap_or_else(|| panic!("the trace has no {what}:\n{journey}"))
}

fn processed(entry: &Entry, function: &str, event_type: &str) -> bool {
    entry.kind == Kind::Consumed
        && entry.source == function
        && entry.event_type.as_deref() == Some(event_type)
        && entry.text.contains("record processed")
}

#[tokio::test]
async fn a_fulfilled_order_is_traced_from_the_api_call_to_its_shipment() {
    let stack = Stack::load().await;
    let (targets, clients) = targets_and_clients().await;
    let stack_name = stack.output("StackName").to_owned();
    let sku = unique_sku(1);
    stack.create_product(&sku, 1_250, 5).await;
    let shopper = stack.shopper("trace", &[(&sku, 2)]).await;
    let id = stack.place_order(&shopper.token, "tok_ok").await;
    stack
        .wait_for_order(&shopper.token, &id, &["FULFILLED"], FULFIL)
        .await;

    let function = |name: &str| format!("{stack_name}-{name}");
    let complete = |journey: &Journey| {
        let consumed = ORDER_PLACED_CONSUMERS.iter().all(|c| {
            journey
                .entries
                .iter()
                .any(|e| processed(e, &function(c), "OrderPlaced"))
        });
        let shipped = journey
            .entries
            .iter()
            .any(|e| e.kind == Kind::Published && e.event_type.as_deref() == Some("OrderShipped"));
        let ledger = journey.entries.iter().any(|e| e.kind == Kind::Ledger);
        consumed && shipped && ledger
    };
    let journey = eventually("the trace shows the whole journey", CATCH_UP, || async {
        let journey = trace(&clients, &targets, &id).await.expect("a known order");
        complete(&journey).then_some(journey)
    })
    .await;
    eprintln!("{journey}");

    // Time order, as printed.
    assert!(
        journey.entries.windows(2).all(|w| w[0].at_ms <= w[1].at_ms),
        "{journey}"
    );

    let api = position(&journey, "POST /checkout", |e| {
        e.kind == Kind::Api && e.text.contains("POST /checkout")
    });

    // Every state the execution entered, in the history's order, after the API call.
    let states: Vec<&str> = journey
        .entries
        .iter()
        .filter_map(|e| e.state.as_deref())
        .collect();
    let history = stack.states_entered(&id).await;
    assert!(!history.is_empty(), "the execution has a history");
    assert_eq!(states, history, "{journey}");
    let started = position(&journey, "the execution's start", |e| {
        e.kind == Kind::Workflow && e.text == "execution started"
    });
    let succeeded = position(&journey, "the execution's end", |e| {
        e.kind == Kind::Workflow && e.text == "execution succeeded"
    });
    assert!(api < started && started < succeeded, "{journey}");

    // The workflow's Lambda steps ran for this order.
    let mut payment = 0;
    for step in ["pricing", "payment"] {
        let ran = position(&journey, &format!("the {step} step"), |e| {
            e.kind == Kind::Step && e.source == function(step) && e.text == "step succeeded"
        });
        assert!(started < ran && ran < succeeded, "{journey}");
        if step == "payment" {
            payment = ran;
        }
    }

    // OrderPlaced: published by the workflow, then processed by each subscribed consumer.
    let placed = position(&journey, "OrderPlaced published", |e| {
        e.kind == Kind::Published && e.event_type.as_deref() == Some("OrderPlaced")
    });
    assert!(started < placed, "{journey}");
    for consumer in ORDER_PLACED_CONSUMERS {
        let at = position(
            &journey,
            &format!("OrderPlaced processed by {consumer}"),
            |e| processed(e, &function(consumer), "OrderPlaced"),
        );
        assert!(placed < at, "{consumer} before the publish:\n{journey}");
    }

    // The ledger entry of the charge, once the payment step charged. The ledger keeps whole
    // seconds, hence the second of slack; it runs beside fulfilment (its own FIFO queue), so
    // it is not ordered against OrderShipped.
    let charged = position(&journey, "the charge's ledger entry", |e| {
        e.kind == Kind::Ledger && e.text.contains(&format!("charge-{id}"))
    });
    assert!(
        journey.entries[charged].at_ms + 1_000 > journey.entries[payment].at_ms,
        "{journey}"
    );
    let recorded = position(&journey, "the ledger consumer's processing", |e| {
        processed(e, &function("ledger"), "PaymentCaptured")
    });
    assert!(payment < recorded, "{journey}");

    // OrderShipped: published by fulfilment after the cancel window, so after the workflow
    // ended and after OrderPlaced.
    let shipped = position(&journey, "OrderShipped published", |e| {
        e.kind == Kind::Published && e.event_type.as_deref() == Some("OrderShipped")
    });
    assert!(placed < shipped && succeeded < shipped, "{journey}");

    // The printed journey names the order and the sources.
    let printed = journey.to_string();
    assert!(printed.contains(&id), "{printed}");
    assert!(printed.contains("POST /checkout"), "{printed}");
}

#[tokio::test]
async fn an_unknown_order_is_an_error_that_says_so() {
    let _stack = Stack::load().await;
    let (targets, clients) = targets_and_clients().await;
    let id = "ord_00000000000000000000000000000000";
    match trace(&clients, &targets, id).await {
        Err(err @ TraceError::UnknownOrder(_)) => {
            let message = err.to_string();
            assert!(message.contains(id), "{message}");
            assert!(message.contains("no order"), "{message}");
        }
        other => panic!("expected UnknownOrder, got {other:?}"),
    }
}
