//! replay: the DynamoDB adapters (the audit table read whole; analytics counter tables).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};
use lambda_kit::messaging::EventEnvelope;

use super::rebuild::{AnalyticsTables, Counters};
use super::{EventLog, StoredEvents};
use crate::store::{StoreError, backend};

/// Every item of `table` (strongly consistent, every page), with only `projection`'s attributes
/// when given; `operation` names the call in the error.
async fn scan_all(
    client: &Client,
    table: &str,
    projection: Option<&str>,
    operation: &'static str,
) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
    client
        .scan()
        .table_name(table)
        .set_projection_expression(projection.map(str::to_owned))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| backend(operation, &err))
}

/// The audit table, read with a `Scan` (every entry's `envelope`).
#[derive(Debug, Clone)]
pub struct DynamoEventLog {
    client: Client,
    table: String,
}

impl DynamoEventLog {
    /// The event store in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl EventLog for DynamoEventLog {
    async fn read_all(&self) -> Result<StoredEvents, StoreError> {
        let items = scan_all(
            &self.client,
            &self.table,
            Some("event_id, envelope"),
            "Scan audit",
        )
        .await?;
        let mut stored = StoredEvents::default();
        for item in items {
            let text = |name: &str| match item.get(name) {
                Some(AttributeValue::S(s)) => Some(s.as_str()),
                _ => None,
            };
            match text("envelope").map(EventEnvelope::from_json) {
                Some(Ok(event)) => stored.events.push(event),
                _ => stored
                    .unreadable
                    .push(text("event_id").unwrap_or_default().to_owned()),
            }
        }
        Ok(stored)
    }
}

/// Analytics counter tables in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoAnalyticsTables {
    client: Client,
    /// How long [`AnalyticsTables::create`] waits for a new table to be active.
    pub create_timeout: Duration,
}

impl DynamoAnalyticsTables {
    /// Tables reached with `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            create_timeout: Duration::from_secs(120),
        }
    }
}

/// Whether a key of the analytics table is a day (`YYYY-MM-DD`), not a `COUNTED#` marker.
fn is_day(key: &str) -> bool {
    key.len() == 10
        && key.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
}

impl AnalyticsTables for DynamoAnalyticsTables {
    async fn read(&self, table: &str) -> Result<Counters, StoreError> {
        let items = scan_all(&self.client, table, None, "Scan analytics").await?;
        let mut counters = Counters::new();
        for item in items {
            let Some(AttributeValue::S(day)) = item.get("day") else {
                continue;
            };
            if !is_day(day) {
                continue;
            }
            let mut values = std::collections::BTreeMap::new();
            for (name, value) in &item {
                if name == "day" || name == "expires_at" {
                    continue;
                }
                let AttributeValue::N(n) = value else {
                    continue;
                };
                let n = n.parse::<i64>().map_err(|_| StoreError::Malformed {
                    key: day.clone(),
                    problem: format!("{name} = {n:?} is not an integer"),
                })?;
                values.insert(name.clone(), n);
            }
            counters.insert(day.clone(), values);
        }
        Ok(counters)
    }

    async fn create(&self, table: &str) -> Result<(), StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend {
            operation: "CreateTable analytics",
            message: e.to_string(),
        };
        self.client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("day")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("day")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .map_err(|err| backend("CreateTable analytics", &err))?;
        let started = std::time::Instant::now();
        loop {
            let status = self
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|err| backend("DescribeTable analytics", &err))?
                .table
                .and_then(|t| t.table_status);
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            if started.elapsed() > self.create_timeout {
                return Err(StoreError::Backend {
                    operation: "CreateTable analytics",
                    message: format!("{table} not active after {:?}", self.create_timeout),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn write(&self, table: &str, counters: &Counters) -> Result<(), StoreError> {
        for (day, values) in counters {
            let mut put = self
                .client
                .put_item()
                .table_name(table)
                .item("day", AttributeValue::S(day.clone()));
            for (name, value) in values {
                put = put.item(name, AttributeValue::N(value.to_string()));
            }
            put.send()
                .await
                .map_err(|err| backend("PutItem analytics", &err))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_are_told_from_markers() {
        assert!(super::is_day("2026-12-01"));
        for key in ["COUNTED#abc", "2026-12-1", "2026/12/01", "2026-12-01x", ""] {
            assert!(!super::is_day(key), "{key}");
        }
    }
}
