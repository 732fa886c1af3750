//! One error → response mapping for every API: an error names its status and a stable code,
//! and is sent as `{"error": {"code": "SCREAMING_SNAKE", "message": "..."}}`.
//!
//! [`HttpError`] is the contract; [`RequestError`] is what the kit itself rejects (bodies,
//! routes, bearer tokens). An application defines its own error enum with a variant wrapping
//! [`RequestError`] and implements [`HttpError`] for it, so every handler returns one type:
//!
//! ```
//! use lambda_kit::http::{HttpError, RequestError, StatusCode};
//!
//! #[derive(Debug, thiserror::Error)]
//! enum AppError {
//!     #[error(transparent)]
//!     Request(#[from] RequestError),
//!     #[error("widget {0} does not exist")]
//!     WidgetNotFound(String),
//! }
//!
//! impl HttpError for AppError {
//!     fn status(&self) -> StatusCode {
//!         match self {
//!             Self::Request(err) => err.status(),
//!             Self::WidgetNotFound(_) => StatusCode::NOT_FOUND,
//!         }
//!     }
//!     fn code(&self) -> &'static str {
//!         match self {
//!             Self::Request(err) => err.code(),
//!             Self::WidgetNotFound(_) => "WIDGET_NOT_FOUND",
//!         }
//!     }
//!     fn internal_detail(&self) -> Option<&str> {
//!         match self {
//!             Self::Request(err) => err.internal_detail(),
//!             Self::WidgetNotFound(_) => None,
//!         }
//!     }
//! }
//!
//! let err = AppError::WidgetNotFound("w-1".into());
//! assert_eq!(err.body()["error"]["code"], "WIDGET_NOT_FOUND");
//! let hidden = AppError::from(RequestError::Internal("table x is gone".into()));
//! assert_eq!(hidden.body()["error"]["message"], "internal error");
//! ```

use lambda_http::http::{HeaderValue, StatusCode, header};

/// An error a handler can answer a client with.
pub trait HttpError: std::error::Error {
    /// HTTP status for this error.
    fn status(&self) -> StatusCode;

    /// Stable machine-readable code, e.g. `INVALID_JSON`.
    fn code(&self) -> &'static str;

    /// What went wrong on our side, for the log only; `Some` marks an internal error (logged
    /// at error level, never sent). Its `Display` must then not reveal it.
    fn internal_detail(&self) -> Option<&str> {
        None
    }

    /// Extra response headers (e.g. `Allow` for a 405, `Retry-After` for a 429).
    fn headers(&self) -> Vec<(header::HeaderName, HeaderValue)> {
        Vec::new()
    }

    /// The JSON body sent to the client.
    fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}})
    }
}

/// What the kit's request handling rejects, and the internal error every API has.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The body is not JSON.
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// The body is larger than the limit.
    #[error("request body is {size} bytes, the limit is {limit} bytes")]
    BodyTooLarge {
        /// Size received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body was sent with a `Content-Type` other than JSON (e.g. `curl -d`'s form type).
    #[error("Content-Type {0:?} is not supported: send 'Content-Type: application/json'")]
    UnsupportedMediaType(String),
    /// The body is JSON but not the expected shape (missing field, wrong type).
    #[error("invalid request body: {0}")]
    InvalidRequest(String),
    /// Missing or malformed bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// No such route.
    #[error("no route for {method} {path}")]
    NotFound {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
    },
    /// The route exists but not with this method.
    #[error("method {method} is not allowed on {resource}; allowed: {allowed}")]
    MethodNotAllowed {
        /// Request method.
        method: String,
        /// Resource template.
        resource: String,
        /// Allowed methods, comma separated (also the `Allow` header).
        allowed: String,
    },
    /// Something on our side failed; the details are logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl HttpError for RequestError {
    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) | Self::BodyTooLarge { .. } | Self::InvalidRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "INVALID_JSON",
            Self::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            Self::BodyTooLarge { .. } => "BODY_TOO_LARGE",
            Self::InvalidRequest(_) => "INVALID_REQUEST",
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            Self::Internal(detail) => Some(detail),
            _ => None,
        }
    }

    fn headers(&self) -> Vec<(header::HeaderName, HeaderValue)> {
        match self {
            Self::MethodNotAllowed { allowed, .. } => HeaderValue::from_str(allowed)
                .map(|value| vec![(header::ALLOW, value)])
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_are_not_in_the_body() {
        let err = RequestError::Internal("secret table name".to_owned());
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.internal_detail(), Some("secret table name"));
        assert_eq!(
            err.body(),
            serde_json::json!({"error": {"code": "INTERNAL_ERROR", "message": "internal error"}})
        );
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let err = RequestError::MethodNotAllowed {
            method: "DELETE".into(),
            resource: "/things".into(),
            allowed: "GET, POST".into(),
        };
        assert_eq!(err.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            err.headers(),
            vec![(header::ALLOW, HeaderValue::from_static("GET, POST"))]
        );
    }
}
