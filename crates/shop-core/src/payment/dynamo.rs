//! payment: the DynamoDB adapter of [`PaymentStore`] (payments table).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::store::{CapturedCharge, ChargeRecord, OUTAGE_OPERATION_ID, PaymentStore, RefundRecord};
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

fn captured_from_item(key: &str, item: &Item) -> Result<Option<CapturedCharge>, StoreError> {
    if !item.contains_key("charge_id") {
        // Only attempts counted so far.
        return Ok(None);
    }
    let charge = ChargeRecord {
        charge_id: string(item, key, "charge_id")?,
        order_id: string(item, key, "order_id")?,
        amount: money(item, key)?,
        idempotency_key: string(item, key, "idempotency_key").unwrap_or_default(),
    };
    Ok(Some(CapturedCharge {
        charge,
        // Absent on charges recorded before tokens were kept.
        payment_token: string(item, key, "payment_token").ok(),
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

    /// Counts one more attempt of `operation_id`, an operation of `kind`.
    async fn count(&self, operation_id: &str, kind: &str, now: i64) -> Result<u32, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("operation_id", s(operation_id))
            .update_expression("ADD attempts :one SET #k = :kind, updated_at = :now")
            .expression_attribute_names("#k", "kind")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":kind", s(kind))
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
}

impl PaymentStore for DynamoPaymentStore {
    async fn get_captured(&self, operation_id: &str) -> Result<Option<CapturedCharge>, StoreError> {
        match self.get(operation_id).await? {
            Some(item) => captured_from_item(operation_id, &item),
            None => Ok(None),
        }
    }

    async fn count_attempt(&self, operation_id: &str, now: i64) -> Result<u32, StoreError> {
        self.count(operation_id, "CHARGE", now).await
    }

    async fn count_refund_attempt(&self, operation_id: &str, now: i64) -> Result<u32, StoreError> {
        self.count(operation_id, "REFUND", now).await
    }

    async fn record_charge_with_token(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        payment_token: Option<&str>,
        now: i64,
    ) -> Result<ChargeRecord, StoreError> {
        let mut expression = "SET #k = :kind, charge_id = :id, order_id = :order, \
                              amount_minor = :amount, currency = :currency, \
                              idempotency_key = :idem, created_at = :now, updated_at = :now"
            .to_owned();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("operation_id", s(operation_id))
            .condition_expression("attribute_not_exists(charge_id)")
            .expression_attribute_names("#k", "kind")
            .expression_attribute_values(":kind", s("CHARGE"))
            .expression_attribute_values(":id", s(&charge.charge_id))
            .expression_attribute_values(":order", s(&charge.order_id))
            .expression_attribute_values(":amount", n(charge.amount.amount_minor))
            .expression_attribute_values(":currency", s(charge.amount.currency.as_str()))
            .expression_attribute_values(":idem", s(&charge.idempotency_key))
            .expression_attribute_values(":now", n(now));
        if let Some(token) = payment_token {
            expression.push_str(", payment_token = :token");
            request = request.expression_attribute_values(":token", s(token));
        }
        match request.update_expression(expression).send().await {
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

    async fn outage_until(&self) -> Result<Option<i64>, StoreError> {
        let Some(item) = self.get(OUTAGE_OPERATION_ID).await? else {
            return Ok(None);
        };
        match item.get("until") {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| malformed(OUTAGE_OPERATION_ID, "until is not epoch seconds")),
            _ => Err(malformed(OUTAGE_OPERATION_ID, "until is not a number")),
        }
    }

    async fn set_outage(&self, until: i64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("operation_id", s(OUTAGE_OPERATION_ID))
            .update_expression("SET #k = :kind, #u = :until")
            .expression_attribute_names("#k", "kind")
            .expression_attribute_names("#u", "until")
            .expression_attribute_values(":kind", s("OUTAGE"))
            .expression_attribute_values(":until", n(until))
            .send()
            .await
            .map_err(|e| backend("UpdateItem payments outage", &e))?;
        Ok(())
    }
}
