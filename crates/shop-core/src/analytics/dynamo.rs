//! analytics: the DynamoDB adapter.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::CounterStore;
use crate::store::StoreError;
use crate::store::{backend, failed_conditions};

/// Counters in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoCounterStore {
    client: Client,
    table: String,
}

impl DynamoCounterStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl CounterStore for DynamoCounterStore {
    async fn increment_once(
        &self,
        day: &str,
        increments: &[(&'static str, i64)],
        event_id: &str,
        marker_expires_at: i64,
    ) -> Result<bool, StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend {
            operation: "TransactWriteItems analytics",
            message: e.to_string(),
        };
        let marker = Put::builder()
            .table_name(&self.table)
            .item("day", AttributeValue::S(format!("COUNTED#{event_id}")))
            .item(
                "expires_at",
                AttributeValue::N(marker_expires_at.to_string()),
            )
            .condition_expression("attribute_not_exists(#d)")
            .expression_attribute_names("#d", "day")
            .build()
            .map_err(build)?;
        let mut add = Update::builder()
            .table_name(&self.table)
            .key("day", AttributeValue::S(day.to_owned()));
        let mut clauses = Vec::with_capacity(increments.len());
        for (i, (counter, by)) in increments.iter().enumerate() {
            clauses.push(format!("#c{i} :by{i}"));
            add = add
                .expression_attribute_names(format!("#c{i}"), *counter)
                .expression_attribute_values(format!(":by{i}"), AttributeValue::N(by.to_string()));
        }
        let add = add
            .update_expression(format!("ADD {}", clauses.join(", ")))
            .build()
            .map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(marker).build())
            .transact_items(TransactWriteItem::builder().update(add).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // Cancelled because the marker (the first item) exists: counted by an earlier delivery.
            Err(err) if failed_conditions(&err).contains(&0) => Ok(false),
            Err(err) => Err(backend("TransactWriteItems analytics", &err)),
        }
    }
}
