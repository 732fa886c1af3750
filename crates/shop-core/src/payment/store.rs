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

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::Charge;
use crate::domain::{Currency, Money};
use crate::store::StoreError;
use crate::store::{Item, backend, is_conditional_failure, n, s};

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

fn malformed(key: &str, problem: &str) -> StoreError {
    StoreError::Malformed {
        key: key.to_owned(),
        problem: problem.to_owned(),
    }
}

fn string(item: &Item, key: &str, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(malformed(key, &format!("{name} is not a string"))),
    }
}

fn money(item: &Item, key: &str) -> Result<Money, StoreError> {
    let amount = match item.get("amount_minor") {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| malformed(key, "amount_minor is not a number"))?;
    let currency = Currency::parse(&string(item, key, "currency")?)
        .map_err(|e| malformed(key, &e.to_string()))?;
    Ok(Money::new(amount, currency))
}

fn charge_from_item(key: &str, item: &Item) -> Result<Option<ChargeRecord>, StoreError> {
    if !item.contains_key("charge_id") {
        // Only attempts counted so far.
        return Ok(None);
    }
    Ok(Some(ChargeRecord {
        charge_id: string(item, key, "charge_id")?,
        order_id: string(item, key, "order_id")?,
        amount: money(item, key)?,
        idempotency_key: string(item, key, "idempotency_key").unwrap_or_default(),
    }))
}

fn refund_from_item(key: &str, item: &Item) -> Result<RefundRecord, StoreError> {
    Ok(RefundRecord {
        refund_id: string(item, key, "refund_id")?,
        charge_id: string(item, key, "charge_id")?,
        charge_operation_id: string(item, key, "charge_operation_id")?,
        order_id: string(item, key, "order_id")?,
        amount: money(item, key)?,
    })
}

/// The payments table.
#[derive(Debug, Clone)]
pub struct DynamoPaymentStore {
    client: Client,
    table: String,
}

impl DynamoPaymentStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, operation_id: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("operation_id", s(operation_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem payments", &e))?;
        Ok(output.item)
    }
}

impl PaymentStore for DynamoPaymentStore {
    async fn get_charge(&self, operation_id: &str) -> Result<Option<ChargeRecord>, StoreError> {
        match self.get(operation_id).await? {
            Some(item) => charge_from_item(operation_id, &item),
            None => Ok(None),
        }
    }

    async fn count_attempt(&self, operation_id: &str, now: i64) -> Result<u32, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("operation_id", s(operation_id))
            .update_expression("ADD attempts :one SET #k = :kind, updated_at = :now")
            .expression_attribute_names("#k", "kind")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":kind", s("CHARGE"))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| backend("UpdateItem payments attempts", &e))?;
        match output.attributes().and_then(|a| a.get("attempts")) {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| malformed(operation_id, "attempts is not a count")),
            _ => Err(malformed(operation_id, "attempts missing after ADD")),
        }
    }

    async fn record_charge(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        now: i64,
    ) -> Result<ChargeRecord, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("operation_id", s(operation_id))
            .update_expression(
                "SET #k = :kind, charge_id = :id, order_id = :order, amount_minor = :amount, \
                 currency = :currency, idempotency_key = :idem, created_at = :now, updated_at = :now",
            )
            .condition_expression("attribute_not_exists(charge_id)")
            .expression_attribute_names("#k", "kind")
            .expression_attribute_values(":kind", s("CHARGE"))
            .expression_attribute_values(":id", s(&charge.charge_id))
            .expression_attribute_values(":order", s(&charge.order_id))
            .expression_attribute_values(":amount", n(charge.amount.amount_minor))
            .expression_attribute_values(":currency", s(charge.amount.currency.as_str()))
            .expression_attribute_values(":idem", s(&charge.idempotency_key))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(charge.clone()),
            Err(err) if is_conditional_failure(&err) => self
                .get_charge(operation_id)
                .await?
                .ok_or_else(|| malformed(operation_id, "charge vanished after a lost race")),
            Err(err) => Err(backend("UpdateItem payments charge", &err)),
        }
    }

    async fn record_refund(
        &self,
        operation_id: &str,
        refund: &RefundRecord,
        now: i64,
    ) -> Result<RefundRecord, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("operation_id", s(operation_id))
            .update_expression(
                "SET #k = :kind, refund_id = :id, charge_id = :charge, \
                 charge_operation_id = :charge_op, order_id = :order, amount_minor = :amount, \
                 currency = :currency, created_at = :now, updated_at = :now",
            )
            .condition_expression("attribute_not_exists(refund_id)")
            .expression_attribute_names("#k", "kind")
            .expression_attribute_values(":kind", s("REFUND"))
            .expression_attribute_values(":id", s(&refund.refund_id))
            .expression_attribute_values(":charge", s(&refund.charge_id))
            .expression_attribute_values(":charge_op", s(&refund.charge_operation_id))
            .expression_attribute_values(":order", s(&refund.order_id))
            .expression_attribute_values(":amount", n(refund.amount.amount_minor))
            .expression_attribute_values(":currency", s(refund.amount.currency.as_str()))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(refund.clone()),
            Err(err) if is_conditional_failure(&err) => {
                let item = self
                    .get(operation_id)
                    .await?
                    .ok_or_else(|| malformed(operation_id, "refund vanished after a lost race"))?;
                refund_from_item(operation_id, &item)
            }
            Err(err) => Err(backend("UpdateItem payments refund", &err)),
        }
    }
}

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
