use std::sync::Arc;

use lambda_http::http::HeaderValue;

use super::*;
use crate::auth::InMemorySessionStore;
use crate::cart::InMemoryCartStore;
use crate::catalog::InMemoryProductStore;
use crate::test_support::{body_json, event, product, request};

const START: i64 = 1_800_000_000;
const TTL: i64 = 3_600;

type Api = CartApi<
    InMemoryProductStore,
    InMemorySessionStore,
    InMemoryCartStore,
    crate::auth::InMemoryUserStore,
>;

fn api() -> (Api, Clock) {
    let clock = Clock::manual(START);
    let products = InMemoryProductStore::with_products(
        [
            product("MUG", 899, 10),
            product("TSHIRT-M", 1999, 3),
            product("EMPTY", 500, 0),
            product("MUG-BLK-350", 1299, 50),
        ]
        .into_iter()
        .chain((0..25).map(|i| product(&format!("BULK-{i:02}"), 100, 99))),
    );
    let api = CartApi::new(
        products,
        InMemorySessionStore::default(),
        InMemoryCartStore::default(),
        crate::auth::InMemoryUserStore::default(),
        TTL,
    )
    .with_clock(clock.clone());
    (api, clock)
}

async fn new_session(api: &Api) -> String {
    let response = api.handle(request("POST", "/sessions", None, "")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    body_json(&response)["token"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default()
}

async fn put(api: &Api, token: &str, sku: &str, body: &str) -> Response<Body> {
    api.handle(request(
        "PUT",
        &format!("/cart/items/{sku}"),
        Some(token),
        body,
    ))
    .await
}

fn code(response: &Response<Body>) -> String {
    body_json(response)["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn session_id(token: &str) -> crate::auth::session::SessionId {
    SessionToken::from_client(token)
        .map(|t| t.id())
        .unwrap_or_else(|| panic!("bad token"))
}

#[tokio::test]
async fn new_session_has_an_empty_cart() {
    let (api, _) = api();
    let response = api.handle(request("POST", "/sessions", None, "")).await;
    let body = body_json(&response);
    assert_eq!(body["expiresAt"], rfc3339(START + TTL));
    let token = body["token"].as_str().unwrap_or_default();
    assert_eq!(token.len(), 43);
    let cart = api.handle(request("GET", "/cart", Some(token), "")).await;
    assert_eq!(cart.status(), StatusCode::OK);
    assert_eq!(
        body_json(&cart),
        serde_json::json!({"items": [], "total": {"amount": 0, "currency": "EUR"}, "itemCount": 0, "version": 0})
    );
}

#[tokio::test]
async fn put_prices_the_cart_and_bumps_the_version() {
    let (api, _) = api();
    let token = new_session(&api).await;
    let response = put(&api, &token, "MUG", r#"{"quantity": 2}"#).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = put(&api, &token, "TSHIRT-M", r#"{"quantity": 1}"#).await;
    let body = body_json(&response);
    assert_eq!(body["version"], 2);
    assert_eq!(body["itemCount"], 3);
    assert_eq!(
        body["total"],
        serde_json::json!({"amount": 2 * 899 + 1999, "currency": "EUR"})
    );
    assert_eq!(body["items"][0]["sku"], "MUG");
    assert_eq!(body["items"][0]["unitPrice"]["amount"], 899);
    assert_eq!(body["items"][0]["lineTotal"]["amount"], 1798);
    // Setting the same quantity again writes nothing.
    let body = body_json(&put(&api, &token, "MUG", r#"{"quantity": 2}"#).await);
    assert_eq!(body["version"], 2);
    // Replacing a quantity.
    let body = body_json(&put(&api, &token, "MUG", r#"{"quantity": 5}"#).await);
    assert_eq!(
        (body["version"].as_u64(), body["itemCount"].as_u64()),
        (Some(3), Some(6))
    );
}

#[tokio::test]
async fn totals_follow_current_catalog_prices() {
    let (api, _) = api();
    let token = new_session(&api).await;
    put(&api, &token, "MUG", r#"{"quantity": 2}"#).await;
    let _ = api.products.put(&product("MUG", 1000, 10)).await;
    let body = body_json(&api.handle(request("GET", "/cart", Some(&token), "")).await);
    assert_eq!(body["total"]["amount"], 2000);
}

#[tokio::test]
async fn remove_item_is_idempotent_and_clear_empties() {
    let (api, _) = api();
    let token = new_session(&api).await;
    put(&api, &token, "MUG", r#"{"quantity": 1}"#).await;
    put(&api, &token, "TSHIRT-M", r#"{"quantity": 1}"#).await;
    for _ in 0..2 {
        let response = api
            .handle(request("DELETE", "/cart/items/MUG", Some(&token), ""))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = body_json(&response);
        assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["version"], 3);
    }
    let response = api
        .handle(request("DELETE", "/cart", Some(&token), ""))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.body().is_empty());
    let body = body_json(&api.handle(request("GET", "/cart", Some(&token), "")).await);
    assert_eq!(
        (body["itemCount"].as_u64(), body["version"].as_u64()),
        (Some(0), Some(0))
    );
    // A write after clearing starts again from version 0.
    let body = body_json(&put(&api, &token, "MUG", r#"{"quantity": 1}"#).await);
    assert_eq!(body["version"], 1);
}

#[tokio::test]
async fn cart_routes_need_a_valid_session() {
    let (api, clock) = api();
    let Ok(stranger) = SessionToken::generate() else {
        panic!()
    };
    for token in [None, Some("garbage"), Some(stranger.expose())] {
        for (method, path) in [
            ("GET", "/cart"),
            ("DELETE", "/cart"),
            ("PUT", "/cart/items/MUG"),
            ("DELETE", "/cart/items/MUG"),
        ] {
            let response = api
                .handle(request(method, path, token, r#"{"quantity": 1}"#))
                .await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            assert_eq!(code(&response), "UNAUTHORIZED");
        }
    }
    let token = new_session(&api).await;
    clock.advance(TTL);
    let response = api.handle(request("GET", "/cart", Some(&token), "")).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "expired (item not yet swept by TTL)"
    );
    assert!(
        body_json(&response)["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired"))
    );
}

#[tokio::test]
async fn writes_slide_the_session_and_cart_expiry() {
    let (api, clock) = api();
    let token = new_session(&api).await;
    let id = session_id(&token);
    clock.advance(TTL - 10);
    put(&api, &token, "MUG", r#"{"quantity": 1}"#).await;
    let expected = START + TTL - 10 + TTL;
    assert_eq!(api.carts().cart_expires_at(&id), Some(expected));
    let session = api
        .sessions()
        .get_session(&id)
        .await
        .ok()
        .flatten()
        .map(|s| s.expires_at);
    assert_eq!(session, Some(expected));
    clock.advance(20);
    let response = api.handle(request("GET", "/cart", Some(&token), "")).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "still valid thanks to the write"
    );
}

#[tokio::test]
async fn quantity_validation() {
    let (api, _) = api();
    let token = new_session(&api).await;
    for body in [
        r#"{"quantity": 0}"#,
        r#"{"quantity": 100}"#,
        r#"{"quantity": -1}"#,
        r#"{"quantity": 1.5}"#,
        r#"{"quantity": 100.0}"#,
        r#"{"quantity": 1e300}"#,
        r#"{"quantity": "2"}"#,
        r#"{"quantity": null}"#,
    ] {
        let response = put(&api, &token, "MUG", body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code(&response), "INVALID_QUANTITY", "{body}");
    }
    let response = put(&api, &token, "MUG", "{}").await;
    assert_eq!(
        (response.status(), code(&response)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST".to_owned())
    );
    assert!(
        body_json(&response)["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("quantity"))
    );
    let response = put(&api, &token, "MUG", r#"{"quantity": "#).await;
    assert_eq!(
        (response.status(), code(&response)),
        (StatusCode::BAD_REQUEST, "INVALID_JSON".to_owned())
    );
    let big = format!(r#"{{"quantity": 1, "padding": "{}"}}"#, "x".repeat(20_000));
    let response = put(&api, &token, "MUG", &big).await;
    assert_eq!(
        (response.status(), code(&response)),
        (StatusCode::BAD_REQUEST, "BODY_TOO_LARGE".to_owned())
    );
}

/// Found by the API fuzz run: `2.0` is an integer to JSON Schema, so the document allowed
/// it, and the handler answered 400.
#[tokio::test]
async fn a_whole_number_written_with_a_fraction_is_a_quantity() {
    let (api, _) = api();
    let token = new_session(&api).await;
    let response = put(&api, &token, "MUG", r#"{"quantity": 2.0}"#).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(&response)["items"][0]["quantity"], 2);
}

#[tokio::test]
async fn unknown_sku_stock_and_line_limits() {
    let (api, _) = api();
    let token = new_session(&api).await;
    let response = put(&api, &token, "NOPE", r#"{"quantity": 1}"#).await;
    assert_eq!(
        (response.status(), code(&response)),
        (StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND".to_owned())
    );
    let response = put(&api, &token, "bad_sku", r#"{"quantity": 1}"#).await;
    assert_eq!(
        (response.status(), code(&response)),
        (StatusCode::BAD_REQUEST, "INVALID_SKU".to_owned())
    );
    let response = put(&api, &token, "TSHIRT-M", r#"{"quantity": 4}"#).await;
    assert_eq!(
        (response.status(), code(&response)),
        (StatusCode::CONFLICT, "INSUFFICIENT_STOCK".to_owned())
    );
    assert!(
        body_json(&response)["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("only 3"))
    );
    let response = put(&api, &token, "EMPTY", r#"{"quantity": 1}"#).await;
    assert_eq!(code(&response), "INSUFFICIENT_STOCK");
    let response = put(&api, &token, "TSHIRT-M", r#"{"quantity": 3}"#).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn line_limit_is_enforced() {
    let products = InMemoryProductStore::with_products(
        (0..=crate::cart::MAX_CART_LINES).map(|i| product(&format!("P-{i}"), 1, 9)),
    );
    let api = CartApi::new(
        products,
        InMemorySessionStore::default(),
        InMemoryCartStore::default(),
        crate::auth::InMemoryUserStore::default(),
        TTL,
    );
    let token = {
        let response = api.handle(request("POST", "/sessions", None, "")).await;
        body_json(&response)["token"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_default()
    };
    for i in 0..crate::cart::MAX_CART_LINES {
        let response = api
            .handle(request(
                "PUT",
                &format!("/cart/items/P-{i}"),
                Some(&token),
                r#"{"quantity": 1}"#,
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let last = crate::cart::MAX_CART_LINES;
    let response = api
        .handle(request(
            "PUT",
            &format!("/cart/items/P-{last}"),
            Some(&token),
            r#"{"quantity": 1}"#,
        ))
        .await;
    assert_eq!(
        (response.status(), code(&response)),
        (StatusCode::CONFLICT, "CART_FULL".to_owned())
    );
}

#[tokio::test]
async fn routing_errors() {
    let (api, _) = api();
    let response = api.handle(request("GET", "/nowhere", None, "")).await;
    assert_eq!(
        (response.status(), code(&response)),
        (StatusCode::NOT_FOUND, "NOT_FOUND".to_owned())
    );
    let response = api.handle(request("PATCH", "/cart", None, "")).await;
    assert_eq!(
        (response.status(), code(&response)),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED".to_owned()
        )
    );
    assert_eq!(
        response.headers().get("allow"),
        Some(&HeaderValue::from_static("GET, DELETE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_to_one_cart_all_land() {
    let (api, _) = api();
    let api = Arc::new(api);
    let token = new_session(&api).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (api, token) = (Arc::clone(&api), token.clone());
        tasks.spawn(async move {
            put(&api, &token, &format!("BULK-{i:02}"), r#"{"quantity": 2}"#)
                .await
                .status()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.ok(), Some(StatusCode::OK));
    }
    let body = body_json(&api.handle(request("GET", "/cart", Some(&token), "")).await);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(20));
    assert_eq!(body["version"], 20);
    assert_eq!(body["itemCount"], 40);
}

#[tokio::test]
async fn api_gateway_events_route_by_resource() {
    let (api, _) = api();
    let token = new_session(&api).await;
    let mut req = event("cart-api", "put-item");
    req.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap_or(HeaderValue::from_static("")),
    );
    let response = api.handle(req).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        body_json(&response)
    );
    assert_eq!(
        response
            .headers()
            .get("x-correlation-id")
            .map(|v| v.as_bytes()),
        Some(&b"sample-correlation-id"[..])
    );
    let response = api.handle(event("cart-api", "create-session")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_signed_in_session_works_on_the_users_cart() {
    let (api, _) = api();
    let token = SessionToken::generate().unwrap();
    let session = Session::new_for_user(&token, START, TTL, "user-7", "u7@shop.test", "customer");
    api.sessions().create_session(&session).await.unwrap();

    let response = put(&api, token.expose(), "MUG", r#"{"quantity": 2}"#).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        body_json(&response)
    );
    let user_cart = api
        .carts()
        .get_cart(&crate::auth::user_cart_id("user-7"), START)
        .await
        .unwrap();
    assert_eq!(user_cart.lines.len(), 1, "the line is in the user's cart");
    let session_cart = api.carts().get_cart(&token.id(), START).await.unwrap();
    assert!(session_cart.lines.is_empty(), "not in the session's own");

    let got = api
        .handle(request("GET", "/cart", Some(token.expose()), ""))
        .await;
    assert_eq!(body_json(&got)["itemCount"], 2);
}

#[tokio::test]
async fn behind_the_authorizer_the_cart_is_read_without_the_session() {
    let (api, _) = api();
    // The sample's context names a session that is not in the store: only the authorizer
    // vouches for it, as on AWS.
    let req = event("cart-api", "get-cart-with-authorizer-context");
    let principal = Principal::from_authorizer_context(&req).unwrap();
    let mut cart = Cart::default();
    cart.set_line(Sku::parse("MUG").unwrap(), Quantity::new(3).unwrap())
        .unwrap();
    api.carts()
        .put_cart(&principal.cart_id(), &cart, START, START + TTL)
        .await
        .unwrap();

    let response = api.handle(req).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        body_json(&response)
    );
    assert_eq!(body_json(&response)["itemCount"], 3);
}

#[test]
fn the_write_loop_stops_at_its_attempts_or_its_time_budget_whichever_comes_first() {
    use super::{WRITE_RETRY_BUDGET, may_retry};
    use std::time::Duration;
    assert!(may_retry(2, Duration::ZERO));
    assert!(may_retry(
        MAX_WRITE_ATTEMPTS,
        WRITE_RETRY_BUDGET - Duration::from_millis(1)
    ));
    assert!(!may_retry(MAX_WRITE_ATTEMPTS + 1, Duration::ZERO));
    // A slow store: attempts left, but the time is up (answer 409 well before the function's
    // deadline, never a 502 for an invocation cut off).
    assert!(!may_retry(3, WRITE_RETRY_BUDGET));
    assert!(
        WRITE_RETRY_BUDGET < Duration::from_secs(10),
        "inside the default 10 s timeout"
    );
}
