use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lambda_http::http::Request as HttpRequest;
use lambda_kit::clock::Clock;
use shop_core::auth::{InMemorySessionStore, InMemoryUserStore, PasswordHasher, ROLE_CUSTOMER};
use shop_core::cart::InMemoryCartStore;

use super::*;

const START: i64 = 1_800_000_000;

/// Answers every check the same way and counts the records it saw.
#[derive(Debug)]
struct FakeCheck {
    fail: bool,
    records: AtomicUsize,
}

impl FraudCheck for FakeCheck {
    async fn check(&self, batch: &SqsEvent) -> Result<(), FraudCheckError> {
        self.records
            .fetch_add(batch.records.len(), Ordering::SeqCst);
        if self.fail {
            Err(FraudCheckError::Timeout { millis: 5 })
        } else {
            Ok(())
        }
    }
}

type Login = TightLogin<
    Arc<InMemorySessionStore>,
    Arc<InMemoryCartStore>,
    Arc<InMemoryUserStore>,
    FakeCheck,
>;

async fn login_with(fail: bool) -> Login {
    let Ok(hasher) = PasswordHasher::new(64, 1, 1) else {
        panic!("cheap test params")
    };
    let captured = Arc::new(CapturedEvents::default());
    let api = AuthApi::new(
        Arc::new(InMemorySessionStore::default()),
        Arc::new(InMemoryCartStore::default()),
        Arc::new(InMemoryUserStore::default()),
        Arc::clone(&captured),
        3_600,
    )
    .with_hasher(hasher)
    .with_clock(Clock::manual(START));
    if let Err(err) = api
        .create_user("a@shop.local", "correct horse", ROLE_CUSTOMER)
        .await
    {
        panic!("seed user: {err}");
    }
    let fraud = FakeCheck {
        fail,
        records: AtomicUsize::new(0),
    };
    TightLogin::new(api, captured, fraud)
}

fn post(body: &str) -> Request {
    HttpRequest::builder()
        .method("POST")
        .uri("/auth/login")
        .body(Body::from(body.to_owned()))
        .unwrap_or_default()
}

fn credentials(password: &str) -> String {
    serde_json::json!({"email": "a@shop.local", "password": password}).to_string()
}

fn code(response: &Response<Body>) -> String {
    let body: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_checked_login_is_answered_as_the_auth_api_answers() {
    let login = login_with(false).await;
    let response = login.handle(post(&credentials("correct horse"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(login.fraud.records.load(Ordering::SeqCst), 1);
    // handed to the check, never kept for the next request
    assert!(login.captured.take().is_empty());
}

#[tokio::test]
async fn a_login_without_a_verdict_is_refused_with_503() {
    let login = login_with(true).await;
    let response = login.handle(post(&credentials("correct horse"))).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(code(&response), "FRAUD_CHECK_UNAVAILABLE");
}

#[tokio::test]
async fn failed_logins_are_checked_too() {
    let login = login_with(false).await;
    let response = login.handle(post(&credentials("wrong horse"))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(login.fraud.records.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_request_without_an_event_needs_no_check() {
    let login = login_with(true).await;
    let response = login.handle(post("not json")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(login.fraud.records.load(Ordering::SeqCst), 0);
}

#[test]
fn the_batch_is_what_the_queue_would_deliver() {
    let event = EventEnvelope::new(
        "LoginSucceeded",
        "auth-api",
        "c-1",
        START,
        serde_json::json!({}),
    );
    let batch = fraud_batch(std::slice::from_ref(&event));
    let Ok(json) = serde_json::to_value(&batch) else {
        panic!("serialise the batch")
    };
    let record = &json["Records"][0];
    assert_eq!(record["messageId"], event.event_id.as_str());
    assert_eq!(record["eventSource"], "aws:sqs");
    let body = record["body"].as_str().unwrap_or_default();
    assert!(matches!(EventEnvelope::from_json(body), Ok(parsed) if parsed == event));
}

#[test]
fn the_verdict_reads_the_batch_response() {
    assert!(verdict(br#"{"batchItemFailures":[]}"#, 1).is_ok());
    assert!(matches!(
        verdict(br#"{"batchItemFailures":[{"itemIdentifier":"x"}]}"#, 1),
        Err(FraudCheckError::NotProcessed { failed: 1, sent: 1 })
    ));
    assert!(matches!(
        verdict(b"null", 1),
        Err(FraudCheckError::Malformed(_))
    ));
}
