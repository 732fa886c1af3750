//! Orders: the store behind the order APIs and the workflow's helpers, and the orders API.
//!
//! DynamoDB layout (`statemachines/README.md`, "Data"): orders table keyed by `order_id` (S),
//! GSI `by-user` (`user_id` S, `created_at` N epoch ms, projection ALL). Every status change
//! made here is a conditional update on the current status, so two writers (a customer
//! cancelling, `fulfilment` shipping, an admin deciding) can never both win.

pub mod api;
mod dynamo;
#[cfg(any(test, feature = "fakes"))]
mod memory;

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use api::OrdersApi;
pub use dynamo::DynamoOrderStore;
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryOrderStore;

use crate::catalog::Money;
use crate::store::StoreError;
use lambda_kit::clock::Clock;
use lambda_kit::config::{ConfigError, Settings, lookup_positive, lookup_required};
use lambda_kit::ids::sha256_hex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Name of the global secondary index listing a user's orders by creation time.
pub const BY_USER_INDEX: &str = "by-user";

/// orders-api's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `ORDERS_TABLE` | the orders table (required) |
/// | `SESSIONS_TABLE` | the sessions table (required) |
/// | `USERS_TABLE` | the users table: signed-in sessions are checked for account locks (required) |
/// | `CANCEL_ORDER_STATE_MACHINE_ARN` | the cancel-order workflow (required) |
/// | `CANCEL_RUN_TIMEOUT_SECONDS` | how long a cancel run may take (its `TimeoutSeconds`; optional, default 60): a repeated cancel after it starts a new run |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersApiSettings {
    /// The orders table.
    pub orders_table: String,
    /// The sessions table.
    pub sessions_table: String,
    /// The users table.
    pub users_table: String,
    /// The cancel-order workflow.
    pub cancel_state_machine_arn: String,
    /// The cancel-order workflow's `TimeoutSeconds`.
    pub cancel_run_timeout_seconds: i64,
}

impl Settings for OrdersApiSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: lookup_required("ORDERS_TABLE", lookup)?,
            sessions_table: lookup_required("SESSIONS_TABLE", lookup)?,
            users_table: lookup_required("USERS_TABLE", lookup)?,
            cancel_state_machine_arn: lookup_required("CANCEL_ORDER_STATE_MACHINE_ARN", lookup)?,
            cancel_run_timeout_seconds: lookup_positive("CANCEL_RUN_TIMEOUT_SECONDS", 60, lookup)?,
        })
    }
}

/// What a conditional create found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The order was written.
    Created,
    /// An order with this id was already there (a replay, or a key reused with another
    /// body): the stored one.
    Exists(Box<Order>),
}

/// What [`OrderStore::mark_fulfilled`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfilOutcome {
    /// `CONFIRMED` → `FULFILLED` applied now.
    Fulfilled,
    /// It was already `FULFILLED` (a redelivered message).
    AlreadyFulfilled,
    /// It is in another status (cancelled in the window, failed…): do not ship.
    NotConfirmed(OrderStatus),
    /// No such order.
    NotFound,
}

/// Where a page of a user's orders ended: the `by-user` index position of its last order.
/// Clients see it only as an opaque base64url string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCursor {
    /// `created_at` (epoch ms) of the last order of the page.
    pub created_at: i64,
    /// Its id.
    pub order_id: OrderId,
}

/// A cursor string this API did not issue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor {0:?} was not issued by this API")]
pub struct InvalidCursor(pub String);

impl OrderCursor {
    /// The opaque form: base64url of `<created_at>:<order_id>`.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.created_at, self.order_id))
    }

    /// Reads a cursor back; anything malformed is [`InvalidCursor`].
    pub fn decode(cursor: &str) -> Result<Self, InvalidCursor> {
        let invalid = || InvalidCursor(cursor.to_owned());
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (created_at, order_id) = text.split_once(':').ok_or_else(invalid)?;
        Ok(Self {
            created_at: created_at
                .parse()
                .ok()
                .filter(|t: &i64| *t >= 0)
                .ok_or_else(invalid)?,
            order_id: OrderId::parse(order_id).map_err(|_| invalid())?,
        })
    }
}

/// One page of a user's orders, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    /// The orders.
    pub items: Vec<Order>,
    /// Where to continue, when there may be more.
    pub next: Option<OrderCursor>,
}

/// The orders table.
pub trait OrderStore: Send + Sync {
    /// Writes a new order, only if no order with its id exists (`attribute_not_exists`);
    /// otherwise returns the stored one.
    fn create(
        &self,
        order: &Order,
    ) -> impl Future<Output = Result<CreateOutcome, StoreError>> + Send;

    /// One order (consistent read), if it exists.
    fn get(&self, id: &OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    /// Up to `limit` of `user_id`'s orders, newest first, after `cursor`.
    fn list_for_user(
        &self,
        user_id: &str,
        limit: u16,
        cursor: Option<&OrderCursor>,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send;

    /// Sets `status = to` (and `updated_at`) only if the status is one of `from`. `Ok(false)`
    /// when the condition failed (or the order does not exist).
    fn transition(
        &self,
        id: &OrderId,
        from: &[OrderStatus],
        to: OrderStatus,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records the checkout execution's ARN (best effort, informational).
    fn set_execution_arn(
        &self,
        id: &OrderId,
        execution_arn: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores the approval task token and sets `AWAITING_APPROVAL` in one write (so an order
    /// shown as awaiting approval can always be approved), if the order is `PENDING`, or
    /// already `AWAITING_APPROVAL` without a token or with this very token (a redelivered
    /// message).
    /// `Ok(false)` otherwise: a second, different token never replaces the first.
    fn set_awaiting_approval(
        &self,
        id: &OrderId,
        task_token: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `AWAITING_APPROVAL` → `APPROVED` with `approved_by`; `Ok(false)` if not awaiting.
    fn mark_approved(
        &self,
        id: &OrderId,
        approved_by: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `CONFIRMED` → `FULFILLED`, conditionally; says what it found otherwise.
    fn mark_fulfilled(
        &self,
        id: &OrderId,
    ) -> impl Future<Output = Result<FulfilOutcome, StoreError>> + Send;

    /// Records that a refund is owed: `REFUND_PENDING` with `reason` (why it waits) and
    /// `outcome` (the status the order ends in once the money is back), from any status
    /// that is not terminal. `Ok(false)` if the order has ended or does not exist.
    fn mark_refund_pending(
        &self,
        id: &OrderId,
        outcome: OrderStatus,
        reason: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Ends the order in `to` (`FAILED`, `REJECTED` or `CANCELLED`) with `reason` as its
    /// failure reason, from any status that is not terminal (clearing a pending refund's
    /// reason). `Ok(false)` if it had ended already or does not exist.
    fn settle(
        &self,
        id: &OrderId,
        to: OrderStatus,
        reason: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every order that has not ended (not `FULFILLED`, `FAILED`, `REJECTED` or `CANCELLED`),
    /// for the reconciler. A scan: fine for a periodic job over the open orders.
    fn scan_open(&self) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;

    /// Sets `reconciled_at = now_ms` unless it is at or after `not_since_ms` (the reconciler
    /// handed the order on recently: that request is still queued or being retried, and a
    /// second one would only add to the backlog). `Ok(false)` then, or when the order does
    /// not exist. `updated_at` is left alone: it measures how long the order has been stuck.
    fn claim_reconcile(
        &self,
        id: &OrderId,
        now_ms: i64,
        not_since_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Claims the next cancel run of a `CANCELLING` order: counts it (`cancel_runs`) and
    /// stamps `cancel_started_at = now_ms`, unless a run was started at or after
    /// `running_since_ms` (it may still be running: cancel-order is EXPRESS, with no API to
    /// ask). Returns the run's number (1 for the first), or `None` when a run is recent or the
    /// order is not `CANCELLING`. One conditional write, so two parallel requests never start
    /// the same run twice.
    fn claim_cancel_run(
        &self,
        id: &OrderId,
        now_ms: i64,
        running_since_ms: i64,
    ) -> impl Future<Output = Result<Option<u32>, StoreError>> + Send;

    /// Undoes the time stamp of a claimed run that could not be started (`cancel_started_at`
    /// removed if it is still `started_ms`), so the customer's retry starts one at once
    /// instead of being told a run is running. The count stays: run names are never reused.
    fn forget_cancel_run(
        &self,
        id: &OrderId,
        started_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The statuses an order can still leave (see [`OrderStatus::is_terminal`]).
pub const OPEN_STATUSES: [OrderStatus; 6] = [
    OrderStatus::Pending,
    OrderStatus::AwaitingApproval,
    OrderStatus::Approved,
    OrderStatus::Confirmed,
    OrderStatus::Cancelling,
    OrderStatus::RefundPending,
];

impl<T: OrderStore> OrderStore for Arc<T> {
    async fn create(&self, order: &Order) -> Result<CreateOutcome, StoreError> {
        (**self).create(order).await
    }
    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        (**self).get(id).await
    }
    async fn list_for_user(
        &self,
        user_id: &str,
        limit: u16,
        cursor: Option<&OrderCursor>,
    ) -> Result<OrderPage, StoreError> {
        (**self).list_for_user(user_id, limit, cursor).await
    }
    async fn transition(
        &self,
        id: &OrderId,
        from: &[OrderStatus],
        to: OrderStatus,
    ) -> Result<bool, StoreError> {
        (**self).transition(id, from, to).await
    }
    async fn set_execution_arn(&self, id: &OrderId, execution_arn: &str) -> Result<(), StoreError> {
        (**self).set_execution_arn(id, execution_arn).await
    }
    async fn set_awaiting_approval(
        &self,
        id: &OrderId,
        task_token: &str,
    ) -> Result<bool, StoreError> {
        (**self).set_awaiting_approval(id, task_token).await
    }
    async fn mark_approved(&self, id: &OrderId, approved_by: &str) -> Result<bool, StoreError> {
        (**self).mark_approved(id, approved_by).await
    }
    async fn mark_fulfilled(&self, id: &OrderId) -> Result<FulfilOutcome, StoreError> {
        (**self).mark_fulfilled(id).await
    }
    async fn mark_refund_pending(
        &self,
        id: &OrderId,
        outcome: OrderStatus,
        reason: &str,
    ) -> Result<bool, StoreError> {
        (**self).mark_refund_pending(id, outcome, reason).await
    }
    async fn settle(
        &self,
        id: &OrderId,
        to: OrderStatus,
        reason: &str,
    ) -> Result<bool, StoreError> {
        (**self).settle(id, to, reason).await
    }
    async fn scan_open(&self) -> Result<Vec<Order>, StoreError> {
        (**self).scan_open().await
    }
    async fn claim_reconcile(
        &self,
        id: &OrderId,
        now_ms: i64,
        not_since_ms: i64,
    ) -> Result<bool, StoreError> {
        (**self).claim_reconcile(id, now_ms, not_since_ms).await
    }
    async fn claim_cancel_run(
        &self,
        id: &OrderId,
        now_ms: i64,
        running_since_ms: i64,
    ) -> Result<Option<u32>, StoreError> {
        (**self)
            .claim_cancel_run(id, now_ms, running_since_ms)
            .await
    }
    async fn forget_cancel_run(&self, id: &OrderId, started_ms: i64) -> Result<(), StoreError> {
        (**self).forget_cancel_run(id, started_ms).await
    }
}

/// Current time in epoch milliseconds (a manual clock counts whole seconds).
pub fn now_millis(clock: &Clock) -> i64 {
    match clock {
        Clock::System => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        Clock::Manual(_) => clock.now().saturating_mul(1000),
    }
}

/// An order id: `ord_` + the first 32 hex digits of SHA-256(`<userId>\n<Idempotency-Key>`).
///
/// Derived rather than random so that the same user retrying with the same key names the
/// same order (and the same Step Functions execution) without any lookup table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderId(String);

/// A string that is not an order id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid order id {0:?}: expected 'ord_' and 32 lowercase hex digits")]
pub struct OrderIdError(pub String);

impl OrderId {
    /// Prefix of every order id.
    pub const PREFIX: &'static str = "ord_";
    /// Hex digits after the prefix.
    pub const HEX_LEN: usize = 32;

    /// The id of the order that `user_id` places with `key`.
    pub fn derive(user_id: &str, key: &IdempotencyKey) -> Self {
        let digest = sha256_hex(format!("{user_id}\n{}", key.as_str()).as_bytes());
        Self(format!("{}{}", Self::PREFIX, &digest[..Self::HEX_LEN]))
    }

    /// Validates an id given by a client (path parameter) or read back from a store.
    pub fn parse(value: &str) -> Result<Self, OrderIdError> {
        let valid = value.strip_prefix(Self::PREFIX).is_some_and(|hex| {
            hex.len() == Self::HEX_LEN
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(OrderIdError(value.to_owned()))
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for OrderId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OrderId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schemas")]
impl schemars::JsonSchema for OrderId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OrderId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^ord_[0-9a-f]{32}$"
        })
    }
}

/// Where an order is in its lifecycle (see the diagram in `statemachines/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Accepted by `POST /checkout`; the workflow has not decided yet.
    Pending,
    /// Held for a human decision (risk check).
    AwaitingApproval,
    /// An admin approved; back on the main path (charge, confirm).
    Approved,
    /// Paid, stock reserved; cancellable until fulfilment.
    Confirmed,
    /// Shipped: no longer cancellable.
    Fulfilled,
    /// The workflow failed (see the failure reason); nothing is held.
    Failed,
    /// An admin rejected it, or nobody decided in time.
    Rejected,
    /// The customer cancelled; the cancel workflow is running.
    Cancelling,
    /// Cancelled: refunded and stock released.
    Cancelled,
    /// A refund is owed: the provider could not make it yet. The repair consumer retries it
    /// until it succeeds, then ends the order in the status it was going to (`FAILED`,
    /// `REJECTED` or `CANCELLED`); `refund_pending_reason` says why it waits.
    RefundPending,
}

/// A string that is not an order status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown order status {0:?}")]
pub struct OrderStatusError(pub String);

impl OrderStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 10] = [
        Self::Pending,
        Self::AwaitingApproval,
        Self::Approved,
        Self::Confirmed,
        Self::Fulfilled,
        Self::Failed,
        Self::Rejected,
        Self::Cancelling,
        Self::Cancelled,
        Self::RefundPending,
    ];

    /// The stored and API spelling, e.g. `AWAITING_APPROVAL`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::AwaitingApproval => "AWAITING_APPROVAL",
            Self::Approved => "APPROVED",
            Self::Confirmed => "CONFIRMED",
            Self::Fulfilled => "FULFILLED",
            Self::Failed => "FAILED",
            Self::Rejected => "REJECTED",
            Self::Cancelling => "CANCELLING",
            Self::Cancelled => "CANCELLED",
            Self::RefundPending => "REFUND_PENDING",
        }
    }

    /// Whether the order has ended: nothing more will happen to it (no money or stock is
    /// owed either way).
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Fulfilled | Self::Failed | Self::Rejected | Self::Cancelled
        )
    }

    /// Ended without shipping (`FAILED`, `REJECTED`, `CANCELLED`): it must hold neither money
    /// nor stock.
    pub const fn is_dead(self) -> bool {
        matches!(self, Self::Failed | Self::Rejected | Self::Cancelled)
    }

    /// Reads the stored spelling back.
    pub fn parse(value: &str) -> Result<Self, OrderStatusError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| OrderStatusError(value.to_owned()))
    }
}

/// How long an order may stay in a status that should move on: the one definition of "stuck",
/// shared by the reconciler (which repairs) and the invariant checker (which reports).
///
/// | status | allowed |
/// | --- | --- |
/// | `PENDING`, `APPROVED` | `stuck_after` (+ the approval timeout if it waited for a human) |
/// | `AWAITING_APPROVAL` | the approval timeout + `stuck_after` |
/// | `CONFIRMED`, `CANCELLING`, `REFUND_PENDING` | the cancel window + `stuck_after` (+ the approval timeout if it waited) |
/// | ended | forever |
///
/// The reconciler measures it from the order's last change, the checker from its creation;
/// the allowance is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Seconds a workflow step, a consumer or a repair may take before the order is stuck
    /// (`ReconcileStuckAfterSeconds`).
    pub stuck_after_seconds: i64,
    /// `ApprovalTimeoutSeconds`: an order may wait this long for a human.
    pub approval_timeout_seconds: i64,
    /// `CancelWindowSeconds`: a confirmed order is shipped only after it.
    pub cancel_window_seconds: i64,
}

impl Deadlines {
    /// Seconds an order in `status` may stay there, `None` once it ended.
    pub fn allowance(&self, status: OrderStatus, waited_for_approval: bool) -> Option<i64> {
        if status.is_terminal() {
            return None;
        }
        let waited = waited_for_approval
            || matches!(
                status,
                OrderStatus::AwaitingApproval | OrderStatus::Approved
            );
        let after_confirmation = matches!(
            status,
            OrderStatus::Confirmed | OrderStatus::Cancelling | OrderStatus::RefundPending
        );
        let mut allowed = self.stuck_after_seconds;
        if waited {
            allowed = allowed.saturating_add(self.approval_timeout_seconds);
        }
        if after_confirmation {
            allowed = allowed.saturating_add(self.cancel_window_seconds);
        }
        Some(allowed)
    }

    /// Whether an order in `status` for `seconds` is past its allowance.
    pub fn is_overdue(&self, status: OrderStatus, waited_for_approval: bool, seconds: i64) -> bool {
        self.allowance(status, waited_for_approval)
            .is_some_and(|allowed| seconds > allowed)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OrderStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(feature = "schemas")]
impl schemars::JsonSchema for OrderStatus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OrderStatus".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let statuses: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
        schemars::json_schema!({
            "type": "string",
            "enum": statuses,
            "description": "where the order is in its lifecycle (statemachines/README.md)"
        })
    }
}

impl<'de> Deserialize<'de> for OrderStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}

/// The client's `Idempotency-Key`: 1–64 characters of `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// A header value that is not a usable idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Idempotency-Key {0:?}: expected 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'")]
pub struct IdempotencyKeyError(pub String);

impl IdempotencyKey {
    /// Longest accepted key.
    pub const MAX_LEN: usize = 64;

    /// Validates a key (no trimming: a key is compared byte for byte).
    pub fn parse(value: &str) -> Result<Self, IdempotencyKeyError> {
        let valid = (1..=Self::MAX_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(IdempotencyKeyError(value.to_owned()))
        }
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A token of the simulated payment provider; it alone decides how a charge behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentToken {
    /// `tok_ok`: the charge succeeds.
    Ok,
    /// `tok_declined`: permanently declined.
    Declined,
    /// `tok_flaky_N`: unavailable on the first N (1..=9) attempts, then succeeds.
    Flaky(u8),
    /// `tok_down`: always unavailable.
    Down,
    /// `tok_refund_flaky_N`: the charge succeeds; its refund is unavailable on its first N
    /// (1..=9) attempts, then succeeds.
    RefundFlaky(u8),
    /// `tok_refund_down`: the charge succeeds; every refund is unavailable.
    RefundDown,
    /// `tok_pending_N`: the charge is authorised but settles later: answered `PENDING` on the
    /// first call and the first N - 1 (1..=9) polls, captured on the N-th poll.
    Pending(u8),
    /// `tok_pending_forever`: authorised, never settles (every call answers `PENDING`).
    PendingForever,
}

/// Spellings of `tok_flaky_1` … `tok_flaky_9`, so that [`PaymentToken::as_str`] is `'static`.
const FLAKY_TOKENS: [&str; 9] = [
    "tok_flaky_1",
    "tok_flaky_2",
    "tok_flaky_3",
    "tok_flaky_4",
    "tok_flaky_5",
    "tok_flaky_6",
    "tok_flaky_7",
    "tok_flaky_8",
    "tok_flaky_9",
];

/// Spellings of `tok_refund_flaky_1` … `tok_refund_flaky_9`.
const REFUND_FLAKY_TOKENS: [&str; 9] = [
    "tok_refund_flaky_1",
    "tok_refund_flaky_2",
    "tok_refund_flaky_3",
    "tok_refund_flaky_4",
    "tok_refund_flaky_5",
    "tok_refund_flaky_6",
    "tok_refund_flaky_7",
    "tok_refund_flaky_8",
    "tok_refund_flaky_9",
];

/// Spellings of `tok_pending_1` … `tok_pending_9`.
const PENDING_TOKENS: [&str; 9] = [
    "tok_pending_1",
    "tok_pending_2",
    "tok_pending_3",
    "tok_pending_4",
    "tok_pending_5",
    "tok_pending_6",
    "tok_pending_7",
    "tok_pending_8",
    "tok_pending_9",
];

/// The N of `value` if it is one of `spellings` (`spellings[N - 1]`).
fn numbered(spellings: &[&str; 9], value: &str) -> Option<u8> {
    spellings
        .iter()
        .zip(1u8..)
        .find(|(token, _)| **token == value)
        .map(|(_, n)| n)
}

/// `spellings[n - 1]`, the last one when `n` is out of range (never, after `parse`).
fn spelling(spellings: &[&'static str; 9], n: u8) -> &'static str {
    spellings
        .get(usize::from(n).saturating_sub(1))
        .or(spellings.last())
        .copied()
        .unwrap_or_default()
}

/// A payment token the simulated provider does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown payment token {0:?}: use one of {allowed}",
    allowed = PaymentToken::ALLOWED
)]
pub struct PaymentTokenError(pub String);

impl PaymentToken {
    /// The accepted tokens, for error messages.
    pub const ALLOWED: &'static str = "tok_ok, tok_declined, tok_flaky_N (N = 1..9), tok_down, \
                                       tok_refund_flaky_N (N = 1..9), tok_refund_down, \
                                       tok_pending_N (N = 1..9), tok_pending_forever";

    /// Reads a token as sent by a client or stored on an order.
    pub fn parse(value: &str) -> Result<Self, PaymentTokenError> {
        match value {
            "tok_ok" => Ok(Self::Ok),
            "tok_declined" => Ok(Self::Declined),
            "tok_down" => Ok(Self::Down),
            "tok_refund_down" => Ok(Self::RefundDown),
            "tok_pending_forever" => Ok(Self::PendingForever),
            _ => numbered(&FLAKY_TOKENS, value)
                .map(Self::Flaky)
                .or_else(|| numbered(&REFUND_FLAKY_TOKENS, value).map(Self::RefundFlaky))
                .or_else(|| numbered(&PENDING_TOKENS, value).map(Self::Pending))
                .ok_or_else(|| PaymentTokenError(value.to_owned())),
        }
    }

    /// The token's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "tok_ok",
            Self::Declined => "tok_declined",
            Self::Down => "tok_down",
            Self::Flaky(n) => spelling(&FLAKY_TOKENS, n),
            Self::RefundDown => "tok_refund_down",
            Self::RefundFlaky(n) => spelling(&REFUND_FLAKY_TOKENS, n),
            Self::Pending(n) => spelling(&PENDING_TOKENS, n),
            Self::PendingForever => "tok_pending_forever",
        }
    }
}

impl fmt::Display for PaymentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(feature = "schemas")]
impl schemars::JsonSchema for PaymentToken {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PaymentToken".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // Every spelling `parse` accepts, so a client (or a fuzzer) can send only valid ones.
        let tokens: Vec<&str> = [
            "tok_ok",
            "tok_declined",
            "tok_down",
            "tok_refund_down",
            "tok_pending_forever",
        ]
        .into_iter()
        .chain(FLAKY_TOKENS)
        .chain(REFUND_FLAKY_TOKENS)
        .chain(PENDING_TOKENS)
        .collect();
        schemars::json_schema!({
            "type": "string",
            "enum": tokens,
            "description": "a token of the simulated payment provider: tok_ok succeeds, tok_declined is declined, tok_flaky_N is unavailable N times first, tok_down always; tok_refund_* make refunds fail likewise; tok_pending_N answers PENDING until its N-th poll captures it, tok_pending_forever never settles"
        })
    }
}

/// One priced line of an order, as the workflow recorded it (`items_json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    /// Product SKU.
    pub sku: String,
    /// Product name at pricing time.
    pub name: String,
    /// Units ordered.
    pub quantity: u32,
    /// Price of one unit at pricing time.
    pub unit_price: Money,
    /// `unit_price * quantity`.
    pub line_total: Money,
}

/// An order as stored in the orders table (`statemachines/README.md`, "Data"). Times are
/// epoch milliseconds. The workflow fills in the priced fields after creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Table key.
    pub order_id: OrderId,
    /// Owner.
    pub user_id: String,
    /// Owner's e-mail at checkout (risk check, notifications).
    pub email: String,
    /// Lifecycle status.
    pub status: OrderStatus,
    /// Creation time, epoch ms (sort key of the `by-user` index).
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
    /// The client's key the id was derived from.
    pub idempotency_key: IdempotencyKey,
    /// Hex SHA-256 of the canonical request body: a key reused with another body is refused.
    pub request_hash: String,
    /// Chosen payment behaviour. Never shown to clients.
    pub payment_token: PaymentToken,
    /// Correlation id of the request that created the order.
    pub correlation_id: String,
    /// Sessions-table key of the cart checked out (`CART#<hash>`).
    pub cart_key: String,
    /// The checkout execution's ARN: named after the order, so checkout-api records it with
    /// the order, before it starts (`None` only on orders written by older versions).
    pub execution_arn: Option<String>,
    /// Priced lines (empty until the workflow priced the order).
    pub items: Vec<OrderLine>,
    /// Total (until priced: `None`).
    pub total: Option<Money>,
    /// Units ordered (until priced: `None`).
    pub item_count: Option<u32>,
    /// The provider's charge id once paid.
    pub charge_id: Option<String>,
    /// Why a `FAILED`/`REJECTED` order ended so (`CART_EMPTY`, …).
    pub failure_reason: Option<String>,
    /// Why a `REFUND_PENDING` order waits (the provider's last error).
    pub refund_pending_reason: Option<String>,
    /// The status a `REFUND_PENDING` order ends in once the money is back. Never shown.
    pub refund_pending_outcome: Option<OrderStatus>,
    /// Step Functions task token of a pending approval. Never shown to clients.
    pub approval_token: Option<String>,
    /// The admin who approved.
    pub approved_by: Option<String>,
    /// When the reconciler last handed this order on (a repair request or a fulfilment
    /// re-drive), epoch ms: it sends nothing again before [`Deadlines::stuck_after_seconds`]
    /// more have passed. Never shown.
    pub reconciled_at: Option<i64>,
}

/// Paths of an order in the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
pub struct OrderLinks {
    /// `GET` this to follow the order.
    #[serde(rename = "self")]
    pub self_: String,
    /// `POST` this to cancel it.
    pub cancel: String,
}

impl OrderLinks {
    /// The links of `id`.
    pub fn of(id: &OrderId) -> Self {
        Self {
            self_: format!("/orders/{id}"),
            cancel: format!("/orders/{id}/cancel"),
        }
    }
}

/// What a client sees of an order: no payment token, approval token or request hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    /// The id.
    pub order_id: OrderId,
    /// Current status.
    pub status: OrderStatus,
    /// RFC 3339.
    #[cfg_attr(feature = "schemas", schemars(extend("format" = "date-time")))]
    pub created_at: String,
    /// RFC 3339.
    #[cfg_attr(feature = "schemas", schemars(extend("format" = "date-time")))]
    pub updated_at: String,
    /// Priced lines (empty while `PENDING` and not yet priced).
    pub items: Vec<OrderLine>,
    /// Total, `null` until priced.
    pub total: Option<Money>,
    /// Units ordered (0 until priced).
    pub item_count: u32,
    /// Why it failed or was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Why a refund it is owed is still pending (`REFUND_PENDING`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_pending_reason: Option<String>,
    /// Where to follow or cancel it.
    pub links: OrderLinks,
}

impl Order {
    /// The client's view of the order.
    pub fn view(&self) -> OrderView {
        OrderView {
            order_id: self.order_id.clone(),
            status: self.status,
            created_at: rfc3339_millis(self.created_at),
            updated_at: rfc3339_millis(self.updated_at),
            items: self.items.clone(),
            total: self.total,
            item_count: self
                .item_count
                .unwrap_or_else(|| self.items.iter().map(|l| l.quantity).sum()),
            failure_reason: self.failure_reason.clone(),
            refund_pending_reason: self.refund_pending_reason.clone(),
            links: OrderLinks::of(&self.order_id),
        }
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC, always with three fraction digits
/// (`2026-11-23T04:45:00.250Z`), so that the strings sort like the times.
pub fn rfc3339_millis(epoch_ms: i64) -> String {
    let seconds = lambda_kit::clock::rfc3339(epoch_ms.div_euclid(1000));
    match seconds.strip_suffix('Z') {
        Some(whole) => format!("{whole}.{:03}Z", epoch_ms.rem_euclid(1000)),
        None => seconds,
    }
}

#[cfg(test)]
mod order_tests {
    use super::*;
    use crate::catalog::Currency;

    fn key(value: &str) -> IdempotencyKey {
        IdempotencyKey::parse(value).unwrap()
    }

    #[test]
    fn order_id_is_derived_from_user_and_key() {
        let id = OrderId::derive("user-1", &key("k-1"));
        let expected = sha256_hex(b"user-1\nk-1");
        assert_eq!(id.as_str(), format!("ord_{}", &expected[..32]));
        assert_eq!(id, OrderId::derive("user-1", &key("k-1")));
        assert_ne!(id, OrderId::derive("user-2", &key("k-1")));
        assert_ne!(id, OrderId::derive("user-1", &key("k-2")));
        assert_eq!(OrderId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn order_id_parse_rejects_anything_else() {
        for bad in [
            "",
            "ord_",
            "ord_0123",
            "ORD_0123456789abcdef0123456789abcdef",
            "ord_0123456789ABCDEF0123456789abcdef",
            "ord_0123456789abcdef0123456789abcdeg",
            "ord_0123456789abcdef0123456789abcdef0",
            "../ord_0123456789abcdef0123456789abcd",
        ] {
            assert!(OrderId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Ok(status));
        }
        assert_eq!(OrderStatus::AwaitingApproval.as_str(), "AWAITING_APPROVAL");
        assert!(OrderStatus::parse("pending").is_err());
    }

    #[test]
    fn idempotency_keys() {
        IdempotencyKey::parse("a").unwrap();
        IdempotencyKey::parse("Order_2026-11-23").unwrap();
        IdempotencyKey::parse(&"k".repeat(64)).unwrap();
        for bad in ["", " a", "a b", "a/b", "ключ", "a.b"] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(IdempotencyKey::parse(&"k".repeat(65)).is_err());
    }

    #[test]
    fn payment_tokens() {
        assert_eq!(PaymentToken::parse("tok_ok"), Ok(PaymentToken::Ok));
        assert_eq!(
            PaymentToken::parse("tok_declined"),
            Ok(PaymentToken::Declined)
        );
        assert_eq!(PaymentToken::parse("tok_down"), Ok(PaymentToken::Down));
        for n in 1..=9u8 {
            let spelled = format!("tok_flaky_{n}");
            assert_eq!(PaymentToken::parse(&spelled), Ok(PaymentToken::Flaky(n)));
            assert_eq!(PaymentToken::Flaky(n).as_str(), spelled);
            let spelled = format!("tok_refund_flaky_{n}");
            assert_eq!(
                PaymentToken::parse(&spelled),
                Ok(PaymentToken::RefundFlaky(n))
            );
            assert_eq!(PaymentToken::RefundFlaky(n).as_str(), spelled);
            let spelled = format!("tok_pending_{n}");
            assert_eq!(PaymentToken::parse(&spelled), Ok(PaymentToken::Pending(n)));
            assert_eq!(PaymentToken::Pending(n).as_str(), spelled);
        }
        assert_eq!(
            PaymentToken::parse("tok_pending_forever"),
            Ok(PaymentToken::PendingForever)
        );
        assert_eq!(PaymentToken::PendingForever.as_str(), "tok_pending_forever");
        for bad in [
            "",
            "tok_flaky_0",
            "tok_flaky_10",
            "tok_flaky_",
            "TOK_OK",
            "tok_x",
            "tok_pending_0",
            "tok_pending_10",
            "tok_pending_",
            "tok_pending",
            "tok_pending_never",
        ] {
            let err = PaymentToken::parse(bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|m| m.contains("tok_ok") && m.contains("tok_pending_forever")),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn view_hides_secrets_and_uses_camel_case() {
        let id = OrderId::derive("u", &key("k"));
        let order = Order {
            order_id: id.clone(),
            user_id: "u".to_owned(),
            email: "u@example.com".to_owned(),
            status: OrderStatus::Failed,
            created_at: 1_795_409_100_000,
            updated_at: 1_795_409_100_250,
            idempotency_key: key("k"),
            request_hash: "secret-hash".to_owned(),
            payment_token: PaymentToken::Declined,
            correlation_id: "c".to_owned(),
            cart_key: "CART#x".to_owned(),
            execution_arn: None,
            items: vec![OrderLine {
                sku: "MUG-1".to_owned(),
                name: "Mug".to_owned(),
                quantity: 2,
                unit_price: Money::new(500, Currency::EUR),
                line_total: Money::new(1000, Currency::EUR),
            }],
            total: Some(Money::new(1000, Currency::EUR)),
            item_count: None,
            charge_id: None,
            failure_reason: Some("PAYMENT_DECLINED".to_owned()),
            refund_pending_reason: None,
            refund_pending_outcome: None,
            approval_token: Some("secret-task-token".to_owned()),
            approved_by: None,
            reconciled_at: None,
        };
        let json = serde_json::to_value(order.view()).unwrap_or_default();
        assert_eq!(json["orderId"], id.as_str());
        assert_eq!(json["status"], "FAILED");
        assert_eq!(json["createdAt"], "2026-11-23T04:45:00.000Z");
        assert_eq!(json["updatedAt"], "2026-11-23T04:45:00.250Z");
        assert_eq!(json["itemCount"], 2);
        assert_eq!(json["total"]["amount"], 1000);
        assert_eq!(json["items"][0]["unitPrice"]["amount"], 500);
        assert_eq!(json["failureReason"], "PAYMENT_DECLINED");
        assert_eq!(json["links"]["self"], format!("/orders/{id}"));
        assert_eq!(json["links"]["cancel"], format!("/orders/{id}/cancel"));
        let text = json.to_string();
        for secret in [
            "secret",
            "tok_declined",
            "paymentToken",
            "approval",
            "requestHash",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
