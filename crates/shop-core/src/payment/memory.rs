//! payment: the in-memory adapter of [`PaymentStore`] (unit tests and the `fakes` feature).

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::{
    ChargeRecord, ChargeStatus, PaymentStore, RecordedCharge, RefundRecord, Settlement,
};
use crate::store::StoreError;
use lambda_kit::sync::lock;

#[derive(Debug, Default)]
struct Operation {
    attempts: u32,
    charge: Option<RecordedCharge>,
    /// Times a pending charge changed status (at most one, by the condition).
    settlements: u32,
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

    /// The status of the charge recorded under `operation_id`, if any.
    pub fn status(&self, operation_id: &str) -> Option<ChargeStatus> {
        lock(&self.operations)
            .get(operation_id)
            .and_then(|o| o.charge.as_ref())
            .map(|c| c.status)
    }

    /// Times the pending charge under `operation_id` was settled (captured or voided).
    pub fn settlements(&self, operation_id: &str) -> u32 {
        lock(&self.operations)
            .get(operation_id)
            .map_or(0, |o| o.settlements)
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
    async fn get_recorded(&self, operation_id: &str) -> Result<Option<RecordedCharge>, StoreError> {
        Ok(lock(&self.operations)
            .get(operation_id)
            .and_then(|o| o.charge.clone()))
    }

    async fn count_attempt(&self, operation_id: &str, _now: i64) -> Result<u32, StoreError> {
        Ok(self.count(operation_id))
    }

    async fn count_refund_attempt(&self, operation_id: &str, _now: i64) -> Result<u32, StoreError> {
        Ok(self.count(operation_id))
    }

    async fn record_charge_as(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        payment_token: Option<&str>,
        status: ChargeStatus,
        _now: i64,
    ) -> Result<RecordedCharge, StoreError> {
        let mut operations = lock(&self.operations);
        let operation = operations.entry(operation_id.to_owned()).or_default();
        Ok(operation
            .charge
            .get_or_insert_with(|| RecordedCharge {
                charge: charge.clone(),
                payment_token: payment_token.map(str::to_owned),
                status,
            })
            .clone())
    }

    async fn settle_pending(
        &self,
        operation_id: &str,
        settlement: Settlement,
        _now: i64,
    ) -> Result<Option<RecordedCharge>, StoreError> {
        let mut operations = lock(&self.operations);
        let Some(operation) = operations.get_mut(operation_id) else {
            return Ok(None);
        };
        let Some(recorded) = operation.charge.as_mut() else {
            return Ok(None);
        };
        // The condition the Dynamo store writes with: only a pending charge settles.
        if recorded.status == ChargeStatus::Pending {
            recorded.status = settlement.status();
            operation.settlements = operation.settlements.saturating_add(1);
        }
        Ok(Some(recorded.clone()))
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
