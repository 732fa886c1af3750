//! The tightly coupled login of the coupling experiment (`make coupling`, `bench/coupling.py`).
//!
//! | item | what it is |
//! | --- | --- |
//! | [`TightLogin`] | shop-core's [`AuthApi`] login, then a synchronous fraud check before it answers |
//! | [`CapturedEvents`] | the [`EventPublisher`] the login gets: it keeps the events instead of publishing them |
//! | [`fraud_batch`] | the login's event as the fraud detector receives it from its queue (an SQS batch) |
//! | [`FraudCheck`], [`LambdaFraudCheck`] | the check: a `RequestResponse` Lambda Invoke of the fraud detector |
//! | [`FraudCheckError`] | why a check gave no verdict; answered as 503 `FRAUD_CHECK_UNAVAILABLE` |
//! | [`TightLoginSettings`] | the function's environment |
//!
//! The shop's login (auth-api) publishes `LoginSucceeded` / `LoginFailed` to SNS best effort
//! and answers; the fraud detector reads them from its queue whenever it can. This variant
//! replaces the topic by a call: the same login code runs (stores, hashing, brute-force guard,
//! session), and the event it would have published is handed to the fraud detector directly,
//! waiting for its answer. A login the fraud service could not check is not answered with its
//! token: a tightly coupled login cannot decide without its dependency, so it answers 503.
//!
//! The check runs after [`AuthApi`] has made its state change (session written), because the
//! login is reused as it is rather than copied; a 503 leaves that session unused until its TTL.
//! What the experiment measures (latency and success seen by the client) does not depend on
//! that order.
//!
//! This crate is a bench variant: it is deployed by `bench/coupling.py` with
//! `bench/coupling/template.yaml`, never by the shop's template.

use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use lambda_kit::config::{ConfigError, Settings, lookup_positive, lookup_required};
use lambda_kit::http::{HttpError, error_response};
use lambda_kit::messaging::{EventEnvelope, EventPublisher, PublishError};
use lambda_kit::sync::lock;
use shop_core::auth::api::AuthApi;
use shop_core::auth::{AuthApiSettings, LoginAttempts, SessionStore, UserStore};
use shop_core::cart::CartStore;

/// Name of the function (log field, binary name).
pub const FUNCTION_NAME: &str = "tight-login";

/// Default of `FRAUD_TIMEOUT_MS`: longest wait for the fraud detector's answer. Above the
/// experiment's slow mode (2 s a call), so a slow fraud service slows logins down instead of
/// failing them; a down one fails them at once or after the SDK's retries.
pub const DEFAULT_FRAUD_TIMEOUT_MS: i64 = 5_000;

/// The `eventSourceARN` of the records sent: not a queue the detector reads (it never looks).
const EVENT_SOURCE_ARN: &str = "arn:aws:sqs:local:000000000000:tight-login-direct";

/// The function's environment: the auth API's ([`AuthApiSettings`]) plus the fraud check's.
///
/// | variable | meaning |
/// | --- | --- |
/// | `FRAUD_FUNCTION_NAME` | the fraud detector to invoke (required) |
/// | `FRAUD_TIMEOUT_MS` | longest wait for its answer (default [`DEFAULT_FRAUD_TIMEOUT_MS`]) |
///
/// `EVENTS_TOPIC_ARN` is required by [`AuthApiSettings`] but unused: this login publishes
/// nothing.
#[derive(Debug, Clone)]
pub struct TightLoginSettings {
    /// The auth API's settings (tables, session lifetimes, attempt limits).
    pub auth: AuthApiSettings,
    /// The fraud detector's function name.
    pub fraud_function: String,
    /// Longest wait for the fraud detector.
    pub fraud_timeout: Duration,
}

impl Settings for TightLoginSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let millis = lookup_positive("FRAUD_TIMEOUT_MS", DEFAULT_FRAUD_TIMEOUT_MS, lookup)?;
        Ok(Self {
            auth: AuthApiSettings::from_lookup(lookup)?,
            fraud_function: lookup_required("FRAUD_FUNCTION_NAME", lookup)?,
            fraud_timeout: Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX)),
        })
    }
}

/// Keeps the events the login would publish, for [`TightLogin`] to hand to the fraud check.
///
/// One request at a time: `lambda_http::run` serves an execution environment's invocations
/// one after another, so what [`CapturedEvents::take`] returns after a request was published
/// by that request.
#[derive(Debug, Default)]
pub struct CapturedEvents {
    events: Mutex<Vec<EventEnvelope>>,
}

impl CapturedEvents {
    /// Everything published since the last call, oldest first.
    pub fn take(&self) -> Vec<EventEnvelope> {
        std::mem::take(&mut *lock(&self.events))
    }
}

impl EventPublisher for CapturedEvents {
    async fn publish(&self, event: &EventEnvelope) -> Result<(), PublishError> {
        lock(&self.events).push(event.clone());
        Ok(())
    }
}

/// The events as the fraud detector receives them from its queue: one SQS record each, the
/// envelope as the body (raw delivery), the event id as the message id (so a failure names
/// the event).
pub fn fraud_batch(events: &[EventEnvelope]) -> SqsEvent {
    let mut batch = SqsEvent::default();
    batch.records = events
        .iter()
        .map(|event| {
            let mut record = SqsMessage::default();
            record.message_id = Some(event.event_id.clone());
            record.receipt_handle = Some(format!("direct-{}", event.event_id));
            record.body = Some(event.to_json());
            record
                .attributes
                .insert("ApproximateReceiveCount".to_owned(), "1".to_owned());
            record.event_source = Some("aws:sqs".to_owned());
            record.event_source_arn = Some(EVENT_SOURCE_ARN.to_owned());
            record
        })
        .collect();
    batch
}

/// Why a fraud check gave no verdict. Every case is answered 503: without the verdict the
/// tightly coupled login does not let the user in.
#[derive(Debug, thiserror::Error)]
pub enum FraudCheckError {
    /// No answer within the configured time.
    #[error("the fraud check did not answer within {millis} ms")]
    Timeout {
        /// The limit.
        millis: u128,
    },
    /// The invoke itself failed (throttled, unreachable, refused).
    #[error("the fraud check could not be invoked: {0}")]
    Invoke(String),
    /// The fraud detector ran and failed (`X-Amz-Function-Error`).
    #[error("the fraud check failed ({kind})")]
    Function {
        /// `Unhandled` or `Handled`.
        kind: String,
    },
    /// Its answer is not a batch response.
    #[error("the fraud check answered something unreadable: {0}")]
    Malformed(String),
    /// It answered, but could not process the login's event (its datastore failed, say).
    #[error("the fraud check could not process {failed} of {sent} events")]
    NotProcessed {
        /// Records it reported as failed.
        failed: usize,
        /// Records sent.
        sent: usize,
    },
}

impl HttpError for FraudCheckError {
    fn status(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn code(&self) -> &'static str {
        "FRAUD_CHECK_UNAVAILABLE"
    }
}

/// A synchronous fraud check of a batch: `Ok` once every record was processed.
pub trait FraudCheck: Send + Sync {
    /// Sends `batch` and waits for the verdict.
    fn check(&self, batch: &SqsEvent) -> impl Future<Output = Result<(), FraudCheckError>> + Send;
}

/// The fraud detector invoked with `RequestResponse`, bounded by a timeout.
#[derive(Debug, Clone)]
pub struct LambdaFraudCheck {
    client: aws_sdk_lambda::Client,
    function: String,
    timeout: Duration,
}

impl LambdaFraudCheck {
    /// A check of `function` that waits at most `timeout` (SDK retries included).
    pub fn new(client: aws_sdk_lambda::Client, function: String, timeout: Duration) -> Self {
        Self {
            client,
            function,
            timeout,
        }
    }
}

impl FraudCheck for LambdaFraudCheck {
    async fn check(&self, batch: &SqsEvent) -> Result<(), FraudCheckError> {
        let payload =
            serde_json::to_vec(batch).map_err(|e| FraudCheckError::Malformed(e.to_string()))?;
        let call = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send();
        let output = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| FraudCheckError::Timeout {
                millis: self.timeout.as_millis(),
            })?
            .map_err(|e| FraudCheckError::Invoke(DisplayErrorContext(&e).to_string()))?;
        if let Some(kind) = output.function_error() {
            return Err(FraudCheckError::Function {
                kind: kind.to_owned(),
            });
        }
        let answer = output.payload().map(Blob::as_ref).unwrap_or_default();
        verdict(answer, batch.records.len())
    }
}

/// Reads the fraud detector's batch response: every record processed, or which were not.
pub fn verdict(answer: &[u8], sent: usize) -> Result<(), FraudCheckError> {
    let response: SqsBatchResponse =
        serde_json::from_slice(answer).map_err(|e| FraudCheckError::Malformed(e.to_string()))?;
    match response.batch_item_failures.len() {
        0 => Ok(()),
        failed => Err(FraudCheckError::NotProcessed { failed, sent }),
    }
}

/// The tightly coupled login: [`AuthApi`] over a [`CapturedEvents`] publisher, then the
/// [`FraudCheck`] of what it would have published, before the answer goes out.
#[derive(Debug)]
pub struct TightLogin<S, C, U, F> {
    api: AuthApi<S, C, U, std::sync::Arc<CapturedEvents>>,
    captured: std::sync::Arc<CapturedEvents>,
    fraud: F,
}

impl<S: SessionStore, C: CartStore, U: UserStore + LoginAttempts, F: FraudCheck>
    TightLogin<S, C, U, F>
{
    /// `api` must publish into `captured` (build it with the same `Arc`).
    pub fn new(
        api: AuthApi<S, C, U, std::sync::Arc<CapturedEvents>>,
        captured: std::sync::Arc<CapturedEvents>,
        fraud: F,
    ) -> Self {
        Self {
            api,
            captured,
            fraud,
        }
    }

    /// Handles one API Gateway request: the auth API's answer once the fraud detector has
    /// processed the login's event, else 503 `FRAUD_CHECK_UNAVAILABLE`. A request that
    /// produced no event (a malformed body, an unknown route) is answered as it is.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        // Left over only if an earlier request was cut short between publish and take.
        drop(self.captured.take());
        let response = self.api.handle(req).await;
        let events = self.captured.take();
        if events.is_empty() {
            return response;
        }
        let started = std::time::Instant::now();
        let checked = self.fraud.check(&fraud_batch(&events)).await;
        let fraud_ms = started.elapsed().as_millis();
        match checked {
            Ok(()) => {
                tracing::info!(
                    fraud_ms,
                    status = response.status().as_u16(),
                    "fraud check passed"
                );
                response
            }
            Err(err) => {
                tracing::warn!(fraud_ms, error = %err, "fraud check gave no verdict: login refused");
                error_response(&err)
            }
        }
    }
}

#[cfg(test)]
mod tests;
