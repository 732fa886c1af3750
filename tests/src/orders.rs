//! Checkout and orders (`statemachines/README.md` is the contract): [`Stack::checkout`],
//! [`Stack::place_order`], [`Stack::order`], [`Stack::order_action`],
//! [`Stack::wait_for_order`] ([`TERMINAL`]); the orders and products tables:
//! [`Stack::order_item`], [`Stack::orders_of_product`], [`Stack::stock`]; the stock invariant
//! every checkout test ends with, [`Stack::assert_stock_conserved`] ([`SETTLED`]); and the
//! API's derivations [`order_id_of`] and [`units_of`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{ApiResponse, Stack, eventually, number, text, unique_key};

/// Statuses after which an order no longer changes by itself (`CONFIRMED` moves on to
/// `FULFILLED` when the cancel window ends, so it is not one of them).
pub const TERMINAL: [&str; 4] = ["FULFILLED", "FAILED", "REJECTED", "CANCELLED"];

/// Statuses in which an order holds no stock it is about to give back or take: the
/// terminal ones and `CONFIRMED`. The stock invariant is checked only when every order of
/// a product is settled.
pub const SETTLED: [&str; 5] = ["CONFIRMED", "FULFILLED", "FAILED", "REJECTED", "CANCELLED"];

/// The units of `sku` in an order's `items_json` (0 when absent or not priced yet).
pub fn units_of(items_json: &str, sku: &str) -> i64 {
    let lines: Value = serde_json::from_str(items_json).unwrap_or(Value::Null);
    lines
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter(|l| l["sku"] == sku)
                .filter_map(|l| l["quantity"].as_i64())
                .sum()
        })
        .unwrap_or(0)
}

/// The order id the API derives for a user and an Idempotency-Key
/// (`ord_` + 32 hex digits of SHA-256(`<userId>\n<key>`)).
pub fn order_id_of(user_id: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{user_id}\n{key}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("ord_{}", &hex[..32])
}

impl Stack {
    /// `POST /checkout` with `{"paymentToken": ...}` and, if given, an `Idempotency-Key`.
    pub async fn checkout(
        &self,
        token: &str,
        idempotency_key: Option<&str>,
        payment_token: &str,
    ) -> ApiResponse {
        let body = serde_json::json!({ "paymentToken": payment_token }).to_string();
        let headers: Vec<(&str, &str)> = idempotency_key
            .map(|k| vec![("Idempotency-Key", k)])
            .unwrap_or_default();
        self.call_with_headers(Method::POST, "/checkout", Some(token), Some(body), &headers)
            .await
    }

    /// Checks out with a fresh key; asserts 202 and returns the order id.
    pub async fn place_order(&self, token: &str, payment_token: &str) -> String {
        let response = self
            .checkout(token, Some(&unique_key()), payment_token)
            .await;
        response.expect_status(StatusCode::ACCEPTED);
        let id = response.body["orderId"]
            .as_str()
            .unwrap_or_else(|| panic!("an orderId: {}", response.body))
            .to_owned();
        assert!(id.starts_with("ord_"), "order id {id}");
        id
    }

    /// `GET /orders/{id}`.
    pub async fn order(&self, token: &str, order_id: &str) -> ApiResponse {
        self.call_with_headers(
            Method::GET,
            &format!("/orders/{order_id}"),
            Some(token),
            None,
            &[],
        )
        .await
    }

    /// `POST /orders/{id}/{action}` (cancel, approve, reject).
    pub async fn order_action(&self, token: &str, order_id: &str, action: &str) -> ApiResponse {
        self.call(
            Method::POST,
            &format!("/orders/{order_id}/{action}"),
            Some(token),
            None,
        )
        .await
    }

    /// Polls `GET /orders/{id}` (with the tests' [`Backoff`](crate::poll::Backoff)) until its
    /// status is one of `wanted`; returns the order.
    /// Fails at once if the order settles in a terminal status that is not wanted.
    pub async fn wait_for_order(
        &self,
        token: &str,
        order_id: &str,
        wanted: &[&str],
        timeout: std::time::Duration,
    ) -> Value {
        let deadline = std::time::Instant::now() + timeout;
        let mut backoff = crate::poll::Backoff::default();
        loop {
            let response = self.order(token, order_id).await;
            response.expect_status(StatusCode::OK);
            let status = response.body["status"].as_str().unwrap_or_default();
            if wanted.contains(&status) {
                return response.body;
            }
            assert!(
                !TERMINAL.contains(&status),
                "order {order_id} ended {status}, wanted {wanted:?}: {}",
                response.body
            );
            assert!(
                std::time::Instant::now() < deadline,
                "timed out after {timeout:?} waiting for order {order_id} to be {wanted:?}; last: {}",
                response.body
            );
            backoff.wait().await;
        }
    }

    /// (stock, ids of the orders holding a reservation item) of a product.
    pub async fn stock(&self, sku: &str) -> (i64, Vec<String>) {
        let item = self
            .dynamodb()
            .get_item()
            .table_name(self.output("ProductsTableName"))
            .key("sku", AttributeValue::S(sku.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get a product")
            .item
            .unwrap_or_else(|| panic!("product {sku} exists"));
        let reserved = self
            .reservations(sku)
            .await
            .into_iter()
            .map(|(order_id, _)| order_id)
            .collect();
        (number(&item, "stock"), reserved)
    }

    /// The reservation items of a product: (order id, units held), in order id order.
    pub async fn reservations(&self, sku: &str) -> Vec<(String, i64)> {
        self.dynamodb()
            .query()
            .table_name(self.output("ReservationsTableName"))
            .key_condition_expression("sku = :sku")
            .expression_attribute_values(":sku", AttributeValue::S(sku.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("query the reservations table")
            .iter()
            .map(|item| (text(item, "order_id"), number(item, "quantity")))
            .collect()
    }

    /// The orders table item of an order.
    pub async fn order_item(&self, order_id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb()
            .get_item()
            .table_name(self.output("OrdersTableName"))
            .key("order_id", AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get an order item")
            .item
    }

    /// Every order whose priced lines name `sku`: (order id, status, units of `sku`).
    pub async fn orders_of_product(&self, sku: &str) -> Vec<(String, String, i64)> {
        self.dynamodb()
            .scan()
            .table_name(self.output("OrdersTableName"))
            .filter_expression("contains(items_json, :sku)")
            .expression_attribute_values(":sku", AttributeValue::S(format!("\"{sku}\"")))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("scan the orders table")
            .iter()
            .filter_map(|item| {
                let units = units_of(&text(item, "items_json"), sku);
                (units > 0).then(|| (text(item, "order_id"), text(item, "status"), units))
            })
            .collect()
    }

    /// The invariant every checkout test ends with: once every order of these products is
    /// settled, for each product `stock + units in CONFIRMED/FULFILLED orders = initial`,
    /// stock is never negative, only confirmed (or just fulfilled) orders hold a reservation
    /// item, holding exactly their units (and every `CONFIRMED` one does: its cancellation
    /// releases it).
    pub async fn assert_stock_conserved(&self, products: &[(&str, i64)]) {
        for (sku, initial) in products {
            let orders = eventually(
                &format!("every order of {sku} settled"),
                std::time::Duration::from_secs(90),
                || async {
                    let orders = self.orders_of_product(sku).await;
                    orders
                        .iter()
                        .all(|(_, status, _)| SETTLED.contains(&status.as_str()))
                        .then_some(orders)
                },
            )
            .await;
            let (stock, reserved) = self.stock(sku).await;
            // Each reservation item holds exactly its order's units of the product.
            for (id, units) in self.reservations(sku).await {
                let ordered = orders.iter().find(|(o, _, _)| *o == id).map(|(_, _, u)| *u);
                assert_eq!(
                    ordered,
                    Some(units),
                    "{sku}: reservation of order {id} holds {units} units"
                );
            }
            let sold: i64 = orders
                .iter()
                .filter(|(_, s, _)| s == "CONFIRMED" || s == "FULFILLED")
                .map(|(_, _, units)| units)
                .sum();
            assert!(stock >= 0, "{sku}: negative stock {stock}");
            assert_eq!(
                stock + sold,
                *initial,
                "{sku}: stock {stock} + {sold} units in confirmed orders != initial {initial}; orders: {orders:?}"
            );
            for id in &reserved {
                let status = orders
                    .iter()
                    .find(|(o, _, _)| o == id)
                    .map(|(_, s, _)| s.as_str());
                assert!(
                    matches!(status, Some("CONFIRMED" | "FULFILLED")),
                    "{sku}: order {id} ({status:?}) still holds a reservation"
                );
            }
            for (id, status, _) in &orders {
                if status == "CONFIRMED" {
                    assert!(
                        reserved.contains(id),
                        "{sku}: confirmed order {id} holds no reservation"
                    );
                }
            }
        }
    }
}
