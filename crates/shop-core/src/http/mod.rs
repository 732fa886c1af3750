//! HTTP plumbing shared by the API functions: one error type with its status and JSON body,
//! request parsing with limits, routing on API Gateway REST resources, response helpers.

mod error;
mod request;
mod response;
mod routing;
mod serve;

pub use error::ApiError;
pub use request::{MAX_BODY_BYTES, bearer_token, correlation_id, parse_json_body, query_param};
pub use response::{CORRELATION_ID_HEADER, empty_response, error_response, json_response};
pub use routing::{Route, RouteMatch, match_route};
pub use serve::serve;
