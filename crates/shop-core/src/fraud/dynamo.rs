//! fraud-detector: the DynamoDB adapter.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Select};

use super::{Flag, FraudStore, sort_key};
use crate::store::StoreError;
use crate::store::{backend, is_conditional_failure};
use lambda_kit::clock::rfc3339;

/// Failures in DynamoDB (layout in the module docs).
#[derive(Debug, Clone)]
pub struct DynamoFraudStore {
    client: Client,
    table: String,
}

impl DynamoFraudStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl FraudStore for DynamoFraudStore {
    async fn record_occurrence(
        &self,
        subject: &str,
        at: i64,
        event_id: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(subject.to_owned()))
            .item("sk", AttributeValue::S(sort_key(at, event_id)))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .map_err(|e| backend("PutItem fraud", &e))?;
        Ok(())
    }

    async fn count_since(&self, subject: &str, since: i64) -> Result<u32, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk >= :since")
            .expression_attribute_values(":pk", AttributeValue::S(subject.to_owned()))
            .expression_attribute_values(
                ":since",
                AttributeValue::S(format!("{:012}", since.max(0))),
            )
            .select(Select::Count)
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut total: u32 = 0;
        while let Some(page) = pages
            .try_next()
            .await
            .map_err(|e| backend("Query fraud", &e))?
        {
            total = total.saturating_add(u32::try_from(page.count()).unwrap_or_default());
        }
        Ok(total)
    }

    async fn put_flag(&self, email: &str, flag: &Flag) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(format!("FLAG#{email}")))
            .item("sk", AttributeValue::S("FLAG".to_owned()))
            .item(
                "flagged_until",
                AttributeValue::S(rfc3339(flag.flagged_until)),
            )
            .item("reason", AttributeValue::S(flag.reason.to_owned()))
            .item("flagged_at", AttributeValue::N(flag.flagged_at.to_string()))
            .item("event_id", AttributeValue::S(flag.event_id.clone()))
            .item(
                "expires_at",
                AttributeValue::N(flag.flagged_until.to_string()),
            )
            .condition_expression("attribute_not_exists(pk) OR expires_at < :until")
            .expression_attribute_values(
                ":until",
                AttributeValue::N(flag.flagged_until.to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // A flag lasting at least as long is there already.
            Err(err) if is_conditional_failure(&err) => Ok(()),
            Err(err) => Err(backend("PutItem fraud flag", &err)),
        }
    }
}
