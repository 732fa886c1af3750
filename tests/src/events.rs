//! The event backbone and its consumers: [`envelope`] and [`Stack::publish_raw`] to publish,
//! [`CONSUMERS`], and what each consumer recorded: [`Stack::processed_by`] (idempotency),
//! [`Stack::audit_by_correlation`] / [`Stack::audited`] (audit log), [`Stack::counter`]
//! (analytics), [`Stack::notifications`] (notifier).

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::Stack;

/// The consumers: crate name and stack output prefix.
pub const CONSUMERS: [(&str, &str); 4] = [
    ("audit-log", "AuditLog"),
    ("analytics", "Analytics"),
    ("fraud-detector", "FraudDetector"),
    ("notifier", "Notifier"),
];

/// An event envelope as the producers publish it.
pub fn envelope(
    event_id: &str,
    event_type: &str,
    occurred_at: &str,
    correlation_id: &str,
    detail: &Value,
) -> String {
    serde_json::json!({
        "eventId": event_id,
        "eventType": event_type,
        "eventVersion": 1,
        "occurredAt": occurred_at,
        "correlationId": correlation_id,
        "source": "shop-tests",
        "detail": detail,
    })
    .to_string()
}

impl Stack {
    /// Publishes a raw message to the events topic, with `eventType` as a message attribute
    /// (as the producers do).
    pub async fn publish_raw(&self, body: &str, event_type: &str) {
        let attribute = aws_sdk_sns::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(event_type)
            .build()
            .expect("an attribute");
        self.sns()
            .publish()
            .topic_arn(self.output("EventsTopicArn"))
            .message(body)
            .message_attributes("eventType", attribute)
            .send()
            .await
            .expect("publish to the events topic");
    }

    /// Whether `consumer` has finished processing `event_id` (its idempotency record).
    pub async fn processed_by(&self, consumer: &str, event_id: &str) -> bool {
        let item = self
            .dynamodb()
            .get_item()
            .table_name(self.output("IdempotencyTableName"))
            .key("pk", AttributeValue::S(format!("{consumer}#{event_id}")))
            .consistent_read(true)
            .send()
            .await
            .expect("get an idempotency record")
            .item;
        matches!(item.as_ref().and_then(|i| i.get("status")), Some(AttributeValue::S(s)) if s == "DONE")
    }

    /// Audit entries with this correlation id: (event id, event type).
    pub async fn audit_by_correlation(&self, correlation_id: &str) -> Vec<(String, String)> {
        self.dynamodb()
            .scan()
            .table_name(self.output("AuditTableName"))
            .filter_expression("correlation_id = :c")
            .expression_attribute_values(":c", AttributeValue::S(correlation_id.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .expect("scan the audit table")
            .iter()
            .map(|item| {
                let text = |name: &str| match item.get(name) {
                    Some(AttributeValue::S(s)) => s.clone(),
                    _ => String::new(),
                };
                (text("event_id"), text("event_type"))
            })
            .collect()
    }

    /// Whether the audit table has an entry for `event_id`.
    pub async fn audited(&self, event_id: &str) -> bool {
        self.dynamodb()
            .get_item()
            .table_name(self.output("AuditTableName"))
            .key("event_id", AttributeValue::S(event_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get an audit entry")
            .item
            .is_some()
    }

    /// A daily counter of the analytics table (0 when absent).
    pub async fn counter(&self, day: &str, name: &str) -> i64 {
        let item = self
            .dynamodb()
            .get_item()
            .table_name(self.output("AnalyticsTableName"))
            .key("day", AttributeValue::S(day.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get a counter item")
            .item;
        item.and_then(|i| match i.get(name) {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        })
        .unwrap_or(0)
    }

    /// Notifications recorded for `email`: their kinds.
    pub async fn notifications(&self, email: &str) -> Vec<String> {
        let output = self
            .dynamodb()
            .query()
            .table_name(self.output("NotificationsTableName"))
            .key_condition_expression("recipient = :r")
            .expression_attribute_values(":r", AttributeValue::S(email.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("query notifications");
        output
            .items()
            .iter()
            .filter_map(|i| match i.get("kind") {
                Some(AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }
}
