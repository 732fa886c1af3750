//! Round trips on the hot routes, read from the deployed functions' completion log lines
//! (`lambda_kit::round_trips`: every AWS call a request made, and how many it waited for one
//! after another). LocalStack runs no REST authorizers, so here the functions authenticate
//! the session themselves — one round trip more than behind the authorizer on AWS (`make bench`
//! measures both). A change that turns parallel calls back into sequential ones fails here.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use shop_tests::{Stack, eventually, now_epoch_millis, unique_id, unique_key, unique_sku};

const LOGS_CATCH_UP: Duration = Duration::from_secs(60);

/// The completion line of the request `function` served under `correlation_id`.
async fn completed(stack: &Stack, function: &str, correlation_id: &str, since_ms: i64) -> Value {
    let function = format!("{}-{function}", stack.output("StackName"));
    eventually(
        &format!("{function}'s completion line for {correlation_id}"),
        LOGS_CATCH_UP,
        || async {
            stack
                .log_lines(&function, "request completed", since_ms)
                .await
                .into_iter()
                .map(|line| line.fields)
                .find(|fields| fields["correlation_id"] == correlation_id)
        },
    )
    .await
}

fn trips(line: &Value) -> (u64, u64, String) {
    (
        line["aws_calls"].as_u64().expect("aws_calls"),
        line["aws_round_trips"].as_u64().expect("aws_round_trips"),
        line["aws_operations"]
            .as_str()
            .expect("aws_operations")
            .to_owned(),
    )
}

#[tokio::test]
async fn cart_reads_and_writes_go_out_together() {
    let stack = Stack::load().await;
    let since = now_epoch_millis() - 1_000;
    let sku = unique_sku(1);
    stack.create_product(&sku, 700, 20).await;
    let token = stack.new_session().await;

    let put_id = format!("rt-put-{}", unique_id());
    stack
        .call_with_headers(
            Method::PUT,
            &format!("/cart/items/{sku}"),
            Some(&token),
            Some(r#"{"quantity": 2}"#.to_owned()),
            &[("X-Correlation-Id", &put_id)],
        )
        .await
        .expect_status(StatusCode::OK);
    let get_id = format!("rt-get-{}", unique_id());
    stack
        .call_with_headers(
            Method::GET,
            "/cart",
            Some(&token),
            None,
            &[("X-Correlation-Id", &get_id)],
        )
        .await
        .expect_status(StatusCode::OK);

    // PUT: (session ∥ cart ∥ product), then (cart write ∥ session expiry ∥ prices not cached).
    let (calls, in_turn, operations) = trips(&completed(&stack, "cart-api", &put_id, since).await);
    assert_eq!(
        in_turn, 2,
        "PUT /cart/items waited for {in_turn} round trips: {operations}"
    );
    assert!(calls >= 5, "{operations}");
    assert!(
        operations.contains("dynamodb.PutItem") && operations.contains("dynamodb.UpdateItem"),
        "{operations}"
    );
    // GET: (session ∥ cart), then the prices when this environment has not cached them.
    let (_, in_turn, operations) = trips(&completed(&stack, "cart-api", &get_id, since).await);
    assert!(
        (1..=2).contains(&in_turn),
        "GET /cart waited for {in_turn} round trips: {operations}"
    );
}

#[tokio::test]
async fn checkout_writes_the_order_once_then_starts_its_workflow() {
    let stack = Stack::load().await;
    let since = now_epoch_millis() - 1_000;
    let sku = unique_sku(2);
    stack.create_product(&sku, 900, 20).await;
    let shopper = stack.shopper("round-trips", &[(&sku, 1)]).await;
    let id = format!("rt-checkout-{}", unique_id());
    let key = unique_key();
    let body = serde_json::json!({ "paymentToken": "tok_ok" }).to_string();
    stack
        .call_with_headers(
            Method::POST,
            "/checkout",
            Some(&shopper.token),
            Some(body),
            &[("Idempotency-Key", &key), ("X-Correlation-Id", &id)],
        )
        .await
        .expect_status(StatusCode::ACCEPTED);
    let (calls, in_turn, operations) = trips(&completed(&stack, "checkout-api", &id, since).await);
    // session → account lock (the authorizer's work on AWS) → the order → its execution.
    assert_eq!((calls, in_turn), (4, 4), "POST /checkout: {operations}");
    assert!(
        operations.ends_with("dynamodb.PutItem,sfn.StartExecution"),
        "{operations}"
    );
}
