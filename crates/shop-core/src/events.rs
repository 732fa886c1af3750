//! The shop's events: one struct per event type and version, one enum of them all.
//!
//! | type (v1) | published by | consumed by |
//! | --- | --- | --- |
//! | [`LoginSucceeded`] | auth-api | audit-log, analytics |
//! | [`LoginFailed`] | auth-api | fraud-detector, audit-log, analytics |
//! | [`AccountLocked`] | fraud-detector | notifier, audit-log, analytics |
//! | [`DuplicateRegistration`] | auth-api | notifier, audit-log |
//! | [`OrderPlaced`] | checkout workflow (ASL) | fraud-detector, notifier, fulfilment, audit-log, analytics |
//! | [`OrderShipped`] | fulfilment | notifier, audit-log |
//! | [`OrderCancelled`] | cancel-order workflow (ASL) | notifier, audit-log, analytics |
//! | [`ApprovalRequested`] | checkout workflow (ASL) | approvals |
//! | [`PaymentCaptured`], [`PaymentRefunded`] | workflows (ASL), repair; payments-ledger.fifo | ledger |
//! | [`RepairRequested`] | workflows (ASL), reconciler; repair queue | repair |
//!
//! Every event travels in the kit's [`EventEnvelope`]: producers build the struct and call
//! [`ShopEvent::to_envelope`]; consumers get a [`ShopEvent`] decoded once per record by the
//! batch processor ([`FromEnvelope`]) and match on it. An unknown `eventType` or
//! `eventVersion`, or a known one whose `detail` does not fit its struct, fails that record
//! alone with the reason (to the DLQ after its retries). The envelopes the state machines
//! build decode into the same structs (`events/envelopes/`, captured from a LocalStack run,
//! are tested), and `events/schemas/` holds the JSON Schema of every struct, generated from
//! these types (the `schemas` feature) and checked by a test.
//!
//! A field a consumer can do without has a default, so that a producer may omit it; a field
//! no consumer can do without is required.

use lambda_kit::messaging::{EventEnvelope, FromEnvelope};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cart::PricedLine;
use crate::catalog::Money;
use crate::orders::{Order, OrderId};

/// The event types on the bus: one spelling everywhere (code, filter policies, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// See [`LoginSucceeded`].
    LoginSucceeded,
    /// See [`LoginFailed`].
    LoginFailed,
    /// See [`AccountLocked`].
    AccountLocked,
    /// See [`DuplicateRegistration`].
    DuplicateRegistration,
    /// See [`OrderPlaced`].
    OrderPlaced,
    /// See [`OrderShipped`].
    OrderShipped,
    /// See [`OrderCancelled`].
    OrderCancelled,
    /// See [`ApprovalRequested`].
    ApprovalRequested,
    /// See [`PaymentCaptured`].
    PaymentCaptured,
    /// See [`PaymentRefunded`].
    PaymentRefunded,
    /// See [`RepairRequested`].
    RepairRequested,
}

impl EventType {
    /// Every type, for lookups.
    pub const ALL: [Self; 11] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::AccountLocked,
        Self::DuplicateRegistration,
        Self::OrderPlaced,
        Self::OrderShipped,
        Self::OrderCancelled,
        Self::ApprovalRequested,
        Self::PaymentCaptured,
        Self::PaymentRefunded,
        Self::RepairRequested,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "LoginSucceeded",
            Self::LoginFailed => "LoginFailed",
            Self::AccountLocked => "AccountLocked",
            Self::DuplicateRegistration => "DuplicateRegistration",
            Self::OrderPlaced => "OrderPlaced",
            Self::OrderShipped => "OrderShipped",
            Self::OrderCancelled => "OrderCancelled",
            Self::ApprovalRequested => "ApprovalRequested",
            Self::PaymentCaptured => "PaymentCaptured",
            Self::PaymentRefunded => "PaymentRefunded",
            Self::RepairRequested => "RepairRequested",
        }
    }

    /// The type named `name`, if it is one of ours.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The known type of `event`, if it is one of ours.
    pub fn of(event: &EventEnvelope) -> Option<Self> {
        Self::parse(&event.event_type)
    }
}

impl AsRef<str> for EventType {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A customer signed in (auth-api).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoginSucceeded {
    /// The user's id.
    pub user_id: String,
    /// The user's e-mail (normalised).
    pub email: String,
    /// The user's role at login (`customer` or `admin`).
    #[serde(default)]
    pub role: String,
    /// The client's address as API Gateway saw it.
    #[serde(default)]
    pub source_ip: String,
    /// The client's `User-Agent`.
    #[serde(default)]
    pub user_agent: String,
    /// Lines of the anonymous cart merged into the user's cart.
    #[serde(default)]
    pub merged_cart_lines: u32,
}

/// A sign-in failed (auth-api).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoginFailed {
    /// The e-mail that was tried (normalised).
    pub email: String,
    /// The user's id when the account exists.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Why: `INVALID_CREDENTIALS` (counted towards a lock) or `ACCOUNT_LOCKED`.
    #[serde(default = "LoginFailed::default_reason")]
    pub reason: String,
    /// The client's address as API Gateway saw it.
    #[serde(default)]
    pub source_ip: String,
    /// The client's `User-Agent`.
    #[serde(default)]
    pub user_agent: String,
}

impl LoginFailed {
    /// The reason of a wrong password: the failures the fraud detector counts.
    pub const INVALID_CREDENTIALS: &'static str = "INVALID_CREDENTIALS";

    fn default_reason() -> String {
        Self::INVALID_CREDENTIALS.to_owned()
    }
}

/// The fraud detector locked an account after too many failed logins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AccountLocked {
    /// The locked account's e-mail.
    pub email: String,
    /// The user's id, when the failed login carried it.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Failed logins counted in the window.
    #[serde(default)]
    pub failures: u32,
    /// The counting window, seconds.
    #[serde(default)]
    pub window_seconds: i64,
    /// Until when (RFC 3339).
    pub locked_until: String,
    /// The `eventId` of the failed login that tipped it.
    #[serde(default)]
    pub caused_by: String,
}

/// Someone tried to register an e-mail that already has an account (auth-api). The API
/// answers them exactly as for a new address; the owner is told instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DuplicateRegistration {
    /// The e-mail (normalised), the existing account's.
    pub email: String,
    /// The client's address as API Gateway saw it.
    #[serde(default)]
    pub source_ip: String,
    /// The client's `User-Agent`.
    #[serde(default)]
    pub user_agent: String,
}

/// The checkout workflow confirmed an order (built in `statemachines/checkout.asl.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    /// The order.
    pub order_id: OrderId,
    /// Its customer.
    pub user_id: String,
    /// The customer's e-mail.
    pub email: String,
    /// What was charged.
    pub total: Money,
    /// Units ordered.
    #[serde(default)]
    pub item_count: u32,
    /// The priced lines.
    #[serde(default)]
    pub items: Vec<PricedLine>,
}

impl OrderPlaced {
    /// The `eventId` of an order's `OrderPlaced`, wherever it is published from: the
    /// checkout's `BuildOrderPlaced` (`States.Format('OrderPlaced-{}', $.orderId)`) and the
    /// repair's `ORDER_PLACED` follow-up. One id per order, so a retried publish, a duplicate
    /// Express run and a repair are one event to the consumers (idempotent on `eventId`).
    pub fn event_id(order_id: &str) -> String {
        format!("OrderPlaced-{order_id}")
    }

    /// The `OrderPlaced` of a stored order, for a resend (the reconciler's re-drive to
    /// fulfilment, the repair's `ORDER_PLACED` follow-up); `None` until the order is priced
    /// (no total). `items` stays empty: its consumers read the lines from the stored order.
    pub fn from_order(order: &Order) -> Option<Self> {
        Some(Self {
            order_id: order.order_id.clone(),
            user_id: order.user_id.clone(),
            email: order.email.clone(),
            total: order.total?,
            item_count: order.item_count.unwrap_or_default(),
            items: Vec::new(),
        })
    }
}

/// fulfilment shipped an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderShipped {
    /// The order.
    pub order_id: OrderId,
    /// Its customer.
    pub user_id: String,
    /// The customer's e-mail.
    pub email: String,
}

/// The cancel-order workflow cancelled an order (built in
/// `statemachines/cancel-order.asl.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    /// The order.
    pub order_id: OrderId,
    /// Its customer.
    pub user_id: String,
    /// The customer's e-mail.
    pub email: String,
    /// What is refunded, when the order had been charged.
    #[serde(default)]
    pub total: Option<Money>,
}

/// The checkout workflow waits for an admin's decision (built in
/// `statemachines/approval.asl.json`; routed to the approvals queue only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequested {
    /// The order.
    pub order_id: OrderId,
    /// Its customer.
    #[serde(default)]
    pub user_id: String,
    /// The customer's e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// The Step Functions task token the decision answers.
    pub task_token: String,
    /// The order's total.
    #[serde(default)]
    pub total: Option<Money>,
    /// Whether the approval is needed because fraud detection flagged the customer (else
    /// the total is above the threshold).
    #[serde(default)]
    pub flagged: bool,
}

/// A payment operation for the ledger (`PaymentCaptured` and `PaymentRefunded` share it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PaymentOperation {
    /// The order (also the FIFO message group).
    pub order_id: OrderId,
    /// The payment operation's id: one ledger entry per operation.
    pub operation_id: String,
    /// The amount charged or refunded.
    pub amount: Money,
}

/// A charge was captured (checkout workflow → payments-ledger.fifo).
pub type PaymentCaptured = PaymentOperation;

/// A charge was refunded (checkout or cancel-order workflow → payments-ledger.fifo).
pub type PaymentRefunded = PaymentOperation;

/// Compensation that could not finish when it should have, handed to the repair consumer
/// (its own queue, DLQ and alarm): refund if owed, release what the order still holds, end
/// the order in `outcome`. Every step is idempotent, so a request may be sent twice (by a
/// workflow and by the reconciler) and retried for as long as it fails. With a `followUp`
/// it asks instead for one side effect of a confirmed order to be redone, and the order is
/// left as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RepairRequested {
    /// The order.
    pub order_id: OrderId,
    /// Where the order ends: `FAILED`, `REJECTED` or `CANCELLED` (`CONFIRMED` with a
    /// `followUp`: the order stays as it is).
    pub outcome: String,
    /// The failure reason it ends with (`PAYMENT_UNAVAILABLE`, `CUSTOMER_CANCELLED`, …; the
    /// follow-up's name with a `followUp`).
    pub reason: String,
    /// Whether a captured charge must be refunded first.
    #[serde(default)]
    pub refund: bool,
    /// What went wrong that led here (logged).
    #[serde(default)]
    pub cause: String,
    /// A side effect of a confirmed order to redo instead of a compensation (then `outcome`
    /// is `CONFIRMED`, `reason` the follow-up's name, `refund` false). Absent in every
    /// request that ends an order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
    /// `CLEAR_CART`: the sessions-table key of the cart (`CART#<hash>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_key: Option<String>,
    /// `CLEAR_CART`: the cart's version as the workflow read it (a string of digits, as
    /// DynamoDB's `N`); the cart is deleted only while it is still at that version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_version: Option<CartVersion>,
}

/// The side effect of a confirmed order that a [`RepairRequested`] redoes: one of the
/// branches the checkout runs after `ConfirmOrder`, whose `Catch` sent it here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FollowUp {
    /// Publish the order's `OrderPlaced` to the events topic.
    OrderPlaced,
    /// Send its `PaymentCaptured` (`charge-<orderId>`) to the payments ledger.
    LedgerCharge,
    /// Delete the checked-out cart if it has not changed since.
    ClearCart,
}

impl FollowUp {
    /// The wire name (also the request's `reason` and the metric dimension).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OrderPlaced => "ORDER_PLACED",
            Self::LedgerCharge => "LEDGER_CHARGE",
            Self::ClearCart => "CLEAR_CART",
        }
    }
}

/// A cart's version as carried in a [`RepairRequested`]: DynamoDB's `N` is a string in the
/// state machine's hands (`$.cart.Item.version.N`), so it travels as a string of digits; a
/// JSON number is read too. Anything else is refused with the value in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CartVersion(pub u64);

impl CartVersion {
    /// The version.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl Serialize for CartVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // As the workflow sends it.
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CartVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let version = match &value {
            // Digits only: u64's parser would also take a leading `+`.
            serde_json::Value::String(text)
                if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) =>
            {
                text.parse().ok()
            }
            serde_json::Value::Number(number) => number.as_u64(),
            _ => None,
        };
        version.map(Self).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "cartVersion must be the cart's version as a string of digits (DynamoDB's N), got {value}"
            ))
        })
    }
}

#[cfg(feature = "schemas")]
impl schemars::JsonSchema for CartVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CartVersion".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]+$"
        })
    }
}

/// Every event of the shop, by type and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopEvent {
    /// `LoginSucceeded` v1.
    LoginSucceeded(LoginSucceeded),
    /// `LoginFailed` v1.
    LoginFailed(LoginFailed),
    /// `AccountLocked` v1.
    AccountLocked(AccountLocked),
    /// `DuplicateRegistration` v1.
    DuplicateRegistration(DuplicateRegistration),
    /// `OrderPlaced` v1.
    OrderPlaced(OrderPlaced),
    /// `OrderShipped` v1.
    OrderShipped(OrderShipped),
    /// `OrderCancelled` v1.
    OrderCancelled(OrderCancelled),
    /// `ApprovalRequested` v1.
    ApprovalRequested(ApprovalRequested),
    /// `PaymentCaptured` v1.
    PaymentCaptured(PaymentCaptured),
    /// `PaymentRefunded` v1.
    PaymentRefunded(PaymentRefunded),
    /// `RepairRequested` v1.
    RepairRequested(RepairRequested),
}

/// Why an envelope is not a [`ShopEvent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// An `eventType` the shop does not have.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// A type the shop has, in a version it does not.
    #[error("{event_type} v{version} is not a known version (this code knows v1)")]
    UnknownVersion {
        /// The type.
        event_type: &'static str,
        /// The envelope's `eventVersion`.
        version: u32,
    },
    /// A known type and version whose `detail` does not fit its struct.
    #[error("malformed {event_type} detail: {reason}")]
    MalformedDetail {
        /// The type.
        event_type: &'static str,
        /// What serde said (names the field).
        reason: String,
    },
}

fn detail<T: DeserializeOwned>(
    event_type: EventType,
    envelope: &EventEnvelope,
) -> Result<T, EventError> {
    T::deserialize(&envelope.detail).map_err(|e| EventError::MalformedDetail {
        event_type: event_type.as_str(),
        reason: e.to_string(),
    })
}

impl ShopEvent {
    /// Decodes an envelope by its `eventType` and `eventVersion`.
    pub fn from_envelope(envelope: &EventEnvelope) -> Result<Self, EventError> {
        let event_type = EventType::of(envelope)
            .ok_or_else(|| EventError::UnknownType(envelope.event_type.clone()))?;
        if envelope.event_version != 1 {
            return Err(EventError::UnknownVersion {
                event_type: event_type.as_str(),
                version: envelope.event_version,
            });
        }
        Ok(match event_type {
            EventType::LoginSucceeded => Self::LoginSucceeded(detail(event_type, envelope)?),
            EventType::LoginFailed => Self::LoginFailed(detail(event_type, envelope)?),
            EventType::AccountLocked => Self::AccountLocked(detail(event_type, envelope)?),
            EventType::DuplicateRegistration => {
                Self::DuplicateRegistration(detail(event_type, envelope)?)
            }
            EventType::OrderPlaced => Self::OrderPlaced(detail(event_type, envelope)?),
            EventType::OrderShipped => Self::OrderShipped(detail(event_type, envelope)?),
            EventType::OrderCancelled => Self::OrderCancelled(detail(event_type, envelope)?),
            EventType::ApprovalRequested => Self::ApprovalRequested(detail(event_type, envelope)?),
            EventType::PaymentCaptured => Self::PaymentCaptured(detail(event_type, envelope)?),
            EventType::PaymentRefunded => Self::PaymentRefunded(detail(event_type, envelope)?),
            EventType::RepairRequested => Self::RepairRequested(detail(event_type, envelope)?),
        })
    }

    /// Its type.
    pub const fn event_type(&self) -> EventType {
        match self {
            Self::LoginSucceeded(_) => EventType::LoginSucceeded,
            Self::LoginFailed(_) => EventType::LoginFailed,
            Self::AccountLocked(_) => EventType::AccountLocked,
            Self::DuplicateRegistration(_) => EventType::DuplicateRegistration,
            Self::OrderPlaced(_) => EventType::OrderPlaced,
            Self::OrderShipped(_) => EventType::OrderShipped,
            Self::OrderCancelled(_) => EventType::OrderCancelled,
            Self::ApprovalRequested(_) => EventType::ApprovalRequested,
            Self::PaymentCaptured(_) => EventType::PaymentCaptured,
            Self::PaymentRefunded(_) => EventType::PaymentRefunded,
            Self::RepairRequested(_) => EventType::RepairRequested,
        }
    }

    /// Its `detail` as JSON.
    pub fn detail(&self) -> serde_json::Value {
        let value = match self {
            Self::LoginSucceeded(d) => serde_json::to_value(d),
            Self::LoginFailed(d) => serde_json::to_value(d),
            Self::AccountLocked(d) => serde_json::to_value(d),
            Self::DuplicateRegistration(d) => serde_json::to_value(d),
            Self::OrderPlaced(d) => serde_json::to_value(d),
            Self::OrderShipped(d) => serde_json::to_value(d),
            Self::OrderCancelled(d) => serde_json::to_value(d),
            Self::ApprovalRequested(d) => serde_json::to_value(d),
            Self::PaymentCaptured(d) | Self::PaymentRefunded(d) => serde_json::to_value(d),
            Self::RepairRequested(d) => serde_json::to_value(d),
        };
        // Structs of strings, numbers and our own serialisable types cannot fail.
        value.unwrap_or_default()
    }

    /// A new envelope (fresh `eventId`, version 1) around this event, published by `source`
    /// at `now` (epoch seconds) for the request `correlation_id`.
    pub fn to_envelope(&self, source: &str, correlation_id: &str, now: i64) -> EventEnvelope {
        EventEnvelope::new(
            self.event_type(),
            source,
            correlation_id,
            now,
            self.detail(),
        )
    }
}

impl FromEnvelope for ShopEvent {
    fn from_envelope(envelope: &EventEnvelope) -> Result<Self, String> {
        Self::from_envelope(envelope).map_err(|e| e.to_string())
    }
}

/// The JSON Schema of every event type, by file name under `events/schemas/`
/// (`<Type>.v<version>.json`).
#[cfg(feature = "schemas")]
pub fn schemas() -> Vec<(String, serde_json::Value)> {
    use schemars::schema_for;
    let schema = |t: EventType, s: schemars::Schema| {
        let mut value = s.to_value();
        if let Some(object) = value.as_object_mut() {
            object.insert("title".to_owned(), t.as_str().into());
            object.insert(
                "$id".to_owned(),
                format!("https://shop.example/events/schemas/{}.v1.json", t.as_str()).into(),
            );
        }
        (format!("{}.v1.json", t.as_str()), value)
    };
    vec![
        schema(EventType::LoginSucceeded, schema_for!(LoginSucceeded)),
        schema(EventType::LoginFailed, schema_for!(LoginFailed)),
        schema(EventType::AccountLocked, schema_for!(AccountLocked)),
        schema(
            EventType::DuplicateRegistration,
            schema_for!(DuplicateRegistration),
        ),
        schema(EventType::OrderPlaced, schema_for!(OrderPlaced)),
        schema(EventType::OrderShipped, schema_for!(OrderShipped)),
        schema(EventType::OrderCancelled, schema_for!(OrderCancelled)),
        schema(EventType::ApprovalRequested, schema_for!(ApprovalRequested)),
        schema(EventType::PaymentCaptured, schema_for!(PaymentCaptured)),
        schema(EventType::PaymentRefunded, schema_for!(PaymentRefunded)),
        schema(EventType::RepairRequested, schema_for!(RepairRequested)),
    ]
}

#[cfg(test)]
mod tests;
