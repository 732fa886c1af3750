//! payment: the checkout workflow's `ChargePayment` and `RefundPayment` steps, in front of a
//! simulated payment provider (`statemachines/README.md`, "The simulated payment provider").
//!
//! The provider's behaviour is chosen by the payment token, never by order ids
//! ([`ProviderToken`]):
//!
//! | token | charge | refund of that charge |
//! | --- | --- | --- |
//! | `tok_ok` | succeeds | succeeds |
//! | `tok_declined` | `PaymentDeclined` (permanent) | nothing to refund |
//! | `tok_flaky_N` (N = 1..9) | `PaymentProviderUnavailable` on the first N attempts of the operation, then succeeds | succeeds |
//! | `tok_down` | always `PaymentProviderUnavailable` | nothing to refund |
//! | `tok_refund_flaky_N` (N = 1..9) | succeeds | `PaymentProviderUnavailable` on the first N attempts of the refund, then succeeds |
//! | `tok_refund_down` | succeeds | always `PaymentProviderUnavailable` |
//!
//! And whatever the token, during a **provider outage** every charge and every refund (even a
//! retry of a recorded one) is `PaymentProviderUnavailable`: the outage switch is an item of
//! the payments table, set with [`PaymentStore::set_outage`] (until an epoch second), so an
//! outage can start after the charge and end on its own.
//!
//! Charge: `{"operation": "charge", "orderId", "operationId": "charge-<orderId>",
//! "paymentToken", "idempotencyKey", "amount": {"amount", "currency"}}` →
//! `{"chargeId", "operationId", "amount"}`. A charge is recorded once per operation id: a
//! retried charge (Step Functions retry, Lambda retry after a timeout) returns the first
//! charge, never a second one. The token is recorded with the charge, which is how the refund
//! learns it (the refund request carries no token).
//!
//! Refund: `{"operation": "refund", "orderId", "operationId": "refund-<orderId>",
//! "chargeOperationId": "charge-<orderId>"}` → `{"refunded": true, "refundId", "amount"}`,
//! or `{"refunded": false}` when no charge was captured under `chargeOperationId`. A refund is
//! recorded once per operation id too. It fails only for the `tok_refund_…` tokens and during
//! an outage, the ways to make compensation itself fail; charges recorded without a token
//! (before tokens were kept) refund as `tok_ok`'s.
//!
//! Errors (`errorType`): `PaymentDeclined`, `PaymentProviderUnavailable` (also when the
//! provider's own state cannot be read or written: transient), `InvalidPaymentRequest`
//! (malformed input, an unknown operation or token, a non-positive amount).
//!
//! The provider's state lives in the payments table (see [`store`]).

mod step;
pub use step::PaymentStep;

mod dynamo;
#[cfg(any(test, feature = "fakes"))]
mod memory;
pub mod store;
mod token;
pub use token::{ProviderToken, UnknownToken};

pub use dynamo::DynamoPaymentStore;
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryPaymentStore;

use serde::{Deserialize, Serialize};

pub use store::{CapturedCharge, ChargeRecord, OUTAGE_OPERATION_ID, PaymentStore, RefundRecord};

use crate::checkout::error_types;

use crate::catalog::Money;

use crate::orders::PaymentToken;

use crate::store::StoreError;

use lambda_kit::clock::Clock;

use lambda_kit::config::{ConfigError, Settings, lookup_required};

use lambda_kit::step::StepError;

/// Name of the function.
pub const FUNCTION_NAME: &str = "payment";

/// How the workflow task logs: as this function, about the order in its input's `orderId`.
pub const STEP: lambda_kit::step::StepName = lambda_kit::step::StepName {
    function: FUNCTION_NAME,
    subject_field: "orderId",
};

/// The payment function's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `PAYMENTS_TABLE` | the simulated provider's table (required) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSettings {
    /// The payments table.
    pub payments_table: String,
}

impl Settings for PaymentSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            payments_table: lookup_required("PAYMENTS_TABLE", lookup)?,
        })
    }
}

/// Why a payment operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The provider refused (permanent).
    #[error("payment declined: {0}")]
    Declined(String),
    /// Transient failure of the provider.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// Malformed input: a bug in the caller, never retried.
    #[error("invalid payment request: {0}")]
    InvalidRequest(String),
}

impl StepError for PaymentError {
    fn error_type(&self) -> &'static str {
        match self {
            Self::Declined(_) => error_types::PAYMENT_DECLINED,
            Self::Unavailable(_) => error_types::PAYMENT_PROVIDER_UNAVAILABLE,
            Self::InvalidRequest(_) => error_types::INVALID_PAYMENT_REQUEST,
        }
    }
}

impl From<StoreError> for PaymentError {
    fn from(err: StoreError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

/// A charge request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRequest {
    /// The order.
    pub order_id: String,
    /// `charge-<orderId>`: the key the charge is recorded under.
    pub operation_id: String,
    /// One of the simulated provider's tokens ([`ProviderToken`]).
    pub payment_token: String,
    /// The checkout's idempotency key (recorded with the charge).
    #[serde(default)]
    pub idempotency_key: String,
    /// What to charge.
    pub amount: Money,
}

/// A refund request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    /// The order.
    pub order_id: String,
    /// `refund-<orderId>`: the key the refund is recorded under.
    pub operation_id: String,
    /// `charge-<orderId>`: the charge to refund.
    pub charge_operation_id: String,
}

/// The step's input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "operation", rename_all = "lowercase")]
pub enum PaymentRequest {
    /// `"operation": "charge"`.
    Charge(ChargeRequest),
    /// `"operation": "refund"`.
    Refund(RefundRequest),
}

/// A captured charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    /// The provider's id of the charge.
    pub charge_id: String,
    /// The operation id it is recorded under.
    pub operation_id: String,
    /// What was charged.
    pub amount: Money,
}

/// The outcome of a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// Whether money was refunded (`false`: nothing had been captured).
    pub refunded: bool,
    /// The provider's id of the refund.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// What was refunded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
}

/// The step's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PaymentResponse {
    /// Of a charge.
    Charge(Charge),
    /// Of a refund.
    Refund(Refund),
}

/// A payment provider.
pub trait PaymentProvider: Send + Sync {
    /// Charges once per `request.operation_id`.
    fn charge(
        &self,
        request: &ChargeRequest,
    ) -> impl Future<Output = Result<Charge, PaymentError>> + Send;

    /// Refunds the charge of `request.charge_operation_id`, once per `request.operation_id`.
    fn refund(
        &self,
        request: &RefundRequest,
    ) -> impl Future<Output = Result<Refund, PaymentError>> + Send;
}

fn provider_id(prefix: &str) -> String {
    format!("{prefix}_{}", lambda_kit::ids::new_uuid().replace('-', ""))
}

/// The simulated provider: behaviour from the token, state in a [`PaymentStore`].
#[derive(Debug)]
pub struct SimulatedProvider<S> {
    store: S,
    clock: Clock,
}

impl<S: PaymentStore> SimulatedProvider<S> {
    /// A provider keeping its state in `store`.
    pub fn new(store: S) -> Self {
        Self {
            store,
            clock: Clock::System,
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store (tests).
    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S: PaymentStore> SimulatedProvider<S> {
    /// `PaymentProviderUnavailable` while an outage set with [`PaymentStore::set_outage`] lasts.
    async fn check_outage(&self) -> Result<(), PaymentError> {
        match self.store.outage_until().await? {
            Some(until) if self.clock.now() < until => {
                tracing::info!(until, "provider outage");
                Err(PaymentError::Unavailable(format!(
                    "the provider is out until {}",
                    lambda_kit::clock::rfc3339(until)
                )))
            }
            _ => Ok(()),
        }
    }

    /// Fails a refund of a charge made with a `tok_refund_…` token the way the token says.
    async fn refund_behaviour(
        &self,
        request: &RefundRequest,
        payment_token: Option<&str>,
    ) -> Result<(), PaymentError> {
        let token = match payment_token.map(ProviderToken::parse) {
            Some(Ok(token)) => token,
            // Stored by the charge, so known; an unknown one must not block compensation.
            Some(Err(err)) => {
                tracing::warn!(error = %err, "charge recorded with an unknown token: refunding");
                return Ok(());
            }
            None => return Ok(()),
        };
        match token {
            ProviderToken::Checkout(_) => Ok(()),
            ProviderToken::RefundDown => Err(PaymentError::Unavailable(
                "the provider does not answer refunds (tok_refund_down)".to_owned(),
            )),
            ProviderToken::RefundFlaky(failures) => {
                let attempt = self
                    .store
                    .count_refund_attempt(&request.operation_id, self.clock.now())
                    .await?;
                let failures = u32::from(failures);
                tracing::info!(attempt, failures, "flaky provider refund attempt");
                if attempt <= failures {
                    return Err(PaymentError::Unavailable(format!(
                        "attempt {attempt} of {} failed (tok_refund_flaky_{failures})",
                        request.operation_id
                    )));
                }
                Ok(())
            }
        }
    }
}

impl<S: PaymentStore> PaymentProvider for SimulatedProvider<S> {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let token = ProviderToken::parse(&request.payment_token)
            .map_err(|e| PaymentError::InvalidRequest(e.to_string()))?;
        self.check_outage().await?;
        if let Some(first) = self.store.get_charge(&request.operation_id).await? {
            tracing::info!(charge_id = %first.charge_id, "already charged: returning the first charge");
            return Ok(first.into_charge(&request.operation_id));
        }
        match token {
            // The refund-side tokens charge like tok_ok.
            // (`parse` never wraps the refund-side tokens in `Checkout`.)
            ProviderToken::Checkout(
                PaymentToken::Ok | PaymentToken::RefundFlaky(_) | PaymentToken::RefundDown,
            )
            | ProviderToken::RefundFlaky(_)
            | ProviderToken::RefundDown => {}
            ProviderToken::Checkout(PaymentToken::Declined) => {
                return Err(PaymentError::Declined(
                    "the card issuer refused the charge".to_owned(),
                ));
            }
            ProviderToken::Checkout(PaymentToken::Down) => {
                return Err(PaymentError::Unavailable(
                    "the provider does not answer".to_owned(),
                ));
            }
            ProviderToken::Checkout(PaymentToken::Flaky(failures)) => {
                let attempt = self
                    .store
                    .count_attempt(&request.operation_id, self.clock.now())
                    .await?;
                let failures = u32::from(failures);
                tracing::info!(attempt, failures, "flaky provider attempt");
                if attempt <= failures {
                    return Err(PaymentError::Unavailable(format!(
                        "attempt {attempt} of {} failed (tok_flaky_{failures})",
                        request.operation_id
                    )));
                }
            }
        }
        let record = ChargeRecord {
            charge_id: provider_id("ch"),
            order_id: request.order_id.clone(),
            amount: request.amount,
            idempotency_key: request.idempotency_key.clone(),
        };
        let recorded = self
            .store
            .record_charge_with_token(
                &request.operation_id,
                &record,
                Some(&request.payment_token),
                self.clock.now(),
            )
            .await?;
        tracing::info!(charge_id = %recorded.charge_id, amount = recorded.amount.amount_minor, "charge captured");
        Ok(recorded.into_charge(&request.operation_id))
    }

    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentError> {
        self.check_outage().await?;
        let Some(captured) = self
            .store
            .get_captured(&request.charge_operation_id)
            .await?
        else {
            tracing::info!(charge_operation_id = %request.charge_operation_id, "nothing captured: nothing to refund");
            return Ok(Refund {
                refunded: false,
                refund_id: None,
                amount: None,
            });
        };
        self.refund_behaviour(request, captured.payment_token.as_deref())
            .await?;
        let charge = captured.charge;
        let record = RefundRecord {
            refund_id: provider_id("re"),
            charge_id: charge.charge_id.clone(),
            charge_operation_id: request.charge_operation_id.clone(),
            order_id: request.order_id.clone(),
            amount: charge.amount,
        };
        let recorded = self
            .store
            .record_refund(&request.operation_id, &record, self.clock.now())
            .await?;
        tracing::info!(refund_id = %recorded.refund_id, charge_id = %recorded.charge_id, "charge refunded");
        Ok(Refund {
            refunded: true,
            refund_id: Some(recorded.refund_id),
            amount: Some(recorded.amount),
        })
    }
}

fn require(name: &str, value: &str) -> Result<(), PaymentError> {
    if value.trim().is_empty() {
        return Err(PaymentError::InvalidRequest(format!("{name} is empty")));
    }
    Ok(())
}

impl PaymentRequest {
    /// Parses and checks the step's input.
    pub fn from_value(input: serde_json::Value) -> Result<Self, PaymentError> {
        let request: Self = serde_json::from_value(input)
            .map_err(|e| PaymentError::InvalidRequest(e.to_string()))?;
        match &request {
            Self::Charge(charge) => {
                require("orderId", &charge.order_id)?;
                require("operationId", &charge.operation_id)?;
                if charge.amount.amount_minor <= 0 {
                    return Err(PaymentError::InvalidRequest(format!(
                        "amount {} is not positive",
                        charge.amount
                    )));
                }
            }
            Self::Refund(refund) => {
                require("orderId", &refund.order_id)?;
                require("operationId", &refund.operation_id)?;
                require("chargeOperationId", &refund.charge_operation_id)?;
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests;
