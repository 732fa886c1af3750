//! checkout-api: `POST /checkout` turns the signed-in user's cart into an order and starts
//! the checkout workflow for it.
//!
//! - `POST /checkout` with `Idempotency-Key: <key>` and `{"paymentToken": "tok_ok"}` →
//!   202 `{"orderId", "status", "links": {"self", "cancel"}}`
//!
//! Exactly once, without a lock: the order id is derived from the user and the key, the
//! order item is created with a conditional put, and the execution is named after the order
//! id with an input built only from the stored item. A retry (same key, same body) therefore
//! finds the same order and asks Step Functions for the same execution again — which either
//! starts it (the first attempt failed before `StartExecution`) or is
//! `ExecutionAlreadyExists`. The same key with another body is 422 `IDEMPOTENCY_KEY_REUSED`.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`error_types`]: the `errorType`s the workflow's Lambda steps report; [`CheckoutApiSettings`] |
//! | `api.rs` | checkout-api: `POST /checkout` |
//! | `tests.rs` | checkout-api's [`CheckoutApiSettings`] (the handler is tested in `api_tests.rs`) |
//! | `workflow_tests.rs` | the state machines' shape: what LocalStack cannot make fail is checked on the definitions |
//! | `statemachines/checkout.asl.json` | the workflow itself, EXPRESS (price, reserve, hand over to approval, charge and settle, confirm, follow-ups) |
//! | `statemachines/approval.asl.json` | the STANDARD approval workflow (a person decides; then the checkout resumes) |
//!
//! The workflow's own tasks live with their areas: [`crate::pricing`], [`crate::payment`].

pub mod api;

pub use api::{CheckoutApi, FUNCTION_NAME, IDEMPOTENCY_KEY_HEADER, ROUTES, execution_input};

use lambda_kit::config::{ConfigError, Settings, lookup_required};

/// checkout-api's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `ORDERS_TABLE` | the orders table (required) |
/// | `SESSIONS_TABLE` | the sessions table (required) |
/// | `USERS_TABLE` | the users table: signed-in sessions are checked for account locks (required) |
/// | `CHECKOUT_STATE_MACHINE_ARN` | the checkout workflow (required) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutApiSettings {
    /// The orders table.
    pub orders_table: String,
    /// The sessions table.
    pub sessions_table: String,
    /// The users table.
    pub users_table: String,
    /// The checkout workflow.
    pub state_machine_arn: String,
}

impl Settings for CheckoutApiSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            orders_table: lookup_required("ORDERS_TABLE", lookup)?,
            sessions_table: lookup_required("SESSIONS_TABLE", lookup)?,
            users_table: lookup_required("USERS_TABLE", lookup)?,
            state_machine_arn: lookup_required("CHECKOUT_STATE_MACHINE_ARN", lookup)?,
        })
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod workflow_tests;

/// `errorType` names the checkout workflow's Lambda steps report and its ASL matches
/// (`statemachines/README.md`).
pub mod error_types {
    /// pricing: no lines in the cart.
    pub const CART_EMPTY: &str = "CartEmpty";
    /// pricing: a line's product left the catalog.
    pub const PRODUCT_UNAVAILABLE: &str = "ProductUnavailable";
    /// pricing: a line asks for more than the stock.
    pub const OUT_OF_STOCK: &str = "OutOfStock";
    /// pricing: the input is not what the workflow sends (a bug, not retried).
    pub const INVALID_PRICING_REQUEST: &str = "InvalidPricingRequest";
    /// pricing: the catalog could not be read (transient).
    pub const PRICING_UNAVAILABLE: &str = "PricingUnavailable";
    /// payment: the provider refused (permanent).
    pub const PAYMENT_DECLINED: &str = "PaymentDeclined";
    /// payment: transient provider failure (retried with backoff).
    pub const PAYMENT_PROVIDER_UNAVAILABLE: &str = "PaymentProviderUnavailable";
    /// payment: malformed input (a bug, never retried).
    pub const INVALID_PAYMENT_REQUEST: &str = "InvalidPaymentRequest";
}

/// CloudWatch metric names of the checkout (EMF) emitted by its workflow's Lambda steps.
pub mod metric {
    /// Checkouts that failed for good (Count), by `Reason`, the step's `errorType`
    /// (`CartEmpty`, `ProductUnavailable`, `OutOfStock` from pricing; `PaymentDeclined` from
    /// payment). Failures decided inside the state machine itself (a reservation that finds
    /// too little stock, an approval rejected or timed out) run no Lambda of ours and are not
    /// counted here.
    pub const CHECKOUTS_FAILED: &str = "CheckoutsFailed";
}
