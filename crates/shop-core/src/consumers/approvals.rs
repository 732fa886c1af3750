//! approvals: the consumer of the approvals queue. The checkout workflow's `RequestApproval`
//! state (`sqs:sendMessage.waitForTaskToken`) sends an `ApprovalRequested` envelope
//! (`detail`: `orderId`, `userId`, `email`, `taskToken`, `total` `{amount, currency}`,
//! `flagged`) and waits.
//!
//! This consumer stores the task token on the order ([`OrderStore::set_awaiting_approval`]:
//! `PENDING` or `AWAITING_APPROVAL` without a token or with this same token), so that the
//! orders API can answer the workflow (`SendTaskSuccess` / `SendTaskFailure OrderRejected`)
//! when an admin decides, and records an `APPROVAL_REQUESTED` message for the recipient
//! `admins` in the notifications table (the notifier's store).
//!
//! An order that is no longer waiting (failed, already decided, or holding another token) is
//! logged and acknowledged: nobody can act on this token any more, and the workflow's own
//! timeout ends it.

use crate::consumers::notifier::{Notification, NotificationStore, display_total};
use crate::domain::OrderId;
use crate::events::EventType;
use crate::orders::OrderStore;
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, EventHandler, ProcessError};

/// Name of the function.
pub const FUNCTION_NAME: &str = "approvals";

/// Recipient of the approval requests in the notifications table.
pub const ADMINS: &str = "admins";

/// `kind` of the admins' notification.
pub const APPROVAL_REQUESTED: &str = "APPROVAL_REQUESTED";

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

    async fn approval_requested(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        let field = |name: &str| {
            event
                .detail_str(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    ProcessError::Malformed(format!("ApprovalRequested without detail.{name}"))
                })
        };
        let order_id = OrderId::parse(field("orderId")?)
            .map_err(|e| ProcessError::Malformed(e.to_string()))?;
        let token = field("taskToken")?;
        let flagged = event
            .detail
            .get("flagged")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        if !self.orders.set_awaiting_approval(&order_id, token).await? {
            let status = self
                .orders
                .get(&order_id)
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
        let total = display_total(&event.detail).unwrap_or_else(|| "-".to_owned());
        let why = if flagged {
            "the customer's account is flagged by fraud detection"
        } else {
            "its total is above the approval threshold"
        };
        let customer = event.detail_str("email").unwrap_or("unknown customer");
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
    async fn handle(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        match EventType::of(event) {
            Some(EventType::ApprovalRequested) => self.approval_requested(event).await,
            _ => {
                tracing::info!("not an approval request: ignored");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumers::notifier::InMemoryNotificationStore;
    use crate::domain::{Order, OrderStatus};
    use crate::orders::InMemoryOrderStore;
    use crate::orders::tests::sample_order;
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    use lambda_kit::messaging::{BatchProcessor, Idempotent, InMemoryIdempotencyStore};

    fn order(status: OrderStatus) -> Order {
        Order {
            email: "ann@example.com".to_owned(),
            status,
            correlation_id: "corr".to_owned(),
            ..sample_order("u1", "key-approvals-1", 1000)
        }
    }

    fn requested(order_id: &OrderId, token: &str) -> EventEnvelope {
        EventEnvelope::new(
            EventType::ApprovalRequested,
            "checkout",
            "corr",
            1_800_000_000,
            serde_json::json!({
                "orderId": order_id.as_str(), "userId": "u1", "email": "ann@example.com",
                "taskToken": token, "total": {"amount": 125_000, "currency": "EUR"},
                "flagged": false
            }),
        )
    }

    fn approvals(
        status: OrderStatus,
    ) -> (
        Approvals<InMemoryOrderStore, InMemoryNotificationStore>,
        OrderId,
    ) {
        let orders = InMemoryOrderStore::new();
        let order = order(status);
        let id = order.order_id.clone();
        orders.put(order);
        (
            Approvals::new(orders, InMemoryNotificationStore::default()),
            id,
        )
    }

    fn stored(approvals: &Approvals<InMemoryOrderStore, InMemoryNotificationStore>) -> Order {
        approvals
            .orders()
            .all()
            .pop()
            .unwrap_or_else(|| unreachable!("one order"))
    }

    #[tokio::test]
    async fn stores_the_token_and_notifies_the_admins_once() {
        for status in [OrderStatus::Pending, OrderStatus::AwaitingApproval] {
            let (approvals, id) = approvals(status);
            let processor = BatchProcessor::new(
                FUNCTION_NAME,
                approvals,
                Idempotent::new(InMemoryIdempotencyStore::default(), FUNCTION_NAME),
            );
            let event = requested(&id, "token-1");
            let mut record = SqsMessage::default();
            record.message_id = Some("m1".to_owned());
            record.body = Some(event.to_json());
            let mut batch = SqsEvent::default();
            batch.records = vec![record];
            for _ in 0..2 {
                let response = processor.process(batch.clone()).await;
                assert!(response.batch_item_failures.is_empty());
            }
            // The handler itself is safe to run again (the idempotency record was lost).
            assert!(processor.handler().handle(&event).await.is_ok());
            let approvals = processor.handler();
            let order = stored(approvals);
            assert_eq!(order.status, OrderStatus::AwaitingApproval);
            assert_eq!(order.approval_token.as_deref(), Some("token-1"));
            let notes = approvals.notifications().all();
            assert_eq!(notes.len(), 1);
            assert_eq!(notes[0].recipient, "admins");
            assert_eq!(notes[0].kind, "APPROVAL_REQUESTED");
            assert!(
                notes[0].message.contains("1250.00 EUR"),
                "{}",
                notes[0].message
            );
            assert!(notes[0].message.contains(id.as_str()));
        }
    }

    #[tokio::test]
    async fn an_order_no_longer_pending_is_acknowledged_untouched() {
        for status in [
            OrderStatus::Failed,
            OrderStatus::Confirmed,
            OrderStatus::Rejected,
        ] {
            let (approvals, id) = approvals(status);
            assert!(approvals.handle(&requested(&id, "token-1")).await.is_ok());
            let order = stored(&approvals);
            assert_eq!(order.status, status);
            assert_eq!(order.approval_token, None);
            assert!(approvals.notifications().all().is_empty());
        }
        // A second, different token never replaces the first.
        let (approvals, id) = approvals(OrderStatus::Pending);
        assert!(approvals.handle(&requested(&id, "token-1")).await.is_ok());
        assert!(approvals.handle(&requested(&id, "token-2")).await.is_ok());
        assert_eq!(
            stored(&approvals).approval_token.as_deref(),
            Some("token-1")
        );
        assert_eq!(approvals.notifications().all().len(), 1);
    }

    #[tokio::test]
    async fn malformed_requests_fail() {
        let (approvals, id) = approvals(OrderStatus::Pending);
        let mut no_token = requested(&id, "");
        assert!(matches!(
            approvals.handle(&no_token).await,
            Err(ProcessError::Malformed(_))
        ));
        no_token.detail = serde_json::json!({"orderId": "not-an-order", "taskToken": "t"});
        assert!(matches!(
            approvals.handle(&no_token).await,
            Err(ProcessError::Malformed(_))
        ));
    }
}
