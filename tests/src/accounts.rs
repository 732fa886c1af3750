//! Sessions, accounts and carts through the API: [`Stack::new_session`], [`Stack::register`],
//! [`Stack::login`], [`Stack::new_user`], [`Stack::shopper`] (a signed-in [`Shopper`] with a
//! cart), [`Stack::admin_token`] ([`ADMIN_EMAIL`]), [`Stack::put_item`]; and what the sessions
//! table holds: [`token_key`], [`Stack::session_table_item`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::{ApiResponse, Stack, unique_email};

/// The demo admin seeded by `make seed`.
pub const ADMIN_EMAIL: &str = "admin@shop.local";
pub const ADMIN_PASSWORD: &str = "admin-password";

/// A signed-in test user.
#[derive(Debug, Clone)]
pub struct Shopper {
    pub email: String,
    pub token: String,
    pub user_id: String,
}

/// The sessions-table key of a session or cart, as the API stores it (hash of the token).
pub fn token_key(prefix: &str, token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}#{hex}")
}

impl Stack {
    /// Creates an anonymous session and returns its bearer token.
    pub async fn new_session(&self) -> String {
        let response = self.call(Method::POST, "/sessions", None, None).await;
        response.expect_status(StatusCode::CREATED);
        response.body["token"]
            .as_str()
            .expect("a token in the session response")
            .to_owned()
    }

    /// `PUT /cart/items/{sku}` with `{"quantity": n}`.
    pub async fn put_item(&self, token: &str, sku: &str, quantity: i64) -> ApiResponse {
        let body = serde_json::json!({ "quantity": quantity }).to_string();
        self.call(
            Method::PUT,
            &format!("/cart/items/{sku}"),
            Some(token),
            Some(body),
        )
        .await
    }

    /// Reads one item of the sessions table by its partition key.
    pub async fn session_table_item(&self, pk: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb()
            .get_item()
            .table_name(self.output("SessionsTableName"))
            .key("pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get a sessions-table item")
            .item
    }

    /// `POST /auth/register`.
    pub async fn register(&self, email: &str, password: &str) -> ApiResponse {
        let body = serde_json::json!({"email": email, "password": password}).to_string();
        self.call(Method::POST, "/auth/register", None, Some(body))
            .await
    }

    /// `POST /auth/login`, optionally with the bearer token of an anonymous session and a
    /// correlation id.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        token: Option<&str>,
        correlation_id: Option<&str>,
    ) -> ApiResponse {
        let body = serde_json::json!({"email": email, "password": password}).to_string();
        let headers: Vec<(&str, &str)> = correlation_id
            .map(|id| ("x-correlation-id", id))
            .into_iter()
            .collect();
        self.call_with_headers(Method::POST, "/auth/login", token, Some(body), &headers)
            .await
    }

    /// Registers a fresh account and logs in; returns (email, token).
    pub async fn new_user(&self, tag: &str, password: &str) -> (String, String) {
        let email = unique_email(tag);
        self.register(&email, password)
            .await
            .expect_status(StatusCode::ACCEPTED);
        let response = self.login(&email, password, None, None).await;
        response.expect_status(StatusCode::OK);
        let token = response.body["token"].as_str().expect("a token").to_owned();
        (email, token)
    }

    /// A bearer token of the demo admin.
    pub async fn admin_token(&self) -> String {
        let response = self.login(ADMIN_EMAIL, ADMIN_PASSWORD, None, None).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "the demo admin logs in (make seed): {}",
            response.body
        );
        response.body["token"].as_str().expect("a token").to_owned()
    }

    /// A fresh signed-in user with `lines` (sku, quantity) in the cart.
    pub async fn shopper(&self, tag: &str, lines: &[(&str, i64)]) -> Shopper {
        let email = unique_email(tag);
        let password = "a-long-password";
        self.register(&email, password)
            .await
            .expect_status(StatusCode::ACCEPTED);
        let response = self.login(&email, password, None, None).await;
        response.expect_status(StatusCode::OK);
        let shopper = Shopper {
            token: response.body["token"].as_str().expect("a token").to_owned(),
            user_id: response.body["userId"]
                .as_str()
                .expect("a userId")
                .to_owned(),
            email,
        };
        for (sku, quantity) in lines {
            self.put_item(&shopper.token, sku, *quantity)
                .await
                .expect_status(StatusCode::OK);
        }
        shopper
    }
}
