//! Orders: the store behind the order APIs and the workflow's helpers, and the orders API.
//!
//! DynamoDB layout (`statemachines/README.md`, "Data"): orders table keyed by `order_id` (S),
//! GSI `by-user` (`user_id` S, `created_at` N epoch ms, projection ALL). Every status change
//! made here is a conditional update on the current status, so two writers (a customer
//! cancelling, `fulfilment` shipping, an admin deciding) can never both win.

pub mod api;
mod dynamo;
mod memory;

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use api::OrdersApi;
pub use dynamo::DynamoOrderStore;
pub use memory::InMemoryOrderStore;

use crate::domain::{Order, OrderId, OrderStatus};
use crate::store::StoreError;
use lambda_kit::clock::Clock;

/// Name of the global secondary index listing a user's orders by creation time.
pub const BY_USER_INDEX: &str = "by-user";

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
}

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

#[cfg(test)]
pub(crate) mod tests;
