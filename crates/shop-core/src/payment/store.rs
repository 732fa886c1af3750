//! The simulated provider's state: the payments table (`PAYMENTS_TABLE`), one item per
//! operation id.
//!
//! - `charge-<orderId>`: `operation_id` (S, key), `kind` = `CHARGE`, `attempts` (N, counted
//!   with an atomic `ADD` for `tok_flaky_N`), and once captured `charge_id`, `order_id`,
//!   `amount_minor` (N), `currency`, `idempotency_key`, `created_at` (N, epoch seconds). The
//!   capture is an `UpdateItem` conditional on `attribute_not_exists(charge_id)`: the first
//!   charge wins, a retry reads it back.
//! - `refund-<orderId>`: `kind` = `REFUND`, `refund_id`, `charge_id`, `charge_operation_id`,
//!   `order_id`, `amount_minor`, `currency`, `created_at`, conditional on
//!   `attribute_not_exists(refund_id)` in the same way.

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

/// Where the simulated provider keeps charges, refunds and attempt counts.
pub trait PaymentStore: Send + Sync {
    /// The charge captured under `operation_id`, if any (consistent read).
    fn get_charge(
        &self,
        operation_id: &str,
    ) -> impl Future<Output = Result<Option<ChargeRecord>, StoreError>> + Send;

    /// Counts one more attempt of `operation_id` (atomic); returns the count including it.
    fn count_attempt(
        &self,
        operation_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Records `charge` under `operation_id` unless a charge is recorded there already;
    /// returns the recorded one (the first).
    fn record_charge(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        now: i64,
    ) -> impl Future<Output = Result<ChargeRecord, StoreError>> + Send;

    /// Records `refund` under `operation_id` unless one is recorded there already; returns
    /// the recorded one (the first).
    fn record_refund(
        &self,
        operation_id: &str,
        refund: &RefundRecord,
        now: i64,
    ) -> impl Future<Output = Result<RefundRecord, StoreError>> + Send;
}
