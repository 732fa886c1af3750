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
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    lambda: aws_sdk_lambda::Client,
    sfn: aws_sdk_sfn::Client,
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
        let config = lambda_kit::aws::sdk_config().await;
        Self {
            outputs,
            http: reqwest::Client::new(),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
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

    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    pub fn sns(&self) -> &aws_sdk_sns::Client {
        &self.sns
    }

    pub fn lambda(&self) -> &aws_sdk_lambda::Client {
        &self.lambda
    }

    pub fn sfn(&self) -> &aws_sdk_sfn::Client {
        &self.sfn
    }

    /// Sends a request to the API; `path` starts with `/` and is relative to the stage.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> ApiResponse {
        self.call_with_content_type(method, path, token, body, "application/json")
            .await
    }

    /// Like [`Stack::call`], with the body sent under `content_type`.
    pub async fn call_with_content_type(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        content_type: &str,
    ) -> ApiResponse {
        let body = body.map(|body| (content_type, body));
        self.send(method, path, token, body, &[]).await
    }

    /// Like [`Stack::call`], with extra request headers.
    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> ApiResponse {
        let body = body.map(|body| ("application/json", body));
        self.send(method, path, token, body, headers).await
    }

    /// The one place requests are built and answers read: bearer token, extra headers, a body
    /// with its content type; the answer's body must be JSON (or empty).
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
        headers: &[(&str, &str)],
    ) -> ApiResponse {
        let url = format!("{}{path}", self.output("ApiBaseUrl"));
        let build = || {
            let mut request = self.http.request(method.clone(), &url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some((content_type, body)) = &body {
                request = request
                    .header("content-type", *content_type)
                    .body(body.clone());
            }
            request
        };
        // A GET is safe to repeat when the connection drops (LocalStack's gateway under
        // load); anything else fails the test at once.
        let mut attempt = 1;
        let response = loop {
            match build().send().await {
                Ok(response) => break response,
                Err(_) if method == Method::GET && attempt < 3 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(e) => panic!("the API answers {method} {path}: {e}"),
            }
        };
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

/// Polls `check` every 250 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// A fresh e-mail for a test account.
pub fn unique_email(tag: &str) -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random bytes");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{tag}-{hex}@test.local")
}

/// A fresh random id (UUID-shaped) for events and correlation ids.
pub fn unique_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("random bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A well-formed session token (32 random bytes, base64url) that the API never issued.
pub fn random_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("random bytes");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The consumers: crate name and stack output prefix.
pub const CONSUMERS: [(&str, &str); 4] = [
    ("audit-log", "AuditLog"),
    ("analytics", "Analytics"),
    ("fraud-detector", "FraudDetector"),
    ("notifier", "Notifier"),
];

impl Stack {
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
            .expect_status(StatusCode::CREATED);
        let response = self.login(&email, password, None, None).await;
        response.expect_status(StatusCode::OK);
        let token = response.body["token"].as_str().expect("a token").to_owned();
        (email, token)
    }

    /// Whether `consumer` has finished processing `event_id` (its idempotency record).
    pub async fn processed_by(&self, consumer: &str, event_id: &str) -> bool {
        let item = self
            .dynamodb
            .get_item()
            .table_name(self.output("IdempotencyTableName"))
            .key("pk", AttributeValue::S(format!("{consumer}#{event_id}")))
            .consistent_read(true)
            .send()
            .await
            .expect("get an idempotency record")
            .item;
        matches!(item.as_ref().and_then(|i| i.get("status")), Some(AttributeValue::S(s)) if s == "DONE")
    }

    /// Audit entries with this correlation id: (event id, event type).
    pub async fn audit_by_correlation(&self, correlation_id: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(self.output("AuditTableName"))
                .filter_expression("correlation_id = :c")
                .expression_attribute_values(":c", AttributeValue::S(correlation_id.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan the audit table");
            for item in page.items() {
                let text = |name: &str| match item.get(name) {
                    Some(AttributeValue::S(s)) => s.clone(),
                    _ => String::new(),
                };
                found.push((text("event_id"), text("event_type")));
            }
            match page.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => return found,
            }
        }
    }

    /// Whether the audit table has an entry for `event_id`.
    pub async fn audited(&self, event_id: &str) -> bool {
        self.dynamodb
            .get_item()
            .table_name(self.output("AuditTableName"))
            .key("event_id", AttributeValue::S(event_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get an audit entry")
            .item
            .is_some()
    }

    /// A daily counter of the analytics table (0 when absent).
    pub async fn counter(&self, day: &str, name: &str) -> i64 {
        let item = self
            .dynamodb
            .get_item()
            .table_name(self.output("AnalyticsTableName"))
            .key("day", AttributeValue::S(day.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get a counter item")
            .item;
        item.and_then(|i| match i.get(name) {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        })
        .unwrap_or(0)
    }

    /// Notifications recorded for `email`: their kinds.
    pub async fn notifications(&self, email: &str) -> Vec<String> {
        let output = self
            .dynamodb
            .query()
            .table_name(self.output("NotificationsTableName"))
            .key_condition_expression("recipient = :r")
            .expression_attribute_values(":r", AttributeValue::S(email.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("query notifications");
        output
            .items()
            .iter()
            .filter_map(|i| match i.get("kind") {
                Some(AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// Publishes a raw message to the events topic, with `eventType` as a message attribute
    /// (as the producers do).
    pub async fn publish_raw(&self, body: &str, event_type: &str) {
        let attribute = aws_sdk_sns::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(event_type)
            .build()
            .expect("an attribute");
        self.sns
            .publish()
            .topic_arn(self.output("EventsTopicArn"))
            .message(body)
            .message_attributes("eventType", attribute)
            .send()
            .await
            .expect("publish to the events topic");
    }

    /// (visible, in flight) messages of a queue.
    pub async fn queue_depth(&self, url: &str) -> (i64, i64) {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        let get = |a: A| attributes.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
        (
            get(A::ApproximateNumberOfMessages),
            get(A::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// The bodies of the messages now visible in a queue, without consuming them
    /// (received with a zero visibility timeout).
    pub async fn peek(&self, url: &str) -> Vec<String> {
        let mut bodies = Vec::new();
        for _ in 0..3 {
            let output = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .send()
                .await
                .expect("receive from a queue");
            bodies.extend(
                output
                    .messages()
                    .iter()
                    .filter_map(|m| m.body().map(str::to_owned)),
            );
        }
        bodies
    }

    /// Whether a message whose body contains `needle` is visible in a queue (see [`Stack::peek`]).
    pub async fn holds(&self, url: &str, needle: &str) -> bool {
        self.peek(url)
            .await
            .iter()
            .any(|body| body.contains(needle))
    }

    /// Invokes a function directly; returns (function error, payload).
    pub async fn invoke(&self, function: &str, payload: &Value) -> (Option<String>, Value) {
        let output = self
            .lambda
            .invoke()
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
            .send()
            .await
            .expect("invoke the function");
        let body = output
            .payload()
            .map(|p| serde_json::from_slice(p.as_ref()).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        (output.function_error().map(str::to_owned), body)
    }
}

/// The DLQ runbook: `make redrive QUEUE=<consumer>` (moves a DLQ's messages back to its queue);
/// returns its exit code.
pub fn make_redrive(consumer: &str) -> Option<i32> {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    std::process::Command::new("make")
        .args(["--no-print-directory", "-s", "-C", repo, "redrive"])
        .arg(format!("QUEUE={consumer}"))
        .status()
        .expect("run make redrive")
        .code()
}

impl Stack {
    /// Sends `body` straight to a FIFO queue in message group `group`.
    pub async fn send_fifo(&self, url: &str, group: &str, dedup_id: &str, body: &str) {
        self.sqs
            .send_message()
            .queue_url(url)
            .message_group_id(group)
            .message_deduplication_id(dedup_id)
            .message_body(body)
            .send()
            .await
            .expect("send to a FIFO queue");
    }
}

/// An event envelope as the producers publish it.
pub fn envelope(
    event_id: &str,
    event_type: &str,
    occurred_at: &str,
    correlation_id: &str,
    detail: &Value,
) -> String {
    serde_json::json!({
        "eventId": event_id,
        "eventType": event_type,
        "eventVersion": 1,
        "occurredAt": occurred_at,
        "correlationId": correlation_id,
        "source": "shop-tests",
        "detail": detail,
    })
    .to_string()
}

// ---------------------------------------------------------------------------------------
// Checkout and orders (statemachines/README.md is the contract).

/// Statuses after which an order no longer changes by itself (`CONFIRMED` moves on to
/// `FULFILLED` when the cancel window ends, so it is not one of them).
pub const TERMINAL: [&str; 4] = ["FULFILLED", "FAILED", "REJECTED", "CANCELLED"];

/// Statuses in which an order holds no stock it is about to give back or take: the
/// terminal ones and `CONFIRMED`. The stock invariant is checked only when every order of
/// a product is settled.
pub const SETTLED: [&str; 5] = ["CONFIRMED", "FULFILLED", "FAILED", "REJECTED", "CANCELLED"];

/// The demo admin seeded by `make seed`.
pub const ADMIN_EMAIL: &str = "admin@shop.local";
pub const ADMIN_PASSWORD: &str = "admin-password";

/// `n` fresh skus of one family (`T-1A2B3C4D-1` …), which sort in the order given: the
/// workflow prices and reserves lines in sku order.
pub fn unique_skus(n: usize) -> Vec<String> {
    let first = unique_sku(1);
    let family = first.trim_end_matches("-1");
    (1..=n).map(|i| format!("{family}-{i}")).collect()
}

/// A fresh Idempotency-Key.
pub fn unique_key() -> String {
    format!("k-{}", unique_id())
}

/// A signed-in test user.
#[derive(Debug, Clone)]
pub struct Shopper {
    pub email: String,
    pub token: String,
    pub user_id: String,
}

/// One entry of the payments ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub seq: String,
    pub kind: String,
    pub operation_id: String,
    pub amount_minor: i64,
}

/// A string attribute of a DynamoDB item ("" when absent).
pub fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::N(n)) => n.clone(),
        _ => String::new(),
    }
}

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

impl Stack {
    /// A numeric stack output (a tunable of the local stack), or `default` when the stack
    /// does not export it.
    pub fn tunable(&self, key: &str, default: u64) -> u64 {
        self.outputs
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

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

    /// Polls `GET /orders/{id}` until its status is one of `wanted`; returns the order.
    /// Fails at once if the order settles in a terminal status that is not wanted.
    pub async fn wait_for_order(
        &self,
        token: &str,
        order_id: &str,
        wanted: &[&str],
        timeout: std::time::Duration,
    ) -> Value {
        let deadline = std::time::Instant::now() + timeout;
        // Every poll is an API Gateway + Lambda call on the same two cores as the workflow:
        // start fast (approvals and the cancel window need a quick reaction), then back off.
        let mut pause = std::time::Duration::from_millis(250);
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
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(std::time::Duration::from_secs(1));
        }
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
            .expect_status(StatusCode::CREATED);
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

    /// (stock, order ids in `reserved_for`) of a product.
    pub async fn stock(&self, sku: &str) -> (i64, Vec<String>) {
        let item = self
            .dynamodb
            .get_item()
            .table_name(self.output("ProductsTableName"))
            .key("sku", AttributeValue::S(sku.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get a product")
            .item
            .unwrap_or_else(|| panic!("product {sku} exists"));
        let reserved = match item.get("reserved_for") {
            Some(AttributeValue::Ss(ids)) => ids.clone(),
            _ => Vec::new(),
        };
        (number(&item, "stock"), reserved)
    }

    /// The orders table item of an order.
    pub async fn order_item(&self, order_id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
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
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(self.output("OrdersTableName"))
                .filter_expression("contains(items_json, :sku)")
                .expression_attribute_values(":sku", AttributeValue::S(format!("\"{sku}\"")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan the orders table");
            for item in page.items() {
                let units = units_of(&text(item, "items_json"), sku);
                if units > 0 {
                    found.push((text(item, "order_id"), text(item, "status"), units));
                }
            }
            match page.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => return found,
            }
        }
    }

    /// The invariant every checkout test ends with: once every order of these products is
    /// settled, for each product `stock + units in CONFIRMED/FULFILLED orders = initial`,
    /// stock is never negative, and only confirmed orders hold a reservation marker (and every
    /// `CONFIRMED` one does: its cancellation needs it).
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
                    "{sku}: order {id} ({status:?}) still holds a reservation marker"
                );
            }
            for (id, status, _) in &orders {
                if status == "CONFIRMED" {
                    assert!(
                        reserved.contains(id),
                        "{sku}: confirmed order {id} holds no reservation marker"
                    );
                }
            }
        }
    }

    /// The ledger entries of an order, in `seq` order.
    pub async fn ledger(&self, order_id: &str) -> Vec<LedgerEntry> {
        let output = self
            .dynamodb
            .query()
            .table_name(self.output("LedgerTableName"))
            .key_condition_expression("order_id = :o")
            .expression_attribute_values(":o", AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("query the ledger");
        output
            .items()
            .iter()
            .map(|item| LedgerEntry {
                seq: text(item, "seq"),
                kind: text(item, "kind"),
                operation_id: text(item, "operation_id"),
                amount_minor: text(item, "amount_minor").parse().unwrap_or(-1),
            })
            .collect()
    }

    /// Polls the ledger until it holds exactly `kinds` (in this order); returns the entries.
    pub async fn wait_for_ledger(&self, order_id: &str, kinds: &[&str]) -> Vec<LedgerEntry> {
        eventually(
            &format!("ledger of {order_id} is {kinds:?}"),
            std::time::Duration::from_secs(60),
            || async {
                let entries = self.ledger(order_id).await;
                let got: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
                assert!(
                    got.len() <= kinds.len() && kinds.starts_with(&got),
                    "ledger of {order_id}: {entries:?}, expected {kinds:?}"
                );
                (got == kinds).then_some(entries)
            },
        )
        .await
    }

    /// The simulated provider's record of an operation (`charge-<orderId>` …).
    pub async fn payment(&self, operation_id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(self.output("PaymentsTableName"))
            .key("operation_id", AttributeValue::S(operation_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get a payment record")
            .item
    }

    /// The ARN of the checkout execution of an order (named after the order id).
    pub fn execution_arn(&self, order_id: &str) -> String {
        let machine = self.output("CheckoutStateMachineArn");
        format!(
            "{}:{order_id}",
            machine.replacen(":stateMachine:", ":execution:", 1)
        )
    }

    /// The whole history of an execution.
    pub async fn history(&self, execution_arn: &str) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
        let mut events = Vec::new();
        let mut next = None;
        loop {
            let page = self
                .sfn
                .get_execution_history()
                .execution_arn(execution_arn)
                .max_results(1000)
                .set_next_token(next)
                .send()
                .await
                .expect("get the execution history");
            events.extend(page.events().iter().cloned());
            match page.next_token() {
                Some(token) => next = Some(token.to_owned()),
                None => return events,
            }
        }
    }

    /// Failed task attempts in an execution, in order: (state, error name). A failure
    /// belongs to the state entered last before it (tasks outside Maps run one at a time).
    pub async fn task_failures(&self, execution_arn: &str) -> Vec<(String, String)> {
        let mut state = String::new();
        let mut failures = Vec::new();
        for event in self.history(execution_arn).await {
            if let Some(entered) = event.state_entered_event_details() {
                state = entered.name().to_owned();
            }
            let error = event
                .task_failed_event_details()
                .and_then(|d| d.error())
                .or_else(|| {
                    event
                        .lambda_function_failed_event_details()
                        .and_then(|d| d.error())
                });
            if let Some(error) = error {
                failures.push((state.clone(), error.to_owned()));
            }
        }
        failures
    }

    /// The error names of the failed attempts of one state of an execution.
    pub async fn failures_of(&self, execution_arn: &str, state: &str) -> Vec<String> {
        self.task_failures(execution_arn)
            .await
            .into_iter()
            .filter(|(s, _)| s == state)
            .map(|(_, e)| e)
            .collect()
    }

    /// The states an execution entered, in order.
    pub async fn states_entered(&self, execution_arn: &str) -> Vec<String> {
        self.history(execution_arn)
            .await
            .iter()
            .filter_map(|e| e.state_entered_event_details().map(|d| d.name().to_owned()))
            .collect()
    }
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
pub fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The order id the API derives for a user and an Idempotency-Key
/// (`ord_` + 32 hex digits of SHA-256(`<userId>\n<key>`)).
pub fn order_id_of(user_id: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{user_id}\n{key}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("ord_{}", &hex[..32])
}
