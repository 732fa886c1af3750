//! Reading what a request carries: JSON bodies (with a size limit), the bearer token, the
//! correlation id and query parameters.

use lambda_http::{Request, RequestExt as _};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::RequestError;
use crate::ids::new_uuid;

/// Largest request body accepted (16 KiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Largest client-supplied correlation id echoed back.
const MAX_CORRELATION_ID_LEN: usize = 128;

/// Parses the body as JSON into `T`: too large → `BODY_TOO_LARGE`, declared as something
/// other than JSON → `UNSUPPORTED_MEDIA_TYPE`, not JSON → `INVALID_JSON`, JSON of the wrong
/// shape → `INVALID_REQUEST` naming the field. A missing `Content-Type` is taken as JSON.
pub fn parse_json_body<T: DeserializeOwned>(req: &Request) -> Result<T, RequestError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(RequestError::BodyTooLarge {
            size: bytes.len(),
            limit: MAX_BODY_BYTES,
        });
    }
    if let Some(content_type) = req.headers().get(lambda_http::http::header::CONTENT_TYPE) {
        let value = content_type.to_str().unwrap_or_default();
        if !is_json_media_type(value) {
            return Err(RequestError::UnsupportedMediaType(value.to_owned()));
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::InvalidJson("the body is empty".to_owned()));
    }
    serde_json::from_slice(bytes).map_err(|err| match err.classify() {
        Category::Data => RequestError::InvalidRequest(err.to_string()),
        Category::Syntax | Category::Eof | Category::Io => {
            RequestError::InvalidJson(err.to_string())
        }
    })
}

/// `application/json` or a `+json` type, with any parameters (`; charset=utf-8`).
fn is_json_media_type(value: &str) -> bool {
    let media_type = value.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case("application/json")
        || media_type.to_ascii_lowercase().ends_with("+json")
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(req: &Request) -> Result<&str, RequestError> {
    let header = req
        .headers()
        .get(lambda_http::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            RequestError::Unauthorized(
                "missing Authorization header: expected 'Bearer <token>'".to_owned(),
            )
        })?;
    let malformed =
        || RequestError::Unauthorized("Authorization header must be 'Bearer <token>'".to_owned());
    let value = header.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

/// The request's correlation id: the `X-Correlation-Id` header when it is a sane value,
/// else a new random id.
pub fn correlation_id(req: &Request) -> String {
    req.headers()
        .get(super::CORRELATION_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| {
            (1..=MAX_CORRELATION_ID_LEN).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(new_uuid, str::to_owned)
}

/// First value of a query string parameter.
pub fn query_param<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

#[cfg(test)]
mod tests {
    use crate::http::HttpError as _;
    use lambda_http::Body;
    use lambda_http::http::Request as HttpRequest;

    use super::*;

    fn request_with(header: Option<(&str, &str)>, body: &str) -> Request {
        let mut builder = HttpRequest::builder().uri("/things");
        if let Some((name, value)) = header {
            builder = builder.header(name, value);
        }
        builder.body(Body::from(body)).unwrap_or_default()
    }

    #[derive(Debug, serde::Deserialize)]
    struct Qty {
        #[allow(dead_code)]
        quantity: i64,
    }

    #[test]
    fn a_body_declared_as_anything_but_json_is_unsupported() {
        let code = |content_type: &str| {
            parse_json_body::<Qty>(&request_with(
                Some(("content-type", content_type)),
                r#"{"quantity": 1}"#,
            ))
            .err()
            .map(|e| e.code())
        };
        assert_eq!(code("application/json"), None);
        assert_eq!(code("Application/JSON; charset=utf-8"), None);
        assert_eq!(code("application/merge-patch+json"), None);
        assert_eq!(
            code("application/x-www-form-urlencoded"),
            Some("UNSUPPORTED_MEDIA_TYPE")
        );
        assert_eq!(code("text/plain"), Some("UNSUPPORTED_MEDIA_TYPE"));
    }

    #[test]
    fn json_errors_are_classified() {
        let code = |body: &str| {
            parse_json_body::<Qty>(&request_with(None, body))
                .err()
                .map(|e| e.code())
        };
        assert_eq!(code(r#"{"quantity": 1}"#), None);
        assert_eq!(code("{"), Some("INVALID_JSON"));
        assert_eq!(code(""), Some("INVALID_JSON"));
        assert_eq!(code("not json"), Some("INVALID_JSON"));
        assert_eq!(code("{}"), Some("INVALID_REQUEST"));
        assert_eq!(
            code(&format!(
                "{{\"quantity\": 1, \"pad\": \"{}\"}}",
                "x".repeat(MAX_BODY_BYTES)
            )),
            Some("BODY_TOO_LARGE")
        );
        let missing = parse_json_body::<Qty>(&request_with(None, "{}"))
            .err()
            .map(|e| e.to_string());
        assert!(
            missing.is_some_and(|m| m.contains("quantity")),
            "the message names the field"
        );
    }

    #[test]
    fn bearer_token_extraction() {
        let token = |h: Option<&str>| {
            let req = request_with(h.map(|v| ("authorization", v)), "");
            bearer_token(&req).map(str::to_owned).map_err(|e| e.code())
        };
        assert_eq!(token(Some("Bearer abc")), Ok("abc".to_owned()));
        assert_eq!(token(Some("bearer  abc ")), Ok("abc".to_owned()));
        for bad in [
            None,
            Some("abc"),
            Some("Basic abc"),
            Some("Bearer "),
            Some("Bearer"),
        ] {
            assert_eq!(token(bad), Err("UNAUTHORIZED"), "{bad:?}");
        }
    }

    #[test]
    fn correlation_id_is_echoed_or_generated() {
        let req = request_with(Some(("x-correlation-id", "abc-123")), "");
        assert_eq!(correlation_id(&req), "abc-123");
        let req = request_with(Some(("x-correlation-id", "no spaces allowed")), "");
        let generated = correlation_id(&req);
        assert_eq!(generated.len(), 36);
        assert_ne!(generated, correlation_id(&req));
    }
}
