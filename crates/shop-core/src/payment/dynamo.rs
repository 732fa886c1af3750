//! payment: the DynamoDB adapter of [`PaymentStore`] (payments table).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::store::{ChargeRecord, PaymentStore, RefundRecord};
use crate::catalog::{Currency, Money};
use crate::store::StoreError;
use crate::store::{Item, backend, is_conditional_failure, n, s};

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
