//! The catalog through API Gateway: paging, lookups and their errors.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashSet;

use reqwest::StatusCode;
use shop_tests::{Stack, unique_sku};

#[tokio::test]
async fn listing_pages_through_the_whole_catalog_without_gaps_or_repeats() {
    let stack = Stack::load().await;
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/products?limit=7&cursor={c}"),
            None => "/products?limit=7".to_owned(),
        };
        let page = stack.get(&path, None).await;
        page.expect_status(StatusCode::OK);
        let items = page.body["items"].as_array().expect("items array");
        assert!(items.len() <= 7, "a page holds at most `limit` items");
        for item in items {
            let sku = item["sku"].as_str().expect("sku").to_owned();
            assert!(
                item["price"]["amount"].is_i64(),
                "price in minor units: {item}"
            );
            assert_eq!(item["price"]["currency"], "EUR");
            assert!(
                seen.insert(sku),
                "a product appears on one page only: {item}"
            );
        }
        pages += 1;
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 100, "paging terminates");
    }
    // The seeded catalog has about 30 products, so several pages were needed.
    assert!(seen.len() >= 30, "only {} products seen", seen.len());
    assert!(pages >= 5, "only {pages} pages");
}

#[tokio::test]
async fn default_page_size_is_twenty() {
    let stack = Stack::load().await;
    let page = stack.get("/products", None).await;
    page.expect_status(StatusCode::OK);
    assert_eq!(page.body["items"].as_array().expect("items").len(), 20);
    assert!(page.body["nextCursor"].is_string());
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_a_400_naming_it() {
    let stack = Stack::load().await;
    for path in [
        "/products?limit=0",
        "/products?limit=101",
        "/products?limit=abc",
    ] {
        let response = stack.get(path, None).await;
        response.expect_status(StatusCode::BAD_REQUEST);
        let message = response.body["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("limit"), "{path}: {}", response.body);
    }
    let response = stack.get("/products?cursor=%25%25not-a-cursor", None).await;
    response.expect_status(StatusCode::BAD_REQUEST);
    let message = response.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("cursor"), "{}", response.body);
}

#[tokio::test]
async fn a_product_is_found_by_sku() {
    let stack = Stack::load().await;
    let sku = unique_sku(0);
    stack.create_product(&sku, 1_999, 12).await;

    let response = stack.get(&format!("/products/{sku}"), None).await;
    response.expect_status(StatusCode::OK);
    assert_eq!(response.body["sku"], sku.as_str());
    assert_eq!(response.body["price"]["amount"], 1_999);
    assert_eq!(response.body["price"]["currency"], "EUR");
    assert_eq!(response.body["stock"], 12);
}

#[tokio::test]
async fn an_unknown_sku_is_a_404_and_a_malformed_one_a_400() {
    let stack = Stack::load().await;
    stack
        .get(&format!("/products/{}", unique_sku(9)), None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND");
    let response = stack.get("/products/not%20a%20sku", None).await;
    response.expect_status(StatusCode::BAD_REQUEST);
}
