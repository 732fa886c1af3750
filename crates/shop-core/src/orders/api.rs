//! orders-api: customers follow and cancel their orders; admins decide held orders.
//!
//! - `GET /orders?limit=&cursor=` → `{"items": [order], "nextCursor"?}` (the caller's, newest
//!   first; limit 1–50, default 20)
//! - `GET /orders/{id}` → the order (owner only; anyone else's is 404 `ORDER_NOT_FOUND`)
//! - `POST /orders/{id}/cancel` → 202 `{"orderId", "status"}`: `CONFIRMED` becomes
//!   `CANCELLING` and the cancel-order workflow runs; `FULFILLED` is 409
//!   `ORDER_ALREADY_FULFILLED`; other non-cancellable statuses 409 `ORDER_NOT_CANCELLABLE`
//! - `POST /orders/{id}/approve`, `POST /orders/{id}/reject` (role `admin`) →
//!   202 `{"orderId", "status"}`: answers the workflow's approval task. The handler checks
//!   the session itself (never a cached authorizer answer) and the account's role *now*
//!   (not the copy in the session), and no admin decides their own order (403 `FORBIDDEN`).
//!
//! Every status change is a conditional update on the status read, so a cancel racing the
//! fulfilment (or two admins) cannot both win.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::{OrderCursor, OrderStore, now_millis};
use crate::api_error::ApiError;
use crate::auth::SessionStore;
use crate::auth::{Principal, UserStore, auth_error_to_api, authenticate, principal_of};
use crate::orders::{Order, OrderId, OrderStatus, OrderView};
use lambda_kit::clock::Clock;
use lambda_kit::http::{
    Route, bearer_token, correlation_id, json_response, match_route, query_param, serve,
};
use lambda_kit::workflow::{Started, WorkflowError, Workflows};

/// Name of the function (log field, crate and binary name).
pub const FUNCTION_NAME: &str = "orders-api";

/// Page size when `limit` is not given.
pub const DEFAULT_PAGE_SIZE: u16 = 20;
/// Largest page size.
pub const MAX_PAGE_SIZE: u16 = 50;

/// The error name the checkout state machine's `Catch` matches for a rejection.
pub const ORDER_REJECTED_ERROR: &str = "OrderRejected";

/// Re-reads of an order whose status changed between the read and the conditional write.
const MAX_CANCEL_ATTEMPTS: u32 = 3;

/// Cancel runs started for one order at most (the first and the retries after failed ones).
const MAX_CANCEL_RUNS: u32 = 5;

/// The cancel-order workflow's `TimeoutSeconds` unless told otherwise.
const DEFAULT_CANCEL_RUN_TIMEOUT_SECONDS: i64 = 60;

/// What a cancel request did about the cancel run (the `cancelRun` of the 202 body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum CancelRun {
    /// The first run started now.
    Started,
    /// A run is running (or finished well): nothing started.
    Running,
    /// The previous run failed: a new one started.
    Restarted,
    /// Every run failed: the repair queue and the reconciler finish the cancel.
    HandedToRepair,
}

/// The resources this function serves.
pub const ROUTES: &[Route] = &[
    Route {
        resource: "/orders",
        methods: &["GET"],
    },
    Route {
        resource: "/orders/{id}",
        methods: &["GET"],
    },
    Route {
        resource: "/orders/{id}/cancel",
        methods: &["POST"],
    },
    Route {
        resource: "/orders/{id}/approve",
        methods: &["POST"],
    },
    Route {
        resource: "/orders/{id}/reject",
        methods: &["POST"],
    },
];

/// The routes only an admin may call.
const ADMIN_ROUTES: [&str; 2] = ["/orders/{id}/approve", "/orders/{id}/reject"];

/// `GET /orders` body.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderList {
    /// The caller's orders, newest first.
    items: Vec<OrderView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Body of the 202 answers: the order's status after the request, and for a cancel that
/// started or found a cancel run, what became of the run.
#[derive(Debug, Serialize)]
#[cfg_attr(
    feature = "schemas",
    derive(schemars::JsonSchema),
    schemars(rename = "OrderStatusChange")
)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusBody<'a> {
    /// The order.
    order_id: &'a OrderId,
    /// Its status now.
    status: OrderStatus,
    /// Cancel only: what the request did about the cancel-order workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    cancel_run: Option<CancelRun>,
}

/// The cancel-order execution's input (`statemachines/README.md`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelInput<'a> {
    order_id: &'a str,
    correlation_id: &'a str,
}

/// The output handed to the waiting approval task.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ApprovalOutput<'a> {
    approved_by: &'a str,
}

/// The orders API.
#[derive(Debug)]
pub struct OrdersApi<O, W, S, U> {
    orders: O,
    workflows: W,
    sessions: S,
    users: U,
    cancel_state_machine_arn: String,
    cancel_run_timeout_ms: i64,
    clock: Clock,
}

impl<O: OrderStore, W: Workflows, S: SessionStore, U: UserStore> OrdersApi<O, W, S, U> {
    /// The API over its stores; cancellations start executions of
    /// `cancel_state_machine_arn`.
    pub fn new(
        orders: O,
        workflows: W,
        sessions: S,
        users: U,
        cancel_state_machine_arn: impl Into<String>,
    ) -> Self {
        Self {
            orders,
            workflows,
            sessions,
            users,
            cancel_state_machine_arn: cancel_state_machine_arn.into(),
            cancel_run_timeout_ms: DEFAULT_CANCEL_RUN_TIMEOUT_SECONDS * 1_000,
            clock: Clock::System,
        }
    }

    /// How long a cancel run may take (the cancel-order machine's `TimeoutSeconds`): a
    /// repeated cancel after that, with the order still `CANCELLING`, means the run failed.
    #[must_use]
    pub fn with_cancel_run_timeout(mut self, seconds: i64) -> Self {
        self.cancel_run_timeout_ms = seconds.saturating_mul(1_000);
        self
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

    /// The user store (tests).
    pub fn users(&self) -> &U {
        &self.users
    }

    /// Handles one API Gateway request.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        serve(FUNCTION_NAME, &req, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let route = match_route(ROUTES, req)?;
        let now = self.clock.now();
        let principal = if ADMIN_ROUTES.contains(&route.resource) {
            // Never an authorizer answer API Gateway cached: a session logged out since, or
            // of an account locked since, must not decide orders for the cache's lifetime.
            authenticate(&self.sessions, &self.users, bearer_token(req)?, now)
                .await
                .map_err(auth_error_to_api)?
        } else {
            principal_of(req, &self.sessions, &self.users, now).await?
        };
        let id = route.param("id");
        match route.resource {
            "/orders" => self.list(&principal, req).await,
            "/orders/{id}" => {
                let order = self.own_order(&principal, id).await?;
                Ok(json_response(StatusCode::OK, &order.view()))
            }
            "/orders/{id}/cancel" => self.cancel(&principal, id, req).await,
            "/orders/{id}/approve" => self.approve(&principal, id).await,
            _ => self.reject(&principal, id).await,
        }
    }

    async fn list(&self, principal: &Principal, req: &Request) -> Result<Response<Body>, ApiError> {
        let user_id = signed_in(principal, "list orders")?;
        let limit = parse_limit(query_param(req, "limit"))?;
        let cursor = query_param(req, "cursor")
            .map(OrderCursor::decode)
            .transpose()
            .map_err(|e| ApiError::InvalidCursor(e.to_string()))?;
        let page = self
            .orders
            .list_for_user(user_id, limit, cursor.as_ref())
            .await?;
        let body = OrderList {
            items: page.items.iter().map(Order::view).collect(),
            next_cursor: page.next.as_ref().map(OrderCursor::encode),
        };
        Ok(json_response(StatusCode::OK, &body))
    }

    /// The order `id` if it exists and belongs to the caller; anything else is
    /// `ORDER_NOT_FOUND` (another user's order is indistinguishable from none).
    async fn own_order(&self, principal: &Principal, id: &str) -> Result<Order, ApiError> {
        let user_id = signed_in(principal, "view orders")?;
        self.any_order(id)
            .await?
            .filter(|order| order.user_id == user_id)
            .ok_or_else(|| ApiError::OrderNotFound(id.to_owned()))
    }

    /// The order `id` whoever owns it; `None` if it does not exist or the id is malformed.
    async fn any_order(&self, id: &str) -> Result<Option<Order>, ApiError> {
        let Ok(order_id) = OrderId::parse(id) else {
            return Ok(None);
        };
        Ok(self.orders.get(&order_id).await?)
    }

    async fn cancel(
        &self,
        principal: &Principal,
        id: &str,
        req: &Request,
    ) -> Result<Response<Body>, ApiError> {
        for _ in 0..MAX_CANCEL_ATTEMPTS {
            let order = self.own_order(principal, id).await?;
            let order_id = &order.order_id;
            match order.status {
                OrderStatus::Confirmed => {
                    let applied = self
                        .orders
                        .transition(order_id, &[OrderStatus::Confirmed], OrderStatus::Cancelling)
                        .await?;
                    if !applied {
                        // Shipped or cancelled in between: decide on the new status.
                        continue;
                    }
                    tracing::info!(order_id = %order_id, "order cancelling");
                    let run = self.start_cancel(order_id, req).await?;
                    return Ok(cancel_response(order_id, OrderStatus::Cancelling, run));
                }
                OrderStatus::Cancelling => {
                    // A retry after a failed start or a failed run (or a duplicate click).
                    let run = self.start_cancel(order_id, req).await?;
                    return Ok(cancel_response(order_id, OrderStatus::Cancelling, run));
                }
                OrderStatus::RefundPending => {
                    // The cancel is done but for the refund, which the repair consumer retries.
                    return Ok(status_response(order_id, OrderStatus::RefundPending));
                }
                OrderStatus::Cancelled => {
                    return Ok(status_response(order_id, OrderStatus::Cancelled));
                }
                OrderStatus::Fulfilled => {
                    return Err(ApiError::OrderAlreadyFulfilled(order_id.to_string()));
                }
                status => {
                    return Err(ApiError::OrderNotCancellable {
                        order_id: order_id.to_string(),
                        status: status.as_str(),
                    });
                }
            }
        }
        Err(ApiError::internal(format!(
            "order {id} kept changing status during cancellation"
        )))
    }

    /// Starts the cancel run: `cancel-<orderId>`, or, when the previous run should have ended
    /// by now (its timeout) and the order is still `CANCELLING`, `cancel-<orderId>-<n>`.
    /// cancel-order is EXPRESS: there is no API to ask a run how it went, so the order item
    /// counts the runs and stamps the last start ([`OrderStore::claim_cancel_run`], one
    /// conditional write: parallel requests start one run). Every cancel run hands what it
    /// cannot finish to the repair queue, so a failed run has usually been picked up there
    /// already; a new run is harmless (each step is idempotent) and gives the customer's retry
    /// a run of its own.
    async fn start_cancel(&self, order_id: &OrderId, req: &Request) -> Result<CancelRun, ApiError> {
        let correlation_id = correlation_id(req);
        let input = CancelInput {
            order_id: order_id.as_str(),
            correlation_id: &correlation_id,
        };
        let input = serde_json::to_string(&input)
            .map_err(|e| ApiError::internal(format!("serialising the cancel input: {e}")))?;
        let now = now_millis(&self.clock);
        let Some(run) = self
            .orders
            .claim_cancel_run(order_id, now, now - self.cancel_run_timeout_ms)
            .await?
        else {
            tracing::info!(order_id = %order_id, "a cancel run started within its timeout: not starting another");
            return Ok(CancelRun::Running);
        };
        if run > MAX_CANCEL_RUNS {
            tracing::error!(order_id = %order_id, runs = run - 1, "every cancel run failed: left to the repair queue and the reconciler");
            return Ok(CancelRun::HandedToRepair);
        }
        let name = if run == 1 {
            format!("cancel-{order_id}")
        } else {
            format!("cancel-{order_id}-{run}")
        };
        match self
            .workflows
            .start_execution(&self.cancel_state_machine_arn, &name, &input)
            .await
        {
            Ok(Started::New { execution_arn }) => {
                tracing::info!(order_id = %order_id, execution_arn, run, "cancel-order started");
            }
            Ok(Started::AlreadyExists) => {
                // Only after a lost answer to our own start: the run is there.
                tracing::info!(order_id = %order_id, run = %name, "cancel-order run already exists");
            }
            Err(err) => {
                tracing::error!(order_id = %order_id, error = %err, "cancel-order could not be started; the order stays CANCELLING");
                if let Err(forget) = self.orders.forget_cancel_run(order_id, now).await {
                    tracing::warn!(order_id = %order_id, error = %forget, "the claimed run stays stamped: a retry within the run timeout answers RUNNING");
                }
                return Err(ApiError::CancelUnavailable);
            }
        }
        Ok(if run == 1 {
            CancelRun::Started
        } else {
            CancelRun::Restarted
        })
    }

    /// The order `id` and its approval task token, for an admin; 409 unless it waits for a
    /// decision.
    async fn awaiting_decision(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<(Order, String, String), ApiError> {
        let admin = self.current_admin(principal).await?;
        let admin = admin.as_str();
        let order = self
            .any_order(id)
            .await?
            .ok_or_else(|| ApiError::OrderNotFound(id.to_owned()))?;
        if order.user_id == admin {
            return Err(ApiError::Forbidden(
                "an admin cannot decide their own order".to_owned(),
            ));
        }
        let token = match (&order.status, &order.approval_token) {
            (OrderStatus::AwaitingApproval, Some(token)) => token.clone(),
            (status, _) => {
                return Err(ApiError::OrderNotAwaitingApproval {
                    order_id: order.order_id.to_string(),
                    detail: format!("its status is {status}"),
                });
            }
        };
        Ok((order, token, admin.to_owned()))
    }

    async fn approve(&self, principal: &Principal, id: &str) -> Result<Response<Body>, ApiError> {
        let (order, token, admin) = self.awaiting_decision(principal, id).await?;
        let output = serde_json::to_string(&ApprovalOutput {
            approved_by: &admin,
        })
        .map_err(|e| ApiError::internal(format!("serialising the approval: {e}")))?;
        self.workflows
            .send_task_success(&token, &output)
            .await
            .map_err(|err| task_error(&order, err))?;
        tracing::info!(order_id = %order.order_id, approved_by = %admin, "order approved");
        let status = if self.orders.mark_approved(&order.order_id, &admin).await? {
            OrderStatus::Approved
        } else {
            // The workflow moved on already (confirmed, or failed at payment).
            self.current_status(&order).await?
        };
        Ok(status_response(&order.order_id, status))
    }

    /// Rejecting fails the approval task with `OrderRejected`; the workflow releases the
    /// stock and records `REJECTED` (`APPROVAL_REJECTED`) itself, so the answer reports the
    /// decided outcome, `REJECTED`, while the item may still read `AWAITING_APPROVAL` for a
    /// moment.
    async fn reject(&self, principal: &Principal, id: &str) -> Result<Response<Body>, ApiError> {
        let (order, token, admin) = self.awaiting_decision(principal, id).await?;
        self.workflows
            .send_task_failure(
                &token,
                ORDER_REJECTED_ERROR,
                &format!("rejected by {admin}"),
            )
            .await
            .map_err(|err| task_error(&order, err))?;
        tracing::info!(order_id = %order.order_id, rejected_by = %admin, "order rejected");
        Ok(status_response(&order.order_id, OrderStatus::Rejected))
    }

    /// The caller's user id if their account is an admin's *now*: the role copied into the
    /// session at login is not trusted (an admin demoted since keeps their sessions).
    async fn current_admin(&self, principal: &Principal) -> Result<String, ApiError> {
        principal
            .current_admin(&self.users)
            .await?
            .ok_or_else(not_an_admin)
    }

    async fn current_status(&self, order: &Order) -> Result<OrderStatus, ApiError> {
        Ok(self
            .orders
            .get(&order.order_id)
            .await?
            .map_or(order.status, |o| o.status))
    }
}

/// The signed-in caller's user id, or 403 `LOGIN_REQUIRED`.
fn signed_in<'p>(principal: &'p Principal, action: &'static str) -> Result<&'p str, ApiError> {
    principal
        .user_id
        .as_deref()
        .ok_or(ApiError::LoginRequired(action))
}

/// 403 `FORBIDDEN` for a caller who is not an admin (now).
fn not_an_admin() -> ApiError {
    ApiError::Forbidden("only admins can approve or reject orders".to_owned())
}

/// A task that is no longer waiting (timed out, answered) is 409; anything else is ours.
fn task_error(order: &Order, err: WorkflowError) -> ApiError {
    match err {
        WorkflowError::TaskGone(detail) => {
            tracing::info!(order_id = %order.order_id, detail, "approval task no longer waiting");
            ApiError::OrderNotAwaitingApproval {
                order_id: order.order_id.to_string(),
                detail: "its approval task timed out or was already decided".to_owned(),
            }
        }
        WorkflowError::Backend { .. } => ApiError::internal(err.to_string()),
    }
}

/// The 202 of a cancel: the order's status and what happened to its cancel run.
fn cancel_response(order_id: &OrderId, status: OrderStatus, run: CancelRun) -> Response<Body> {
    json_response(
        StatusCode::ACCEPTED,
        &StatusBody {
            order_id,
            status,
            cancel_run: Some(run),
        },
    )
}

fn status_response(order_id: &OrderId, status: OrderStatus) -> Response<Body> {
    json_response(
        StatusCode::ACCEPTED,
        &StatusBody {
            order_id,
            status,
            cancel_run: None,
        },
    )
}

fn parse_limit(value: Option<&str>) -> Result<u16, ApiError> {
    let Some(value) = value else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    value
        .parse::<u16>()
        .ok()
        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
        .ok_or_else(|| {
            ApiError::InvalidLimit(format!(
                "limit must be an integer from 1 to {MAX_PAGE_SIZE}, got {value:?}"
            ))
        })
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
