//! Building responses: JSON with CORS and correlation headers, and errors.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::{HttpError, RequestError};

/// Header carrying the correlation id in both directions.
pub const CORRELATION_ID_HEADER: &str = "x-correlation-id";

fn base(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// A JSON response. Serialising our own types cannot fail; if it somehow does, a 500.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(json) => {
            let mut response = base(status, Body::Text(json));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(err) => error_response(&RequestError::Internal(format!(
            "serialising the response: {err}"
        ))),
    }
}

/// A response without a body (204).
pub fn empty_response(status: StatusCode) -> Response<Body> {
    base(status, Body::Empty)
}

/// The response for an error: its status and `{"error": {"code", "message"}}`.
pub fn error_response<E: HttpError + ?Sized>(err: &E) -> Response<Body> {
    let mut response = base(err.status(), Body::Text(err.body().to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in err.headers() {
        response.headers_mut().insert(name, value);
    }
    response
}
