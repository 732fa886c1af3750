//! Building responses: JSON with CORS and correlation headers, and errors.

use std::sync::OnceLock;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::{HttpError, RequestError};

/// Header carrying the correlation id in both directions.
pub const CORRELATION_ID_HEADER: &str = "x-correlation-id";

/// The environment variable naming the origin browsers may call from (the template's
/// `CorsAllowOrigin`); `*` when unset.
pub const CORS_ALLOW_ORIGIN_ENV: &str = "CORS_ALLOW_ORIGIN";

/// `Access-Control-Allow-Origin`, read once. A value that is not a valid header sends no header
/// at all: browsers then refuse cross-origin reads, which fails closed rather than open.
fn allow_origin() -> Option<&'static HeaderValue> {
    static ORIGIN: OnceLock<Option<HeaderValue>> = OnceLock::new();
    ORIGIN
        .get_or_init(|| allow_origin_from(std::env::var(CORS_ALLOW_ORIGIN_ENV).ok().as_deref()))
        .as_ref()
}

fn allow_origin_from(configured: Option<&str>) -> Option<HeaderValue> {
    match configured.map(str::trim) {
        None | Some("") => Some(HeaderValue::from_static("*")),
        Some(origin) => HeaderValue::from_str(origin).ok(),
    }
}

fn base(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Some(origin) = allow_origin() {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_origin_allows_any() {
        assert_eq!(allow_origin_from(None), Some(HeaderValue::from_static("*")));
        assert_eq!(
            allow_origin_from(Some(" ")),
            Some(HeaderValue::from_static("*"))
        );
    }

    #[test]
    fn configured_origin_is_sent_as_is() {
        assert_eq!(
            allow_origin_from(Some("https://shop.example.com")),
            Some(HeaderValue::from_static("https://shop.example.com"))
        );
    }

    #[test]
    fn an_origin_that_is_not_a_header_value_sends_none() {
        assert_eq!(allow_origin_from(Some("https://a.example\nx: y")), None);
    }
}
