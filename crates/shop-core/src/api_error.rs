//! The shop API's one error type: every failure a handler can return maps to a status and
//! the JSON body `{"error": {"code": "SCREAMING_SNAKE", "message": "..."}}` through the kit's
//! [`HttpError`]. The kit's own rejections (body, route, bearer token, internal) are the
//! [`ApiError::Request`] variant; the variants here are the shop's.
//!
//! One enum for every area rather than one per area: a handler of one area returns errors of
//! others (a cart write checks the session and the catalog), and one enum keeps every code
//! the API can answer in one table.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_kit::http::{HttpError, RequestError};

use crate::store::StoreError;

/// Every error an API handler returns to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// What the kit's request handling rejects (body, route, bearer token) and internal
    /// errors.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A SKU in the path is malformed.
    #[error("{0}")]
    InvalidSku(String),
    /// A quantity outside 1..=99 or not an integer.
    #[error("{0}")]
    InvalidQuantity(String),
    /// A bad `limit` query parameter.
    #[error("{0}")]
    InvalidLimit(String),
    /// A `cursor` this API did not issue.
    #[error("{0}")]
    InvalidCursor(String),
    /// A valid session or correct credentials of an account that is locked.
    #[error("this account is temporarily locked; try again later")]
    AccountLocked,
    /// Too many failed logins from this address.
    #[error("too many failed logins from this address; retry after {retry_after_seconds} s")]
    TooManyAttempts {
        /// Seconds until the address may try again (the `Retry-After` header).
        retry_after_seconds: i64,
    },
    /// An account with this e-mail exists (`create_user`, for tools such as `shopctl seed`;
    /// `POST /auth/register` never answers it: it would tell anyone who has an account).
    #[error("an account with this e-mail already exists")]
    EmailTaken,
    /// Unknown SKU.
    #[error("product {0} does not exist")]
    ProductNotFound(String),
    /// More requested than in stock.
    #[error("only {available} of {sku} available, {requested} requested")]
    InsufficientStock {
        /// The product.
        sku: String,
        /// Quantity asked for.
        requested: u32,
        /// Current stock.
        available: u32,
    },
    /// The cart already has the maximum number of lines.
    #[error("a cart holds at most {max} different products")]
    CartFull {
        /// The limit.
        max: usize,
    },
    /// Conditional writes kept losing to concurrent writers.
    #[error("the cart was modified concurrently {attempts} times in a row; retry the request")]
    CartConflict {
        /// Attempts made.
        attempts: u32,
    },
    /// The route needs a signed-in user; this session is anonymous.
    #[error("sign in to do this: anonymous sessions cannot {0}")]
    LoginRequired(&'static str),
    /// Signed in, but without the role this route needs.
    #[error("{0}")]
    Forbidden(String),
    /// `POST /checkout` without an `Idempotency-Key` header.
    #[error(
        "the Idempotency-Key header is required: send a unique key per order and reuse it on retries"
    )]
    IdempotencyKeyRequired,
    /// An `Idempotency-Key` that is not 1–64 characters of `A-Za-z0-9_-`.
    #[error("{0}")]
    InvalidIdempotencyKey(String),
    /// A payment token the simulated provider does not know.
    #[error("{0}")]
    InvalidPaymentToken(String),
    /// An `Idempotency-Key` used before with a different request body.
    #[error(
        "this Idempotency-Key was already used for a different request (order {0}); use a new key for a new order"
    )]
    IdempotencyKeyReused(String),
    /// The checkout workflow could not be started; the order stays `PENDING`.
    #[error("checkout could not be started right now; retry with the same Idempotency-Key")]
    CheckoutUnavailable,
    /// The cancel workflow could not be started; the order stays `CANCELLING`.
    #[error("the cancellation could not be started right now; retry the request")]
    CancelUnavailable,
    /// No such order, or not the caller's.
    #[error("order {0} does not exist")]
    OrderNotFound(String),
    /// Cancelling an order that has shipped.
    #[error("order {0} has already been fulfilled and can no longer be cancelled")]
    OrderAlreadyFulfilled(String),
    /// Cancelling an order in a status that cannot be cancelled.
    #[error("order {order_id} is {status} and cannot be cancelled")]
    OrderNotCancellable {
        /// The order.
        order_id: String,
        /// Its status.
        status: &'static str,
    },
    /// Approving or rejecting an order that is not waiting for a decision.
    #[error("order {order_id} is not awaiting approval: {detail}")]
    OrderNotAwaitingApproval {
        /// The order.
        order_id: String,
        /// Why (its status, or a task that timed out or was answered already).
        detail: String,
    },
    /// No such image of this product (images-api).
    #[error("image {0} does not exist")]
    ImageNotFound(String),
    /// The product holds as many images as a product may (images-api).
    #[error("product {sku} already holds {max} images, the most a product may; delete one first")]
    TooManyImages {
        /// The product.
        sku: String,
        /// The limit.
        max: usize,
    },
}

impl ApiError {
    /// An internal error: `detail` is logged, never sent.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::Request(RequestError::Internal(detail.into()))
    }

    /// A body of the wrong shape, or a field with a value the route does not accept (400).
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::Request(RequestError::InvalidRequest(message.into()))
    }

    /// A missing, malformed, unknown or expired bearer token (401).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Request(RequestError::Unauthorized(message.into()))
    }
}

impl HttpError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Request(err) => err.status(),
            Self::InvalidSku(_)
            | Self::InvalidQuantity(_)
            | Self::InvalidLimit(_)
            | Self::InvalidCursor(_)
            | Self::IdempotencyKeyRequired
            | Self::InvalidIdempotencyKey(_)
            | Self::InvalidPaymentToken(_) => StatusCode::BAD_REQUEST,
            Self::AccountLocked | Self::LoginRequired(_) | Self::Forbidden(_) => {
                StatusCode::FORBIDDEN
            }
            Self::ProductNotFound(_) | Self::OrderNotFound(_) | Self::ImageNotFound(_) => {
                StatusCode::NOT_FOUND
            }
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::IdempotencyKeyReused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::CheckoutUnavailable | Self::CancelUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InsufficientStock { .. }
            | Self::CartFull { .. }
            | Self::CartConflict { .. }
            | Self::EmailTaken
            | Self::OrderAlreadyFulfilled(_)
            | Self::OrderNotCancellable { .. }
            | Self::OrderNotAwaitingApproval { .. }
            | Self::TooManyImages { .. } => StatusCode::CONFLICT,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Request(err) => err.code(),
            Self::InvalidSku(_) => "INVALID_SKU",
            Self::InvalidQuantity(_) => "INVALID_QUANTITY",
            Self::InvalidLimit(_) => "INVALID_LIMIT",
            Self::InvalidCursor(_) => "INVALID_CURSOR",
            Self::AccountLocked => "ACCOUNT_LOCKED",
            Self::TooManyAttempts { .. } => "TOO_MANY_ATTEMPTS",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::ProductNotFound(_) => "PRODUCT_NOT_FOUND",
            Self::InsufficientStock { .. } => "INSUFFICIENT_STOCK",
            Self::CartFull { .. } => "CART_FULL",
            Self::CartConflict { .. } => "CART_CONFLICT",
            Self::LoginRequired(_) => "LOGIN_REQUIRED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::IdempotencyKeyRequired => "IDEMPOTENCY_KEY_REQUIRED",
            Self::InvalidIdempotencyKey(_) => "INVALID_IDEMPOTENCY_KEY",
            Self::InvalidPaymentToken(_) => "INVALID_PAYMENT_TOKEN",
            Self::IdempotencyKeyReused(_) => "IDEMPOTENCY_KEY_REUSED",
            Self::CheckoutUnavailable => "CHECKOUT_UNAVAILABLE",
            Self::CancelUnavailable => "CANCEL_UNAVAILABLE",
            Self::OrderNotFound(_) => "ORDER_NOT_FOUND",
            Self::OrderAlreadyFulfilled(_) => "ORDER_ALREADY_FULFILLED",
            Self::OrderNotCancellable { .. } => "ORDER_NOT_CANCELLABLE",
            Self::OrderNotAwaitingApproval { .. } => "ORDER_NOT_AWAITING_APPROVAL",
            Self::ImageNotFound(_) => "IMAGE_NOT_FOUND",
            Self::TooManyImages { .. } => "TOO_MANY_IMAGES",
        }
    }

    fn internal_detail(&self) -> Option<&str> {
        match self {
            Self::Request(err) => err.internal_detail(),
            _ => None,
        }
    }

    fn headers(&self) -> Vec<(header::HeaderName, HeaderValue)> {
        match self {
            Self::Request(err) => err.headers(),
            Self::TooManyAttempts {
                retry_after_seconds,
            } => vec![(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds))],
            _ => Vec::new(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self::internal(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_are_not_in_the_body() {
        let err = ApiError::internal("secret table name");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            err.body(),
            serde_json::json!({"error": {"code": "INTERNAL_ERROR", "message": "internal error"}})
        );
    }

    #[test]
    fn stock_message_says_how_many_are_available() {
        let err = ApiError::InsufficientStock {
            sku: "MUG".to_owned(),
            requested: 5,
            available: 2,
        };
        assert_eq!(err.status(), StatusCode::CONFLICT);
        assert_eq!(err.to_string(), "only 2 of MUG available, 5 requested");
    }
}
