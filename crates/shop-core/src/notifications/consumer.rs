//! notifier: the queue handler.

use super::{Notification, NotificationStore};
use crate::catalog::Money;
use crate::events::EventType;
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, EventHandler, ProcessError};

/// `detail.total` (`{amount, currency}`) as a human amount, e.g. `45.97 EUR`.
pub fn display_total(detail: &serde_json::Value) -> Option<String> {
    let money: Money = serde_json::from_value(detail.get("total")?.clone()).ok()?;
    let minor = money.amount_minor;
    Some(format!(
        "{}{}.{:02} {}",
        if minor < 0 { "-" } else { "" },
        minor.unsigned_abs() / 100,
        minor.unsigned_abs() % 100,
        money.currency
    ))
}

fn required<'a>(event: &'a EventEnvelope, name: &str) -> Result<&'a str, ProcessError> {
    event
        .detail_str(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ProcessError::Malformed(format!("{} without detail.{name}", event.event_type))
        })
}

/// The message for `event`, if it needs one.
pub fn notification_for(event: &EventEnvelope) -> Result<Option<Notification>, ProcessError> {
    let (kind, subject, message) = match EventType::of(event) {
        Some(EventType::AccountLocked) => {
            let until = event.detail_str("lockedUntil").unwrap_or("later");
            (
                "ACCOUNT_LOCKED",
                "Your account has been locked".to_owned(),
                format!(
                    "We locked your account after several failed sign-in attempts. You can sign in again after {until}. If this was not you, consider changing your password."
                ),
            )
        }
        Some(EventType::OrderPlaced) => {
            let order_id = required(event, "orderId")?;
            let total = display_total(&event.detail).unwrap_or_else(|| "-".to_owned());
            let items = event
                .detail
                .get("itemCount")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or_default();
            (
                "ORDER_PLACED",
                format!("Order {order_id} confirmed"),
                format!(
                    "Thank you for your order {order_id}: {items} item(s), {total} charged. You can still cancel it for a short while; we ship it after that."
                ),
            )
        }
        Some(EventType::OrderShipped) => {
            let order_id = required(event, "orderId")?;
            (
                "ORDER_SHIPPED",
                format!("Order {order_id} shipped"),
                format!("Your order {order_id} is on its way."),
            )
        }
        Some(EventType::OrderCancelled) => {
            let order_id = required(event, "orderId")?;
            let refund = display_total(&event.detail)
                .map(|t| format!(" {t} will be refunded to your payment method."))
                .unwrap_or_default();
            (
                "ORDER_CANCELLED",
                format!("Order {order_id} cancelled"),
                format!("Your order {order_id} has been cancelled.{refund}"),
            )
        }
        _ => return Ok(None),
    };
    let recipient = required(event, "email")?;
    Ok(Some(Notification {
        recipient: recipient.to_owned(),
        sort_key: format!("{}#{}", event.occurred_at, event.event_id),
        kind: kind.to_owned(),
        subject,
        message,
        event_id: event.event_id.clone(),
    }))
}

/// The notifier consumer.
#[derive(Debug)]
pub struct Notifier<N> {
    store: N,
    clock: Clock,
}

impl<N: NotificationStore> Notifier<N> {
    /// A notifier recording into `store`.
    pub fn new(store: N) -> Self {
        Self {
            store,
            clock: Clock::System,
        }
    }

    /// The store (tests).
    pub fn store(&self) -> &N {
        &self.store
    }
}

impl<N: NotificationStore> EventHandler for Notifier<N> {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        let Some(notification) = notification_for(event)? else {
            tracing::info!("no customer message for this event type");
            return Ok(());
        };
        if self.store.record(&notification, self.clock.now()).await? {
            tracing::info!(kind = %notification.kind, "notification recorded");
        }
        Ok(())
    }
}
