//! Idempotent consumers: before an event is processed its `eventId` is claimed with a
//! conditional write; a second delivery of the same event finds the claim and does nothing.
//!
//! A claim is `IN_PROGRESS` while the handler runs and `DONE` after it succeeded; each has an
//! expiry (`expires_at`, also the DynamoDB TTL attribute). An `IN_PROGRESS` claim whose
//! holder died (timeout, crash) expires and can be taken over; it is released at once when
//! the handler fails, so the retry does not wait for it. `DONE` records are kept long
//! enough to cover every redelivery SQS can make (retention of the queue and its DLQ).
//!
//! Table layout: key `pk` (S) = `<consumer>#<eventId>`, `status` (S), `expires_at` (N),
//! `updated_at` (N).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dynamo::is_conditional_failure;
use crate::sync::lock;

const IN_PROGRESS: &str = "IN_PROGRESS";
const DONE: &str = "DONE";

/// Default time a claim may stay in progress before another delivery may take it over.
pub const DEFAULT_IN_PROGRESS_SECONDS: i64 = 60;
/// Default time a completed event is remembered: 15 days (> SQS max retention of 14 days).
pub const DEFAULT_DONE_SECONDS: i64 = 15 * 86_400;

/// The idempotency store failed.
#[derive(Debug, thiserror::Error)]
#[error("idempotency store error during {operation}: {message}")]
pub struct IdempotencyError {
    /// Which operation.
    pub operation: &'static str,
    /// The backend's description.
    pub message: String,
}

/// The result of claiming an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours: process it.
    Acquired,
    /// Processed before: skip it.
    AlreadyDone,
    /// Another delivery holds an unexpired claim: fail this one, it will be retried.
    InProgress,
}

/// Where claims are kept.
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` as in progress until `expires_at`, unless a claim that has not expired
    /// exists.
    fn claim(
        &self,
        key: &str,
        now: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<Claim, IdempotencyError>> + Send;

    /// Marks `key` done until `expires_at`.
    fn complete(
        &self,
        key: &str,
        now: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), IdempotencyError>> + Send;

    /// Drops an in-progress claim (a `DONE` record is kept).
    fn release(&self, key: &str) -> impl Future<Output = Result<(), IdempotencyError>> + Send;
}

/// Idempotency for one consumer: keys are `<consumer>#<eventId>`.
#[derive(Debug)]
pub struct Idempotent<S> {
    store: S,
    consumer: &'static str,
    in_progress_seconds: i64,
    done_seconds: i64,
}

impl<S: IdempotencyStore> Idempotent<S> {
    /// Idempotency for `consumer` over `store`, with the default expiries.
    pub fn new(store: S, consumer: &'static str) -> Self {
        Self {
            store,
            consumer,
            in_progress_seconds: DEFAULT_IN_PROGRESS_SECONDS,
            done_seconds: DEFAULT_DONE_SECONDS,
        }
    }

    /// How long an in-progress claim holds (set it to the function timeout: a holder
    /// cannot run longer than that).
    #[must_use]
    pub fn with_in_progress_seconds(mut self, seconds: i64) -> Self {
        self.in_progress_seconds = seconds.max(1);
        self
    }

    /// The store (tests).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The key of `event_id` for this consumer.
    pub fn key(&self, event_id: &str) -> String {
        format!("{}#{event_id}", self.consumer)
    }

    /// Claims `event_id`.
    pub async fn claim(&self, event_id: &str, now: i64) -> Result<Claim, IdempotencyError> {
        self.store
            .claim(
                &self.key(event_id),
                now,
                now.saturating_add(self.in_progress_seconds),
            )
            .await
    }

    /// Marks `event_id` done.
    pub async fn complete(&self, event_id: &str, now: i64) -> Result<(), IdempotencyError> {
        self.store
            .complete(
                &self.key(event_id),
                now,
                now.saturating_add(self.done_seconds),
            )
            .await
    }

    /// Releases the claim on `event_id`.
    pub async fn release(&self, event_id: &str) -> Result<(), IdempotencyError> {
        self.store.release(&self.key(event_id)).await
    }
}

/// Claims in a DynamoDB table (see the module docs for the layout).
#[derive(Debug, Clone)]
pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
}

impl DynamoIdempotencyStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn backend(operation: &'static str, err: &impl std::error::Error) -> IdempotencyError {
    IdempotencyError {
        operation,
        message: DisplayErrorContext(err).to_string(),
    }
}

impl IdempotencyStore for DynamoIdempotencyStore {
    async fn claim(&self, key: &str, now: i64, expires_at: i64) -> Result<Claim, IdempotencyError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(key.to_owned()))
            .item("status", AttributeValue::S(IN_PROGRESS.to_owned()))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .item("updated_at", AttributeValue::N(now.to_string()))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired),
            Err(err) if is_conditional_failure(&err) => {
                let existing = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", AttributeValue::S(key.to_owned()))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| backend("GetItem idempotency", &e))?;
                Ok(match existing.item().and_then(|i| i.get("status")) {
                    Some(AttributeValue::S(status)) if status == DONE => Claim::AlreadyDone,
                    // In progress, or released/expired between the two calls: retry later.
                    _ => Claim::InProgress,
                })
            }
            Err(err) => Err(backend("PutItem idempotency claim", &err)),
        }
    }

    async fn complete(&self, key: &str, now: i64, expires_at: i64) -> Result<(), IdempotencyError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(key.to_owned()))
            .item("status", AttributeValue::S(DONE.to_owned()))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .item("updated_at", AttributeValue::N(now.to_string()))
            .send()
            .await
            .map_err(|e| backend("PutItem idempotency done", &e))?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), IdempotencyError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .condition_expression("#s = :in_progress")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_conditional_failure(&err) => Ok(()),
            Err(err) => Err(backend("DeleteItem idempotency", &err)),
        }
    }
}

/// Claims in memory, with the same conditions (tests).
#[derive(Debug, Default)]
pub struct InMemoryIdempotencyStore {
    claims: Mutex<HashMap<String, (bool, i64)>>,
}

impl InMemoryIdempotencyStore {
    /// Whether `key` is recorded as done.
    pub fn is_done(&self, key: &str) -> bool {
        lock(&self.claims).get(key).is_some_and(|(done, _)| *done)
    }
}

impl IdempotencyStore for InMemoryIdempotencyStore {
    async fn claim(&self, key: &str, now: i64, expires_at: i64) -> Result<Claim, IdempotencyError> {
        let mut claims = lock(&self.claims);
        match claims.get(key) {
            Some((done, until)) if *until > now => Ok(if *done {
                Claim::AlreadyDone
            } else {
                Claim::InProgress
            }),
            _ => {
                claims.insert(key.to_owned(), (false, expires_at));
                Ok(Claim::Acquired)
            }
        }
    }

    async fn complete(
        &self,
        key: &str,
        _now: i64,
        expires_at: i64,
    ) -> Result<(), IdempotencyError> {
        lock(&self.claims).insert(key.to_owned(), (true, expires_at));
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), IdempotencyError> {
        let mut claims = lock(&self.claims);
        if claims.get(key).is_some_and(|(done, _)| !*done) {
            claims.remove(key);
        }
        Ok(())
    }
}

impl<S: IdempotencyStore> IdempotencyStore for std::sync::Arc<S> {
    async fn claim(&self, key: &str, now: i64, expires_at: i64) -> Result<Claim, IdempotencyError> {
        (**self).claim(key, now, expires_at).await
    }
    async fn complete(&self, key: &str, now: i64, expires_at: i64) -> Result<(), IdempotencyError> {
        (**self).complete(key, now, expires_at).await
    }
    async fn release(&self, key: &str) -> Result<(), IdempotencyError> {
        (**self).release(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn claim_complete_and_release() {
        let idem = Idempotent::new(InMemoryIdempotencyStore::default(), "audit-log")
            .with_in_progress_seconds(10);
        assert_eq!(idem.key("e1"), "audit-log#e1");
        assert_eq!(idem.claim("e1", 100).await.ok(), Some(Claim::Acquired));
        assert_eq!(idem.claim("e1", 105).await.ok(), Some(Claim::InProgress));
        // The holder died: the claim expires and can be taken over.
        assert_eq!(idem.claim("e1", 110).await.ok(), Some(Claim::Acquired));
        idem.complete("e1", 111).await.unwrap();
        assert_eq!(idem.claim("e1", 112).await.ok(), Some(Claim::AlreadyDone));
        idem.release("e1").await.unwrap();
        assert_eq!(
            idem.claim("e1", 113).await.ok(),
            Some(Claim::AlreadyDone),
            "release never drops a done record"
        );
        assert_eq!(idem.claim("e2", 100).await.ok(), Some(Claim::Acquired));
        idem.release("e2").await.unwrap();
        assert_eq!(idem.claim("e2", 101).await.ok(), Some(Claim::Acquired));
    }
}
