//! The checkout workflow on LocalStack, end to end: `POST /checkout` through API Gateway, the
//! Step Functions saga, the simulated payment provider, the FIFO ledger and the events it
//! publishes. Every test owns its products and users, and ends with the stock invariant
//! (`Stack::assert_stock_conserved`). The contract is `statemachines/README.md`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop_tests::{
    Stack, envelope, eventually, order_id_of, text, unique_id, unique_key, unique_sku, unique_skus,
};

/// Long enough for a workflow with retries, an approval timeout or a cancel window.
const SETTLE: Duration = Duration::from_secs(90);
/// `CONFIRMED` → `FULFILLED`: the fulfilment queue's delay (the cancel window) + processing.
const FULFIL: Duration = Duration::from_secs(90);

fn approval_threshold(stack: &Stack) -> i64 {
    i64::try_from(stack.tunable("ApprovalThreshold", 100_000)).unwrap()
}

/// Asserts the order's priced view: total, item count and lines.
fn assert_priced(order: &Value, total: i64, lines: &[(&str, i64, i64)]) {
    assert_eq!(order["total"]["amount"], total, "{order}");
    let count: i64 = lines.iter().map(|(_, q, _)| q).sum();
    assert_eq!(order["itemCount"], count, "{order}");
    let items = order["items"].as_array().expect("items");
    assert_eq!(items.len(), lines.len(), "{order}");
    for (item, (sku, quantity, unit)) in items.iter().zip(lines) {
        assert_eq!(item["sku"], *sku, "{order}");
        assert_eq!(item["quantity"], *quantity, "{order}");
        assert_eq!(item["unitPrice"]["amount"], *unit, "{order}");
        assert_eq!(item["lineTotal"]["amount"], quantity * unit, "{order}");
    }
}

#[tokio::test]
async fn a_paid_order_is_confirmed_then_fulfilled_and_no_longer_cancellable() {
    let stack = Stack::load().await;
    let skus = unique_skus(2);
    let (a, b) = (skus[0].as_str(), skus[1].as_str());
    stack.create_product(a, 1_500, 10).await;
    stack.create_product(b, 399, 5).await;
    let shopper = stack.shopper("happy", &[(a, 2), (b, 1)]).await;

    let response = stack
        .checkout(&shopper.token, Some(&unique_key()), "tok_ok")
        .await;
    response.expect_status(StatusCode::ACCEPTED);
    let id = response.body["orderId"]
        .as_str()
        .expect("orderId")
        .to_owned();
    assert!(
        ["PENDING", "CONFIRMED"].contains(&response.body["status"].as_str().unwrap_or_default()),
        "{}",
        response.body
    );
    assert_eq!(response.body["links"]["self"], format!("/orders/{id}"));

    let order = stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;
    assert_priced(&order, 3_399, &[(a, 2, 1_500), (b, 1, 399)]);
    assert!(
        order.get("failureReason").is_none_or(Value::is_null),
        "{order}"
    );
    assert_eq!(stack.stock(a).await.0, 8);
    assert_eq!(stack.stock(b).await.0, 4);

    // One charge, captured in the ledger with the order's amount.
    let ledger = stack.wait_for_ledger(&id, &["PaymentCaptured"]).await;
    assert_eq!(ledger[0].operation_id, format!("charge-{id}"));
    assert_eq!(ledger[0].amount_minor, 3_399);
    let charge = stack
        .payment(&format!("charge-{id}"))
        .await
        .expect("the provider's charge record");
    assert!(!text(&charge, "charge_id").is_empty(), "{charge:?}");
    assert_eq!(text(&charge, "amount_minor"), "3399");
    assert!(
        stack.task_failures(&id).await.is_empty(),
        "nothing failed on the happy path"
    );

    // The cart was checked out, so it is empty now.
    eventually("the cart is cleared", Duration::from_secs(30), || async {
        let cart = stack.get("/cart", Some(&shopper.token)).await;
        (cart.status == StatusCode::OK && cart.body["items"] == json!([])).then_some(())
    })
    .await;

    // The cancel window ends: fulfilment ships it and consumes the reservations.
    let order = stack
        .wait_for_order(&shopper.token, &id, &["FULFILLED"], FULFIL)
        .await;
    assert_eq!(order["total"]["amount"], 3_399);
    // Shipped: too late to cancel.
    stack
        .order_action(&shopper.token, &id, "cancel")
        .await
        .expect_error(StatusCode::CONFLICT, "ORDER_ALREADY_FULFILLED");
    assert_eq!(
        stack.order(&shopper.token, &id).await.body["status"],
        "FULFILLED"
    );
    for sku in [a, b] {
        eventually(
            "fulfilment consumed the reservation",
            Duration::from_secs(60),
            || async { (!stack.stock(sku).await.1.contains(&id)).then_some(()) },
        )
        .await;
    }
    stack.assert_stock_conserved(&[(a, 10), (b, 5)]).await;
}

#[tokio::test]
async fn a_declined_payment_fails_the_order_and_releases_the_stock() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 2_000, 4).await;
    let shopper = stack.shopper("declined", &[(&sku, 3)]).await;

    let id = stack.place_order(&shopper.token, "tok_declined").await;
    let order = stack
        .wait_for_order(&shopper.token, &id, &["FAILED"], SETTLE)
        .await;
    assert_eq!(order["failureReason"], "PAYMENT_DECLINED", "{order}");
    // A decline is permanent: one attempt, no retry.
    assert_eq!(
        stack.failures_of(&id, "ChargePayment").await,
        ["PaymentDeclined"]
    );
    assert_eq!(stack.stock(&sku).await, (4, vec![]));
    assert!(
        stack
            .ledger(&id)
            .await
            .iter()
            .all(|e| e.kind != "PaymentCaptured"),
        "nothing was captured"
    );
    // The cart is kept for another try.
    let cart = stack.get("/cart", Some(&shopper.token)).await;
    assert_eq!(cart.body["itemCount"], 3, "{}", cart.body);
    stack.assert_stock_conserved(&[(&sku, 4)]).await;
}

#[tokio::test]
async fn transient_provider_failures_are_retried_then_the_charge_succeeds() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 1_234, 3).await;
    let shopper = stack.shopper("flaky", &[(&sku, 1)]).await;

    let id = stack.place_order(&shopper.token, "tok_flaky_2").await;
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;
    // The history shows the two failed attempts that the Retry absorbed.
    assert_eq!(
        stack.failures_of(&id, "ChargePayment").await,
        ["PaymentProviderUnavailable", "PaymentProviderUnavailable"]
    );
    // Retried, yet charged once: three attempts at the provider, one capture.
    let charge = stack
        .payment(&format!("charge-{id}"))
        .await
        .expect("the provider's charge record");
    assert_eq!(text(&charge, "attempts"), "3", "{charge:?}");
    assert!(!text(&charge, "charge_id").is_empty(), "{charge:?}");
    let ledger = stack.wait_for_ledger(&id, &["PaymentCaptured"]).await;
    assert_eq!(ledger[0].amount_minor, 1_234);
    assert_eq!(stack.stock(&sku).await.0, 2);
    stack.assert_stock_conserved(&[(&sku, 3)]).await;
}

#[tokio::test]
async fn a_provider_that_stays_down_fails_the_order_and_compensates() {
    let stack = Stack::load().await;
    let skus = unique_skus(2);
    stack.create_product(&skus[0], 700, 6).await;
    stack.create_product(&skus[1], 300, 2).await;
    let shopper = stack.shopper("down", &[(&skus[0], 2), (&skus[1], 2)]).await;

    let id = stack.place_order(&shopper.token, "tok_down").await;
    let order = stack
        .wait_for_order(&shopper.token, &id, &["FAILED"], SETTLE)
        .await;
    assert_eq!(order["failureReason"], "PAYMENT_UNAVAILABLE", "{order}");
    let attempts = 1 + stack.tunable("PaymentRetryMaxAttempts", 3);
    let failures = stack.failures_of(&id, "ChargePayment").await;
    assert_eq!(
        failures,
        vec!["PaymentProviderUnavailable"; usize::try_from(attempts).unwrap()],
        "the first attempt and every retry failed"
    );
    // Compensation ran: refund attempted (a timed-out charge may have gone through), the
    // reservations released.
    let states = stack.states_entered(&id).await;
    for state in ["RefundPayment", "ReleaseStock"] {
        assert!(states.iter().any(|s| s == state), "{state} in {states:?}");
    }
    assert_eq!(stack.stock(&skus[0]).await, (6, vec![]));
    assert_eq!(stack.stock(&skus[1]).await, (2, vec![]));
    let charge = stack.payment(&format!("charge-{id}")).await;
    assert!(
        charge.as_ref().is_none_or(|c| !c.contains_key("charge_id")),
        "never captured: {charge:?}"
    );
    assert!(
        stack
            .ledger(&id)
            .await
            .iter()
            .all(|e| e.kind != "PaymentCaptured"),
        "nothing was captured"
    );
    stack
        .assert_stock_conserved(&[(&skus[0], 6), (&skus[1], 2)])
        .await;
}

/// The reservation results (`$.reserved`) of the order's ReserveStock Map, if it ran (the
/// output its runs logged on leaving the state).
async fn reservations(stack: &Stack, order_id: &str) -> Option<Vec<bool>> {
    let events = stack.checkout_events(order_id).await;
    events.iter().find_map(|e| {
        if !e.kind.ends_with("StateExited") || e.state.as_deref() != Some("ReserveStock") {
            return None;
        }
        let output: Value = serde_json::from_str(e.output.as_deref()?).ok()?;
        let reserved = output.get("reserved").unwrap_or(&output);
        reserved
            .as_array()?
            .iter()
            .map(Value::as_bool)
            .collect::<Option<Vec<bool>>>()
    })
}

#[tokio::test]
async fn the_second_of_three_lines_out_of_stock_releases_the_first() {
    // Pricing checks stock early, so the reservation can only fail if the stock goes while
    // the order is between pricing and reservation: another sale takes one unit of the
    // second line as soon as the workflow records the priced order. Should that sale come
    // too late (the reservation already held the units), the attempt is repeated.
    let stack = Stack::load().await;
    for _attempt in 1..=6 {
        let skus = unique_skus(3);
        let (a, b, c) = (skus[0].as_str(), skus[1].as_str(), skus[2].as_str());
        stack.create_product(a, 1_000, 5).await;
        stack.create_product(b, 2_000, 2).await;
        stack.create_product(c, 3_000, 5).await;
        let shopper = stack.shopper("oos", &[(a, 1), (b, 2), (c, 1)]).await;
        let key = unique_key();
        let id = order_id_of(&shopper.user_id, &key);

        // The other sale: one unit of b, once the order is priced, if b is still untouched.
        let racer = {
            let stack = stack.clone();
            let (id, b) = (id.clone(), b.to_owned());
            tokio::spawn(async move {
                let deadline = std::time::Instant::now() + Duration::from_secs(20);
                while std::time::Instant::now() < deadline {
                    let priced = stack
                        .order_item(&id)
                        .await
                        .is_some_and(|item| item.contains_key("items_json"));
                    if priced {
                        return stack
                            .dynamodb()
                            .update_item()
                            .table_name(stack.output("ProductsTableName"))
                            .key("sku", AttributeValue::S(b.clone()))
                            .update_expression("SET stock = stock - :one")
                            .condition_expression("stock = :all")
                            .expression_attribute_values(":one", AttributeValue::N("1".into()))
                            .expression_attribute_values(":all", AttributeValue::N("2".into()))
                            .send()
                            .await
                            .is_ok();
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                false
            })
        };
        let response = stack.checkout(&shopper.token, Some(&key), "tok_ok").await;
        response.expect_status(StatusCode::ACCEPTED);
        assert_eq!(
            response.body["orderId"],
            id.as_str(),
            "the documented order id"
        );
        let sold_elsewhere = racer.await.unwrap();
        let order = stack
            .wait_for_order(
                &shopper.token,
                &id,
                &["FAILED", "CONFIRMED", "FULFILLED"],
                SETTLE,
            )
            .await;
        let b_initial = if sold_elsewhere { 1 } else { 2 };
        stack
            .assert_stock_conserved(&[(a, 5), (b, b_initial), (c, 5)])
            .await;
        if !sold_elsewhere {
            // The reservation was faster than the other sale: a normal order.
            assert_ne!(order["status"], "FAILED", "{order}");
            continue;
        }
        assert_eq!(order["status"], "FAILED", "{order}");
        assert_eq!(order["failureReason"], "OUT_OF_STOCK", "{order}");
        let states = stack.states_entered(&id).await;
        let reserved = reservations(&stack, &id)
            .await
            .unwrap_or_else(|| panic!("no ReserveStock results in the history: {states:?}"));
        assert_eq!(reserved.len(), 3, "one result per line: {reserved:?}");
        assert!(reserved[0], "the first line was reserved: {reserved:?}");
        assert!(!reserved[1], "the second line was not: {reserved:?}");
        // … and the first (and third, if it was reserved) given back.
        assert_eq!(stack.stock(a).await, (5, vec![]));
        assert_eq!(stack.stock(b).await, (1, vec![]));
        assert_eq!(stack.stock(c).await, (5, vec![]));
        assert!(states.iter().any(|s| s == "ReleaseStock"), "{states:?}");
        assert!(!states.iter().any(|s| s == "ChargePayment"), "{states:?}");
        assert!(stack.ledger(&id).await.is_empty());
        return;
    }
    panic!("the competing sale never landed between pricing and reservation in 6 attempts");
}

/// One product priced so that `quantity` units need an approval.
async fn approval_fixture(stack: &Stack, tag: &str) -> (String, shop_tests::Shopper, i64) {
    let threshold = approval_threshold(stack);
    let unit = threshold / 2 + 10_000;
    let sku = unique_sku(1);
    stack.create_product(&sku, unit, 3).await;
    let shopper = stack.shopper(tag, &[(&sku, 2)]).await;
    assert!(2 * unit > threshold);
    (sku, shopper, 2 * unit)
}

#[tokio::test]
async fn an_order_above_the_threshold_waits_for_an_admin_who_approves_it() {
    let stack = Stack::load().await;
    let (sku, shopper, total) = approval_fixture(&stack, "approve").await;
    // Signed in before the order: the decision has to come within the approval timeout.
    let admin = stack.admin_token().await;
    let id = stack.place_order(&shopper.token, "tok_ok").await;
    let order = stack
        .wait_for_order(&shopper.token, &id, &["AWAITING_APPROVAL"], SETTLE)
        .await;
    // What a client sees is all it needs: AWAITING_APPROVAL means it can be approved now.
    stack
        .order_action(&admin, &id, "approve")
        .await
        .expect_status(StatusCode::ACCEPTED);
    assert_eq!(order["total"]["amount"], total);
    // Held while it waited, charged only once approved.
    assert!(stack.stock(&sku).await.1.contains(&id));
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;
    let ledger = stack.wait_for_ledger(&id, &["PaymentCaptured"]).await;
    assert_eq!(ledger[0].amount_minor, total);
    stack.assert_stock_conserved(&[(&sku, 3)]).await;
}

/// A session opened while its account was an admin's, of an account demoted since.
async fn demoted_admin_session(stack: &Stack) -> String {
    let (email, _) = stack.new_user("demoted", "a-long-password").await;
    let set_role = |role: &'static str| {
        let email = email.clone();
        async move {
            stack
                .dynamodb()
                .update_item()
                .table_name(stack.output("UsersTableName"))
                .key("pk", AttributeValue::S(format!("USER#{email}")))
                .update_expression("SET #r = :r")
                .expression_attribute_names("#r", "role")
                .expression_attribute_values(":r", AttributeValue::S(role.to_owned()))
                .send()
                .await
                .expect("set the role");
        }
    };
    set_role("admin").await;
    let login = stack.login(&email, "a-long-password", None, None).await;
    login.expect_status(StatusCode::OK);
    assert_eq!(login.body["role"], "admin");
    set_role("customer").await;
    login.body["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn an_admin_rejects_an_order_the_customer_cannot_approve() {
    let stack = Stack::load().await;
    let (sku, shopper, _) = approval_fixture(&stack, "reject").await;
    // Both sessions made before the order: the decision has to come within the approval
    // timeout, and four sign-ins on a loaded LocalStack once took longer than its 20 s.
    let admin = stack.admin_token().await;
    let demoted = demoted_admin_session(&stack).await;
    let id = stack.place_order(&shopper.token, "tok_ok").await;
    stack
        .wait_for_order(&shopper.token, &id, &["AWAITING_APPROVAL"], SETTLE)
        .await;
    // Only admins decide: not the customer, and not an admin demoted since signing in
    // (the role in the session is a copy; the account's role now is what counts).
    for token in [&shopper.token, &demoted] {
        for action in ["approve", "reject"] {
            stack
                .order_action(token, &id, action)
                .await
                .expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
        }
    }
    stack
        .order_action(&admin, &id, "reject")
        .await
        .expect_status(StatusCode::ACCEPTED);
    let order = stack
        .wait_for_order(&shopper.token, &id, &["REJECTED"], SETTLE)
        .await;
    assert_eq!(order["failureReason"], "APPROVAL_REJECTED", "{order}");
    assert_eq!(stack.stock(&sku).await, (3, vec![]));
    assert!(stack.ledger(&id).await.is_empty(), "never charged");
    stack.assert_stock_conserved(&[(&sku, 3)]).await;
}

#[tokio::test]
async fn an_approval_nobody_gives_times_out_and_a_late_approval_changes_nothing() {
    let stack = Stack::load().await;
    let (sku, shopper, _) = approval_fixture(&stack, "timeout").await;
    let id = stack.place_order(&shopper.token, "tok_ok").await;
    stack
        .wait_for_order(&shopper.token, &id, &["AWAITING_APPROVAL"], SETTLE)
        .await;
    let order = stack
        .wait_for_order(&shopper.token, &id, &["REJECTED"], SETTLE)
        .await;
    assert_eq!(order["failureReason"], "APPROVAL_TIMED_OUT", "{order}");
    assert_eq!(stack.stock(&sku).await, (3, vec![]));

    let admin = stack.admin_token().await;
    stack
        .order_action(&admin, &id, "approve")
        .await
        .expect_error(StatusCode::CONFLICT, "ORDER_NOT_AWAITING_APPROVAL");
    let order = stack.order(&shopper.token, &id).await;
    assert_eq!(order.body["status"], "REJECTED");
    assert!(stack.ledger(&id).await.is_empty(), "never charged");
    stack.assert_stock_conserved(&[(&sku, 3)]).await;
}

#[tokio::test]
async fn the_same_idempotency_key_twice_places_one_order_and_charges_once() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 2_500, 5).await;
    let shopper = stack.shopper("idem", &[(&sku, 2)]).await;
    let key = unique_key();

    // Twice at once (a client retrying before the first answer), then once more later.
    let (first, second) = tokio::join!(
        stack.checkout(&shopper.token, Some(&key), "tok_ok"),
        stack.checkout(&shopper.token, Some(&key), "tok_ok"),
    );
    for response in [&first, &second] {
        assert!(
            response.status == StatusCode::ACCEPTED || response.status == StatusCode::OK,
            "{}: {}",
            response.status,
            response.body
        );
    }
    let id = first.body["orderId"].as_str().expect("orderId").to_owned();
    assert_eq!(second.body["orderId"], id.as_str());
    assert_eq!(id, order_id_of(&shopper.user_id, &key));
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;
    let third = stack.checkout(&shopper.token, Some(&key), "tok_ok").await;
    assert!(
        third.status.is_success(),
        "{}: {}",
        third.status,
        third.body
    );
    assert_eq!(third.body["orderId"], id.as_str());

    let listed = stack.get("/orders", Some(&shopper.token)).await;
    listed.expect_status(StatusCode::OK);
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "one order: {}", listed.body);
    assert_eq!(items[0]["orderId"], id.as_str());
    let ledger = stack.wait_for_ledger(&id, &["PaymentCaptured"]).await;
    assert_eq!(ledger[0].amount_minor, 5_000);
    assert_eq!(stack.stock(&sku).await.0, 3, "stock taken once");
    stack.assert_stock_conserved(&[(&sku, 5)]).await;
}

#[tokio::test]
async fn a_rush_of_ten_checkouts_for_the_last_three_units_confirms_exactly_three() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 1_000, 3).await;
    let mut shoppers = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (stack, sku) = (stack.clone(), sku.clone());
        shoppers.spawn(async move { stack.shopper("rush", &[(&sku, 1)]).await });
    }
    let shoppers = shoppers.join_all().await;

    // Watch the stock while the orders race for it.
    let done = Arc::new(AtomicBool::new(false));
    let lowest = Arc::new(AtomicI64::new(i64::MAX));
    let watcher = {
        let (stack, sku, done, lowest) = (stack.clone(), sku.clone(), done.clone(), lowest.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                lowest.fetch_min(stack.stock(&sku).await.0, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut orders = tokio::task::JoinSet::new();
    for shopper in shoppers {
        let stack = stack.clone();
        orders.spawn(async move {
            let id = stack.place_order(&shopper.token, "tok_ok").await;
            let order = stack
                .wait_for_order(
                    &shopper.token,
                    &id,
                    &["CONFIRMED", "FULFILLED", "FAILED"],
                    SETTLE,
                )
                .await;
            (id, order)
        });
    }
    let orders = orders.join_all().await;
    done.store(true, Ordering::SeqCst);
    watcher.await.unwrap();

    let confirmed = orders
        .iter()
        .filter(|(_, o)| o["status"] != "FAILED")
        .count();
    assert_eq!(confirmed, 3, "{orders:?}");
    for (_, order) in orders.iter().filter(|(_, o)| o["status"] == "FAILED") {
        assert_eq!(order["failureReason"], "OUT_OF_STOCK", "{order}");
    }
    assert!(
        lowest.load(Ordering::SeqCst) >= 0,
        "stock went negative: {}",
        lowest.load(Ordering::SeqCst)
    );
    assert_eq!(stack.stock(&sku).await.0, 0);
    for (id, order) in orders.iter().filter(|(_, o)| o["status"] != "FAILED") {
        assert_eq!(order["total"]["amount"], 1_000);
        stack.wait_for_ledger(id, &["PaymentCaptured"]).await;
    }
    stack.assert_stock_conserved(&[(&sku, 3)]).await;
}

/// A day of its own for a test's analytics counters (never a real event's day).
fn unique_day() -> String {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).unwrap();
    let n = u16::from_le_bytes(b);
    format!(
        "{:04}-{:02}-{:02}",
        1901 + n % 90,
        1 + (n / 90) % 12,
        1 + (n / 1080) % 28
    )
}

#[tokio::test]
async fn an_order_placed_event_reaches_audit_and_analytics_with_revenue_counted_once() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 4_321, 5).await;
    let shopper = stack.shopper("placed", &[(&sku, 2)]).await;
    let id = stack.place_order(&shopper.token, "tok_ok").await;
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;
    let correlation_id = text(
        &stack.order_item(&id).await.expect("the order item"),
        "correlation_id",
    );
    assert!(!correlation_id.is_empty());

    // Published once, after the confirmation, and in the audit log.
    let (event_id, _) = eventually(
        "OrderPlaced in the audit log",
        Duration::from_secs(90),
        || async {
            stack
                .audit_by_correlation(&correlation_id)
                .await
                .into_iter()
                .find(|(_, t)| t == "OrderPlaced")
        },
    )
    .await;
    let audit = stack
        .dynamodb()
        .get_item()
        .table_name(stack.output("AuditTableName"))
        .key("event_id", AttributeValue::S(event_id.clone()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the audit entry");
    let published: Value = serde_json::from_str(&text(&audit, "envelope")).expect("envelope");
    assert_eq!(published["eventType"], "OrderPlaced");
    assert_eq!(published["correlationId"], correlation_id.as_str());
    let detail = &published["detail"];
    assert_eq!(detail["orderId"], id.as_str(), "{published}");
    assert_eq!(detail["userId"], shopper.user_id.as_str(), "{published}");
    assert_eq!(detail["email"], shopper.email.as_str(), "{published}");
    assert_eq!(detail["total"]["amount"], 8_642, "{published}");
    assert_eq!(detail["itemCount"], 2, "{published}");

    // Analytics counted it (its once-only marker is there).
    eventually(
        "analytics processed OrderPlaced",
        Duration::from_secs(90),
        || async {
            stack
                .processed_by("analytics", &event_id)
                .await
                .then_some(())
        },
    )
    .await;
    let marker = stack
        .dynamodb()
        .get_item()
        .table_name(stack.output("AnalyticsTableName"))
        .key("day", AttributeValue::S(format!("COUNTED#{event_id}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item;
    assert!(marker.is_some(), "analytics counted event {event_id}");
    let orders = stack
        .audit_by_correlation(&correlation_id)
        .await
        .into_iter()
        .filter(|(_, t)| t == "OrderPlaced")
        .count();
    assert_eq!(orders, 1, "OrderPlaced published once");

    // Revenue counted once: the same event, delivered twice to analytics alone on a day of
    // its own (so no other order moves those counters), counts one order and its total.
    let day = unique_day();
    let mut copy = published.clone();
    copy["eventId"] = json!(unique_id());
    copy["occurredAt"] = json!(format!("{day}T10:00:00Z"));
    let copy_id = copy["eventId"].as_str().unwrap().to_owned();
    let body = envelope(
        &copy_id,
        "OrderPlaced",
        copy["occurredAt"].as_str().unwrap(),
        &correlation_id,
        &copy["detail"],
    );
    let queue = stack.output("AnalyticsQueueUrl").to_owned();
    for _ in 0..2 {
        stack
            .sqs()
            .send_message()
            .queue_url(&queue)
            .message_body(&body)
            .send()
            .await
            .expect("send to the analytics queue");
    }
    eventually("the copy is counted", Duration::from_secs(90), || async {
        (stack.counter(&day, "revenue_minor").await > 0).then_some(())
    })
    .await;
    eventually(
        "the analytics queue drained",
        Duration::from_secs(60),
        || async { (stack.queue_depth(&queue).await == (0, 0)).then_some(()) },
    )
    .await;
    assert_eq!(
        stack.counter(&day, "revenue_minor").await,
        8_642,
        "revenue counted once"
    );
    assert_eq!(stack.counter(&day, "orders").await, 1, "one order counted");
    stack.assert_stock_conserved(&[(&sku, 5)]).await;
}
