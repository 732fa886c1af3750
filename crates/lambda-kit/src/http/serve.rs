//! The envelope around every API request: a tracing span with the request and correlation
//! ids, one error-to-response mapping, one completion log line (with the AWS calls the request
//! made and its sequential round trips: [`crate::round_trips`]), the correlation header, and
//! the request's latency metric (by route and status), flushed with the invocation's other
//! metrics as EMF ([`crate::metrics`]).

use std::future::Future;
use std::time::Instant;

use lambda_http::http::HeaderValue;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt as _, Response};
use tracing::Instrument as _;

use super::{CORRELATION_ID_HEADER, HttpError, correlation_id, error_response};

/// Runs `handler` for `req` inside a request span and turns its result into the response.
pub async fn serve<'r, F, Fut, E>(
    function: &'static str,
    req: &'r Request,
    handler: F,
) -> Response<Body>
where
    F: FnOnce(&'r Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, E>>,
    E: HttpError,
{
    let correlation_id = correlation_id(req);
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        function,
        request_id = %request_id,
        correlation_id = %correlation_id,
        method = %req.method(),
        path = %req.raw_http_path(),
    );
    let started = Instant::now();
    let (result, trips) = crate::round_trips::record(handler(req).instrument(span.clone())).await;
    span.in_scope(|| {
        let mut response = match result {
            Ok(response) => response,
            Err(err) => {
                match err.internal_detail() {
                    Some(detail) => {
                        tracing::error!(code = err.code(), error = %detail, "request failed")
                    }
                    None => tracing::info!(code = err.code(), error = %err, "request rejected"),
                }
                error_response(&err)
            }
        };
        if let Ok(value) = HeaderValue::from_str(&correlation_id) {
            response.headers_mut().insert(CORRELATION_ID_HEADER, value);
        }
        let elapsed = started.elapsed();
        let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let status = response.status().as_u16();
        tracing::info!(
            status,
            duration_ms,
            route = route_of(req),
            aws_calls = trips.calls,
            aws_round_trips = trips.sequential,
            aws_operations = %trips.operations_field(),
            "request completed"
        );
        crate::metrics::http_request(
            route_of(req),
            req.method().as_str(),
            status,
            elapsed.as_secs_f64() * 1000.0,
        );
        // One REST proxy invocation is one request: its metrics leave with it.
        crate::metrics::flush();
        response
    })
}

/// The resource template API Gateway matched (`/orders/{orderId}`), a bounded set of values
/// unlike the raw path; `-` when the request did not come through API Gateway.
fn route_of(req: &Request) -> &str {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => {
            context.resource_path.as_deref().unwrap_or("-")
        }
        _ => "-",
    }
}
