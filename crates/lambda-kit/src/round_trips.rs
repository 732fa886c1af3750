//! How many AWS calls one request made, and how many of them it waited for one after another.
//!
//! | item | what |
//! | --- | --- |
//! | [`record`] | runs a future with a call log; returns its output and the [`RoundTrips`] |
//! | [`RecordingClient`] | the SDK HTTP client wrapper that writes every attempt into the log of the request it belongs to |
//! | [`RoundTrips`] | calls, sequential round trips (the critical path) and the operations, in start order |
//!
//! On AWS a warm API request's latency is set by its **sequential** round trips to other
//! services (each ~3–10 ms, more at p99), not by the code between them; reads that do not
//! depend on each other should overlap. [`crate::http::serve`] records every request and writes
//! the figures into its completion log line (`aws_calls`, `aws_round_trips`, `aws_operations`),
//! where a benchmark or a test can read them for the route.
//!
//! Every attempt counts (a retried call is two round trips). The critical path is the longest
//! chain of calls in which each started after the previous one had finished: two calls
//! awaited together with `tokio::join!` are one round trip, two awaited in turn are two.
//!
//! The log is a task-local: calls made outside [`record`] (at cold start, by spawned tasks)
//! are not counted, and cost one failed task-local lookup.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

use crate::sdk_http::{ConnectorLayer, LayeredClient, target_operation};
use crate::sync::lock;

tokio::task_local! {
    static CALLS: CallLog;
}

/// The calls of one request: each with its label, start and (once answered) end.
type CallLog = Arc<Mutex<Vec<Call>>>;

#[derive(Debug, Clone)]
struct Call {
    operation: String,
    started: Instant,
    ended: Option<Instant>,
}

/// What one request asked of AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundTrips {
    /// Attempts sent (retries included).
    pub calls: usize,
    /// The longest chain of calls made one after another.
    pub sequential: usize,
    /// `service.Operation` of every call, in the order they started.
    pub operations: Vec<String>,
}

impl RoundTrips {
    /// The operations as one comma-separated field.
    pub fn operations_field(&self) -> String {
        self.operations.join(",")
    }

    fn of(calls: &[Call]) -> Self {
        Self {
            calls: calls.len(),
            sequential: longest_chain(calls),
            operations: calls.iter().map(|c| c.operation.clone()).collect(),
        }
    }
}

/// The most calls that followed one another: intervals ordered by end, each taken when it
/// starts no earlier than the last taken one ended (the greedy choice is optimal for the
/// number of non-overlapping intervals). A call still unanswered ends "now".
fn longest_chain(calls: &[Call]) -> usize {
    let now = Instant::now();
    let mut spans: Vec<(Instant, Instant)> = calls
        .iter()
        .map(|c| (c.started, c.ended.unwrap_or(now)))
        .collect();
    spans.sort_by_key(|&(_, end)| end);
    let mut chain = 0;
    let mut last_end: Option<Instant> = None;
    for (start, end) in spans {
        if last_end.is_none_or(|last| start >= last) {
            chain += 1;
            last_end = Some(end);
        }
    }
    chain
}

/// Runs `future` with a fresh call log; returns its output and the calls it made.
pub async fn record<F: Future>(future: F) -> (F::Output, RoundTrips) {
    let log = CallLog::default();
    let output = CALLS.scope(Arc::clone(&log), future).await;
    let trips = RoundTrips::of(&lock(&log));
    (output, trips)
}

/// `service.Operation` of an SDK request: the service from the SDK's user agent
/// (`api/dynamodb/…`), the operation from `X-Amz-Target` (JSON protocols) or the `Action` of an
/// awsQuery body; `?` for what cannot be told (restJson services name it only in the path).
fn operation_label(request: &HttpRequest) -> String {
    let headers = request.headers();
    let service = headers
        .get("x-amz-user-agent")
        .or_else(|| headers.get("user-agent"))
        .and_then(crate::faults::api_service)
        .unwrap_or_else(|| "?".to_owned());
    let operation = match headers.get("x-amz-target") {
        Some(target) => Some(target_operation(target).to_owned()),
        None => request.body().bytes().and_then(crate::faults::query_action),
    };
    format!("{service}.{}", operation.as_deref().unwrap_or("?"))
}

/// What [`RecordingClient`] puts in front of the client it wraps.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordCalls;

impl ConnectorLayer for RecordCalls {
    fn layer(
        &self,
        inner: SharedHttpConnector,
        _settings: &HttpConnectorSettings,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RecordingConnector { inner })
    }
}

/// An SDK HTTP client that records each call it carries in the log of the [`record`]ed
/// request it was made for, then hands it to the client it wraps.
pub type RecordingClient = LayeredClient<RecordCalls>;

impl LayeredClient<RecordCalls> {
    /// Records the calls `inner` carries.
    pub fn new(inner: SharedHttpClient) -> Self {
        Self::layered(inner, RecordCalls)
    }
}

#[derive(Clone)]
struct RecordingConnector {
    inner: SharedHttpConnector,
}

impl fmt::Debug for RecordingConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingConnector")
            .field("inner", &self.inner)
            .finish()
    }
}

impl HttpConnector for RecordingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // The orchestrator calls the connector from the task awaiting the SDK call, so the
        // request's log is in scope here; the answer may arrive later, hence the index.
        let Ok((log, index)) = CALLS.try_with(|log| {
            let mut calls = lock(log);
            calls.push(Call {
                operation: operation_label(&request),
                started: Instant::now(),
                ended: None,
            });
            (Arc::clone(log), calls.len() - 1)
        }) else {
            return self.inner.call(request);
        };
        let answer = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let result = answer.await;
            if let Some(call) = lock(&log).get_mut(index) {
                call.ended = Some(Instant::now());
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn call(start_ms: u64, end_ms: u64, base: Instant) -> Call {
        Call {
            operation: "dynamodb.GetItem".to_owned(),
            started: base + Duration::from_millis(start_ms),
            ended: Some(base + Duration::from_millis(end_ms)),
        }
    }

    #[test]
    fn calls_awaited_together_are_one_round_trip() {
        let base = Instant::now();
        let calls = [call(0, 10, base), call(1, 8, base), call(2, 12, base)];
        assert_eq!(RoundTrips::of(&calls).sequential, 1);
        assert_eq!(RoundTrips::of(&calls).calls, 3);
    }

    #[test]
    fn calls_awaited_in_turn_add_up() {
        let base = Instant::now();
        // session → (cart ∥ lock) → prices: three on the critical path, four calls.
        let calls = [
            call(0, 5, base),
            call(5, 9, base),
            call(6, 11, base),
            call(11, 15, base),
        ];
        let trips = RoundTrips::of(&calls);
        assert_eq!((trips.calls, trips.sequential), (4, 3));
        assert_eq!(RoundTrips::of(&[]).sequential, 0);
    }

    #[tokio::test]
    async fn the_connector_records_calls_inside_record_only() {
        use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
        use aws_smithy_types::body::SdkBody;

        #[derive(Debug)]
        struct Answer;
        impl HttpConnector for Answer {
            fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
                HttpConnectorFuture::new(async {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Ok(HttpResponse::new(200.try_into().unwrap(), SdkBody::empty()))
                })
            }
        }
        let connector = RecordingConnector {
            inner: SharedHttpConnector::new(Answer),
        };
        let request = |target: &str| {
            let mut request = HttpRequest::empty();
            request.headers_mut().insert(
                "x-amz-user-agent",
                "aws-sdk-rust/1 api/dynamodb/1.0 os/linux",
            );
            request
                .headers_mut()
                .insert("x-amz-target", target.to_owned());
            request
        };
        let ((), trips) = record(async {
            let (a, b) = tokio::join!(
                connector.call(request("DynamoDB_20120810.GetItem")),
                connector.call(request("DynamoDB_20120810.BatchGetItem"))
            );
            assert!(a.is_ok() && b.is_ok());
            assert!(
                connector
                    .call(request("DynamoDB_20120810.PutItem"))
                    .await
                    .is_ok()
            );
        })
        .await;
        assert_eq!(trips.calls, 3);
        assert_eq!(trips.sequential, 2);
        assert_eq!(
            trips.operations_field(),
            "dynamodb.GetItem,dynamodb.BatchGetItem,dynamodb.PutItem"
        );
        // Outside a recorded request the call passes through unrecorded.
        assert!(
            connector
                .call(request("DynamoDB_20120810.GetItem"))
                .await
                .is_ok()
        );
    }
}
