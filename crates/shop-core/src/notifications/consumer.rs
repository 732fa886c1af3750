//! notifier: the queue handler.

use super::{Notification, NotificationStore};
use crate::catalog::Money;
use crate::events::ShopEvent;
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{EventEnvelope, EventHandler, ProcessError};

/// An amount as people read it, e.g. `45.97 EUR`.
pub fn display_total(money: &Money) -> String {
    let minor = money.amount_minor;
    format!(
        "{}{}.{:02} {}",
        if minor < 0 { "-" } else { "" },
        minor.unsigned_abs() / 100,
        minor.unsigned_abs() % 100,
        money.currency
    )
}

/// The message for `event` (decoded from `envelope`), if it needs one.
pub fn notification_for(
    envelope: &EventEnvelope,
    event: &ShopEvent,
) -> Result<Option<Notification>, ProcessError> {
    let (recipient, kind, subject, message) = match event {
        ShopEvent::AccountLocked(locked) => {
            let until = &locked.locked_until;
            (
                &locked.email,
                "ACCOUNT_LOCKED",
                "Your account has been locked".to_owned(),
                format!(
                    "We locked your account after several failed sign-in attempts. You can sign in again after {until}. If this was not you, consider changing your password."
                ),
            )
        }
        ShopEvent::DuplicateRegistration(duplicate) => (
            &duplicate.email,
            "DUPLICATE_REGISTRATION",
            "Someone tried to register with your e-mail".to_owned(),
            "Someone tried to create an account with your e-mail address, which already has one. If it was you, sign in instead (or reset your password). If it was not, you need not do anything: your account is unchanged.".to_owned(),
        ),
        ShopEvent::OrderPlaced(placed) => {
            let order_id = &placed.order_id;
            let total = display_total(&placed.total);
            let items = placed.item_count;
            (
                &placed.email,
                "ORDER_PLACED",
                format!("Order {order_id} confirmed"),
                format!(
                    "Thank you for your order {order_id}: {items} item(s), {total} charged. You can still cancel it for a short while; we ship it after that."
                ),
            )
        }
        ShopEvent::OrderShipped(shipped) => {
            let order_id = &shipped.order_id;
            (
                &shipped.email,
                "ORDER_SHIPPED",
                format!("Order {order_id} shipped"),
                format!("Your order {order_id} is on its way."),
            )
        }
        ShopEvent::OrderCancelled(cancelled) => {
            let order_id = &cancelled.order_id;
            let refund = cancelled
                .total
                .as_ref()
                .map(|t| {
                    format!(
                        " {} will be refunded to your payment method.",
                        display_total(t)
                    )
                })
                .unwrap_or_default();
            (
                &cancelled.email,
                "ORDER_CANCELLED",
                format!("Order {order_id} cancelled"),
                format!("Your order {order_id} has been cancelled.{refund}"),
            )
        }
        ShopEvent::LoginSucceeded(_)
        | ShopEvent::LoginFailed(_)
        | ShopEvent::ApprovalRequested(_)
        | ShopEvent::PaymentCaptured(_)
        | ShopEvent::PaymentRefunded(_)
        | ShopEvent::RepairRequested(_) => return Ok(None),
    };
    if recipient.is_empty() {
        return Err(ProcessError::Malformed(format!(
            "{} with an empty detail.email",
            envelope.event_type
        )));
    }
    Ok(Some(Notification {
        recipient: recipient.clone(),
        sort_key: format!("{}#{}", envelope.occurred_at, envelope.event_id),
        kind: kind.to_owned(),
        subject,
        message,
        event_id: envelope.event_id.clone(),
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
    type Event = ShopEvent;

    async fn handle(&self, event: &EventEnvelope, decoded: ShopEvent) -> Result<(), ProcessError> {
        let Some(notification) = notification_for(event, &decoded)? else {
            tracing::info!("no customer message for this event type");
            return Ok(());
        };
        if self.store.record(&notification, self.clock.now()).await? {
            tracing::info!(kind = %notification.kind, "notification recorded");
        }
        Ok(())
    }
}
