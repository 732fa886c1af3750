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
//! | `tok_pending_N` (N = 1..9) | `PENDING` on the first call and on each poll (a later call with the same operation id) before the N-th, which captures it: pending N times, then captured | voids it while pending (`{"refunded": false}`), succeeds once captured |
//! | `tok_pending_forever` | always `PENDING`: never settles | voids it (`{"refunded": false}`) |
//!
//! And whatever the token, during a **provider outage** every charge and every refund (even a
//! retry of a recorded one) is `PaymentProviderUnavailable`: the outage switch is an item of
//! the payments table, set with [`PaymentStore::set_outage`] (until an epoch second), so an
//! outage can start after the charge and end on its own.
//!
//! Charge: `{"operation": "charge", "orderId", "operationId": "charge-<orderId>",
//! "paymentToken", "idempotencyKey", "amount": {"amount", "currency"}}` →
//! `{"chargeId", "operationId", "amount", "status": "CAPTURED"}`, or, for a charge authorised
//! but not settled yet, `{"chargeId", "operationId", "amount", "status": "PENDING",
//! "retryAfterSeconds"}` (`PENDING_RETRY_AFTER_SECONDS`): the caller polls by charging again
//! with the same operation id. A charge is recorded once per operation id: a retried charge
//! (Step Functions retry, Lambda retry after a timeout, a poll) returns the first charge, never
//! a second one, and a pending charge is captured at most once (a conditional write). The
//! token is recorded with the charge, which is how the refund learns it (the refund request
//! carries no token).
//!
//! Refund: `{"operation": "refund", "orderId", "operationId": "refund-<orderId>",
//! "chargeOperationId": "charge-<orderId>"}` → `{"refunded": true, "refundId", "amount"}`, or
//! `{"refunded": false}` when no charge was captured under `chargeOperationId`. A refund of a
//! charge still pending voids it instead (nothing was captured: `{"refunded": false}`), and a
//! poll of a voided charge is `PaymentDeclined`, so a workflow polling after its compensation
//! cannot capture money. A refund is recorded once per operation id too. It fails only for the
//! `tok_refund_…` tokens and during an outage, the ways to make compensation itself fail;
//! charges recorded without a token (before tokens were kept) refund as `tok_ok`'s.
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

pub use store::{
    CapturedCharge, ChargeRecord, ChargeStatus, OUTAGE_OPERATION_ID, PaymentStore, RecordedCharge,
    RefundRecord, Settlement,
};

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
/// | `PENDING_RETRY_AFTER_SECONDS` | the `retryAfterSeconds` of a `PENDING` charge answer: how long the workflow waits before it polls (1..=60, default 1) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSettings {
    /// The payments table.
    pub payments_table: String,
    /// Seconds a caller should wait before polling a pending charge.
    pub pending_retry_after_seconds: u32,
}

/// The accepted `PENDING_RETRY_AFTER_SECONDS`: at least a second, and at most a minute so a
/// workflow polling `tok_pending_9` still finishes in minutes.
pub const PENDING_RETRY_AFTER_SECONDS: std::ops::RangeInclusive<u32> = 1..=60;

/// The default `PENDING_RETRY_AFTER_SECONDS`.
pub const DEFAULT_PENDING_RETRY_AFTER_SECONDS: u32 = 1;

impl Settings for PaymentSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let range = u64::from(*PENDING_RETRY_AFTER_SECONDS.start())
            ..=u64::from(*PENDING_RETRY_AFTER_SECONDS.end());
        let retry_after = lambda_kit::config::lookup_in_range(
            "PENDING_RETRY_AFTER_SECONDS",
            u64::from(DEFAULT_PENDING_RETRY_AFTER_SECONDS),
            range,
            "expected seconds in 1..=60",
            lookup,
        )?;
        // In the range, so it fits.
        let pending_retry_after_seconds =
            u32::try_from(retry_after).unwrap_or(DEFAULT_PENDING_RETRY_AFTER_SECONDS);
        Ok(Self {
            payments_table: lookup_required("PAYMENTS_TABLE", lookup)?,
            pending_retry_after_seconds,
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

/// A charge: captured, or authorised and pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    /// The provider's id of the charge.
    pub charge_id: String,
    /// The operation id it is recorded under.
    pub operation_id: String,
    /// What was (or, while pending, will be) charged.
    pub amount: Money,
    /// `CAPTURED` or `PENDING` (never `VOIDED`: polling a voided charge is declined).
    pub status: ChargeStatus,
    /// When `PENDING`: seconds to wait before polling (charging again with the same
    /// operation id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u32>,
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
    retry_after_seconds: u32,
}

impl<S: PaymentStore> SimulatedProvider<S> {
    /// A provider keeping its state in `store`.
    pub fn new(store: S) -> Self {
        Self {
            store,
            clock: Clock::System,
            retry_after_seconds: DEFAULT_PENDING_RETRY_AFTER_SECONDS,
        }
    }

    /// Sets the `retryAfterSeconds` of pending answers (`PENDING_RETRY_AFTER_SECONDS`).
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after_seconds = seconds;
        self
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

    /// The step's answer for a recorded charge. A voided one is declined: its refund came
    /// first, and capturing it now would take money for a compensated order.
    fn answer(&self, operation_id: &str, recorded: RecordedCharge) -> Result<Charge, PaymentError> {
        let charge = recorded.charge.into_charge(operation_id);
        match recorded.status {
            ChargeStatus::Captured => Ok(charge),
            ChargeStatus::Pending => Ok(Charge {
                status: ChargeStatus::Pending,
                retry_after_seconds: Some(self.retry_after_seconds),
                ..charge
            }),
            ChargeStatus::Voided => Err(PaymentError::Declined(
                "the pending charge was voided".to_owned(),
            )),
        }
    }

    /// A new charge of `request` (not recorded yet).
    fn new_charge(request: &ChargeRequest) -> ChargeRecord {
        ChargeRecord {
            charge_id: provider_id("ch"),
            order_id: request.order_id.clone(),
            amount: request.amount,
            idempotency_key: request.idempotency_key.clone(),
        }
    }

    /// `tok_pending_…`: the first call authorises (records the charge as pending), each later
    /// call is a poll, and the `settles_after`-th poll captures it (never when `None`). The
    /// calls are counted like `tok_flaky_N`'s attempts, in the payments table, so that polls
    /// from different Lambda instances agree.
    async fn pending_charge(
        &self,
        request: &ChargeRequest,
        recorded: Option<RecordedCharge>,
        settles_after: Option<u8>,
    ) -> Result<Charge, PaymentError> {
        let operation_id = &request.operation_id;
        let call = self
            .store
            .count_attempt(operation_id, self.clock.now())
            .await?;
        let recorded = match recorded {
            Some(recorded) => recorded,
            // First wins: a concurrent first call reads back the other's charge.
            None => {
                self.store
                    .record_charge_as(
                        operation_id,
                        &Self::new_charge(request),
                        Some(&request.payment_token),
                        ChargeStatus::Pending,
                        self.clock.now(),
                    )
                    .await?
            }
        };
        let polls = call.saturating_sub(1);
        let settles = settles_after.is_some_and(|n| polls >= u32::from(n));
        if recorded.status != ChargeStatus::Pending || !settles {
            tracing::info!(call, polls, status = recorded.status.as_str(), charge_id = %recorded.charge.charge_id, "pending charge");
            return self.answer(operation_id, recorded);
        }
        // Conditional on PENDING: a concurrent poll captures it once, a refund that voided it
        // first wins (and this poll is declined).
        let settled = self
            .store
            .settle_pending(operation_id, Settlement::Capture, self.clock.now())
            .await?
            .ok_or_else(|| PaymentError::Unavailable("the pending charge vanished".to_owned()))?;
        tracing::info!(call, polls, status = settled.status.as_str(), charge_id = %settled.charge.charge_id, amount = settled.charge.amount.amount_minor, "pending charge settled");
        self.answer(operation_id, settled)
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
        let recorded = match self.store.get_recorded(&request.operation_id).await? {
            // A pending one is polled (below); a settled one is answered as it stands.
            Some(first) if first.status != ChargeStatus::Pending => {
                tracing::info!(charge_id = %first.charge.charge_id, status = first.status.as_str(), "already charged: returning the first charge");
                return self.answer(&request.operation_id, first);
            }
            recorded => recorded,
        };
        match token {
            ProviderToken::Checkout(PaymentToken::Pending(polls)) => {
                return self.pending_charge(request, recorded, Some(polls)).await;
            }
            ProviderToken::Checkout(PaymentToken::PendingForever) => {
                return self.pending_charge(request, recorded, None).await;
            }
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
        // First wins: a charge recorded meanwhile (even a pending one) is answered as it stands.
        let recorded = self
            .store
            .record_charge_as(
                &request.operation_id,
                &Self::new_charge(request),
                Some(&request.payment_token),
                ChargeStatus::Captured,
                self.clock.now(),
            )
            .await?;
        tracing::info!(charge_id = %recorded.charge.charge_id, amount = recorded.charge.amount.amount_minor, status = recorded.status.as_str(), "charge recorded");
        self.answer(&request.operation_id, recorded)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaymentError> {
        self.check_outage().await?;
        let charge_operation_id = &request.charge_operation_id;
        let recorded = match self.store.get_recorded(charge_operation_id).await? {
            // Nothing captured yet: void it, conditional on PENDING (a poll that captured it
            // first wins, and then it is refunded below).
            Some(pending) if pending.status == ChargeStatus::Pending => {
                let settled = self
                    .store
                    .settle_pending(charge_operation_id, Settlement::Void, self.clock.now())
                    .await?;
                if let Some(settled) = &settled {
                    tracing::info!(charge_id = %settled.charge.charge_id, status = settled.status.as_str(), "pending charge settled by its refund");
                }
                settled
            }
            recorded => recorded,
        };
        let Some(captured) = recorded.filter(|r| r.status == ChargeStatus::Captured) else {
            tracing::info!(%charge_operation_id, "nothing captured: nothing to refund");
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
