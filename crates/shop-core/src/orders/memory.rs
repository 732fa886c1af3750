//! The orders table in memory, for unit tests: the same conditions as the DynamoDB store.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{CreateOutcome, FulfilOutcome, OrderCursor, OrderPage, OrderStore, now_millis};
use crate::orders::{Order, OrderId, OrderStatus};
use crate::store::StoreError;
use lambda_kit::clock::Clock;
use lambda_kit::sync::lock;

/// Orders in a map keyed by id.
#[derive(Debug, Default)]
pub struct InMemoryOrderStore {
    orders: Mutex<HashMap<OrderId, Order>>,
    /// Per order: cancel runs claimed and when the last one started (attributes the API never
    /// reads back, so not on [`Order`]).
    cancel_runs: Mutex<HashMap<OrderId, (u32, Option<i64>)>>,
    clock: Clock,
}

impl InMemoryOrderStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the clock that stamps `updated_at`.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Writes `order` as is, replacing any stored one (tests: set up a status, a token…).
    pub fn put(&self, order: Order) {
        lock(&self.orders).insert(order.order_id.clone(), order);
    }

    /// Every stored order (test inspection).
    pub fn all(&self) -> Vec<Order> {
        lock(&self.orders).values().cloned().collect()
    }

    /// Applies `change` if `condition` holds for the stored order; whether it did.
    fn update_if(
        &self,
        id: &OrderId,
        condition: impl FnOnce(&Order) -> bool,
        change: impl FnOnce(&mut Order),
    ) -> bool {
        let now = now_millis(&self.clock);
        let mut orders = lock(&self.orders);
        match orders.get_mut(id) {
            Some(order) if condition(order) => {
                change(order);
                order.updated_at = now;
                true
            }
            _ => false,
        }
    }
}

/// Newest first, as the `by-user` index read backwards (ties broken by id, descending).
fn newest_first(a: &Order, b: &Order) -> std::cmp::Ordering {
    (b.created_at, &b.order_id).cmp(&(a.created_at, &a.order_id))
}

impl OrderStore for InMemoryOrderStore {
    async fn create(&self, order: &Order) -> Result<CreateOutcome, StoreError> {
        let mut orders = lock(&self.orders);
        if let Some(existing) = orders.get(&order.order_id) {
            return Ok(CreateOutcome::Exists(Box::new(existing.clone())));
        }
        orders.insert(order.order_id.clone(), order.clone());
        Ok(CreateOutcome::Created)
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        Ok(lock(&self.orders).get(id).cloned())
    }

    async fn list_for_user(
        &self,
        user_id: &str,
        limit: u16,
        cursor: Option<&OrderCursor>,
    ) -> Result<OrderPage, StoreError> {
        let mut mine: Vec<Order> = lock(&self.orders)
            .values()
            .filter(|o| o.user_id == user_id)
            .filter(|o| {
                cursor.is_none_or(|c| (o.created_at, &o.order_id) < (c.created_at, &c.order_id))
            })
            .cloned()
            .collect();
        mine.sort_by(newest_first);
        let more = mine.len() > usize::from(limit);
        mine.truncate(usize::from(limit));
        let next = if more {
            mine.last().map(|o| OrderCursor {
                created_at: o.created_at,
                order_id: o.order_id.clone(),
            })
        } else {
            None
        };
        Ok(OrderPage { items: mine, next })
    }

    async fn transition(
        &self,
        id: &OrderId,
        from: &[OrderStatus],
        to: OrderStatus,
    ) -> Result<bool, StoreError> {
        Ok(self.update_if(id, |o| from.contains(&o.status), |o| o.status = to))
    }

    async fn set_execution_arn(&self, id: &OrderId, execution_arn: &str) -> Result<(), StoreError> {
        if let Some(order) = lock(&self.orders).get_mut(id) {
            order.execution_arn = Some(execution_arn.to_owned());
        }
        Ok(())
    }

    async fn set_awaiting_approval(
        &self,
        id: &OrderId,
        task_token: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.update_if(
            id,
            |o| {
                o.status == OrderStatus::Pending
                    || (o.status == OrderStatus::AwaitingApproval
                        && o.approval_token.as_deref().is_none_or(|t| t == task_token))
            },
            |o| {
                o.status = OrderStatus::AwaitingApproval;
                o.approval_token = Some(task_token.to_owned());
            },
        ))
    }

    async fn mark_approved(&self, id: &OrderId, approved_by: &str) -> Result<bool, StoreError> {
        Ok(self.update_if(
            id,
            |o| o.status == OrderStatus::AwaitingApproval,
            |o| {
                o.status = OrderStatus::Approved;
                o.approved_by = Some(approved_by.to_owned());
            },
        ))
    }

    async fn mark_fulfilled(&self, id: &OrderId) -> Result<FulfilOutcome, StoreError> {
        if self.update_if(
            id,
            |o| o.status == OrderStatus::Confirmed,
            |o| o.status = OrderStatus::Fulfilled,
        ) {
            return Ok(FulfilOutcome::Fulfilled);
        }
        Ok(match lock(&self.orders).get(id).map(|o| o.status) {
            None => FulfilOutcome::NotFound,
            Some(OrderStatus::Fulfilled) => FulfilOutcome::AlreadyFulfilled,
            Some(status) => FulfilOutcome::NotConfirmed(status),
        })
    }

    async fn mark_refund_pending(
        &self,
        id: &OrderId,
        outcome: OrderStatus,
        reason: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.update_if(
            id,
            |o| !o.status.is_terminal(),
            |o| {
                o.status = OrderStatus::RefundPending;
                o.refund_pending_outcome = Some(outcome);
                o.refund_pending_reason = Some(reason.to_owned());
            },
        ))
    }

    async fn settle(
        &self,
        id: &OrderId,
        to: OrderStatus,
        reason: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.update_if(
            id,
            |o| !o.status.is_terminal(),
            |o| {
                o.status = to;
                o.failure_reason = Some(reason.to_owned());
                o.refund_pending_reason = None;
                o.refund_pending_outcome = None;
            },
        ))
    }

    async fn scan_open(&self) -> Result<Vec<Order>, StoreError> {
        Ok(lock(&self.orders)
            .values()
            .filter(|o| !o.status.is_terminal())
            .cloned()
            .collect())
    }

    async fn claim_reconcile(
        &self,
        id: &OrderId,
        now_ms: i64,
        not_since_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut orders = lock(&self.orders);
        Ok(match orders.get_mut(id) {
            Some(order) if order.reconciled_at.is_none_or(|at| at < not_since_ms) => {
                order.reconciled_at = Some(now_ms);
                true
            }
            _ => false,
        })
    }

    async fn claim_cancel_run(
        &self,
        id: &OrderId,
        now_ms: i64,
        running_since_ms: i64,
    ) -> Result<Option<u32>, StoreError> {
        let mut orders = lock(&self.orders);
        let mut runs = lock(&self.cancel_runs);
        let Some(order) = orders.get_mut(id) else {
            return Ok(None);
        };
        let entry = runs.entry(id.clone()).or_insert((0, None));
        if order.status != OrderStatus::Cancelling
            || entry.1.is_some_and(|started| started >= running_since_ms)
        {
            return Ok(None);
        }
        entry.0 += 1;
        entry.1 = Some(now_ms);
        Ok(Some(entry.0))
    }
    async fn forget_cancel_run(&self, id: &OrderId, started_ms: i64) -> Result<(), StoreError> {
        if let Some(entry) = lock(&self.cancel_runs).get_mut(id)
            && entry.1 == Some(started_ms)
        {
            entry.1 = None;
        }
        Ok(())
    }
}
