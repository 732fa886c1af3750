//! `POST /checkout` rules on the in-memory order store and workflows.

use lambda_http::http::HeaderValue;

use super::*;
use crate::auth::InMemorySessionStore;
use crate::auth::{InMemoryUserStore, ROLE_CUSTOMER, user_cart_id};
use crate::orders::InMemoryOrderStore;
use crate::orders::tests::sign_in;
use crate::test_support::{body_json, event, request};
use lambda_kit::workflow::{InMemoryWorkflows, StartCall};

const START: i64 = 1_800_000_000;
const SM: &str = "arn:aws:states:eu-west-1:000000000000:stateMachine:shop-checkout";

type Api =
    CheckoutApi<InMemoryOrderStore, InMemoryWorkflows, InMemorySessionStore, InMemoryUserStore>;

fn api() -> Api {
    let clock = Clock::manual(START);
    CheckoutApi::new(
        InMemoryOrderStore::new().with_clock(clock.clone()),
        InMemoryWorkflows::new(),
        InMemorySessionStore::default(),
        InMemoryUserStore::default(),
        SM,
    )
    .with_clock(clock)
}

async fn customer(api: &Api, user_id: &str) -> String {
    sign_in(api.sessions(), Some((user_id, ROLE_CUSTOMER)), START).await
}

fn checkout_request(token: Option<&str>, key: Option<&str>, body: &str) -> Request {
    let mut req = request("POST", "/checkout", token, body);
    let headers = req.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("x-correlation-id", HeaderValue::from_static("corr-42"));
    if let Some(key) = key
        && let Ok(value) = HeaderValue::from_str(key)
    {
        headers.insert(IDEMPOTENCY_KEY_HEADER, value);
    }
    req
}

fn code(response: &Response<Body>) -> String {
    body_json(response)["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn key(value: &str) -> IdempotencyKey {
    IdempotencyKey::parse(value).unwrap()
}

#[tokio::test]
async fn creates_a_pending_order_and_starts_its_execution() {
    let api = api();
    let token = customer(&api, "user-1").await;
    let response = api
        .handle(checkout_request(
            Some(&token),
            Some("key-1"),
            r#"{"paymentToken": "tok_ok"}"#,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = OrderId::derive("user-1", &key("key-1"));
    let body = body_json(&response);
    assert_eq!(body["orderId"], id.as_str());
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["links"]["self"], format!("/orders/{id}"));
    assert_eq!(body["links"]["cancel"], format!("/orders/{id}/cancel"));

    let stored = api.orders().get(&id).await.ok().flatten();
    let Some(order) = stored else {
        panic!("the order was not stored")
    };
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.user_id, "user-1");
    assert_eq!(order.email, "user-1@example.com");
    assert_eq!(order.payment_token, PaymentToken::Ok);
    assert_eq!(order.correlation_id, "corr-42");
    assert_eq!(order.cart_key, format!("CART#{}", user_cart_id("user-1")));
    assert_eq!(order.created_at, START * 1000);
    assert_eq!(
        order.request_hash,
        sha256_hex(br#"{"paymentToken":"tok_ok"}"#)
    );
    let expected_input = format!(
        r#"{{"orderId":"{id}","userId":"user-1","email":"user-1@example.com","cartKey":"{}","paymentToken":"tok_ok","idempotencyKey":"key-1","correlationId":"corr-42"}}"#,
        order.cart_key
    );
    assert_eq!(
        api.workflows().starts(),
        vec![StartCall {
            state_machine_arn: SM.to_owned(),
            name: id.to_string(),
            input: expected_input,
        }]
    );
    assert_eq!(
        order.execution_arn.as_deref(),
        Some(
            format!("arn:aws:states:eu-west-1:000000000000:execution:shop-checkout:{id}").as_str()
        )
    );
}

#[tokio::test]
async fn a_replay_returns_the_same_order_and_restarts_with_identical_input() {
    let api = api();
    let token = customer(&api, "user-1").await;
    let first = api
        .handle(checkout_request(
            Some(&token),
            Some("key-1"),
            r#"{"paymentToken":"tok_flaky_2"}"#,
        ))
        .await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let id = OrderId::derive("user-1", &key("key-1"));
    // The workflow moved on; the replay (other spacing, other correlation id) reports it.
    let moved = api
        .orders()
        .transition(&id, &[OrderStatus::Pending], OrderStatus::Confirmed)
        .await
        .ok();
    assert_eq!(moved, Some(true));
    let mut replay = checkout_request(
        Some(&token),
        Some("key-1"),
        "{ \"paymentToken\" :\n \"tok_flaky_2\" }",
    );
    replay
        .headers_mut()
        .insert("x-correlation-id", HeaderValue::from_static("another"));
    let second = api.handle(replay).await;
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    assert_eq!(body_json(&second)["orderId"], id.as_str());
    assert_eq!(body_json(&second)["status"], "CONFIRMED");
    assert_eq!(api.orders().all().len(), 1, "no second order");
    let starts = api.workflows().starts();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0], starts[1], "byte-identical StartExecution");
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let api = api();
    let token = customer(&api, "user-1").await;
    let first = api
        .handle(checkout_request(
            Some(&token),
            Some("key-1"),
            r#"{"paymentToken":"tok_ok"}"#,
        ))
        .await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let reused = api
        .handle(checkout_request(
            Some(&token),
            Some("key-1"),
            r#"{"paymentToken":"tok_declined"}"#,
        ))
        .await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&reused), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(api.workflows().starts().len(), 1);
    let order = api.orders().all().pop();
    assert_eq!(order.map(|o| o.payment_token), Some(PaymentToken::Ok));
}

#[tokio::test]
async fn keys_are_per_user() {
    let api = api();
    let alice = customer(&api, "alice").await;
    let bob = customer(&api, "bob").await;
    for token in [&alice, &bob] {
        let response = api
            .handle(checkout_request(
                Some(token),
                Some("same-key"),
                r#"{"paymentToken":"tok_ok"}"#,
            ))
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(api.orders().all().len(), 2);
}

#[tokio::test]
async fn anonymous_sessions_must_sign_in() {
    let api = api();
    let anonymous = sign_in(api.sessions(), None, START).await;
    let response = api
        .handle(checkout_request(
            Some(&anonymous),
            Some("k"),
            r#"{"paymentToken":"tok_ok"}"#,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(&response), "LOGIN_REQUIRED");
    let response = api
        .handle(checkout_request(
            None,
            Some("k"),
            r#"{"paymentToken":"tok_ok"}"#,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(api.orders().all().is_empty());
}

#[tokio::test]
async fn idempotency_key_is_required_and_validated() {
    let api = api();
    let token = customer(&api, "user-1").await;
    let body = r#"{"paymentToken":"tok_ok"}"#;
    let missing = api.handle(checkout_request(Some(&token), None, body)).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&missing), "IDEMPOTENCY_KEY_REQUIRED");
    for bad in ["has space", "a/b", &"k".repeat(65)] {
        let response = api
            .handle(checkout_request(Some(&token), Some(bad), body))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(code(&response), "INVALID_IDEMPOTENCY_KEY", "{bad:?}");
    }
    assert!(api.workflows().starts().is_empty());
}

#[tokio::test]
async fn body_and_payment_token_are_validated() {
    let api = api();
    let token = customer(&api, "user-1").await;
    let response = api
        .handle(checkout_request(
            Some(&token),
            Some("k"),
            r#"{"paymentToken":"tok_gold"}"#,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&response), "INVALID_PAYMENT_TOKEN");
    let message = body_json(&response)["error"]["message"].to_string();
    assert!(
        message.contains("tok_ok") && message.contains("tok_flaky_N"),
        "{message}"
    );
    for (body, expected) in [
        ("", "INVALID_JSON"),
        ("{", "INVALID_JSON"),
        ("{}", "INVALID_REQUEST"),
        (r#"{"paymentToken": 5}"#, "INVALID_REQUEST"),
    ] {
        let response = api
            .handle(checkout_request(Some(&token), Some("k"), body))
            .await;
        assert_eq!(code(&response), expected, "{body:?}");
    }
    let mut form = checkout_request(Some(&token), Some("k"), "paymentToken=tok_ok");
    form.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let response = api.handle(form).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(api.orders().all().is_empty());
}

#[tokio::test]
async fn a_failed_start_is_503_and_a_retry_starts_it() {
    let api = api();
    let token = customer(&api, "user-1").await;
    let body = r#"{"paymentToken":"tok_ok"}"#;
    api.workflows().set_unavailable(true);
    let failed = api
        .handle(checkout_request(Some(&token), Some("k"), body))
        .await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(code(&failed), "CHECKOUT_UNAVAILABLE");
    let order = api.orders().all().pop();
    assert_eq!(order.as_ref().map(|o| o.status), Some(OrderStatus::Pending));
    // The ARN the execution will have is recorded with the order; nothing was started.
    assert!(order.and_then(|o| o.execution_arn).is_some());
    assert!(api.workflows().starts().is_empty());

    api.workflows().set_unavailable(false);
    let retried = api
        .handle(checkout_request(Some(&token), Some("k"), body))
        .await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    assert_eq!(api.workflows().starts().len(), 1);
    assert_eq!(api.orders().all().len(), 1);
}

#[tokio::test]
async fn only_post_on_checkout() {
    let api = api();
    let response = api.handle(request("GET", "/checkout", None, "")).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = api.handle(request("POST", "/nope", None, "")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_sample_event_routes_and_asks_for_a_real_token() {
    let api = api();
    let response = api.handle(event("checkout-api", "checkout")).await;
    // The sample's token matches no session.
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
