//! payment: the DynamoDB adapter of [`PaymentStore`] (payments table).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::store::{
    ChargeRecord, ChargeStatus, OUTAGE_OPERATION_ID, PaymentStore, RecordedCharge, RefundRecord,
    Settlement,
};
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

fn recorded_from_item(key: &str, item: &Item) -> Result<Option<RecordedCharge>, StoreError> {
    if !item.contains_key("charge_id") {
        // Only attempts counted so far.
        return Ok(None);
    }
    let status = match item.get("status") {
        // Recorded before pending charges existed: every charge was captured.
        None => ChargeStatus::Captured,
        Some(AttributeValue::S(v)) => ChargeStatus::parse(v)
            .ok_or_else(|| malformed(key, &format!("status {v:?} is not a charge status")))?,
        Some(_) => return Err(malformed(key, "status is not a string")),
    };
    let charge = ChargeRecord {
        charge_id: string(item, key, "charge_id")?,
        order_id: string(item, key, "order_id")?,
        amount: money(item, key)?,
        idempotency_key: string(item, key, "idempotency_key").unwrap_or_default(),
    };
    Ok(Some(RecordedCharge {
        charge,
        // Absent on charges recorded before tokens were kept.
        payment_token: string(item, key, "payment_token").ok(),
        status,
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
    async fn get_recorded(&self, operation_id: &str) -> Result<Option<RecordedCharge>, StoreError> {
        match self.get(operation_id).await? {
            Some(item) => recorded_from_item(operation_id, &item),
            None => Ok(None),
        }
    }

    async fn count_attempt(&self, operation_id: &str, now: i64) -> Result<u32, StoreError> {
        self.count(operation_id, "CHARGE", now).await
    }

    async fn count_refund_attempt(&self, operation_id: &str, now: i64) -> Result<u32, StoreError> {
        self.count(operation_id, "REFUND", now).await
    }

    async fn record_charge_as(
        &self,
        operation_id: &str,
        charge: &ChargeRecord,
        payment_token: Option<&str>,
        status: ChargeStatus,
        now: i64,
    ) -> Result<RecordedCharge, StoreError> {
        let mut expression = "SET #k = :kind, charge_id = :id, order_id = :order, \
                              amount_minor = :amount, currency = :currency, \
                              idempotency_key = :idem, #st = :status, created_at = :now, \
                              updated_at = :now"
            .to_owned();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("operation_id", s(operation_id))
            .condition_expression("attribute_not_exists(charge_id)")
            .expression_attribute_names("#k", "kind")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":kind", s("CHARGE"))
            .expression_attribute_values(":status", s(status.as_str()))
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
            Ok(_) => Ok(RecordedCharge {
                charge: charge.clone(),
                payment_token: payment_token.map(str::to_owned),
                status,
            }),
            Err(err) if is_conditional_failure(&err) => self
                .get_recorded(operation_id)
                .await?
                .ok_or_else(|| malformed(operation_id, "charge vanished after a lost race")),
            Err(err) => Err(backend("UpdateItem payments charge", &err)),
        }
    }

    async fn settle_pending(
        &self,
        operation_id: &str,
        settlement: Settlement,
        now: i64,
    ) -> Result<Option<RecordedCharge>, StoreError> {
        // Conditional on PENDING: of a concurrent poll and refund (or two polls) exactly one
        // settles the charge; the others read back what it became. A missing item fails the
        // condition too, so nothing is created.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("operation_id", s(operation_id))
            .update_expression("SET #st = :to, settled_at = :now, updated_at = :now")
            .condition_expression("#st = :pending")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":to", s(settlement.status().as_str()))
            .expression_attribute_values(":pending", s(ChargeStatus::Pending.as_str()))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes {
                Some(item) => recorded_from_item(operation_id, &item),
                None => Err(malformed(operation_id, "no attributes after settling")),
            },
            Err(err) if is_conditional_failure(&err) => self.get_recorded(operation_id).await,
            Err(err) => Err(backend("UpdateItem payments settle", &err)),
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

/// The conditions against a real DynamoDB (LocalStack's DynamoDB Local): run with
/// `cargo test -p shop-core --lib -- --ignored payment_real_table` while `make up` runs. It
/// creates and deletes its own table.
#[cfg(test)]
mod payment_real_table {
    use std::panic::AssertUnwindSafe;

    use aws_sdk_dynamodb::error::DisplayErrorContext;
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    use futures::FutureExt as _;

    use super::*;
    use crate::catalog::Currency;

    fn charge(id: &str) -> ChargeRecord {
        ChargeRecord {
            charge_id: id.to_owned(),
            order_id: "ord_x".to_owned(),
            amount: Money::new(2598, Currency::EUR),
            idempotency_key: "key-1".to_owned(),
        }
    }

    fn recorded(id: &str, token: &str, status: ChargeStatus) -> Option<RecordedCharge> {
        Some(RecordedCharge {
            charge: charge(id),
            payment_token: Some(token.to_owned()),
            status,
        })
    }

    /// Pending → captured once, pending → voided once, and items without `status`.
    async fn pending_charges(client: &Client, table: &str) {
        let store = DynamoPaymentStore::new(client.clone(), table);
        let settle = |op: &'static str, settlement| {
            let store = store.clone();
            async move { store.settle_pending(op, settlement, 9).await.unwrap() }
        };

        // Pending → captured, at most once.
        assert_eq!(settle("charge-ord_p", Settlement::Capture).await, None);
        assert_eq!(
            store.get("charge-ord_p").await.unwrap(),
            None,
            "a settle of nothing creates nothing"
        );
        assert_eq!(store.count_attempt("charge-ord_p", 1).await.unwrap(), 1);
        let pending = recorded("ch_p", "tok_pending_1", ChargeStatus::Pending);
        assert_eq!(
            store
                .record_charge_as(
                    "charge-ord_p",
                    &charge("ch_p"),
                    Some("tok_pending_1"),
                    ChargeStatus::Pending,
                    1,
                )
                .await
                .ok(),
            pending
        );
        assert_eq!(
            store
                .record_charge_as(
                    "charge-ord_p",
                    &charge("ch_other"),
                    Some("tok_pending_1"),
                    ChargeStatus::Pending,
                    2,
                )
                .await
                .ok(),
            pending,
            "the first charge wins"
        );
        assert_eq!(store.get_recorded("charge-ord_p").await.unwrap(), pending);
        assert_eq!(store.get_captured("charge-ord_p").await.unwrap(), None);
        assert_eq!(store.get_charge("charge-ord_p").await.unwrap(), None);
        let captured = recorded("ch_p", "tok_pending_1", ChargeStatus::Captured);
        for settlement in [Settlement::Capture, Settlement::Capture, Settlement::Void] {
            assert_eq!(
                settle("charge-ord_p", settlement).await,
                captured,
                "{settlement:?}"
            );
        }
        assert_eq!(
            store.get_charge("charge-ord_p").await.unwrap(),
            Some(charge("ch_p"))
        );
        assert_eq!(store.count_attempt("charge-ord_p", 3).await.unwrap(), 2);

        // Pending → voided: never captured afterwards.
        store
            .record_charge_as(
                "charge-ord_v",
                &charge("ch_v"),
                Some("tok_pending_forever"),
                ChargeStatus::Pending,
                1,
            )
            .await
            .unwrap();
        let voided = recorded("ch_v", "tok_pending_forever", ChargeStatus::Voided);
        for settlement in [Settlement::Void, Settlement::Capture, Settlement::Void] {
            assert_eq!(
                settle("charge-ord_v", settlement).await,
                voided,
                "{settlement:?}"
            );
        }
        assert_eq!(store.get_captured("charge-ord_v").await.unwrap(), None);
        let item = store.get("charge-ord_v").await.unwrap().unwrap_or_default();
        assert_eq!(item.get("status"), Some(&s("VOIDED")));
        assert_eq!(item.get("settled_at"), Some(&n(9)));

        // Captured charges say so; items from before `status` was kept are captured.
        assert_eq!(
            store
                .record_charge_with_token("charge-ord_c", &charge("ch_c"), Some("tok_ok"), 1)
                .await
                .unwrap(),
            charge("ch_c")
        );
        let item = store.get("charge-ord_c").await.unwrap().unwrap_or_default();
        assert_eq!(item.get("status"), Some(&s("CAPTURED")));
        client
            .update_item()
            .table_name(table)
            .key("operation_id", s("charge-ord_c"))
            .update_expression("REMOVE #st")
            .expression_attribute_names("#st", "status")
            .send()
            .await
            .unwrap();
        assert_eq!(
            store.get_recorded("charge-ord_c").await.unwrap(),
            recorded("ch_c", "tok_ok", ChargeStatus::Captured)
        );
        assert_eq!(
            settle("charge-ord_c", Settlement::Void).await,
            recorded("ch_c", "tok_ok", ChargeStatus::Captured),
            "a legacy capture is not pending: never voided"
        );
    }

    #[tokio::test]
    #[ignore = "needs a DynamoDB endpoint (AWS_ENDPOINT_URL, default LocalStack's)"]
    async fn pending_charges_on_a_real_table() {
        let conf = crate::test_support::local_sdk_config().await;
        let client = Client::new(&conf);
        let table = format!("payments-store-test-{}", std::process::id());
        client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("operation_id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("operation_id")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(&e)));
        // A failed assertion must not leave the table behind: catch it, clean up, re-raise.
        let result = AssertUnwindSafe(pending_charges(&client, &table))
            .catch_unwind()
            .await;
        client.delete_table().table_name(&table).send().await.ok();
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
}
