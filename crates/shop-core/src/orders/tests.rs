//! Order store rules, on the in-memory store (the DynamoDB store's item mapping is tested
//! beside it; its conditions are exercised by the LocalStack integration tests); orders-api's
//! settings.

use super::*;
use crate::orders::{IdempotencyKey, PaymentToken};

/// A fresh `PENDING` order of `user_id` created at `created_at` (epoch ms).
pub(crate) fn sample_order(user_id: &str, key: &str, created_at: i64) -> Order {
    let key = IdempotencyKey::parse(key).unwrap();
    Order {
        order_id: OrderId::derive(user_id, &key),
        user_id: user_id.to_owned(),
        email: format!("{user_id}@example.com"),
        status: OrderStatus::Pending,
        created_at,
        updated_at: created_at,
        idempotency_key: key,
        request_hash: "0".repeat(64),
        payment_token: PaymentToken::Ok,
        correlation_id: "corr-1".to_owned(),
        cart_key: format!("CART#{}", "a".repeat(64)),
        execution_arn: None,
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
    }
}

fn store() -> InMemoryOrderStore {
    InMemoryOrderStore::new().with_clock(Clock::manual(1_900_000_000))
}

#[tokio::test]
async fn create_is_conditional() {
    let store = store();
    let order = sample_order("u1", "k1", 1000);
    assert_eq!(
        store.create(&order).await.ok(),
        Some(CreateOutcome::Created)
    );
    let mut again = order.clone();
    again.request_hash = "f".repeat(64);
    assert_eq!(
        store.create(&again).await.ok(),
        Some(CreateOutcome::Exists(Box::new(order.clone())))
    );
    assert_eq!(store.get(&order.order_id).await.ok().flatten(), Some(order));
}

#[tokio::test]
async fn lists_a_users_orders_newest_first_page_by_page() {
    let store = store();
    for i in 0..7 {
        store.put(sample_order("u1", &format!("k{i}"), 1000 + i));
    }
    store.put(sample_order("u2", "k-other", 5000));
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..5 {
        let page = store.list_for_user("u1", 3, cursor.as_ref()).await.unwrap();
        seen.extend(page.items.iter().map(|o| o.created_at));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, vec![1006, 1005, 1004, 1003, 1002, 1001, 1000]);
}

#[test]
fn cursor_round_trip_and_garbage() {
    let cursor = OrderCursor {
        created_at: 1_795_409_100_000,
        order_id: sample_order("u", "k", 0).order_id,
    };
    assert_eq!(OrderCursor::decode(&cursor.encode()), Ok(cursor));
    for bad in ["", "!!!", "bm90LWEtY3Vyc29y", "MTIzOm9yZF94"] {
        assert!(OrderCursor::decode(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn transitions_are_conditional_on_the_current_status() {
    let store = store();
    let order = sample_order("u1", "k1", 1000);
    let id = order.order_id.clone();
    store.put(order);
    let confirmed = store
        .transition(&id, &[OrderStatus::Pending], OrderStatus::Confirmed)
        .await
        .ok();
    assert_eq!(confirmed, Some(true));
    let stale = store
        .transition(&id, &[OrderStatus::Pending], OrderStatus::Failed)
        .await
        .ok();
    assert_eq!(stale, Some(false));
    let stored = store.get(&id).await.ok().flatten();
    assert_eq!(
        stored.as_ref().map(|o| o.status),
        Some(OrderStatus::Confirmed)
    );
    assert_eq!(stored.map(|o| o.updated_at), Some(1_900_000_000_000));
    let missing = sample_order("u1", "nope", 0).order_id;
    let applied = store
        .transition(&missing, &[OrderStatus::Pending], OrderStatus::Failed)
        .await
        .ok();
    assert_eq!(applied, Some(false));
}

#[tokio::test]
async fn approval_token_only_on_pending_orders() {
    let store = store();
    let order = sample_order("u1", "k1", 1000);
    let id = order.order_id.clone();
    store.put(order);
    assert_eq!(
        store.set_awaiting_approval(&id, "t1").await.ok(),
        Some(true)
    );
    // A redelivery of the same request is fine; another token is not.
    assert_eq!(
        store.set_awaiting_approval(&id, "t1").await.ok(),
        Some(true)
    );
    assert_eq!(
        store.set_awaiting_approval(&id, "t2").await.ok(),
        Some(false)
    );
    let stored = store.get(&id).await.ok().flatten();
    assert_eq!(
        stored
            .as_ref()
            .map(|o| (o.status, o.approval_token.clone())),
        Some((OrderStatus::AwaitingApproval, Some("t1".to_owned())))
    );
    assert_eq!(store.mark_approved(&id, "admin-1").await.ok(), Some(true));
    assert_eq!(store.mark_approved(&id, "admin-1").await.ok(), Some(false));
    let stored = store.get(&id).await.ok().flatten();
    assert_eq!(
        stored.map(|o| (o.status, o.approved_by)),
        Some((OrderStatus::Approved, Some("admin-1".to_owned())))
    );
}

#[tokio::test]
async fn fulfilment_outcomes() {
    let store = store();
    let mut order = sample_order("u1", "k1", 1000);
    let id = order.order_id.clone();
    order.status = OrderStatus::Confirmed;
    store.put(order.clone());
    assert_eq!(
        store.mark_fulfilled(&id).await.ok(),
        Some(FulfilOutcome::Fulfilled)
    );
    assert_eq!(
        store.mark_fulfilled(&id).await.ok(),
        Some(FulfilOutcome::AlreadyFulfilled)
    );
    order.status = OrderStatus::Cancelled;
    store.put(order);
    assert_eq!(
        store.mark_fulfilled(&id).await.ok(),
        Some(FulfilOutcome::NotConfirmed(OrderStatus::Cancelled))
    );
    let missing = sample_order("u1", "nope", 0).order_id;
    assert_eq!(
        store.mark_fulfilled(&missing).await.ok(),
        Some(FulfilOutcome::NotFound)
    );
}

#[tokio::test]
async fn a_token_completes_an_order_already_awaiting_approval_but_never_replaces_one() {
    let store = store();
    let mut order = sample_order("u1", "k2", 1000);
    // An order marked AWAITING_APPROVAL without a token (e.g. by an older workflow version).
    order.status = OrderStatus::AwaitingApproval;
    let id = order.order_id.clone();
    store.put(order);
    assert_eq!(
        store.set_awaiting_approval(&id, "t9").await.ok(),
        Some(true)
    );
    assert_eq!(
        store.set_awaiting_approval(&id, "t9").await.ok(),
        Some(true)
    );
    assert_eq!(
        store.set_awaiting_approval(&id, "t8").await.ok(),
        Some(false)
    );
    let token = store
        .get(&id)
        .await
        .ok()
        .flatten()
        .and_then(|o| o.approval_token);
    assert_eq!(token.as_deref(), Some("t9"));
}

/// Stores a session of `user_id` (or an anonymous one) and returns its bearer token.
pub(crate) async fn sign_in(
    sessions: &crate::auth::InMemorySessionStore,
    user: Option<(&str, &str)>,
    now: i64,
) -> String {
    use crate::auth::SessionStore as _;
    use crate::auth::session::{Session, SessionToken};
    let token = SessionToken::generate().unwrap();
    let session = match user {
        Some((user_id, role)) => Session::new_for_user(
            &token,
            now,
            3_600,
            user_id,
            &format!("{user_id}@example.com"),
            role,
        ),
        None => Session::new_anonymous(&token, now, 3_600),
    };
    sessions.create_session(&session).await.unwrap();
    token.expose().to_owned()
}

const ENV: &[(&str, &str)] = &[
    ("ORDERS_TABLE", "orders"),
    ("SESSIONS_TABLE", "sessions"),
    ("USERS_TABLE", "users"),
    (
        "CANCEL_ORDER_STATE_MACHINE_ARN",
        "arn:aws:states:eu-west-1:000000000000:stateMachine:cancel-order",
    ),
];

#[test]
fn settings_read_every_variable() {
    assert_eq!(
        crate::test_support::settings_from(ENV),
        Ok(OrdersApiSettings {
            orders_table: "orders".to_owned(),
            sessions_table: "sessions".to_owned(),
            users_table: "users".to_owned(),
            cancel_state_machine_arn:
                "arn:aws:states:eu-west-1:000000000000:stateMachine:cancel-order".to_owned(),
            cancel_run_timeout_seconds: 60,
        })
    );
}

#[test]
fn settings_name_the_missing_variable() {
    crate::test_support::assert_each_required::<OrdersApiSettings>(
        ENV,
        &[
            "ORDERS_TABLE",
            "SESSIONS_TABLE",
            "USERS_TABLE",
            "CANCEL_ORDER_STATE_MACHINE_ARN",
        ],
    );
}
