//! notifier: records the customer-facing message of events that need one in the
//! notifications table. No e-mail is sent.
//!
//! | event | recipient | `kind` |
//! | --- | --- | --- |
//! | `AccountLocked` | `detail.email` | `ACCOUNT_LOCKED` |
//! | `OrderPlaced` | `detail.email` | `ORDER_PLACED` |
//! | `OrderShipped` | `detail.email` | `ORDER_SHIPPED` |
//! | `OrderCancelled` | `detail.email` | `ORDER_CANCELLED` |
//!
//! (`approvals` records `APPROVAL_REQUESTED` messages for the recipient `admins` through the
//! same store.)
//!
//! Table: key `recipient` (S, the e-mail), sort key `sk` (S, `<occurredAt>#<eventId>`);
//! `kind`, `channel`, `subject`, `message`, `event_id`, `created_at`. The write is
//! conditional on the key, so a redelivery records nothing twice.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::Money;
use crate::events::EventType;
use crate::store::StoreError;
use crate::store::{backend, is_conditional_failure};
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, EventHandler, ProcessError};

/// Name of the function.
pub const FUNCTION_NAME: &str = "notifier";

/// A message to a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// E-mail of the customer.
    pub recipient: String,
    /// `<occurredAt>#<eventId>`.
    pub sort_key: String,
    /// e.g. `ACCOUNT_LOCKED`.
    pub kind: String,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub message: String,
    /// The event it was made for.
    pub event_id: String,
}

/// Where notifications are recorded.
pub trait NotificationStore: Send + Sync {
    /// Records `notification`; `Ok(false)` if it was recorded before.
    fn record(
        &self,
        notification: &Notification,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

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

/// Notifications in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoNotificationStore {
    client: Client,
    table: String,
}

impl DynamoNotificationStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl NotificationStore for DynamoNotificationStore {
    async fn record(&self, n: &Notification, now: i64) -> Result<bool, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("recipient", s(&n.recipient))
            .item("sk", s(&n.sort_key))
            .item("kind", s(&n.kind))
            .item("channel", s("email"))
            .item("subject", s(&n.subject))
            .item("message", s(&n.message))
            .item("event_id", s(&n.event_id))
            .item("created_at", AttributeValue::N(now.to_string()))
            .condition_expression("attribute_not_exists(recipient)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_failure(&err) => Ok(false),
            Err(err) => Err(backend("PutItem notification", &err)),
        }
    }
}

/// Notifications in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryNotificationStore {
    notifications: Mutex<HashMap<(String, String), Notification>>,
}

impl InMemoryNotificationStore {
    /// All recorded notifications.
    pub fn all(&self) -> Vec<Notification> {
        self.notifications
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

impl NotificationStore for InMemoryNotificationStore {
    async fn record(&self, n: &Notification, _now: i64) -> Result<bool, StoreError> {
        let mut all = self
            .notifications
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (n.recipient.clone(), n.sort_key.clone());
        if all.contains_key(&key) {
            return Ok(false);
        }
        all.insert(key, n.clone());
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn account_locked_gets_one_message_and_logins_none() {
        let notifier = Notifier::new(InMemoryNotificationStore::default());
        let locked = EventEnvelope::new(
            EventType::AccountLocked,
            "fraud-detector",
            "c",
            0,
            serde_json::json!({"email": "ann@example.com", "lockedUntil": "1970-01-01T00:15:00Z"}),
        );
        assert!(notifier.handle(&locked).await.is_ok());
        assert!(notifier.handle(&locked).await.is_ok());
        let login = EventEnvelope::new(
            EventType::LoginSucceeded,
            "auth-api",
            "c",
            0,
            serde_json::json!({}),
        );
        assert!(notifier.handle(&login).await.is_ok());
        let all = notifier.store().all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].recipient, "ann@example.com");
        assert!(all[0].message.contains("1970-01-01T00:15:00Z"));
    }

    fn order_event(event_type: EventType, email: &str) -> EventEnvelope {
        EventEnvelope::new(
            event_type,
            "checkout",
            "c",
            1_800_000_000,
            serde_json::json!({
                "orderId": "ord_1", "userId": "u1", "email": email,
                "total": {"amount": 4597, "currency": "EUR"}, "itemCount": 3, "items": []
            }),
        )
    }

    #[tokio::test]
    async fn order_events_get_one_customer_message_each() {
        let notifier = Notifier::new(InMemoryNotificationStore::default());
        for event_type in [
            EventType::OrderPlaced,
            EventType::OrderShipped,
            EventType::OrderCancelled,
        ] {
            let event = order_event(event_type, "bob@example.com");
            assert!(notifier.handle(&event).await.is_ok());
            assert!(notifier.handle(&event).await.is_ok(), "redelivery");
        }
        let mut all = notifier.store().all();
        all.sort_by(|a, b| a.kind.cmp(&b.kind));
        let kinds: Vec<&str> = all.iter().map(|n| n.kind.as_str()).collect();
        assert_eq!(kinds, ["ORDER_CANCELLED", "ORDER_PLACED", "ORDER_SHIPPED"]);
        assert!(all.iter().all(|n| n.recipient == "bob@example.com"));
        assert!(all[1].message.contains("45.97 EUR"), "{}", all[1].message);
        assert!(all[0].message.contains("45.97 EUR"), "{}", all[0].message);
    }

    #[tokio::test]
    async fn an_order_event_without_email_is_malformed() {
        let notifier = Notifier::new(InMemoryNotificationStore::default());
        let event = order_event(EventType::OrderShipped, "");
        assert!(matches!(
            notifier.handle(&event).await,
            Err(ProcessError::Malformed(_))
        ));
    }

    #[test]
    fn totals_read_as_currency_amounts() {
        let total = |amount: i64| {
            display_total(&serde_json::json!({"total": {"amount": amount, "currency": "EUR"}}))
        };
        assert_eq!(total(4597).as_deref(), Some("45.97 EUR"));
        assert_eq!(total(5).as_deref(), Some("0.05 EUR"));
        assert_eq!(total(-150).as_deref(), Some("-1.50 EUR"));
        assert_eq!(display_total(&serde_json::json!({})), None);
    }
}
