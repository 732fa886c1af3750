//! The simulated provider's state: the payments table (`PAYMENTS_TABLE`), one item per
//! operation id.
//!
//! - `charge-<orderId>`: `operation_id` (S, key), `kind` = `CHARGE`, `attempts` (N, counted
//!   with an atomic `ADD` for `tok_flaky_N`), and once captured `charge_id`, `order_id`,
//!   `amount_minor` (N), `currency`, `idempotency_key`, `payment_token`, `created_at` (N, epoch
//!   seconds). The capture is an `UpdateItem` conditional on `attribute_not_exists(charge_id)`:
//!   the first charge wins, a retry reads it back. `payment_token` tells the refund how the
//!   provider treats it (`tok_refund_…`); charges recorded before it was kept have none, and
//!   their refunds behave as `tok_ok`'s.
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
    /// The step's answer for this charge.
    pub fn into_charge(self, operation_id: &str) -> Charge {
        Charge {
            charge_id: self.charge_id,
            operation_id: operation_id.to_owned(),
            amount: self.amount,
        }
    }
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
    /// The charge captured under `operation_id` and its token, if any (consistent read).
    fn get_captured(
        &self,
        operation_id: &str,
    ) -> impl Future<Output = Result<Option<CapturedCharge>, StoreError>> + Send;

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

    /// Records `charge`, made with `payment_token`, under `operation_id` unless a charge is
    /// recorded there already; returns the recorded one (the first).
    fn record_charge_with_token(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        payment_token: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<ChargeRecord, StoreError>> + Send;

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
