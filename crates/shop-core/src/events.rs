//! The shop's events: the one spelling of every event type on the bus (code, filter policies,
//! tests). The envelope they travel in is [`lambda_kit::messaging::EventEnvelope`].

use lambda_kit::messaging::EventEnvelope;

/// The event types on the bus: one spelling everywhere (code, filter policies, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A login succeeded (`detail`: `userId`, `email`, `sourceIp`, `userAgent`).
    LoginSucceeded,
    /// A login failed (`detail`: `email`, `userId` when the account exists, `sourceIp`,
    /// `userAgent`).
    LoginFailed,
    /// The fraud detector locked an account (`detail`: `email`, `lockedUntil`, `failures`).
    AccountLocked,
    /// The checkout workflow confirmed an order (`detail`: `orderId`, `userId`, `email`,
    /// `total`, `itemCount`, `items`).
    OrderPlaced,
    /// fulfilment shipped an order (`detail`: `orderId`, `userId`, `email`).
    OrderShipped,
    /// cancel-order cancelled an order (`detail`: `orderId`, `userId`, `email`, `total`).
    OrderCancelled,
    /// The checkout workflow waits for an admin (approvals queue; `detail`: `orderId`,
    /// `taskToken`, `total`, `flagged`).
    ApprovalRequested,
    /// A charge was captured (payments-ledger.fifo; `detail`: `orderId`, `operationId`,
    /// `amount`).
    PaymentCaptured,
    /// A charge was refunded (payments-ledger.fifo; `detail`: `orderId`, `operationId`,
    /// `amount`).
    PaymentRefunded,
}

impl EventType {
    /// Every type, for lookups.
    pub const ALL: [Self; 9] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::AccountLocked,
        Self::OrderPlaced,
        Self::OrderShipped,
        Self::OrderCancelled,
        Self::ApprovalRequested,
        Self::PaymentCaptured,
        Self::PaymentRefunded,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "LoginSucceeded",
            Self::LoginFailed => "LoginFailed",
            Self::AccountLocked => "AccountLocked",
            Self::OrderPlaced => "OrderPlaced",
            Self::OrderShipped => "OrderShipped",
            Self::OrderCancelled => "OrderCancelled",
            Self::ApprovalRequested => "ApprovalRequested",
            Self::PaymentCaptured => "PaymentCaptured",
            Self::PaymentRefunded => "PaymentRefunded",
        }
    }

    /// The type named `name`, if it is one of ours.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl AsRef<str> for EventType {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl EventType {
    /// The known type of `event`, if it is one of ours.
    pub fn of(event: &EventEnvelope) -> Option<Self> {
        Self::parse(&event.event_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_are_stable() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("UserLoggedIn"), None);
    }

    #[test]
    fn an_envelope_names_its_known_type() {
        let event = EventEnvelope::new(
            EventType::LoginFailed,
            "auth-api",
            "c",
            0,
            serde_json::Value::Null,
        );
        assert_eq!(event.event_type, "LoginFailed");
        assert_eq!(EventType::of(&event), Some(EventType::LoginFailed));
    }
}
