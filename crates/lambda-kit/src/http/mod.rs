//! HTTP plumbing for API Gateway REST (v1) proxy integrations.
//!
//! | item | what it gives |
//! | --- | --- |
//! | [`HttpError`], [`RequestError`] | one error → status + JSON body mapping, extended by yours |
//! | [`parse_json_body`], [`MAX_BODY_BYTES`] | a JSON body with a size limit and content-type check |
//! | [`bearer_token`], [`query_param`], [`correlation_id`] | reading a request |
//! | [`Route`], [`match_route`] | routing on the API's resource templates (404 / 405) |
//! | [`json_response`], [`empty_response`], [`error_response`] | building responses (CORS origin from [`CORS_ALLOW_ORIGIN_ENV`]) |
//! | [`serve`] | the request span, error mapping, completion log and correlation header |

mod error;
mod request;
mod response;
mod routing;
mod serve;

pub use error::{HttpError, RequestError};
pub use lambda_http::http::StatusCode;
pub use request::{MAX_BODY_BYTES, bearer_token, correlation_id, parse_json_body, query_param};
pub use response::{
    CORRELATION_ID_HEADER, CORS_ALLOW_ORIGIN_ENV, empty_response, error_response, json_response,
};
pub use routing::{Route, RouteMatch, match_route};
pub use serve::serve;
