//! checkout-api: the `POST /checkout` handler (see the module docs of [`super`]).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::api_error::ApiError;
use crate::auth::SessionStore;
use crate::auth::{UserStore, principal_of};
use crate::cart::cart_pk;
use crate::orders::{CreateOutcome, OrderStore, now_millis};
use crate::orders::{IdempotencyKey, Order, OrderId, OrderLinks, OrderStatus, PaymentToken};
use lambda_kit::clock::Clock;
use lambda_kit::http::{Route, correlation_id, json_response, match_route, parse_json_body, serve};
use lambda_kit::ids::sha256_hex;
use lambda_kit::workflow::{Started, Workflows, execution_arn_of};

/// Name of the function (log field, crate and binary name).
pub const FUNCTION_NAME: &str = "checkout-api";

/// Header carrying the client's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The resources this function serves.
pub const ROUTES: &[Route] = &[Route {
    resource: "/checkout",
    methods: &["POST"],
}];

/// The checkout request body.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(
    feature = "schemas",
    derive(schemars::JsonSchema),
    schemars(rename = "CheckoutRequest")
)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckoutBody {
    /// How the simulated payment provider behaves for this order.
    #[cfg_attr(feature = "schemas", schemars(with = "PaymentToken"))]
    payment_token: String,
}

/// `202 Accepted` body.
#[derive(Debug, Serialize)]
#[cfg_attr(
    feature = "schemas",
    derive(schemars::JsonSchema),
    schemars(rename = "CheckoutAccepted")
)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Accepted<'a> {
    /// The order (the same for a retry with the same key and body).
    order_id: &'a OrderId,
    /// Its status now.
    status: OrderStatus,
    /// Where to follow or cancel it.
    links: OrderLinks,
}

/// The checkout execution's input, in a fixed field order (`statemachines/README.md`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionInput<'a> {
    order_id: &'a str,
    user_id: &'a str,
    email: &'a str,
    cart_key: &'a str,
    payment_token: &'a str,
    idempotency_key: &'a str,
    correlation_id: &'a str,
}

/// The checkout workflow's input for `order`, built only from the stored item so that a
/// replayed `StartExecution` sends byte-identical input.
pub fn execution_input(order: &Order) -> String {
    let input = ExecutionInput {
        order_id: order.order_id.as_str(),
        user_id: &order.user_id,
        email: &order.email,
        cart_key: &order.cart_key,
        payment_token: order.payment_token.as_str(),
        idempotency_key: order.idempotency_key.as_str(),
        correlation_id: &order.correlation_id,
    };
    // Only strings: serialising cannot fail.
    serde_json::to_string(&input).unwrap_or_default()
}

/// The checkout API.
#[derive(Debug)]
pub struct CheckoutApi<O, W, S, U> {
    orders: O,
    workflows: W,
    sessions: S,
    users: U,
    state_machine_arn: String,
    clock: Clock,
}

impl<O: OrderStore, W: Workflows, S: SessionStore, U: UserStore> CheckoutApi<O, W, S, U> {
    /// The API over its stores; orders start executions of `state_machine_arn`.
    pub fn new(
        orders: O,
        workflows: W,
        sessions: S,
        users: U,
        state_machine_arn: impl Into<String>,
    ) -> Self {
        Self {
            orders,
            workflows,
            sessions,
            users,
            state_machine_arn: state_machine_arn.into(),
            clock: Clock::System,
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The order store (tests and tools).
    pub fn orders(&self) -> &O {
        &self.orders
    }

    /// The workflows (tests).
    pub fn workflows(&self) -> &W {
        &self.workflows
    }

    /// The session store (tests).
    pub fn sessions(&self) -> &S {
        &self.sessions
    }

    /// Handles one API Gateway request.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        serve(FUNCTION_NAME, &req, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        match_route(ROUTES, req)?;
        self.checkout(req).await
    }

    async fn checkout(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let principal = principal_of(req, &self.sessions, &self.users, self.clock.now()).await?;
        let Some(user_id) = principal.user_id.clone() else {
            return Err(ApiError::LoginRequired("check out"));
        };
        let key = idempotency_key(req)?;
        let body: CheckoutBody = parse_json_body(req)?;
        let payment_token = PaymentToken::parse(&body.payment_token)
            .map_err(|e| ApiError::InvalidPaymentToken(e.to_string()))?;
        // The canonical body: the parsed body serialised again (key order, spacing and
        // unknown fields do not change it).
        let canonical = serde_json::to_string(&body)
            .map_err(|e| ApiError::internal(format!("serialising the body: {e}")))?;
        let request_hash = sha256_hex(canonical.as_bytes());
        let now = now_millis(&self.clock);
        let order_id = OrderId::derive(&user_id, &key);
        // Named after the order, so known before it starts: recorded with the order (no
        // write after StartExecution). For the EXPRESS checkout it names the run
        // (`…:execution:<machine>:<orderId>`); the run's own ARN carries a random suffix.
        let execution_arn = execution_arn_of(&self.state_machine_arn, order_id.as_str());
        let candidate = Order {
            order_id,
            user_id,
            email: principal.email.clone().unwrap_or_default(),
            status: OrderStatus::Pending,
            created_at: now,
            updated_at: now,
            idempotency_key: key,
            request_hash,
            payment_token,
            correlation_id: correlation_id(req),
            cart_key: cart_pk(&principal.cart_id()),
            execution_arn: Some(execution_arn),
            items: Vec::new(),
            total: None,
            item_count: None,
            charge_id: None,
            failure_reason: None,
            refund_pending_reason: None,
            refund_pending_outcome: None,
            approval_token: None,
            approved_by: None,
            reconciled_at: None,
        };
        let (order, replay) = match self.orders.create(&candidate).await? {
            CreateOutcome::Created => (candidate, false),
            CreateOutcome::Exists(existing) => {
                if existing.request_hash != candidate.request_hash
                    || existing.user_id != candidate.user_id
                {
                    return Err(ApiError::IdempotencyKeyReused(
                        existing.order_id.to_string(),
                    ));
                }
                (*existing, true)
            }
        };
        tracing::info!(
            order_id = %order.order_id,
            order_correlation_id = %order.correlation_id,
            replay,
            status = %order.status,
            "checkout accepted"
        );
        self.start_workflow(&order).await?;
        let body = Accepted {
            order_id: &order.order_id,
            status: order.status,
            links: OrderLinks::of(&order.order_id),
        };
        Ok(json_response(StatusCode::ACCEPTED, &body))
    }

    /// Starts (or finds started) the order's execution and records its ARN.
    async fn start_workflow(&self, order: &Order) -> Result<(), ApiError> {
        let name = order.order_id.as_str();
        let started = self
            .workflows
            .start_execution(&self.state_machine_arn, name, &execution_input(order))
            .await
            .map_err(|err| {
                tracing::error!(order_id = %order.order_id, error = %err, "StartExecution failed; the order stays PENDING");
                ApiError::CheckoutUnavailable
            })?;
        match started {
            // The order already names its run (`<orderId>`, recorded with it): an EXPRESS
            // run's ARN adds a random suffix that no API can look up (its events are in the
            // machine's log group, by name), so it is logged, not written (a round trip saved).
            Started::New { execution_arn } => {
                tracing::info!(order_id = %order.order_id, execution_arn, "checkout started");
            }
            Started::AlreadyExists => {
                tracing::info!(order_id = %order.order_id, "execution already started");
            }
        }
        Ok(())
    }
}

/// The `Idempotency-Key` header: required, 1–64 characters of `A-Za-z0-9_-`.
fn idempotency_key(req: &Request) -> Result<IdempotencyKey, ApiError> {
    let value = req
        .headers()
        .get(IDEMPOTENCY_KEY_HEADER)
        .ok_or(ApiError::IdempotencyKeyRequired)?;
    let text = value.to_str().map_err(|_| {
        ApiError::InvalidIdempotencyKey(
            "the Idempotency-Key header must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'"
                .to_owned(),
        )
    })?;
    if text.is_empty() {
        return Err(ApiError::IdempotencyKeyRequired);
    }
    IdempotencyKey::parse(text).map_err(|e| ApiError::InvalidIdempotencyKey(e.to_string()))
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
