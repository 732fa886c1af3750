//! The orders table in DynamoDB.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{
    BY_USER_INDEX, CreateOutcome, FulfilOutcome, OPEN_STATUSES, OrderCursor, OrderPage, OrderStore,
    now_millis,
};
use crate::catalog::{Currency, Money};
use crate::orders::{IdempotencyKey, Order, OrderId, OrderLine, OrderStatus, PaymentToken};
use crate::store::{Item, ItemReader, StoreError, backend, is_conditional_failure, n, s};
use lambda_kit::clock::Clock;

fn key(id: &OrderId) -> Item {
    HashMap::from([("order_id".to_owned(), s(id.as_str()))])
}

/// The item written by `POST /checkout` (the workflow adds the priced fields later).
pub(super) fn order_to_item(order: &Order) -> Item {
    let mut item = HashMap::from([
        ("order_id".to_owned(), s(order.order_id.as_str())),
        ("user_id".to_owned(), s(&order.user_id)),
        ("email".to_owned(), s(&order.email)),
        ("status".to_owned(), s(order.status.as_str())),
        ("created_at".to_owned(), n(order.created_at)),
        ("updated_at".to_owned(), n(order.updated_at)),
        (
            "idempotency_key".to_owned(),
            s(order.idempotency_key.as_str()),
        ),
        ("request_hash".to_owned(), s(&order.request_hash)),
        ("payment_token".to_owned(), s(order.payment_token.as_str())),
        ("correlation_id".to_owned(), s(&order.correlation_id)),
        ("cart_key".to_owned(), s(&order.cart_key)),
    ]);
    let optional = [
        ("execution_arn", &order.execution_arn),
        ("charge_id", &order.charge_id),
        ("failure_reason", &order.failure_reason),
        ("refund_pending_reason", &order.refund_pending_reason),
        ("approval_token", &order.approval_token),
        ("approved_by", &order.approved_by),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.to_owned(), s(value));
        }
    }
    if !order.items.is_empty()
        && let Ok(json) = serde_json::to_string(&order.items)
    {
        item.insert("items_json".to_owned(), s(json));
    }
    if let Some(total) = order.total {
        item.insert("total_minor".to_owned(), n(total.amount_minor));
        item.insert("currency".to_owned(), s(total.currency.as_str()));
    }
    if let Some(count) = order.item_count {
        item.insert("item_count".to_owned(), n(count));
    }
    item
}

pub(super) fn order_from_item(item: &Item) -> Result<Order, StoreError> {
    let key = match item.get("order_id") {
        Some(AttributeValue::S(id)) => id.as_str(),
        _ => "<no order_id>",
    };
    let r = ItemReader { item, key };
    let items: Vec<OrderLine> = match r.optional_string("items_json")? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| r.malformed(format!("items_json is not a list of lines: {e}")))?,
        None => Vec::new(),
    };
    let total = match (
        r.optional_number::<i64>("total_minor")?,
        r.optional_string("currency")?,
    ) {
        (Some(amount), Some(currency)) => Some(Money::new(
            amount,
            Currency::parse(&currency).map_err(|e| r.malformed(e.to_string()))?,
        )),
        _ => None,
    };
    Ok(Order {
        order_id: OrderId::parse(r.string("order_id")?).map_err(|e| r.malformed(e.to_string()))?,
        user_id: r.string("user_id")?.to_owned(),
        email: r.optional_string("email")?.unwrap_or_default(),
        status: OrderStatus::parse(r.string("status")?).map_err(|e| r.malformed(e.to_string()))?,
        created_at: r.number("created_at")?,
        updated_at: r.number("updated_at")?,
        idempotency_key: IdempotencyKey::parse(r.string("idempotency_key")?)
            .map_err(|e| r.malformed(e.to_string()))?,
        request_hash: r.string("request_hash")?.to_owned(),
        payment_token: PaymentToken::parse(r.string("payment_token")?)
            .map_err(|e| r.malformed(e.to_string()))?,
        correlation_id: r.optional_string("correlation_id")?.unwrap_or_default(),
        cart_key: r.string("cart_key")?.to_owned(),
        execution_arn: r.optional_string("execution_arn")?,
        items,
        total,
        item_count: r.optional_number("item_count")?,
        charge_id: r.optional_string("charge_id")?,
        failure_reason: r.optional_string("failure_reason")?,
        refund_pending_reason: r.optional_string("refund_pending_reason")?,
        refund_pending_outcome: r
            .optional_string("refund_pending_outcome")?
            .map(|s| OrderStatus::parse(&s).map_err(|e| r.malformed(e.to_string())))
            .transpose()?,
        approval_token: r.optional_string("approval_token")?,
        approved_by: r.optional_string("approved_by")?,
        reconciled_at: r.optional_number("reconciled_at")?,
    })
}

/// Orders in a DynamoDB table keyed by `order_id`, with the `by-user` index.
#[derive(Debug, Clone)]
pub struct DynamoOrderStore {
    client: Client,
    table: String,
    clock: Clock,
}

impl DynamoOrderStore {
    /// A store on `table`, using `client` (build the client once per process).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            clock: Clock::System,
        }
    }

    /// An update of one order that is applied only if `condition` holds; `Ok(false)` when it
    /// did not. `names` always maps `#s` to `status` (a reserved word).
    async fn conditional_update(
        &self,
        id: &OrderId,
        update: &str,
        condition: &str,
        values: Item,
        operation: &'static str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#s", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_failure(&err) => Ok(false),
            Err(err) => Err(backend(operation, &err)),
        }
    }
}

/// The condition "the order has not ended" over `#s` (status), with [`open_status_values`].
const OPEN_CONDITION: &str = "#s IN (:o0, :o1, :o2, :o3, :o4, :o5)";

/// `values` plus the placeholders of [`OPEN_CONDITION`].
fn open_status_values(mut values: Item) -> Item {
    for (i, status) in OPEN_STATUSES.iter().enumerate() {
        values.insert(format!(":o{i}"), s(status.as_str()));
    }
    values
}

impl OrderStore for DynamoOrderStore {
    async fn create(&self, order: &Order) -> Result<CreateOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(order_to_item(order)))
            .condition_expression("attribute_not_exists(order_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(err) if is_conditional_failure(&err) => {
                // Orders are never deleted, so the one that won the condition is there.
                let existing =
                    self.get(&order.order_id)
                        .await?
                        .ok_or_else(|| StoreError::Backend {
                            operation: "PutItem order",
                            message: format!("{} exists but cannot be read", order.order_id),
                        })?;
                Ok(CreateOutcome::Exists(Box::new(existing)))
            }
            Err(err) => Err(backend("PutItem order", &err)),
        }
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem order", &e))?;
        output.item().map(order_from_item).transpose()
    }

    async fn list_for_user(
        &self,
        user_id: &str,
        limit: u16,
        cursor: Option<&OrderCursor>,
    ) -> Result<OrderPage, StoreError> {
        let start = cursor.map(|c| {
            HashMap::from([
                ("order_id".to_owned(), s(c.order_id.as_str())),
                ("user_id".to_owned(), s(user_id)),
                ("created_at".to_owned(), n(c.created_at)),
            ])
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_USER_INDEX)
            .key_condition_expression("user_id = :u")
            .expression_attribute_values(":u", s(user_id))
            .scan_index_forward(false)
            // One more than asked: whether a next page exists is known without a second,
            // empty round trip (DynamoDB returns LastEvaluatedKey for every full page).
            .limit(i32::from(limit).saturating_add(1))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| backend("Query orders by-user", &e))?;
        let mut items = output
            .items()
            .iter()
            .map(order_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() > usize::from(limit) {
            items.truncate(usize::from(limit));
            items.last().map(|o| OrderCursor {
                created_at: o.created_at,
                order_id: o.order_id.clone(),
            })
        } else {
            // A short page can still end early (1 MB per Query): then continue from there.
            match output.last_evaluated_key() {
                Some(last) => {
                    let r = ItemReader {
                        item: last,
                        key: "LastEvaluatedKey",
                    };
                    Some(OrderCursor {
                        created_at: r.number("created_at")?,
                        order_id: OrderId::parse(r.string("order_id")?)
                            .map_err(|e| r.malformed(e.to_string()))?,
                    })
                }
                None => None,
            }
        };
        Ok(OrderPage { items, next })
    }

    async fn transition(
        &self,
        id: &OrderId,
        from: &[OrderStatus],
        to: OrderStatus,
    ) -> Result<bool, StoreError> {
        if from.is_empty() {
            return Ok(false);
        }
        let mut values = HashMap::from([
            (":to".to_owned(), s(to.as_str())),
            (":now".to_owned(), n(now_millis(&self.clock))),
        ]);
        let mut placeholders = Vec::with_capacity(from.len());
        for (i, status) in from.iter().enumerate() {
            let placeholder = format!(":f{i}");
            values.insert(placeholder.clone(), s(status.as_str()));
            placeholders.push(placeholder);
        }
        let condition = format!("#s IN ({})", placeholders.join(", "));
        self.conditional_update(
            id,
            "SET #s = :to, updated_at = :now",
            &condition,
            values,
            "UpdateItem order status",
        )
        .await
    }

    async fn set_execution_arn(&self, id: &OrderId, execution_arn: &str) -> Result<(), StoreError> {
        let values = HashMap::from([(":arn".to_owned(), s(execution_arn))]);
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .update_expression("SET execution_arn = :arn")
            .condition_expression("attribute_exists(order_id)")
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| backend("UpdateItem order execution_arn", &e))?;
        Ok(())
    }

    async fn set_awaiting_approval(
        &self,
        id: &OrderId,
        task_token: &str,
    ) -> Result<bool, StoreError> {
        let values = HashMap::from([
            (":t".to_owned(), s(task_token)),
            (
                ":awaiting".to_owned(),
                s(OrderStatus::AwaitingApproval.as_str()),
            ),
            (":pending".to_owned(), s(OrderStatus::Pending.as_str())),
            (":now".to_owned(), n(now_millis(&self.clock))),
        ]);
        self.conditional_update(
            id,
            "SET #s = :awaiting, approval_token = :t, updated_at = :now",
            "#s = :pending OR (#s = :awaiting AND (attribute_not_exists(approval_token) OR approval_token = :t))",
            values,
            "UpdateItem order approval",
        )
        .await
    }

    async fn mark_approved(&self, id: &OrderId, approved_by: &str) -> Result<bool, StoreError> {
        let values = HashMap::from([
            (":by".to_owned(), s(approved_by)),
            (
                ":awaiting".to_owned(),
                s(OrderStatus::AwaitingApproval.as_str()),
            ),
            (":approved".to_owned(), s(OrderStatus::Approved.as_str())),
            (":now".to_owned(), n(now_millis(&self.clock))),
        ]);
        self.conditional_update(
            id,
            "SET #s = :approved, approved_by = :by, updated_at = :now",
            "#s = :awaiting",
            values,
            "UpdateItem order approved",
        )
        .await
    }

    async fn mark_fulfilled(&self, id: &OrderId) -> Result<FulfilOutcome, StoreError> {
        let applied = self
            .transition(id, &[OrderStatus::Confirmed], OrderStatus::Fulfilled)
            .await?;
        if applied {
            return Ok(FulfilOutcome::Fulfilled);
        }
        Ok(match self.get(id).await? {
            None => FulfilOutcome::NotFound,
            Some(order) if order.status == OrderStatus::Fulfilled => {
                FulfilOutcome::AlreadyFulfilled
            }
            Some(order) => FulfilOutcome::NotConfirmed(order.status),
        })
    }

    async fn mark_refund_pending(
        &self,
        id: &OrderId,
        outcome: OrderStatus,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let values = open_status_values(HashMap::from([
            (":to".to_owned(), s(OrderStatus::RefundPending.as_str())),
            (":outcome".to_owned(), s(outcome.as_str())),
            (":reason".to_owned(), s(reason)),
            (":now".to_owned(), n(now_millis(&self.clock))),
        ]));
        self.conditional_update(
            id,
            "SET #s = :to, refund_pending_outcome = :outcome, refund_pending_reason = :reason, updated_at = :now",
            OPEN_CONDITION,
            values,
            "UpdateItem order refund pending",
        )
        .await
    }

    async fn settle(
        &self,
        id: &OrderId,
        to: OrderStatus,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let values = open_status_values(HashMap::from([
            (":to".to_owned(), s(to.as_str())),
            (":reason".to_owned(), s(reason)),
            (":now".to_owned(), n(now_millis(&self.clock))),
        ]));
        self.conditional_update(
            id,
            "SET #s = :to, failure_reason = :reason, updated_at = :now REMOVE refund_pending_reason, refund_pending_outcome",
            OPEN_CONDITION,
            values,
            "UpdateItem order settle",
        )
        .await
    }

    async fn scan_open(&self) -> Result<Vec<Order>, StoreError> {
        // The SDK's paginator follows LastEvaluatedKey page after page.
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(OPEN_CONDITION)
            .expression_attribute_names("#s", "status")
            .set_expression_attribute_values(Some(open_status_values(HashMap::new())))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| backend("Scan orders", &e))?;
        items.iter().map(order_from_item).collect()
    }

    async fn claim_reconcile(
        &self,
        id: &OrderId,
        now_ms: i64,
        not_since_ms: i64,
    ) -> Result<bool, StoreError> {
        self.conditional_update(
            id,
            "SET reconciled_at = :now",
            "attribute_exists(#s) AND (attribute_not_exists(reconciled_at) OR reconciled_at < :since)",
            HashMap::from([
                (":now".to_owned(), n(now_ms)),
                (":since".to_owned(), n(not_since_ms)),
            ]),
            "UpdateItem order reconciled",
        )
        .await
    }

    async fn claim_cancel_run(
        &self,
        id: &OrderId,
        now_ms: i64,
        running_since_ms: i64,
    ) -> Result<Option<u32>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .update_expression(
                "SET cancel_runs = if_not_exists(cancel_runs, :zero) + :one, cancel_started_at = :now",
            )
            .condition_expression(
                "#s = :cancelling AND (attribute_not_exists(cancel_started_at) OR cancel_started_at < :since)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":since", n(running_since_ms))
            .expression_attribute_values(":cancelling", s(OrderStatus::Cancelling.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(output) => {
                let runs = output
                    .attributes()
                    .and_then(|item| item.get("cancel_runs"))
                    .and_then(|value| value.as_n().ok())
                    .and_then(|value| value.parse::<u32>().ok())
                    .ok_or_else(|| StoreError::Malformed {
                        key: id.to_string(),
                        problem: "cancel_runs missing or not a count after the claim".to_owned(),
                    })?;
                Ok(Some(runs))
            }
            Err(err) if is_conditional_failure(&err) => Ok(None),
            Err(err) => Err(backend("UpdateItem cancel run", &err)),
        }
    }
    async fn forget_cancel_run(&self, id: &OrderId, started_ms: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .update_expression("REMOVE cancel_started_at")
            .condition_expression("cancel_started_at = :started")
            .expression_attribute_values(":started", n(started_ms))
            .send()
            .await;
        match result {
            // A later claim replaced the stamp: that run is the one to keep.
            Ok(_) => Ok(()),
            Err(err) if is_conditional_failure(&err) => Ok(()),
            Err(err) => Err(backend("UpdateItem forget cancel run", &err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::sample_order;

    #[test]
    fn order_item_round_trip() {
        let mut order = sample_order("user-1", "key-1", 1_795_409_100_123);
        assert_eq!(
            order_from_item(&order_to_item(&order)).ok(),
            Some(order.clone())
        );
        order.items = vec![OrderLine {
            sku: "MUG-1".to_owned(),
            name: "Mug".to_owned(),
            quantity: 3,
            unit_price: Money::new(400, Currency::EUR),
            line_total: Money::new(1200, Currency::EUR),
        }];
        order.total = Some(Money::new(1200, Currency::EUR));
        order.item_count = Some(3);
        order.status = OrderStatus::AwaitingApproval;
        order.approval_token = Some("token".to_owned());
        order.execution_arn = Some("arn:x".to_owned());
        let item = order_to_item(&order);
        assert_eq!(item.get("total_minor"), Some(&n(1200)));
        assert_eq!(item.get("status"), Some(&s("AWAITING_APPROVAL")));
        assert_eq!(item.get("payment_token"), Some(&s("tok_ok")));
        assert_eq!(order_from_item(&item).ok(), Some(order));
    }

    #[test]
    fn reads_the_items_json_the_workflow_writes() {
        let order = sample_order("user-1", "key-1", 5);
        let mut item = order_to_item(&order);
        // What RecordOrder writes with States.JsonToString($.priced.items).
        item.insert(
            "items_json".to_owned(),
            s(r#"[{"sku":"MUG-1","name":"Mug","quantity":2,"unitPrice":{"amount":450,"currency":"EUR"},"lineTotal":{"amount":900,"currency":"EUR"}}]"#),
        );
        item.insert("total_minor".to_owned(), n(900));
        item.insert("currency".to_owned(), s("EUR"));
        item.insert("item_count".to_owned(), n(2));
        let read = order_from_item(&item).unwrap();
        assert_eq!(read.items.len(), 1);
        assert_eq!(read.items[0].line_total, Money::new(900, Currency::EUR));
        assert_eq!(read.total, Some(Money::new(900, Currency::EUR)));
        assert_eq!(read.item_count, Some(2));
    }

    #[test]
    fn malformed_items_name_the_order() {
        let order = sample_order("user-1", "key-1", 5);
        let mut item = order_to_item(&order);
        item.insert("status".to_owned(), s("SHIPPED"));
        let err = order_from_item(&item).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains(order.order_id.as_str()) && e.contains("SHIPPED")),
            "{err:?}"
        );
    }
}

/// The conditions against a real DynamoDB (LocalStack's DynamoDB Local): run with
/// `cargo test -p shop-core --lib -- --ignored real_table` while `make up` runs. It creates
/// and deletes its own table.
#[cfg(test)]
mod real_table {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };

    use super::*;
    use crate::orders::tests::sample_order;
    use aws_sdk_dynamodb::error::DisplayErrorContext;

    #[tokio::test]
    #[ignore = "needs a DynamoDB endpoint (AWS_ENDPOINT_URL, default LocalStack's)"]
    async fn conditions_on_a_real_table() {
        let conf = crate::test_support::local_sdk_config().await;
        let client = Client::new(&conf);
        let table = format!("orders-store-test-{}", std::process::id());
        let attr = |name: &str, t| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()
                .unwrap()
        };
        let key_el = |name: &str, t| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .unwrap()
        };
        client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("order_id", ScalarAttributeType::S))
            .attribute_definitions(attr("user_id", ScalarAttributeType::S))
            .attribute_definitions(attr("created_at", ScalarAttributeType::N))
            .key_schema(key_el("order_id", KeyType::Hash))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(BY_USER_INDEX)
                    .key_schema(key_el("user_id", KeyType::Hash))
                    .key_schema(key_el("created_at", KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(&e)));
        let store = DynamoOrderStore::new(client.clone(), &table);

        let order = sample_order("u1", "k0", 1000);
        let id = order.order_id.clone();
        assert_eq!(
            store.create(&order).await.ok(),
            Some(CreateOutcome::Created)
        );
        let again = store.create(&order).await.ok();
        assert_eq!(again, Some(CreateOutcome::Exists(Box::new(order.clone()))));
        for i in 1..7 {
            store
                .create(&sample_order("u1", &format!("k{i}"), 1000 + i))
                .await
                .unwrap();
        }
        store
            .create(&sample_order("u2", "other", 9999))
            .await
            .unwrap();
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = store.list_for_user("u1", 3, cursor.as_ref()).await.unwrap();
            pages += 1;
            seen.extend(page.items.iter().map(|o| o.created_at));
            cursor = page.next;
            if cursor.is_none() || pages > 5 {
                break;
            }
        }
        assert_eq!(seen, vec![1006, 1005, 1004, 1003, 1002, 1001, 1000]);
        assert_eq!(pages, 3);

        let t = |from: &'static [OrderStatus], to| {
            let store = &store;
            let id = &id;
            async move { store.transition(id, from, to).await.ok() }
        };
        assert_eq!(
            t(&[OrderStatus::Confirmed], OrderStatus::Failed).await,
            Some(false)
        );
        assert_eq!(
            t(
                &[OrderStatus::Approved, OrderStatus::Pending],
                OrderStatus::Pending
            )
            .await,
            Some(true)
        );
        assert_eq!(
            store.set_awaiting_approval(&id, "tt").await.ok(),
            Some(true)
        );
        assert_eq!(
            store.set_awaiting_approval(&id, "tt").await.ok(),
            Some(true)
        );
        assert_eq!(
            store.set_awaiting_approval(&id, "other").await.ok(),
            Some(false)
        );
        assert_eq!(store.mark_approved(&id, "admin").await.ok(), Some(true));
        assert_eq!(store.mark_approved(&id, "admin").await.ok(), Some(false));
        assert_eq!(
            store.mark_fulfilled(&id).await.ok(),
            Some(FulfilOutcome::NotConfirmed(OrderStatus::Approved))
        );
        assert_eq!(
            t(&[OrderStatus::Approved], OrderStatus::Confirmed).await,
            Some(true)
        );
        assert_eq!(
            store.mark_fulfilled(&id).await.ok(),
            Some(FulfilOutcome::Fulfilled)
        );
        assert_eq!(
            store.mark_fulfilled(&id).await.ok(),
            Some(FulfilOutcome::AlreadyFulfilled)
        );
        let missing = sample_order("nobody", "x", 0).order_id;
        assert_eq!(
            store.mark_fulfilled(&missing).await.ok(),
            Some(FulfilOutcome::NotFound)
        );
        store.set_execution_arn(&id, "arn:x").await.unwrap();
        let stored = store.get(&id).await.ok().flatten();
        assert_eq!(
            stored.map(|o| (o.status, o.approved_by, o.approval_token, o.execution_arn)),
            Some((
                OrderStatus::Fulfilled,
                Some("admin".to_owned()),
                Some("tt".to_owned()),
                Some("arn:x".to_owned())
            ))
        );

        // Cancel runs: counted and stamped by one conditional write, on CANCELLING only.
        let cancelling = sample_order("u3", "c", 2000);
        let cid = cancelling.order_id.clone();
        store.create(&cancelling).await.unwrap();
        assert_eq!(
            store.claim_cancel_run(&cid, 10_000, 0).await.ok(),
            Some(None)
        );
        store
            .transition(&cid, &[OrderStatus::Pending], OrderStatus::Cancelling)
            .await
            .unwrap();
        assert_eq!(
            store.claim_cancel_run(&cid, 10_000, 0).await.ok(),
            Some(Some(1))
        );
        // Within the run's timeout: no second run.
        assert_eq!(
            store.claim_cancel_run(&cid, 20_000, 5_000).await.ok(),
            Some(None)
        );
        // Forgetting another run's stamp changes nothing; forgetting ours frees the claim.
        store.forget_cancel_run(&cid, 9_999).await.unwrap();
        assert_eq!(
            store.claim_cancel_run(&cid, 20_000, 5_000).await.ok(),
            Some(None)
        );
        store.forget_cancel_run(&cid, 10_000).await.unwrap();
        assert_eq!(
            store.claim_cancel_run(&cid, 20_000, 5_000).await.ok(),
            Some(Some(2))
        );
        assert_eq!(
            store.claim_cancel_run(&cid, 40_000, 30_000).await.ok(),
            Some(Some(3))
        );
        client.delete_table().table_name(&table).send().await.ok();
    }
}
