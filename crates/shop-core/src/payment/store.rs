//! The simulated provider's state: the payments table (`PAYMENTS_TABLE`), one item per
//! operation id.
//!
//! - `charge-<orderId>`: `operation_id` (S, key), `kind` = `CHARGE`, `attempts` (N, counted
//!   with an atomic `ADD` for `tok_flaky_N`, and as the calls of `tok_pending_…`: the first
//!   authorises, each later one is a poll), and once recorded `charge_id`, `order_id`,
//!   `amount_minor` (N), `currency`, `idempotency_key`, `payment_token`, `status`, `created_at`
//!   (N, epoch seconds). The record is an `UpdateItem` conditional on
//!   `attribute_not_exists(charge_id)`: the first charge wins, a retry reads it back.
//!   `payment_token` tells the refund how the provider treats it (`tok_refund_…`); charges
//!   recorded before it was kept have none, and their refunds behave as `tok_ok`'s.
//!   `status` ([`ChargeStatus`]) is `CAPTURED`, or `PENDING` for an authorised charge not
//!   settled yet, which then becomes `CAPTURED` (its poll settles it) or `VOIDED` (refunded
//!   before it settled) exactly once: an `UpdateItem` conditional on `status = PENDING`, with
//!   `settled_at` (N). Items written before pending charges existed have no `status`: they are
//!   `CAPTURED`.
//! - `refund-<orderId>`: `kind` = `REFUND`, `attempts` (N, counted for `tok_refund_flaky_N`),
//!   and once refunded `refund_id`, `charge_id`, `charge_operation_id`, `order_id`,
//!   `amount_minor`, `currency`, `created_at`, conditional on `attribute_not_exists(refund_id)`
//!   in the same way.
//! - [`OUTAGE_OPERATION_ID`] (`PROVIDER#outage`): `kind` = `OUTAGE`, `until` (N, epoch
//!   seconds): the provider-wide outage switch ([`PaymentStore::set_outage`]).

use super::Charge;
use crate::catalog::Money;
use crate::store::StoreError;

/// A captured charge as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRecord {
    /// The provider's id.
    pub charge_id: String,
    /// The order.
    pub order_id: String,
    /// What was charged.
    pub amount: Money,
    /// The checkout's idempotency key.
    pub idempotency_key: String,
}

impl ChargeRecord {
    /// The step's answer for this charge, captured.
    pub fn into_charge(self, operation_id: &str) -> Charge {
        Charge {
            charge_id: self.charge_id,
            operation_id: operation_id.to_owned(),
            amount: self.amount,
            status: ChargeStatus::Captured,
            retry_after_seconds: None,
        }
    }
}

/// Where a recorded charge stands (the item's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeStatus {
    /// Money taken (also every charge recorded before `status` was kept).
    Captured,
    /// Authorised, not settled yet: a later poll captures it, a refund voids it.
    Pending,
    /// Refunded while pending: never captured, a poll must not capture it any more.
    Voided,
}

impl ChargeStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Captured => "CAPTURED",
            Self::Pending => "PENDING",
            Self::Voided => "VOIDED",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "CAPTURED" => Some(Self::Captured),
            "PENDING" => Some(Self::Pending),
            "VOIDED" => Some(Self::Voided),
            _ => None,
        }
    }
}

/// How a pending charge settles ([`PaymentStore::settle_pending`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// PENDING → CAPTURED (a poll).
    Capture,
    /// PENDING → VOIDED (a refund before the capture).
    Void,
}

impl Settlement {
    /// The status it leads to.
    pub fn status(self) -> ChargeStatus {
        match self {
            Self::Capture => ChargeStatus::Captured,
            Self::Void => ChargeStatus::Voided,
        }
    }
}

/// A recorded charge, whatever its status, with the token it was made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCharge {
    /// The charge.
    pub charge: ChargeRecord,
    /// Its payment token; `None` on charges recorded before tokens were kept.
    pub payment_token: Option<String>,
    /// Where it stands.
    pub status: ChargeStatus,
}

/// A captured charge with the token it was made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedCharge {
    /// The charge.
    pub charge: ChargeRecord,
    /// Its payment token; `None` on charges recorded before tokens were kept.
    pub payment_token: Option<String>,
}

/// Key of the provider-wide outage switch in the payments table.
pub const OUTAGE_OPERATION_ID: &str = "PROVIDER#outage";

/// A refund as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    /// The provider's id.
    pub refund_id: String,
    /// The refunded charge.
    pub charge_id: String,
    /// Its operation id.
    pub charge_operation_id: String,
    /// The order.
    pub order_id: String,
    /// What was refunded.
    pub amount: Money,
}

/// Where the simulated provider keeps charges, refunds, attempt counts and its outage switch.
pub trait PaymentStore: Send + Sync {
    /// The charge recorded under `operation_id`, whatever its status, if any (consistent
    /// read).
    fn get_recorded(
        &self,
        operation_id: &str,
    ) -> impl Future<Output = Result<Option<RecordedCharge>, StoreError>> + Send;

    /// The charge captured under `operation_id` and its token, if any (consistent read): a
    /// pending or voided charge is not captured (no money to refund).
    fn get_captured(
        &self,
        operation_id: &str,
    ) -> impl Future<Output = Result<Option<CapturedCharge>, StoreError>> + Send {
        async move {
            Ok(self
                .get_recorded(operation_id)
                .await?
                .filter(|recorded| recorded.status == ChargeStatus::Captured)
                .map(|recorded| CapturedCharge {
                    charge: recorded.charge,
                    payment_token: recorded.payment_token,
                }))
        }
    }

    /// The charge captured under `operation_id`, if any (consistent read).
    fn get_charge(
        &self,
        operation_id: &str,
    ) -> impl Future<Output = Result<Option<ChargeRecord>, StoreError>> + Send {
        async move {
            Ok(self
                .get_captured(operation_id)
                .await?
                .map(|captured| captured.charge))
        }
    }

    /// Counts one more attempt of the charge `operation_id` (atomic); returns the count
    /// including it.
    fn count_attempt(
        &self,
        operation_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Counts one more attempt of the refund `operation_id` (atomic); returns the count
    /// including it.
    fn count_refund_attempt(
        &self,
        operation_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Records `charge`, made with `payment_token`, as `status` (`CAPTURED` or `PENDING`)
    /// under `operation_id` unless a charge is recorded there already; returns the recorded
    /// one (the first, with its status).
    fn record_charge_as(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        payment_token: Option<&str>,
        status: ChargeStatus,
        now: i64,
    ) -> impl Future<Output = Result<RecordedCharge, StoreError>> + Send;

    /// Records `charge`, made with `payment_token`, as captured under `operation_id` unless a
    /// charge is recorded there already; returns the recorded one (the first, which the
    /// provider only records as pending for the `tok_pending_…` tokens).
    fn record_charge_with_token(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        payment_token: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<ChargeRecord, StoreError>> + Send {
        async move {
            Ok(self
                .record_charge_as(
                    operation_id,
                    charge,
                    payment_token,
                    ChargeStatus::Captured,
                    now,
                )
                .await?
                .charge)
        }
    }

    /// Settles the pending charge under `operation_id` as `settlement` says, only if it is
    /// still `PENDING` (atomic: a charge is captured or voided at most once); returns the
    /// charge as it stands afterwards (settled by this call or before it), `None` when no
    /// charge is recorded.
    fn settle_pending(
        &self,
        operation_id: &str,
        settlement: Settlement,
        now: i64,
    ) -> impl Future<Output = Result<Option<RecordedCharge>, StoreError>> + Send;

    /// [`PaymentStore::record_charge_with_token`] without a token.
    fn record_charge(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        now: i64,
    ) -> impl Future<Output = Result<ChargeRecord, StoreError>> + Send {
        self.record_charge_with_token(operation_id, charge, None, now)
    }

    /// Records `refund` under `operation_id` unless one is recorded there already; returns
    /// the recorded one (the first).
    fn record_refund(
        &self,
        operation_id: &str,
        refund: &RefundRecord,
        now: i64,
    ) -> impl Future<Output = Result<RefundRecord, StoreError>> + Send;

    /// Until when (epoch seconds) the provider is out, if an outage was ever set (consistent
    /// read); the outage is over once that time has passed.
    fn outage_until(&self) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Makes every charge and refund fail with `PaymentProviderUnavailable` until `until`
    /// (epoch seconds); a time in the past (e.g. 0) ends an outage.
    fn set_outage(&self, until: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
}
