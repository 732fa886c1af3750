//! approvals: the queue handler.

use super::{ADMINS, APPROVAL_REQUESTED};
use crate::events::{ApprovalRequested, ShopEvent};
use crate::notifications::{Notification, NotificationStore, display_total};
use crate::orders::OrderStore;
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, EventHandler, ProcessError};

/// The approvals consumer.
#[derive(Debug)]
pub struct Approvals<O, N> {
    orders: O,
    notifications: N,
    clock: Clock,
}

impl<O: OrderStore, N: NotificationStore> Approvals<O, N> {
    /// A consumer over the orders table and the notifications store.
    pub fn new(orders: O, notifications: N) -> Self {
        Self {
            orders,
            notifications,
            clock: Clock::System,
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The orders store (tests).
    pub fn orders(&self) -> &O {
        &self.orders
    }

    /// The notifications store (tests).
    pub fn notifications(&self) -> &N {
        &self.notifications
    }

    async fn approval_requested(
        &self,
        event: &EventEnvelope,
        requested: ApprovalRequested,
    ) -> Result<(), ProcessError> {
        let order_id = &requested.order_id;
        let token = requested.task_token.as_str();
        if token.is_empty() {
            return Err(ProcessError::Malformed(
                "ApprovalRequested with an empty detail.taskToken".to_owned(),
            ));
        }
        let flagged = requested.flagged;
        if !self.orders.set_awaiting_approval(order_id, token).await? {
            let status = self
                .orders
                .get(order_id)
                .await?
                .map(|o| o.status.to_string());
            tracing::warn!(
                order_id = %order_id,
                status = status.as_deref().unwrap_or("NOT_FOUND"),
                "order no longer waits for this approval: acknowledged, nothing stored"
            );
            return Ok(());
        }
        tracing::info!(order_id = %order_id, flagged, "approval token stored");
        let total = requested
            .total
            .as_ref()
            .map_or_else(|| "-".to_owned(), display_total);
        let why = if flagged {
            "the customer's account is flagged by fraud detection"
        } else {
            "its total is above the approval threshold"
        };
        let customer = requested
            .email
            .as_deref()
            .filter(|e| !e.is_empty())
            .unwrap_or("unknown customer");
        let notification = Notification {
            recipient: ADMINS.to_owned(),
            sort_key: format!("{}#{}", event.occurred_at, event.event_id),
            kind: APPROVAL_REQUESTED.to_owned(),
            subject: format!("Order {order_id} needs approval"),
            message: format!(
                "Order {order_id} of {customer} ({total}) waits for a decision because {why}. Approve with POST /orders/{order_id}/approve or reject with POST /orders/{order_id}/reject."
            ),
            event_id: event.event_id.clone(),
        };
        if self
            .notifications
            .record(&notification, self.clock.now())
            .await?
        {
            tracing::info!(order_id = %order_id, "admins notified");
        }
        Ok(())
    }
}

impl<O: OrderStore, N: NotificationStore> EventHandler for Approvals<O, N> {
    type Event = ShopEvent;

    async fn handle(&self, event: &EventEnvelope, decoded: ShopEvent) -> Result<(), ProcessError> {
        match decoded {
            ShopEvent::ApprovalRequested(requested) => {
                self.approval_requested(event, requested).await
            }
            other => {
                tracing::info!(
                    event_type = other.event_type().as_str(),
                    "not an approval request: ignored"
                );
                Ok(())
            }
        }
    }
}
