//! payment: the in-memory adapter of [`PaymentStore`] (unit tests and the `fakes` feature).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::store::{ChargeRecord, PaymentStore, RefundRecord};
use crate::store::StoreError;

#[derive(Debug, Default)]
struct Operation {
    attempts: u32,
    charge: Option<ChargeRecord>,
    refund: Option<RefundRecord>,
}

/// The provider's state in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryPaymentStore {
    operations: Mutex<HashMap<String, Operation>>,
}

impl InMemoryPaymentStore {
    /// Attempts counted for `operation_id`.
    pub fn attempts(&self, operation_id: &str) -> u32 {
        self.operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(operation_id)
            .map_or(0, |o| o.attempts)
    }

    /// Charges and refunds recorded (one per operation id).
    pub fn recorded(&self) -> usize {
        self.operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|o| o.charge.is_some() || o.refund.is_some())
            .count()
    }
}

impl PaymentStore for InMemoryPaymentStore {
    async fn get_charge(&self, operation_id: &str) -> Result<Option<ChargeRecord>, StoreError> {
        Ok(self
            .operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(operation_id)
            .and_then(|o| o.charge.clone()))
    }

    async fn count_attempt(&self, operation_id: &str, _now: i64) -> Result<u32, StoreError> {
        let mut operations = self
            .operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let operation = operations.entry(operation_id.to_owned()).or_default();
        operation.attempts = operation.attempts.saturating_add(1);
        Ok(operation.attempts)
    }

    async fn record_charge(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        _now: i64,
    ) -> Result<ChargeRecord, StoreError> {
        let mut operations = self
            .operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let operation = operations.entry(operation_id.to_owned()).or_default();
        Ok(operation
            .charge
            .get_or_insert_with(|| charge.clone())
            .clone())
    }

    async fn record_refund(
        &self,
        operation_id: &str,
        refund: &RefundRecord,
        _now: i64,
    ) -> Result<RefundRecord, StoreError> {
        let mut operations = self
            .operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let operation = operations.entry(operation_id.to_owned()).or_default();
        Ok(operation
            .refund
            .get_or_insert_with(|| refund.clone())
            .clone())
    }
}
