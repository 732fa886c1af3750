//! orders-api rules on the in-memory order store and workflows.

use super::*;
use crate::auth::InMemorySessionStore;
use crate::auth::{InMemoryUserStore, ROLE_ADMIN, ROLE_CUSTOMER};
use crate::orders::InMemoryOrderStore;
use crate::orders::tests::{sample_order, sign_in};
use crate::test_support::{body_json, event, request};
use lambda_kit::workflow::{InMemoryWorkflows, StartCall, TaskAnswer};

const START: i64 = 1_800_000_000;
const CANCEL_SM: &str = "arn:aws:states:eu-west-1:000000000000:stateMachine:shop-cancel-order";

type Api =
    OrdersApi<InMemoryOrderStore, InMemoryWorkflows, InMemorySessionStore, InMemoryUserStore>;

fn api() -> Api {
    let clock = Clock::manual(START);
    OrdersApi::new(
        InMemoryOrderStore::new().with_clock(clock.clone()),
        InMemoryWorkflows::new(),
        InMemorySessionStore::default(),
        InMemoryUserStore::default(),
        CANCEL_SM,
    )
    .with_clock(clock)
}

/// Signs in `user_id`, whose account (`<user_id>@example.com`) has `role`.
async fn token_of(api: &Api, user_id: &str, role: &str) -> String {
    set_role(api, user_id, role).await;
    sign_in(api.sessions(), Some((user_id, role)), START).await
}

/// Stores `user_id`'s account with `role` (a promotion or a demotion).
async fn set_role(api: &Api, user_id: &str, role: &str) {
    use crate::auth::User;
    api.users()
        .put_user(&User {
            user_id: user_id.to_owned(),
            email: format!("{user_id}@example.com"),
            password_hash: "not used here".to_owned(),
            role: role.to_owned(),
            created_at: START,
        })
        .await
        .unwrap();
}

/// Stores an order of `user_id` in `status` and returns its id.
fn order_in(api: &Api, user_id: &str, key: &str, status: OrderStatus) -> OrderId {
    let mut order = sample_order(user_id, key, START * 1000);
    order.status = status;
    let id = order.order_id.clone();
    api.orders().put(order);
    id
}

fn code(response: &Response<Body>) -> String {
    body_json(response)["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn call(api: &Api, method: &str, path: &str, token: &str) -> Response<Body> {
    api.handle(request(method, path, Some(token), "")).await
}

async fn status_of(api: &Api, id: &OrderId) -> Option<OrderStatus> {
    api.orders().get(id).await.ok().flatten().map(|o| o.status)
}

#[tokio::test]
async fn owners_see_their_order_and_nobody_else_does() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    let bob = token_of(&api, "bob", ROLE_CUSTOMER).await;
    let mut order = sample_order("alice", "k1", START * 1000);
    order.approval_token = Some("secret-task-token".to_owned());
    let id = order.order_id.clone();
    api.orders().put(order);

    let response = call(&api, "GET", &format!("/orders/{id}"), &alice).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = body_json(&response);
    assert_eq!(body["orderId"], id.as_str());
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["createdAt"], "2027-01-15T08:00:00.000Z");
    assert_eq!(body["links"]["cancel"], format!("/orders/{id}/cancel"));
    let text = body.to_string();
    for secret in ["secret-task-token", "tok_ok", "requestHash", "paymentToken"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }

    for path in [
        format!("/orders/{id}"),
        "/orders/ord_00000000000000000000000000000000".to_owned(),
        "/orders/not-an-order".to_owned(),
    ] {
        let token = if path.contains(id.as_str()) {
            &bob
        } else {
            &alice
        };
        let response = call(&api, "GET", &path, token).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(code(&response), "ORDER_NOT_FOUND", "{path}");
    }
}

#[tokio::test]
async fn lists_the_callers_orders_newest_first() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    for i in 0..5 {
        let mut order = sample_order("alice", &format!("k{i}"), START * 1000 + i);
        order.status = OrderStatus::Confirmed;
        api.orders().put(order);
    }
    order_in(&api, "bob", "kb", OrderStatus::Pending);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let req = match &cursor {
            Some(c) => crate::test_support::get("/orders", &[("limit", "2"), ("cursor", c)]),
            None => crate::test_support::get("/orders", &[("limit", "2")]),
        };
        let mut req = req;
        req.headers_mut().insert(
            "authorization",
            lambda_http::http::HeaderValue::from_str(&format!("Bearer {alice}")).unwrap(),
        );
        let response = api.handle(req).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = body_json(&response);
        for item in body["items"].as_array().into_iter().flatten() {
            seen.push(item["createdAt"].as_str().unwrap_or_default().to_owned());
            assert!(item.get("paymentToken").is_none());
        }
        cursor = body["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");

    let response = call(&api, "GET", "/orders", &alice).await;
    assert_eq!(
        body_json(&response)["items"].as_array().map(Vec::len),
        Some(5)
    );
    assert!(body_json(&response).get("nextCursor").is_none());
}

#[tokio::test]
async fn list_validates_limit_and_cursor() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    for (query, expected) in [
        (("limit", "0"), "INVALID_LIMIT"),
        (("limit", "51"), "INVALID_LIMIT"),
        (("limit", "ten"), "INVALID_LIMIT"),
        (("cursor", "garbage!"), "INVALID_CURSOR"),
        (("cursor", "bm90LWEtY3Vyc29y"), "INVALID_CURSOR"),
    ] {
        let mut req = crate::test_support::get("/orders", &[query]);
        req.headers_mut().insert(
            "authorization",
            lambda_http::http::HeaderValue::from_str(&format!("Bearer {alice}")).unwrap(),
        );
        let response = api.handle(req).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query:?}");
        assert_eq!(code(&response), expected, "{query:?}");
    }
}

#[tokio::test]
async fn anonymous_sessions_have_no_orders_to_see() {
    let api = api();
    let anonymous = sign_in(api.sessions(), None, START).await;
    let response = call(&api, "GET", "/orders", &anonymous).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(&response), "LOGIN_REQUIRED");
    let response = api.handle(request("GET", "/orders", None, "")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cancelling_a_confirmed_order_starts_cancel_order() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    let id = order_in(&api, "alice", "k1", OrderStatus::Confirmed);
    let mut req = request("POST", &format!("/orders/{id}/cancel"), Some(&alice), "");
    req.headers_mut().insert(
        "x-correlation-id",
        lambda_http::http::HeaderValue::from_static("corr-7"),
    );
    let response = api.handle(req).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        body_json(&response),
        serde_json::json!({"orderId": id.as_str(), "status": "CANCELLING", "cancelRun": "STARTED"})
    );
    assert_eq!(status_of(&api, &id).await, Some(OrderStatus::Cancelling));
    assert_eq!(
        api.workflows().starts(),
        vec![StartCall {
            state_machine_arn: CANCEL_SM.to_owned(),
            name: format!("cancel-{id}"),
            input: format!(r#"{{"orderId":"{id}","correlationId":"corr-7"}}"#),
        }]
    );

    // Again (a double click) within the run's timeout: still CANCELLING, nothing started.
    let again = call(&api, "POST", &format!("/orders/{id}/cancel"), &alice).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(body_json(&again)["status"], "CANCELLING");
    assert_eq!(body_json(&again)["cancelRun"], "RUNNING");
    assert_eq!(api.workflows().starts().len(), 1);

    // Past the timeout and still CANCELLING, the run failed: a retry starts a run of its own
    // and says so.
    api.clock.advance(DEFAULT_CANCEL_RUN_TIMEOUT_SECONDS + 1);
    let retried = call(&api, "POST", &format!("/orders/{id}/cancel"), &alice).await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    assert_eq!(body_json(&retried)["cancelRun"], "RESTARTED");
    let starts = api.workflows().starts();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1].name, format!("cancel-{id}-2"));

    // Once cancelled: 202 with the final status, nothing started.
    api.orders()
        .transition(&id, &[OrderStatus::Cancelling], OrderStatus::Cancelled)
        .await
        .unwrap();
    let done = call(&api, "POST", &format!("/orders/{id}/cancel"), &alice).await;
    assert_eq!(done.status(), StatusCode::ACCEPTED);
    assert_eq!(body_json(&done)["status"], "CANCELLED");
    assert_eq!(api.workflows().starts().len(), 2);
}

#[tokio::test]
async fn a_cancel_run_that_could_not_start_is_started_by_the_next_request() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    let id = order_in(&api, "alice", "k1", OrderStatus::Confirmed);
    api.workflows().set_unavailable(true);
    let failed = call(&api, "POST", &format!("/orders/{id}/cancel"), &alice).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(status_of(&api, &id).await, Some(OrderStatus::Cancelling));

    // No run is running, so the retry (at once) must not be told one is.
    api.workflows().set_unavailable(false);
    let retried = call(&api, "POST", &format!("/orders/{id}/cancel"), &alice).await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    assert_eq!(body_json(&retried)["cancelRun"], "RESTARTED");
    assert_eq!(api.workflows().starts().len(), 1);
}

#[tokio::test]
async fn after_every_cancel_run_failed_the_cancel_is_left_to_repair() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    let id = order_in(&api, "alice", "k1", OrderStatus::Confirmed);
    for _ in 0..MAX_CANCEL_RUNS {
        let response = call(&api, "POST", &format!("/orders/{id}/cancel"), &alice).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        api.clock.advance(DEFAULT_CANCEL_RUN_TIMEOUT_SECONDS + 1);
    }
    let last = call(&api, "POST", &format!("/orders/{id}/cancel"), &alice).await;
    assert_eq!(body_json(&last)["cancelRun"], "HANDED_TO_REPAIR");
    assert_eq!(
        api.workflows().starts().len(),
        usize::try_from(MAX_CANCEL_RUNS).unwrap()
    );
}

#[tokio::test]
async fn orders_that_cannot_be_cancelled() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    let bob = token_of(&api, "bob", ROLE_CUSTOMER).await;
    let fulfilled = order_in(&api, "alice", "f", OrderStatus::Fulfilled);
    let response = call(&api, "POST", &format!("/orders/{fulfilled}/cancel"), &alice).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(code(&response), "ORDER_ALREADY_FULFILLED");
    for (key, status) in [
        ("p", OrderStatus::Pending),
        ("a", OrderStatus::AwaitingApproval),
        ("ap", OrderStatus::Approved),
        ("x", OrderStatus::Failed),
        ("r", OrderStatus::Rejected),
    ] {
        let id = order_in(&api, "alice", key, status);
        let response = call(&api, "POST", &format!("/orders/{id}/cancel"), &alice).await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{status}");
        assert_eq!(code(&response), "ORDER_NOT_CANCELLABLE", "{status}");
        assert_eq!(status_of(&api, &id).await, Some(status));
    }
    let confirmed = order_in(&api, "alice", "c", OrderStatus::Confirmed);
    let response = call(&api, "POST", &format!("/orders/{confirmed}/cancel"), &bob).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        status_of(&api, &confirmed).await,
        Some(OrderStatus::Confirmed)
    );
    assert!(api.workflows().starts().is_empty());
}

#[tokio::test]
async fn a_failed_cancel_start_is_503_and_a_retry_starts_it() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    let id = order_in(&api, "alice", "k1", OrderStatus::Confirmed);
    api.workflows().set_unavailable(true);
    let failed = call(&api, "POST", &format!("/orders/{id}/cancel"), &alice).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(code(&failed), "CANCEL_UNAVAILABLE");
    // The cancellation is decided (fulfilment can no longer ship it); the retry runs it.
    assert_eq!(status_of(&api, &id).await, Some(OrderStatus::Cancelling));
    api.workflows().set_unavailable(false);
    let retried = call(&api, "POST", &format!("/orders/{id}/cancel"), &alice).await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    assert_eq!(api.workflows().starts().len(), 1);
}

/// An order awaiting approval with a waiting task `token`.
fn held_order(api: &Api, token: &str) -> OrderId {
    let mut order = sample_order("alice", "held", START * 1000);
    order.status = OrderStatus::AwaitingApproval;
    order.approval_token = Some(token.to_owned());
    let id = order.order_id.clone();
    api.orders().put(order);
    api.workflows().add_waiting_task(token);
    id
}

#[tokio::test]
async fn only_admins_decide() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    let id = held_order(&api, "task-1");
    for action in ["approve", "reject"] {
        let response = call(&api, "POST", &format!("/orders/{id}/{action}"), &alice).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action}");
        assert_eq!(code(&response), "FORBIDDEN", "{action}");
    }
    assert_eq!(api.workflows().answer("task-1"), None);
    assert_eq!(
        status_of(&api, &id).await,
        Some(OrderStatus::AwaitingApproval)
    );
}

#[tokio::test]
async fn an_admin_demoted_since_login_decides_nothing_with_their_open_session() {
    let api = api();
    let admin = token_of(&api, "admin-1", ROLE_ADMIN).await;
    set_role(&api, "admin-1", ROLE_CUSTOMER).await;
    let id = held_order(&api, "task-1");
    for action in ["approve", "reject"] {
        let response = call(&api, "POST", &format!("/orders/{id}/{action}"), &admin).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action}");
        assert_eq!(code(&response), "FORBIDDEN", "{action}");
    }
    assert_eq!(api.workflows().answer("task-1"), None);
}

#[tokio::test]
async fn an_admin_cannot_decide_their_own_order() {
    let api = api();
    let admin = token_of(&api, "alice", ROLE_ADMIN).await;
    let id = held_order(&api, "task-1");
    let response = call(&api, "POST", &format!("/orders/{id}/approve"), &admin).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        body_json(&response)["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("their own order")),
        "{}",
        body_json(&response)
    );
    assert_eq!(api.workflows().answer("task-1"), None);
}

#[tokio::test]
async fn approving_answers_the_task_and_records_the_admin() {
    let api = api();
    let admin = token_of(&api, "admin-1", ROLE_ADMIN).await;
    let id = held_order(&api, "task-1");
    let response = call(&api, "POST", &format!("/orders/{id}/approve"), &admin).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        body_json(&response),
        serde_json::json!({"orderId": id.as_str(), "status": "APPROVED"})
    );
    assert_eq!(
        api.workflows().answer("task-1"),
        Some(TaskAnswer::Success(
            r#"{"approvedBy":"admin-1"}"#.to_owned()
        ))
    );
    let order = api.orders().get(&id).await.ok().flatten();
    assert_eq!(
        order.map(|o| (o.status, o.approved_by)),
        Some((OrderStatus::Approved, Some("admin-1".to_owned())))
    );
    // Deciding twice: the order no longer awaits approval.
    let again = call(&api, "POST", &format!("/orders/{id}/reject"), &admin).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(code(&again), "ORDER_NOT_AWAITING_APPROVAL");
}

#[tokio::test]
async fn rejecting_fails_the_task_with_order_rejected() {
    let api = api();
    let admin = token_of(&api, "admin-1", ROLE_ADMIN).await;
    let id = held_order(&api, "task-1");
    let response = call(&api, "POST", &format!("/orders/{id}/reject"), &admin).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(body_json(&response)["status"], "REJECTED");
    assert_eq!(
        api.workflows().answer("task-1"),
        Some(TaskAnswer::Failure {
            error: "OrderRejected".to_owned(),
            cause: "rejected by admin-1".to_owned(),
        })
    );
    // The workflow records REJECTED; until then a second decision finds no waiting task.
    let again = call(&api, "POST", &format!("/orders/{id}/approve"), &admin).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(code(&again), "ORDER_NOT_AWAITING_APPROVAL");
}

#[tokio::test]
async fn decisions_need_an_order_awaiting_approval() {
    let api = api();
    let admin = token_of(&api, "admin-1", ROLE_ADMIN).await;
    let missing = call(
        &api,
        "POST",
        "/orders/ord_00000000000000000000000000000000/approve",
        &admin,
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(code(&missing), "ORDER_NOT_FOUND");

    let confirmed = order_in(&api, "alice", "c", OrderStatus::Confirmed);
    let response = call(
        &api,
        "POST",
        &format!("/orders/{confirmed}/approve"),
        &admin,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(code(&response), "ORDER_NOT_AWAITING_APPROVAL");

    // Awaiting, but the token has not been recorded yet.
    let no_token = order_in(&api, "alice", "n", OrderStatus::AwaitingApproval);
    let response = call(&api, "POST", &format!("/orders/{no_token}/approve"), &admin).await;
    assert_eq!(code(&response), "ORDER_NOT_AWAITING_APPROVAL");

    // A token whose task timed out (Step Functions: TaskTimedOut).
    let mut order = sample_order("alice", "t", START * 1000);
    order.status = OrderStatus::AwaitingApproval;
    order.approval_token = Some("expired-task".to_owned());
    let id = order.order_id.clone();
    api.orders().put(order);
    let response = call(&api, "POST", &format!("/orders/{id}/approve"), &admin).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(code(&response), "ORDER_NOT_AWAITING_APPROVAL");
    assert_eq!(
        status_of(&api, &id).await,
        Some(OrderStatus::AwaitingApproval)
    );
}

#[tokio::test]
async fn routes_and_methods() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    let response = call(&api, "DELETE", "/orders", &alice).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = call(&api, "GET", "/orders/x/cancel", &alice).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = call(&api, "POST", "/orders/x/ship", &alice).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sample_events_route_and_ask_for_a_real_token() {
    let api = api();
    for name in [
        "list-orders",
        "get-order",
        "cancel-order",
        "approve-order",
        "reject-order",
    ] {
        let response = api.handle(event("orders-api", name)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
    }
}

#[tokio::test]
async fn api_gateway_path_parameters_are_used() {
    let api = api();
    let alice = token_of(&api, "alice", ROLE_CUSTOMER).await;
    let mut order = sample_order("alice", "k", START * 1000);
    order.order_id = OrderId::parse("ord_3f9c2a7b1d4e5f60718293a4b5c6d7e8").unwrap();
    api.orders().put(order);
    let mut req = event("orders-api", "get-order");
    req.headers_mut().insert(
        "authorization",
        lambda_http::http::HeaderValue::from_str(&format!("Bearer {alice}")).unwrap(),
    );
    let response = api.handle(req).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body_json(&response)["orderId"],
        "ord_3f9c2a7b1d4e5f60718293a4b5c6d7e8"
    );
}
