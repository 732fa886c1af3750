//! audit-log: the DynamoDB adapter.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::AuditStore;
use crate::store::StoreError;
use crate::store::{backend, is_conditional_failure};
use lambda_kit::messaging::EventEnvelope;

/// The audit table in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoAuditStore {
    client: Client,
    table: String,
}

impl DynamoAuditStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl AuditStore for DynamoAuditStore {
    async fn append(&self, event: &EventEnvelope, recorded_at: i64) -> Result<bool, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("event_id", s(&event.event_id))
            .item("event_type", s(&event.event_type))
            .item("occurred_at", s(&event.occurred_at))
            .item("source", s(&event.source))
            .item("correlation_id", s(&event.correlation_id))
            .item("recorded_at", AttributeValue::N(recorded_at.to_string()))
            .item("envelope", s(&event.to_json()))
            .condition_expression("attribute_not_exists(event_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_failure(&err) => Ok(false),
            Err(err) => Err(backend("PutItem audit", &err)),
        }
    }
}
