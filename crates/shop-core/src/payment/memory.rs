//! payment: the in-memory adapter of [`PaymentStore`] (unit tests and the `fakes` feature).

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::{CapturedCharge, ChargeRecord, PaymentStore, RefundRecord};
use crate::store::StoreError;
use lambda_kit::sync::lock;

#[derive(Debug, Default)]
struct Operation {
    attempts: u32,
    charge: Option<ChargeRecord>,
    payment_token: Option<String>,
    refund: Option<RefundRecord>,
}

/// The provider's state in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryPaymentStore {
    operations: Mutex<HashMap<String, Operation>>,
    outage_until: Mutex<Option<i64>>,
}

impl InMemoryPaymentStore {
    /// Attempts counted for `operation_id` (a charge's or a refund's).
    pub fn attempts(&self, operation_id: &str) -> u32 {
        lock(&self.operations)
            .get(operation_id)
            .map_or(0, |o| o.attempts)
    }

    /// Charges and refunds recorded (one per operation id).
    pub fn recorded(&self) -> usize {
        lock(&self.operations)
            .values()
            .filter(|o| o.charge.is_some() || o.refund.is_some())
            .count()
    }

    fn count(&self, operation_id: &str) -> u32 {
        let mut operations = lock(&self.operations);
        let operation = operations.entry(operation_id.to_owned()).or_default();
        operation.attempts = operation.attempts.saturating_add(1);
        operation.attempts
    }
}

impl PaymentStore for InMemoryPaymentStore {
    async fn get_captured(&self, operation_id: &str) -> Result<Option<CapturedCharge>, StoreError> {
        Ok(lock(&self.operations).get(operation_id).and_then(|o| {
            o.charge.clone().map(|charge| CapturedCharge {
                charge,
                payment_token: o.payment_token.clone(),
            })
        }))
    }

    async fn count_attempt(&self, operation_id: &str, _now: i64) -> Result<u32, StoreError> {
        Ok(self.count(operation_id))
    }

    async fn count_refund_attempt(&self, operation_id: &str, _now: i64) -> Result<u32, StoreError> {
        Ok(self.count(operation_id))
    }

    async fn record_charge_with_token(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        payment_token: Option<&str>,
        _now: i64,
    ) -> Result<ChargeRecord, StoreError> {
        let mut operations = lock(&self.operations);
        let operation = operations.entry(operation_id.to_owned()).or_default();
        if let Some(first) = &operation.charge {
            return Ok(first.clone());
        }
        operation.charge = Some(charge.clone());
        operation.payment_token = payment_token.map(str::to_owned);
        Ok(charge.clone())
    }

    async fn record_refund(
        &self,
        operation_id: &str,
        refund: &RefundRecord,
        _now: i64,
    ) -> Result<RefundRecord, StoreError> {
        let mut operations = lock(&self.operations);
        let operation = operations.entry(operation_id.to_owned()).or_default();
        Ok(operation
            .refund
            .get_or_insert_with(|| refund.clone())
            .clone())
    }

    async fn outage_until(&self) -> Result<Option<i64>, StoreError> {
        Ok(*lock(&self.outage_until))
    }

    async fn set_outage(&self, until: i64) -> Result<(), StoreError> {
        *lock(&self.outage_until) = Some(until);
        Ok(())
    }
}
