//! One JSON envelope for every event on the bus:
//!
//! ```json
//! {"eventId": "5f0c…", "eventType": "LoginFailed", "eventVersion": 1,
//!  "occurredAt": "2026-11-23T03:00:00Z", "correlationId": "…", "source": "auth-api",
//!  "detail": {"email": "…", "sourceIp": "…", "userAgent": "…"}}
//! ```
//!
//! `eventType` is also published as an SNS message attribute so that filter policies can
//! route on it without reading the body.

use serde::{Deserialize, Serialize};

use crate::clock::rfc3339;
use crate::ids::new_uuid;

/// Name of the SNS message attribute carrying the event type.
pub const EVENT_TYPE_ATTRIBUTE: &str = "eventType";

/// An event as it travels through SNS and SQS (raw message delivery: the SQS body is exactly
/// this JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    /// Unique id (UUID v4); consumers are idempotent on it.
    pub event_id: String,
    /// What happened, e.g. `LoginFailed` (kept as a string so that consumers can pass on
    /// types they do not know, e.g. the audit log).
    pub event_type: String,
    /// Version of the `detail` schema of this type.
    pub event_version: u32,
    /// When it happened, RFC 3339 UTC.
    pub occurred_at: String,
    /// The id of the request that caused it, carried into every consumer's logs.
    pub correlation_id: String,
    /// The function that published it, e.g. `auth-api`.
    pub source: String,
    /// Type-specific payload.
    pub detail: serde_json::Value,
}

/// A record body that is not an event envelope.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// Not JSON, or not the envelope's shape.
    #[error("not an event envelope: {0}")]
    Malformed(String),
    /// The envelope is there but a required field is empty.
    #[error("event envelope field {0} is empty")]
    EmptyField(&'static str),
}

impl EventEnvelope {
    /// A new event of `event_type` (version 1) that happened at `now` (epoch seconds), with a
    /// fresh UUID v4 as its id. Any type that names itself as a string can be the type (an
    /// enum of your events implementing `AsRef<str>`, or a `&str`).
    pub fn new(
        event_type: impl AsRef<str>,
        source: &str,
        correlation_id: &str,
        now: i64,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            event_id: new_uuid(),
            event_type: event_type.as_ref().to_owned(),
            event_version: 1,
            occurred_at: rfc3339(now),
            correlation_id: correlation_id.to_owned(),
            source: source.to_owned(),
            detail,
        }
    }

    /// Parses and checks an SQS record body.
    pub fn from_json(body: &str) -> Result<Self, EnvelopeError> {
        let envelope: Self =
            serde_json::from_str(body).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        for (name, value) in [
            ("eventId", &envelope.event_id),
            ("eventType", &envelope.event_type),
            ("occurredAt", &envelope.occurred_at),
            ("source", &envelope.source),
        ] {
            if value.trim().is_empty() {
                return Err(EnvelopeError::EmptyField(name));
            }
        }
        Ok(envelope)
    }

    /// The JSON published to the topic.
    pub fn to_json(&self) -> String {
        // Serialising a struct of strings and a Value cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Epoch seconds of `occurredAt`, if it parses.
    pub fn occurred_at_epoch(&self) -> Option<i64> {
        time::OffsetDateTime::parse(
            &self.occurred_at,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
    }

    /// A string field of `detail`.
    pub fn detail_str(&self, name: &str) -> Option<&str> {
        self.detail.get(name).and_then(serde_json::Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_camel_case_fields() {
        let event = EventEnvelope::new(
            "LoginFailed",
            "auth-api",
            "corr-1",
            1_700_000_000,
            serde_json::json!({"email": "a@b.c"}),
        );
        let json: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap_or_default();
        assert_eq!(json["eventType"], "LoginFailed");
        assert_eq!(json["eventVersion"], 1);
        assert_eq!(json["occurredAt"], "2023-11-14T22:13:20Z");
        assert_eq!(json["correlationId"], "corr-1");
        assert_eq!(json["source"], "auth-api");
        assert_eq!(json["detail"]["email"], "a@b.c");
        let parsed = EventEnvelope::from_json(&event.to_json());
        assert_eq!(parsed.ok().as_ref(), Some(&event));
        assert_eq!(event.occurred_at_epoch(), Some(1_700_000_000));
    }

    #[test]
    fn rejects_malformed_bodies() {
        assert!(matches!(
            EventEnvelope::from_json("not json"),
            Err(EnvelopeError::Malformed(_))
        ));
        assert!(matches!(
            EventEnvelope::from_json(r#"{"eventId": "x"}"#),
            Err(EnvelopeError::Malformed(_))
        ));
        let mut event = EventEnvelope::new("LoginSucceeded", "t", "c", 0, serde_json::Value::Null);
        event.event_id = " ".to_owned();
        assert!(matches!(
            EventEnvelope::from_json(&event.to_json()),
            Err(EnvelopeError::EmptyField("eventId"))
        ));
    }
}
