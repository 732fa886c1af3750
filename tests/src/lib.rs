//! Helpers for the integration tests: where the deployed stack is, an HTTP client for its
//! API, and direct DynamoDB access to check what the API stored.
//!
//! The stack outputs come from the file `make up` writes (`.local/stack-outputs.json`),
//! or from the path in `SHOP_STACK_OUTPUTS`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test code: fail loudly

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The deployed stack, as described by its CloudFormation outputs.
#[derive(Debug, Clone)]
pub struct Stack {
    outputs: HashMap<String, String>,
    http: reqwest::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

impl Stack {
    /// Loads the outputs written by `make up`. Panics with a hint when the stack is not up.
    pub async fn load() -> Self {
        let path = std::env::var_os("SHOP_STACK_OUTPUTS").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.local/stack-outputs.json"),
            PathBuf::from,
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read stack outputs at {}: {e}; run `make up` first",
                path.display()
            )
        });
        let outputs: HashMap<String, String> =
            serde_json::from_str(&text).expect("stack outputs are a JSON object of strings");
        let config = aws_config::load_from_env().await;
        Self {
            outputs,
            http: reqwest::Client::new(),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
        }
    }

    pub fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("stack output {key} is missing"))
    }

    pub fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        &self.dynamodb
    }

    /// Sends a request to the API; `path` starts with `/` and is relative to the stage.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> ApiResponse {
        let url = format!("{}{path}", self.output("ApiBaseUrl"));
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"))
        };
        ApiResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> ApiResponse {
        self.call(Method::GET, path, token, None).await
    }

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

    /// Puts a product straight into the products table, so a test owns its fixtures.
    pub async fn create_product(&self, sku: &str, price_minor: i64, stock: u32) {
        self.dynamodb
            .put_item()
            .table_name(self.output("ProductsTableName"))
            .item("sku", AttributeValue::S(sku.to_owned()))
            .item("name", AttributeValue::S(format!("Test product {sku}")))
            .item(
                "description",
                AttributeValue::S("Integration test fixture".into()),
            )
            .item("price_minor", AttributeValue::N(price_minor.to_string()))
            .item("currency", AttributeValue::S("EUR".into()))
            .item("stock", AttributeValue::N(stock.to_string()))
            .send()
            .await
            .expect("put a test product");
    }

    /// Reads one item of the sessions table by its partition key.
    pub async fn session_table_item(&self, pk: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(self.output("SessionsTableName"))
            .key("pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get a sessions-table item")
            .item
    }
}

/// A response from the API with its JSON body (Null when empty).
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl ApiResponse {
    pub fn expect_status(&self, status: StatusCode) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts an error response: the status and the `error.code` of the JSON body.
    pub fn expect_error(&self, status: StatusCode, code: &str) -> &Self {
        self.expect_status(status);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        let message = self.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "an error names the problem: {}",
            self.body
        );
        self
    }
}

/// A fresh, valid, unique sku for a test fixture (e.g. `T-1A2B3C4D-0`).
pub fn unique_sku(n: usize) -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("random bytes");
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!("T-{hex}-{n}")
}

/// The sessions-table key of a session or cart, as the API stores it (hash of the token).
pub fn token_key(prefix: &str, token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}#{hex}")
}

pub fn now_epoch_seconds() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(now.as_secs()).expect("seconds fit in i64")
}

/// A numeric attribute of a DynamoDB item.
pub fn number(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().expect("a DynamoDB number"),
        other => panic!("attribute {name} is not a number: {other:?}"),
    }
}
