//! Sessions and carts through API Gateway, with the DynamoDB items they leave behind.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use shop_tests::{Stack, now_epoch_seconds, number, token_key, unique_sku};

#[tokio::test]
async fn a_new_session_has_an_empty_cart() {
    let stack = Stack::load().await;
    let response = stack.call(Method::POST, "/sessions", None, None).await;
    response.expect_status(StatusCode::CREATED);
    let token = response.body["token"].as_str().expect("token");
    assert!(token.len() >= 32, "an opaque random token: {token}");
    assert!(response.body["expiresAt"].is_string());

    let cart = stack.get("/cart", Some(token)).await;
    cart.expect_status(StatusCode::OK);
    assert_eq!(cart.body["items"], serde_json::json!([]));
    assert_eq!(cart.body["total"]["amount"], 0);
    assert_eq!(cart.body["itemCount"], 0);
}

#[tokio::test]
async fn the_token_is_stored_only_as_a_hash() {
    let stack = Stack::load().await;
    let token = stack.new_session().await;
    let item = stack
        .session_table_item(&token_key("SESSION", &token))
        .await
        .expect("the session item is keyed by the token's hash");
    for value in item.values() {
        if let AttributeValue::S(s) = value {
            assert!(!s.contains(&token), "the raw token is never stored");
        }
    }
}

#[tokio::test]
async fn items_are_added_updated_and_removed_with_totals_from_catalog_prices() {
    let stack = Stack::load().await;
    let (a, b) = (unique_sku(1), unique_sku(2));
    stack.create_product(&a, 1_250, 50).await;
    stack.create_product(&b, 399, 50).await;
    let token = stack.new_session().await;

    let cart = stack.put_item(&token, &a, 2).await;
    cart.expect_status(StatusCode::OK);
    assert_eq!(cart.body["total"]["amount"], 2_500);

    let cart = stack.put_item(&token, &b, 3).await;
    cart.expect_status(StatusCode::OK);
    assert_eq!(cart.body["total"]["amount"], 2_500 + 1_197);
    assert_eq!(cart.body["itemCount"], 5);

    // Setting a quantity replaces it.
    let cart = stack.put_item(&token, &a, 1).await;
    assert_eq!(cart.body["total"]["amount"], 1_250 + 1_197);
    let line = cart.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|l| l["sku"] == a.as_str())
        .expect("line for a")
        .clone();
    assert_eq!(line["quantity"], 1);
    assert_eq!(line["unitPrice"]["amount"], 1_250);
    assert_eq!(line["lineTotal"]["amount"], 1_250);

    // Totals follow the current catalog price, not the price when the item was added: within
    // the price cache's lifetime (CartPriceCacheSeconds, 10 s) the cart may still show the old
    // one, never anything else, and after it the new one.
    stack.create_product(&b, 500, 50).await;
    let changed = std::time::Instant::now();
    loop {
        let cart = stack.get("/cart", Some(&token)).await;
        let total = cart.body["total"]["amount"].clone();
        if total == 1_250 + 1_500 {
            break;
        }
        assert_eq!(total, 1_250 + 1_197, "the old price or the new one");
        assert!(
            changed.elapsed() < std::time::Duration::from_secs(12),
            "the cart still showed the old price {:?} after the change",
            changed.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    let cart = stack
        .call(
            Method::DELETE,
            &format!("/cart/items/{a}"),
            Some(&token),
            None,
        )
        .await;
    cart.expect_status(StatusCode::OK);
    let items = cart.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["sku"], b.as_str());
    // Another execution environment may still hold the old price for the rest of its cache
    // lifetime; either way the total is the remaining line's.
    assert_eq!(cart.body["total"], items[0]["lineTotal"]);

    stack
        .call(Method::DELETE, "/cart", Some(&token), None)
        .await
        .expect_status(StatusCode::NO_CONTENT);
    let cart = stack.get("/cart", Some(&token)).await;
    assert_eq!(cart.body["itemCount"], 0);
}

#[tokio::test]
async fn cart_routes_need_a_valid_unexpired_session() {
    let stack = Stack::load().await;
    stack
        .get("/cart", None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    stack
        .get("/cart", Some("not-a-session-token"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    // A session past its expiry is refused even before DynamoDB's TTL sweep deletes it.
    let token = stack.new_session().await;
    stack
        .dynamodb()
        .update_item()
        .table_name(stack.output("SessionsTableName"))
        .key("pk", AttributeValue::S(token_key("SESSION", &token)))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            AttributeValue::N((now_epoch_seconds() - 60).to_string()),
        )
        .send()
        .await
        .expect("expire the session");
    stack
        .get("/cart", Some(&token))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    stack
        .put_item(&token, &unique_sku(3), 1)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[tokio::test]
async fn bad_quantities_unknown_skus_and_low_stock_are_refused_with_reasons() {
    let stack = Stack::load().await;
    let sku = unique_sku(4);
    stack.create_product(&sku, 100, 5).await;
    let token = stack.new_session().await;

    for quantity in [0, 100, -1] {
        stack
            .put_item(&token, &sku, quantity)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "INVALID_QUANTITY");
    }
    stack
        .call(
            Method::PUT,
            &format!("/cart/items/{sku}"),
            Some(&token),
            Some(r#"{"quantity": "two"}"#.into()),
        )
        .await
        .expect_status(StatusCode::BAD_REQUEST);

    stack
        .put_item(&token, &unique_sku(5), 1)
        .await
        .expect_error(StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND");

    let refused = stack.put_item(&token, &sku, 6).await;
    refused.expect_error(StatusCode::CONFLICT, "INSUFFICIENT_STOCK");
    let message = refused.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains('5'),
        "says how many are available: {message}"
    );

    // Nothing was half-written by the refused requests.
    let cart = stack.get("/cart", Some(&token)).await;
    assert_eq!(cart.body["itemCount"], 0);
    stack
        .put_item(&token, &sku, 5)
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn malformed_oversized_or_non_json_bodies_are_refused_naming_the_problem() {
    let stack = Stack::load().await;
    let sku = unique_sku(6);
    stack.create_product(&sku, 100, 5).await;
    let token = stack.new_session().await;
    let path = format!("/cart/items/{sku}");

    stack
        .call(
            Method::PUT,
            &path,
            Some(&token),
            Some("{\"quantity\": ".into()),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, "INVALID_JSON");
    stack
        .call(Method::PUT, &path, Some(&token), Some("{}".into()))
        .await
        .expect_status(StatusCode::BAD_REQUEST);
    let huge = format!(
        r#"{{"quantity": 1, "padding": "{}"}}"#,
        "x".repeat(64 * 1024)
    );
    stack
        .call(Method::PUT, &path, Some(&token), Some(huge))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "BODY_TOO_LARGE");
    // What `curl -d` sends without -H 'Content-Type: application/json'.
    stack
        .call_with_content_type(
            Method::PUT,
            &path,
            Some(&token),
            Some(r#"{"quantity": 1}"#.into()),
            "application/x-www-form-urlencoded",
        )
        .await
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE");
    let cart = stack.get("/cart", Some(&token)).await;
    assert_eq!(cart.body["itemCount"], 0, "nothing was written");
}

#[tokio::test]
async fn twenty_concurrent_writes_to_one_cart_all_land() {
    let stack = Stack::load().await;
    let skus: Vec<String> = (0..20).map(|n| unique_sku(100 + n)).collect();
    for sku in &skus {
        stack.create_product(sku, 100, 99).await;
    }
    let token = stack.new_session().await;

    let mut writes = tokio::task::JoinSet::new();
    for (n, sku) in skus.iter().enumerate() {
        let (stack, token, sku) = (stack.clone(), token.clone(), sku.clone());
        let quantity = i64::try_from(n % 5 + 1).expect("small");
        writes.spawn(async move {
            // A write that kept losing for the function's retry budget answers 409
            // CART_CONFLICT, "retry the request": a client does, backing off as it should
            // (without the pause, 20 writers retrying at once on a loaded LocalStack kept
            // colliding: one still had 409 after three immediate retries).
            let mut response = stack.put_item(&token, &sku, quantity).await;
            for retry in 1..=5u64 {
                if response.status != StatusCode::CONFLICT {
                    break;
                }
                assert_eq!(
                    response.body["error"]["code"], "CART_CONFLICT",
                    "{}",
                    response.body
                );
                // Spread apart by their index rather than at random: the same each run.
                let spread = 20 * u64::try_from(n).expect("small");
                tokio::time::sleep(Duration::from_millis(200 * retry + spread)).await;
                response = stack.put_item(&token, &sku, quantity).await;
            }
            (response.status, quantity)
        });
    }
    let mut expected_units = 0;
    while let Some(result) = writes.join_next().await {
        let (status, quantity) = result.expect("the write task ran");
        assert_eq!(status, StatusCode::OK);
        expected_units += quantity;
    }

    let cart = stack.get("/cart", Some(&token)).await;
    assert_eq!(
        cart.body["items"].as_array().expect("items").len(),
        20,
        "{}",
        cart.body
    );
    assert_eq!(cart.body["itemCount"], expected_units);
    assert_eq!(cart.body["total"]["amount"], expected_units * 100);
}

#[tokio::test]
async fn every_cart_write_sets_and_refreshes_the_ttl() {
    let stack = Stack::load().await;
    let sku = unique_sku(7);
    stack.create_product(&sku, 100, 10).await;
    let token = stack.new_session().await;
    let session_key = token_key("SESSION", &token);
    let cart_key = token_key("CART", &token);

    let session = stack
        .session_table_item(&session_key)
        .await
        .expect("session item");
    let first_session_expiry = number(&session, "expires_at");
    assert!(
        first_session_expiry > now_epoch_seconds(),
        "a TTL in the future"
    );

    stack
        .put_item(&token, &sku, 1)
        .await
        .expect_status(StatusCode::OK);
    let cart = stack
        .session_table_item(&cart_key)
        .await
        .expect("cart item");
    let first_cart_expiry = number(&cart, "expires_at");
    assert!(first_cart_expiry > now_epoch_seconds());

    // TTLs are in whole seconds: wait past the next second, then write again.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    stack
        .put_item(&token, &sku, 2)
        .await
        .expect_status(StatusCode::OK);

    let cart = stack
        .session_table_item(&cart_key)
        .await
        .expect("cart item");
    assert!(
        number(&cart, "expires_at") > first_cart_expiry,
        "cart TTL refreshed"
    );
    let session = stack
        .session_table_item(&session_key)
        .await
        .expect("session item");
    assert!(
        number(&session, "expires_at") > first_session_expiry,
        "session TTL refreshed"
    );
}
