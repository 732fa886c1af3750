//! The HTTP API's contract: the OpenAPI 3.1 document `api/openapi.json`, generated from the
//! handlers' own types so that it cannot drift from them.
//!
//! | part of the document | where it comes from |
//! | --- | --- |
//! | paths and methods | [`operations`]; a test checks they are exactly the `ROUTES` the six API functions serve, and `api/fuzz/check_routes.py` (run before the fuzz run) that they and their auth are the template's `Api` events |
//! | request and response bodies | the types the handlers (de)serialise, through `schemars` |
//! | error statuses and codes | [`status`](lambda_kit::http::HttpError::status) / [`code`](lambda_kit::http::HttpError::code) of the [`ApiError`]s each operation lists |
//! | gateway errors | the template's `GatewayResponses` (`GATEWAY_*` codes, [`GATEWAY_UNAUTHORIZED`] …) |
//!
//! What is written by hand here is only what the types cannot say: which errors an operation
//! can return, its parameters and summary. `api_schemas_are_committed` fails when the
//! committed file differs from [`document`] (`UPDATE_SCHEMAS=1` rewrites it; `make schemas`
//! does). `infra/scripts/fuzz-api.sh` runs schemathesis with this document against the
//! deployed API: every response must be one the document describes.

use std::collections::{BTreeMap, BTreeSet};

use lambda_http::http::StatusCode;
use lambda_kit::http::{HttpError as _, RequestError};
use schemars::{SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use crate::api_error::ApiError;
use crate::auth::api::{Credentials, LoggedIn, NewAccount, Registered};
use crate::cart::PricedCart;
use crate::cart::api::{NewSession, PutItemBody};
use crate::catalog::Sku;
use crate::catalog::api::{ProductDetail, ProductList};
use crate::checkout::api::{Accepted, CheckoutBody};
use crate::media::ImageId;
use crate::media::api::{NewImageBody, UploadTicket};
use crate::orders::api::{OrderList, StatusBody};
use crate::orders::{IdempotencyKey, OrderId, OrderView};

/// Where the document is committed, relative to the repository root.
pub const DOCUMENT_PATH: &str = "api/openapi.json";

/// API Gateway's answer when the authorizer refuses a token (on AWS; LocalStack runs no
/// authorizer and the handler answers `UNAUTHORIZED` itself).
pub const GATEWAY_UNAUTHORIZED: &str = "GATEWAY_UNAUTHORIZED";
/// API Gateway's answer when the authorizer denies a session (a locked account).
pub const GATEWAY_ACCESS_DENIED: &str = "GATEWAY_ACCESS_DENIED";
/// API Gateway's answer when the stage's throttling refuses a request.
pub const GATEWAY_THROTTLED: &str = "GATEWAY_THROTTLED";
/// API Gateway's answer on a route that requires an API key when the request has none, or one
/// that is unknown, disabled or in no usage plan of the stage (one gateway response type,
/// `INVALID_API_KEY`, covers all of them; the template's body says so).
pub const GATEWAY_INVALID_API_KEY: &str = "GATEWAY_INVALID_API_KEY";
/// API Gateway's answer when a key has used up its usage plan's quota (per day).
pub const GATEWAY_QUOTA_EXCEEDED: &str = "GATEWAY_QUOTA_EXCEEDED";

/// Why the document could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// Two different schemas under one component name (a request and a response type
    /// named alike).
    #[error("two different schemas are named {0}: rename one (schemars(rename = ...))")]
    SchemaNameClash(String),
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone.
    Public,
    /// Anyone; a bearer token, if sent, is used (`POST /auth/login` merges its cart).
    Optional,
    /// `Authorization: Bearer <token>` of a live session.
    Bearer,
    /// `x-api-key: <partner key>` (`shopctl partner-key create`), checked and metered by API
    /// Gateway against the partner usage plan.
    ApiKey,
}

/// One operation of the API, as the document describes it.
#[derive(Debug)]
pub struct Operation {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Resource template, as in the template and the handlers' `ROUTES`.
    pub path: &'static str,
    /// `operationId`.
    pub id: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Who may call it.
    pub auth: Auth,
    /// OpenAPI parameter objects.
    pub parameters: Vec<Value>,
    /// Schema of the JSON request body, if it takes one.
    pub request: Option<Value>,
    /// The success status.
    pub success: StatusCode,
    /// Schema of the success body (`None`: no body).
    pub response: Option<Value>,
    /// Every error the handler can answer (a sample of each; only status and code count).
    pub errors: Vec<ApiError>,
}

/// What the kit rejects in a JSON body: too large, not JSON, wrong shape, not declared JSON.
fn body_errors() -> Vec<ApiError> {
    vec![
        RequestError::InvalidJson(String::new()).into(),
        RequestError::InvalidRequest(String::new()).into(),
        RequestError::BodyTooLarge { size: 0, limit: 0 }.into(),
        RequestError::UnsupportedMediaType(String::new()).into(),
    ]
}

/// What authentication answers: no, unknown or expired token; a locked account.
fn auth_errors() -> Vec<ApiError> {
    vec![ApiError::unauthorized(""), ApiError::AccountLocked]
}

fn query(name: &str, description: &str, schema: &Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn path_param(name: &str, schema: &Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": schema})
}

fn limit(max: u16, default: u16) -> Value {
    query(
        "limit",
        "page size",
        &json!({"type": "integer", "minimum": 1, "maximum": max, "default": default}),
    )
}

fn cursor() -> Value {
    query(
        "cursor",
        "the `nextCursor` of the previous page",
        &json!({"type": "string"}),
    )
}

/// Every operation of the API, in the order of the README's table.
pub fn operations(
    requests: &mut SchemaGenerator,
    responses: &mut SchemaGenerator,
) -> Vec<Operation> {
    let sku = path_param("sku", &requests.subschema_for::<Sku>().to_value());
    let order_id = path_param("id", &requests.subschema_for::<OrderId>().to_value());
    let image_id = path_param("imageId", &requests.subschema_for::<ImageId>().to_value());
    let idempotency_key = json!({
        "name": "Idempotency-Key", "in": "header", "required": true,
        "description": "one key per order, reused on retries: the same key and body name the same order",
        "schema": {"type": "string", "pattern": format!("^[A-Za-z0-9_-]{{1,{}}}$", IdempotencyKey::MAX_LEN)},
    });
    let order_ops_errors = |extra: Vec<ApiError>| {
        let mut errors = auth_errors();
        errors.push(ApiError::LoginRequired(""));
        errors.push(ApiError::OrderNotFound(String::new()));
        errors.extend(extra);
        errors
    };
    let cart = Some(responses.subschema_for::<PricedCart>().to_value());
    let decision = Some(responses.subschema_for::<StatusBody<'static>>().to_value());
    vec![
        Operation {
            method: "GET",
            path: "/products",
            id: "listProducts",
            summary: "A page of the catalog, in SKU order",
            auth: Auth::Public,
            parameters: vec![
                limit(
                    crate::catalog::MAX_PAGE_SIZE,
                    crate::catalog::DEFAULT_PAGE_SIZE,
                ),
                cursor(),
            ],
            request: None,
            success: StatusCode::OK,
            response: Some(responses.subschema_for::<ProductList>().to_value()),
            errors: vec![
                ApiError::InvalidLimit(String::new()),
                ApiError::InvalidCursor(String::new()),
            ],
        },
        Operation {
            method: "GET",
            path: "/products/{sku}",
            id: "getProduct",
            summary: "One product, with its images (presigned thumbnail URLs)",
            auth: Auth::Public,
            parameters: vec![sku.clone()],
            request: None,
            success: StatusCode::OK,
            response: Some(responses.subschema_for::<ProductDetail>().to_value()),
            errors: vec![
                ApiError::InvalidSku(String::new()),
                ApiError::ProductNotFound(String::new()),
            ],
        },
        Operation {
            method: "GET",
            path: crate::catalog::PARTNER_PRODUCTS,
            id: "listPartnerProducts",
            summary: "A page of the catalog for a partner (API key required; rate, burst and a daily quota per key)",
            auth: Auth::ApiKey,
            parameters: vec![
                limit(
                    crate::catalog::MAX_PAGE_SIZE,
                    crate::catalog::DEFAULT_PAGE_SIZE,
                ),
                cursor(),
            ],
            request: None,
            success: StatusCode::OK,
            response: Some(responses.subschema_for::<ProductList>().to_value()),
            errors: vec![
                ApiError::InvalidLimit(String::new()),
                ApiError::InvalidCursor(String::new()),
                ApiError::Forbidden(String::new()),
            ],
        },
        Operation {
            method: "POST",
            path: "/products/{sku}/images",
            id: "createProductImage",
            summary: "An admin adds an image to a product: a presigned PUT for its bytes (the image appears once checked and thumbnailed)",
            auth: Auth::Bearer,
            parameters: vec![sku.clone()],
            request: Some(requests.subschema_for::<NewImageBody>().to_value()),
            success: StatusCode::CREATED,
            response: Some(responses.subschema_for::<UploadTicket>().to_value()),
            errors: [
                auth_errors(),
                body_errors(),
                vec![
                    ApiError::Forbidden(String::new()),
                    ApiError::InvalidSku(String::new()),
                    ApiError::ProductNotFound(String::new()),
                    ApiError::TooManyImages {
                        sku: String::new(),
                        max: 0,
                    },
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
        Operation {
            method: "DELETE",
            path: "/products/{sku}/images/{imageId}",
            id: "deleteProductImage",
            summary: "An admin deletes a product's image: off the product, then its upload, thumbnails and record",
            auth: Auth::Bearer,
            parameters: vec![sku.clone(), image_id],
            request: None,
            success: StatusCode::NO_CONTENT,
            response: None,
            errors: [
                auth_errors(),
                vec![
                    ApiError::Forbidden(String::new()),
                    ApiError::InvalidSku(String::new()),
                    ApiError::ImageNotFound(String::new()),
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
        Operation {
            method: "POST",
            path: "/sessions",
            id: "createSession",
            summary: "A new anonymous session (and so a cart)",
            auth: Auth::Public,
            parameters: Vec::new(),
            request: None,
            success: StatusCode::CREATED,
            response: Some(responses.subschema_for::<NewSession>().to_value()),
            errors: Vec::new(),
        },
        Operation {
            method: "GET",
            path: "/cart",
            id: "getCart",
            summary: "The session's cart, priced at current catalog prices",
            auth: Auth::Bearer,
            parameters: Vec::new(),
            request: None,
            success: StatusCode::OK,
            response: cart.clone(),
            errors: auth_errors(),
        },
        Operation {
            method: "DELETE",
            path: "/cart",
            id: "clearCart",
            summary: "Empty the cart",
            auth: Auth::Bearer,
            parameters: Vec::new(),
            request: None,
            success: StatusCode::NO_CONTENT,
            response: None,
            errors: auth_errors(),
        },
        Operation {
            method: "PUT",
            path: "/cart/items/{sku}",
            id: "setCartItem",
            summary: "Set the quantity of one product in the cart",
            auth: Auth::Bearer,
            parameters: vec![sku.clone()],
            request: Some(requests.subschema_for::<PutItemBody>().to_value()),
            success: StatusCode::OK,
            response: cart.clone(),
            errors: [
                auth_errors(),
                body_errors(),
                vec![
                    ApiError::InvalidSku(String::new()),
                    ApiError::InvalidQuantity(String::new()),
                    ApiError::ProductNotFound(String::new()),
                    ApiError::InsufficientStock {
                        sku: String::new(),
                        requested: 0,
                        available: 0,
                    },
                    ApiError::CartFull { max: 0 },
                    ApiError::CartConflict { attempts: 0 },
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
        Operation {
            method: "DELETE",
            path: "/cart/items/{sku}",
            id: "removeCartItem",
            summary: "Remove one product from the cart (idempotent)",
            auth: Auth::Bearer,
            parameters: vec![sku],
            request: None,
            success: StatusCode::OK,
            response: cart,
            errors: [
                auth_errors(),
                vec![
                    ApiError::InvalidSku(String::new()),
                    ApiError::CartConflict { attempts: 0 },
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
        Operation {
            method: "POST",
            path: "/auth/register",
            id: "register",
            summary: "Create an account; the answer is the same for a taken address (its owner is told)",
            auth: Auth::Public,
            parameters: Vec::new(),
            request: Some(requests.subschema_for::<NewAccount>().to_value()),
            success: StatusCode::ACCEPTED,
            response: Some(responses.subschema_for::<Registered>().to_value()),
            errors: body_errors(),
        },
        Operation {
            method: "POST",
            path: "/auth/login",
            id: "login",
            summary: "Sign in: a new session; an anonymous session's cart sent along is merged",
            auth: Auth::Optional,
            parameters: Vec::new(),
            request: Some(requests.subschema_for::<Credentials>().to_value()),
            success: StatusCode::OK,
            response: Some(responses.subschema_for::<LoggedIn>().to_value()),
            errors: [
                body_errors(),
                vec![
                    ApiError::unauthorized(""),
                    ApiError::AccountLocked,
                    ApiError::TooManyAttempts {
                        retry_after_seconds: 0,
                    },
                    ApiError::CartConflict { attempts: 0 },
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
        Operation {
            method: "POST",
            path: "/auth/logout",
            id: "logout",
            summary: "End the session",
            auth: Auth::Bearer,
            parameters: Vec::new(),
            request: None,
            success: StatusCode::NO_CONTENT,
            response: None,
            errors: vec![ApiError::unauthorized("")],
        },
        Operation {
            method: "POST",
            path: "/checkout",
            id: "checkout",
            summary: "Turn the cart into an order and start the checkout workflow",
            auth: Auth::Bearer,
            parameters: vec![idempotency_key],
            request: Some(requests.subschema_for::<CheckoutBody>().to_value()),
            success: StatusCode::ACCEPTED,
            response: Some(responses.subschema_for::<Accepted<'static>>().to_value()),
            errors: [
                auth_errors(),
                body_errors(),
                vec![
                    ApiError::LoginRequired(""),
                    ApiError::IdempotencyKeyRequired,
                    ApiError::InvalidIdempotencyKey(String::new()),
                    ApiError::InvalidPaymentToken(String::new()),
                    ApiError::IdempotencyKeyReused(String::new()),
                    ApiError::CheckoutUnavailable,
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
        Operation {
            method: "GET",
            path: "/orders",
            id: "listOrders",
            summary: "The caller's orders, newest first",
            auth: Auth::Bearer,
            parameters: vec![
                limit(
                    crate::orders::api::MAX_PAGE_SIZE,
                    crate::orders::api::DEFAULT_PAGE_SIZE,
                ),
                cursor(),
            ],
            request: None,
            success: StatusCode::OK,
            response: Some(responses.subschema_for::<OrderList>().to_value()),
            errors: [
                auth_errors(),
                vec![
                    ApiError::LoginRequired(""),
                    ApiError::InvalidLimit(String::new()),
                    ApiError::InvalidCursor(String::new()),
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
        Operation {
            method: "GET",
            path: "/orders/{id}",
            id: "getOrder",
            summary: "One of the caller's orders (anyone else's is not found)",
            auth: Auth::Bearer,
            parameters: vec![order_id.clone()],
            request: None,
            success: StatusCode::OK,
            response: Some(responses.subschema_for::<OrderView>().to_value()),
            errors: order_ops_errors(Vec::new()),
        },
        Operation {
            method: "POST",
            path: "/orders/{id}/cancel",
            id: "cancelOrder",
            summary: "Cancel a confirmed order (idempotent)",
            auth: Auth::Bearer,
            parameters: vec![order_id.clone()],
            request: None,
            success: StatusCode::ACCEPTED,
            response: decision.clone(),
            errors: order_ops_errors(vec![
                ApiError::OrderAlreadyFulfilled(String::new()),
                ApiError::OrderNotCancellable {
                    order_id: String::new(),
                    status: "",
                },
                ApiError::CancelUnavailable,
            ]),
        },
        Operation {
            method: "POST",
            path: "/orders/{id}/approve",
            id: "approveOrder",
            summary: "An admin approves an order held for review (not their own)",
            auth: Auth::Bearer,
            parameters: vec![order_id.clone()],
            request: None,
            success: StatusCode::ACCEPTED,
            response: decision.clone(),
            errors: admin_errors(),
        },
        Operation {
            method: "POST",
            path: "/orders/{id}/reject",
            id: "rejectOrder",
            summary: "An admin rejects an order held for review (not their own)",
            auth: Auth::Bearer,
            parameters: vec![order_id],
            request: None,
            success: StatusCode::ACCEPTED,
            response: decision,
            errors: admin_errors(),
        },
    ]
}

fn admin_errors() -> Vec<ApiError> {
    [
        auth_errors(),
        vec![
            ApiError::Forbidden(String::new()),
            ApiError::OrderNotFound(String::new()),
            ApiError::OrderNotAwaitingApproval {
                order_id: String::new(),
                detail: String::new(),
            },
        ],
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The error responses of `op`: by status, the codes it can answer with, the API Gateway
/// ones included.
pub fn error_codes(op: &Operation) -> BTreeMap<u16, BTreeSet<&'static str>> {
    let mut codes: BTreeMap<u16, BTreeSet<&'static str>> = BTreeMap::new();
    let internal = ApiError::internal("");
    for err in op.errors.iter().chain([&internal]) {
        codes
            .entry(err.status().as_u16())
            .or_default()
            .insert(err.code());
    }
    if op.auth == Auth::Bearer {
        codes.entry(401).or_default().insert(GATEWAY_UNAUTHORIZED);
        codes.entry(403).or_default().insert(GATEWAY_ACCESS_DENIED);
    }
    if op.auth == Auth::ApiKey {
        codes
            .entry(403)
            .or_default()
            .insert(GATEWAY_INVALID_API_KEY);
        codes.entry(429).or_default().insert(GATEWAY_QUOTA_EXCEEDED);
    }
    codes.entry(429).or_default().insert(GATEWAY_THROTTLED);
    codes
}

fn generator(settings: SchemaSettings) -> SchemaGenerator {
    settings
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator()
}

/// The error body every error response shares.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "stable, SCREAMING_SNAKE"},
                    "message": {"type": "string", "description": "what is wrong, for a person"}
                }
            }
        }
    })
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

fn operation_object(op: &Operation) -> Value {
    let mut responses = Map::new();
    let success = op.success.as_u16();
    let mut ok = json!({"description": reason(success)});
    if let Some(schema) = &op.response {
        ok["content"] = json!({"application/json": {"schema": schema}});
    }
    responses.insert(success.to_string(), ok);
    for (status, codes) in error_codes(op) {
        let codes: Vec<&str> = codes.into_iter().collect();
        let mut response = json!({
            "description": format!("{}: {}", reason(status), codes.join(", ")),
            "content": {"application/json": {"schema": {
                "allOf": [
                    {"$ref": "#/components/schemas/Error"},
                    {"properties": {"error": {"properties": {"code": {"enum": codes}}}}}
                ]
            }}}
        });
        if status == 429 {
            response["headers"] = json!({"Retry-After": {
                "description": "seconds to wait (TOO_MANY_ATTEMPTS)",
                "schema": {"type": "integer"}
            }});
        }
        responses.insert(status.to_string(), response);
    }
    let security = match op.auth {
        Auth::Public => json!([]),
        Auth::Optional => json!([{}, {"bearerAuth": []}]),
        Auth::Bearer => json!([{"bearerAuth": []}]),
        Auth::ApiKey => json!([{"partnerKey": []}]),
    };
    let mut object = json!({
        "operationId": op.id,
        "summary": op.summary,
        "security": security,
        "responses": responses,
    });
    if !op.parameters.is_empty() {
        object["parameters"] = Value::Array(op.parameters.clone());
    }
    if let Some(schema) = &op.request {
        object["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": schema}}
        });
    }
    object
}

/// The OpenAPI 3.1 document of the shop's REST API.
pub fn document() -> Result<Value, OpenApiError> {
    let mut requests = generator(SchemaSettings::draft2020_12().for_deserialize());
    let mut responses = generator(SchemaSettings::draft2020_12().for_serialize());
    let operations = operations(&mut requests, &mut responses);

    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for op in &operations {
        paths
            .entry(op.path)
            .or_default()
            .insert(op.method.to_lowercase(), operation_object(op));
    }
    let mut schemas = responses.take_definitions(true);
    for (name, schema) in requests.take_definitions(true) {
        match schemas.get(&name) {
            Some(existing) if *existing != schema => {
                return Err(OpenApiError::SchemaNameClash(name));
            }
            _ => {
                schemas.insert(name, schema);
            }
        }
    }
    schemas.insert("Error".to_owned(), error_schema());
    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Rust serverless shop",
            "version": "1",
            "description": "The shop's REST API (API Gateway stage v1). Generated from the Rust types by shop_core::openapi (do not edit: UPDATE_SCHEMAS=1 cargo test -p shop-core --features schemas api_schemas_are_committed). Money is {amount: minor units, currency}; every error is {error: {code, message}}."
        },
        "servers": [
            {
                "url": "http://127.0.0.1:4566/_aws/execute-api/{apiId}/v1",
                "description": "LocalStack (make up prints the URL; ApiBaseUrl in .local/stack-outputs.json)",
                "variables": {"apiId": {"default": "local"}}
            },
            {
                "url": "https://{apiId}.execute-api.{region}.amazonaws.com/v1",
                "description": "AWS",
                "variables": {"apiId": {"default": "api"}, "region": {"default": "eu-west-1"}}
            }
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a session token from POST /sessions (anonymous) or POST /auth/login"
                },
                "partnerKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "a partner's API key (shopctl partner-key create), in the partner usage plan: rate, burst and a daily quota per key"
                }
            },
            "schemas": schemas
        }
    }))
}

/// Whether the API can answer with `err`'s code at all. Exhaustive on purpose: a new
/// variant does not compile until someone decides whether the document lists it.
pub fn reachable_over_http(err: &ApiError) -> bool {
    match err {
        // Only `shopctl seed` sees it: register answers 202 for a taken address.
        ApiError::EmailTaken => false,
        ApiError::Request(request) => match request {
            // API Gateway routes only the documented methods and paths to a function.
            RequestError::NotFound { .. } | RequestError::MethodNotAllowed { .. } => false,
            RequestError::InvalidJson(_)
            | RequestError::BodyTooLarge { .. }
            | RequestError::UnsupportedMediaType(_)
            | RequestError::InvalidRequest(_)
            | RequestError::Unauthorized(_)
            | RequestError::Internal(_) => true,
        },
        ApiError::InvalidSku(_)
        | ApiError::InvalidQuantity(_)
        | ApiError::InvalidLimit(_)
        | ApiError::InvalidCursor(_)
        | ApiError::AccountLocked
        | ApiError::TooManyAttempts { .. }
        | ApiError::ProductNotFound(_)
        | ApiError::InsufficientStock { .. }
        | ApiError::CartFull { .. }
        | ApiError::CartConflict { .. }
        | ApiError::LoginRequired(_)
        | ApiError::Forbidden(_)
        | ApiError::IdempotencyKeyRequired
        | ApiError::InvalidIdempotencyKey(_)
        | ApiError::InvalidPaymentToken(_)
        | ApiError::IdempotencyKeyReused(_)
        | ApiError::CheckoutUnavailable
        | ApiError::CancelUnavailable
        | ApiError::OrderNotFound(_)
        | ApiError::OrderAlreadyFulfilled(_)
        | ApiError::OrderNotCancellable { .. }
        | ApiError::OrderNotAwaitingApproval { .. }
        | ApiError::ImageNotFound(_)
        | ApiError::TooManyImages { .. } => true,
    }
}

/// A sample of every [`ApiError`] variant (tests: each reachable one is in the document).
/// Keep in step with [`reachable_over_http`], whose exhaustive match flags a new variant.
pub fn every_error() -> Vec<ApiError> {
    vec![
        RequestError::InvalidJson(String::new()).into(),
        RequestError::BodyTooLarge { size: 0, limit: 0 }.into(),
        RequestError::UnsupportedMediaType(String::new()).into(),
        RequestError::InvalidRequest(String::new()).into(),
        RequestError::Unauthorized(String::new()).into(),
        RequestError::NotFound {
            method: String::new(),
            path: String::new(),
        }
        .into(),
        RequestError::MethodNotAllowed {
            method: String::new(),
            resource: String::new(),
            allowed: String::new(),
        }
        .into(),
        RequestError::Internal(String::new()).into(),
        ApiError::InvalidSku(String::new()),
        ApiError::InvalidQuantity(String::new()),
        ApiError::InvalidLimit(String::new()),
        ApiError::InvalidCursor(String::new()),
        ApiError::AccountLocked,
        ApiError::TooManyAttempts {
            retry_after_seconds: 0,
        },
        ApiError::EmailTaken,
        ApiError::ProductNotFound(String::new()),
        ApiError::InsufficientStock {
            sku: String::new(),
            requested: 0,
            available: 0,
        },
        ApiError::CartFull { max: 0 },
        ApiError::CartConflict { attempts: 0 },
        ApiError::LoginRequired(""),
        ApiError::Forbidden(String::new()),
        ApiError::IdempotencyKeyRequired,
        ApiError::InvalidIdempotencyKey(String::new()),
        ApiError::InvalidPaymentToken(String::new()),
        ApiError::IdempotencyKeyReused(String::new()),
        ApiError::CheckoutUnavailable,
        ApiError::CancelUnavailable,
        ApiError::OrderNotFound(String::new()),
        ApiError::OrderAlreadyFulfilled(String::new()),
        ApiError::OrderNotCancellable {
            order_id: String::new(),
            status: "",
        },
        ApiError::OrderNotAwaitingApproval {
            order_id: String::new(),
            detail: String::new(),
        },
        ApiError::ImageNotFound(String::new()),
        ApiError::TooManyImages {
            sku: String::new(),
            max: 0,
        },
    ]
}

#[cfg(test)]
mod tests;
