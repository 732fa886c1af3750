//! The checkout and orders API on LocalStack: who may check out and with what, idempotency
//! errors, reading and listing orders, cancelling inside and after the cancel window.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use shop_tests::{Stack, query_value, unique_key, unique_sku};

const SETTLE: Duration = Duration::from_secs(90);

#[tokio::test]
async fn checkout_needs_a_signed_in_user() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 500, 5).await;
    let anonymous = stack.new_session().await;
    stack
        .put_item(&anonymous, &sku, 1)
        .await
        .expect_status(StatusCode::OK);
    stack
        .checkout(&anonymous, Some(&unique_key()), "tok_ok")
        .await
        .expect_error(StatusCode::FORBIDDEN, "LOGIN_REQUIRED");
    // No token at all: not authenticated.
    let response = stack
        .call_with_headers(
            Method::POST,
            "/checkout",
            None,
            Some(json!({"paymentToken": "tok_ok"}).to_string()),
            &[("Idempotency-Key", &unique_key())],
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        response.body
    );
    assert_eq!(stack.stock(&sku).await, (5, vec![]));
}

#[tokio::test]
async fn checkout_needs_an_idempotency_key_and_a_known_payment_token() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 500, 5).await;
    let shopper = stack.shopper("badreq", &[(&sku, 1)]).await;

    stack
        .checkout(&shopper.token, None, "tok_ok")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "IDEMPOTENCY_KEY_REQUIRED");

    let key = unique_key();
    stack
        .checkout(&shopper.token, Some(&key), "tok_gold")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "INVALID_PAYMENT_TOKEN");
    // Refused requests leave no order behind, and the key is still free.
    let listed = stack.get("/orders", Some(&shopper.token)).await;
    listed.expect_status(StatusCode::OK);
    assert_eq!(listed.body["items"], json!([]), "{}", listed.body);
    let retried = stack.checkout(&shopper.token, Some(&key), "tok_ok").await;
    retried.expect_status(StatusCode::ACCEPTED);
    let id = retried.body["orderId"].as_str().unwrap().to_owned();
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;
    stack.assert_stock_conserved(&[(&sku, 5)]).await;
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_refused() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 800, 5).await;
    let shopper = stack.shopper("reuse", &[(&sku, 1)]).await;
    let key = unique_key();
    let first = stack.checkout(&shopper.token, Some(&key), "tok_ok").await;
    first.expect_status(StatusCode::ACCEPTED);
    stack
        .checkout(&shopper.token, Some(&key), "tok_declined")
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED");
    let id = first.body["orderId"].as_str().unwrap().to_owned();
    // The first request's order is untouched by the refused one.
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;
    stack.assert_stock_conserved(&[(&sku, 5)]).await;
}

#[tokio::test]
async fn an_empty_cart_fails_with_cart_empty() {
    let stack = Stack::load().await;
    let shopper = stack.shopper("empty", &[]).await;
    let id = stack.place_order(&shopper.token, "tok_ok").await;
    let order = stack
        .wait_for_order(&shopper.token, &id, &["FAILED"], SETTLE)
        .await;
    assert_eq!(order["failureReason"], "CART_EMPTY", "{order}");
    assert_eq!(order["items"], json!([]), "{order}");
    assert!(stack.ledger(&id).await.is_empty());
}

#[tokio::test]
async fn another_users_order_is_not_found_and_only_admins_approve() {
    let stack = Stack::load().await;
    let owner = stack.shopper("owner", &[]).await;
    let other = stack.shopper("other", &[]).await;
    let id = stack.place_order(&owner.token, "tok_ok").await;
    stack
        .wait_for_order(&owner.token, &id, &["FAILED"], SETTLE)
        .await;

    let response = stack.order(&other.token, &id).await;
    response.expect_error(StatusCode::NOT_FOUND, "ORDER_NOT_FOUND");
    assert!(!response.body.to_string().contains(&owner.email));
    stack
        .order_action(&other.token, &id, "cancel")
        .await
        .expect_error(StatusCode::NOT_FOUND, "ORDER_NOT_FOUND");
    // An id nobody has is the same answer.
    stack
        .order(&owner.token, "ord_00000000000000000000000000000000")
        .await
        .expect_error(StatusCode::NOT_FOUND, "ORDER_NOT_FOUND");
    // Anonymous: not signed in.
    let response = stack.get(&format!("/orders/{id}"), None).await;
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        response.body
    );
    // Approving is for admins only, whoever owns the order.
    for token in [&owner.token, &other.token] {
        stack
            .order_action(token, &id, "approve")
            .await
            .expect_error(StatusCode::FORBIDDEN, "FORBIDDEN");
    }
}

#[tokio::test]
async fn orders_are_listed_newest_first_with_paging() {
    let stack = Stack::load().await;
    let shopper = stack.shopper("list", &[]).await;
    let mut placed = Vec::new();
    for _ in 0..3 {
        placed.push(stack.place_order(&shopper.token, "tok_ok").await);
        // Distinct creation times (epoch ms).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Someone else's orders never show up.
    let other = stack.shopper("list-other", &[]).await;
    stack.place_order(&other.token, "tok_ok").await;

    let page = stack.get("/orders?limit=2", Some(&shopper.token)).await;
    page.expect_status(StatusCode::OK);
    let ids: Vec<&str> = page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [placed[2].as_str(), placed[1].as_str()],
        "{}",
        page.body
    );
    let cursor = page.body["nextCursor"]
        .as_str()
        .unwrap_or_else(|| panic!("a next cursor: {}", page.body));
    let rest = stack
        .get(
            &format!("/orders?limit=2&cursor={}", query_value(cursor)),
            Some(&shopper.token),
        )
        .await;
    rest.expect_status(StatusCode::OK);
    let ids: Vec<&str> = rest.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [placed[0].as_str()], "{}", rest.body);
    assert!(rest.body["nextCursor"].is_null(), "{}", rest.body);

    // Every order has its status in the list.
    let all = stack.get("/orders", Some(&shopper.token)).await;
    for order in all.body["items"].as_array().expect("items") {
        assert!(order["status"].is_string(), "{order}");
    }
    // A cursor that was not issued is a client error, not a crash.
    let bad = stack
        .get("/orders?cursor=not-a-cursor", Some(&shopper.token))
        .await;
    bad.expect_error(StatusCode::BAD_REQUEST, "INVALID_CURSOR");
}

#[tokio::test]
async fn cancel_inside_the_window_refunds_and_restocks_with_ledger_entries_in_order() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 1_999, 4).await;
    let shopper = stack.shopper("cancel", &[(&sku, 3)]).await;
    let id = stack.place_order(&shopper.token, "tok_ok").await;
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED"], SETTLE)
        .await;
    let confirmed_at = Instant::now();
    // Reserved: the stock went down and the order holds its own reservation item (the
    // product item itself carries no per-order data).
    assert_eq!(stack.stock(&sku).await.0, 1);
    assert_eq!(stack.reservations(&sku).await, vec![(id.clone(), 3)]);

    stack
        .order_action(&shopper.token, &id, "cancel")
        .await
        .expect_status(StatusCode::ACCEPTED);
    stack
        .wait_for_order(&shopper.token, &id, &["CANCELLED"], SETTLE)
        .await;
    // Released: the reservation item went with the stock increment.
    assert_eq!(stack.stock(&sku).await, (4, vec![]));
    assert!(stack.reservations(&sku).await.is_empty());

    // The ledger: the charge, then its refund, in the order the FIFO queue delivered them.
    let ledger = stack
        .wait_for_ledger(&id, &["PaymentCaptured", "PaymentRefunded"])
        .await;
    assert!(ledger[0].seq < ledger[1].seq, "{ledger:?}");
    assert_eq!(ledger[0].operation_id, format!("charge-{id}"));
    assert_eq!(ledger[1].operation_id, format!("refund-{id}"));
    assert_eq!(ledger[0].amount_minor, 5_997);
    assert_eq!(ledger[1].amount_minor, 5_997);
    let refund = stack
        .payment(&format!("refund-{id}"))
        .await
        .expect("the provider's refund record");
    assert_eq!(shop_tests::text(&refund, "amount_minor"), "5997");

    // A second cancel changes nothing: answered as a replay (202, already CANCELLED) or
    // refused (409); either way no second refund (checked below).
    let again = stack.order_action(&shopper.token, &id, "cancel").await;
    if again.status == StatusCode::ACCEPTED {
        assert_eq!(again.body["status"], "CANCELLED", "{}", again.body);
    } else {
        again.expect_error(StatusCode::CONFLICT, "ORDER_NOT_CANCELLABLE");
    }

    // When the window ends, fulfilment does not ship a cancelled order.
    let window = Duration::from_secs(stack.tunable("CancelWindowSeconds", 8) + 3);
    tokio::time::sleep(window.saturating_sub(confirmed_at.elapsed())).await;
    let order = stack.order(&shopper.token, &id).await;
    assert_eq!(order.body["status"], "CANCELLED", "{}", order.body);
    assert_eq!(stack.ledger(&id).await.len(), 2, "refunded once");
    stack.assert_stock_conserved(&[(&sku, 4)]).await;
}

// Cancelling after fulfilment (409 ORDER_ALREADY_FULFILLED) is checked at the end of
// checkout.rs's happy path, which waits for FULFILLED anyway.
