//! notifier: the DynamoDB adapter.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Notification, NotificationStore};
use crate::store::StoreError;
use crate::store::{backend, is_conditional_failure};

/// Notifications in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoNotificationStore {
    client: Client,
    table: String,
}

impl DynamoNotificationStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl NotificationStore for DynamoNotificationStore {
    async fn record(&self, n: &Notification, now: i64) -> Result<bool, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("recipient", s(&n.recipient))
            .item("sk", s(&n.sort_key))
            .item("kind", s(&n.kind))
            .item("channel", s("email"))
            .item("subject", s(&n.subject))
            .item("message", s(&n.message))
            .item("event_id", s(&n.event_id))
            .item("created_at", AttributeValue::N(now.to_string()))
            .condition_expression("attribute_not_exists(recipient)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_failure(&err) => Ok(false),
            Err(err) => Err(backend("PutItem notification", &err)),
        }
    }
}
