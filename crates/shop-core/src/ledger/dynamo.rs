//! ledger: the DynamoDB adapter.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::{GUARD_SEQ, LedgerEntry, LedgerStore, guard_key};
use crate::store::StoreError;
use crate::store::{backend, failed_conditions};

/// The ledger table.
#[derive(Debug, Clone)]
pub struct DynamoLedgerStore {
    client: Client,
    table: String,
}

impl DynamoLedgerStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl LedgerStore for DynamoLedgerStore {
    async fn record(&self, e: &LedgerEntry) -> Result<bool, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let build = |err| backend("TransactWriteItems ledger (build)", &err);
        let entry = Put::builder()
            .table_name(&self.table)
            .item("order_id", s(&e.order_id))
            .item("seq", s(&e.seq))
            .item("operation_id", s(&e.operation_id))
            .item("kind", s(e.kind))
            .item(
                "amount_minor",
                AttributeValue::N(e.amount.amount_minor.to_string()),
            )
            .item("currency", s(e.amount.currency.as_str()))
            .item("event_id", s(&e.event_id))
            .item("recorded_at", AttributeValue::N(e.recorded_at.to_string()))
            .condition_expression("attribute_not_exists(order_id)")
            .build()
            .map_err(build)?;
        let guard = Put::builder()
            .table_name(&self.table)
            .item("order_id", s(&guard_key(&e.operation_id)))
            .item("seq", s(GUARD_SEQ))
            .item("entry_order_id", s(&e.order_id))
            .item("entry_seq", s(&e.seq))
            .condition_expression("attribute_not_exists(order_id)")
            .build()
            .map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(entry).build())
            .transact_items(TransactWriteItem::builder().put(guard).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // The entry (a redelivery) or the guard (a resend of the operation) is there.
            Err(err) if !failed_conditions(&err).is_empty() => Ok(false),
            Err(err) => Err(backend("TransactWriteItems ledger", &err)),
        }
    }
}
