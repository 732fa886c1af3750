//! fraud-detector: counts failed logins per account and per source IP in a sliding window
//! and locks an account that reaches the threshold (default: 5 failures in 15 minutes lock
//! it for 15 minutes), publishing `AccountLocked`.
//!
//! Sliding window in DynamoDB: one item per failure, key `pk` = `ACCOUNT#<email>` or
//! `IP#<source ip>`, sort key `sk` = `<epoch seconds, 12 digits>#<eventId>` (so a
//! redelivered event writes the same item), TTL `expires_at` = failure time + window. The
//! count is a `Query` on `pk` with `sk >= <now - window>` (`Select: COUNT`).
//!
//! The lock is the `LOCK#<email>` item of the users table (see [`crate::auth::UserStore`]),
//! checked by login and by the authorizer. Only wrong-password failures count (a login
//! refused because the account is locked does not extend the lock).
//!
//! Flags for the checkout's risk check (its `RiskCheck` state reads them): the item
//! `pk = FLAG#<email>`, `sk = FLAG` with `flagged_until` (RFC 3339 UTC,
//! `YYYY-MM-DDTHH:MM:SSZ`, now + window), `reason`, `flagged_at` (N), `event_id` and the TTL
//! `expires_at` (= `flagged_until`). A flag is only ever extended, never shortened. An
//! account is flagged
//! - `FAILED_LOGINS`: when its failed logins in the window reach the flag threshold
//!   (default 3, below the lock threshold: orders of an account under attack need approval);
//! - `ORDER_VELOCITY`: when one user places more than `order_velocity` orders (default 5)
//!   within the window, counted on `OrderPlaced` in the same sliding-window records under
//!   `pk = ORDERS#<userId>`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Select};

use crate::auth::UserStore;
use crate::events::EventType;
use crate::store::StoreError;
use crate::store::{backend, is_conditional_failure};
use lambda_kit::clock::{Clock, rfc3339};
use lambda_kit::messaging::{EventEnvelope, EventHandler, EventPublisher, ProcessError};

/// Name of the function.
pub const FUNCTION_NAME: &str = "fraud-detector";

/// The `reason` of a `LoginFailed` that counts.
pub const COUNTED_REASON: &str = "INVALID_CREDENTIALS";

/// Window, threshold and lock duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FraudSettings {
    /// Length of the sliding window in seconds (default 900).
    pub window_seconds: i64,
    /// Failures within the window that lock the account (default 5).
    pub threshold: u32,
    /// How long a lock lasts in seconds (default 900).
    pub lock_seconds: i64,
    /// Failures within the window that flag the account for order approval (default 3).
    pub flag_threshold: u32,
    /// Orders of one user within the window above which the account is flagged (default 5).
    pub order_velocity: u32,
}

impl Default for FraudSettings {
    fn default() -> Self {
        Self {
            window_seconds: 900,
            threshold: 5,
            lock_seconds: 900,
            flag_threshold: 3,
            order_velocity: 5,
        }
    }
}

/// `reason` of a flag raised by failed logins.
pub const FLAG_FAILED_LOGINS: &str = "FAILED_LOGINS";
/// `reason` of a flag raised by too many orders.
pub const FLAG_ORDER_VELOCITY: &str = "ORDER_VELOCITY";

/// A risk flag on an account (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Until when (epoch seconds; also the TTL).
    pub flagged_until: i64,
    /// [`FLAG_FAILED_LOGINS`] or [`FLAG_ORDER_VELOCITY`].
    pub reason: &'static str,
    /// When it was raised (epoch seconds).
    pub flagged_at: i64,
    /// The event that raised it.
    pub event_id: String,
}

/// Sliding-window records (failed logins, orders) and flags.
pub trait FraudStore: Send + Sync {
    /// Records one failure of `subject` at `at` (idempotent per `event_id`).
    fn record_failure(
        &self,
        subject: &str,
        at: i64,
        event_id: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Failures of `subject` at or after `since`.
    fn count_since(
        &self,
        subject: &str,
        since: i64,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Flags `email` (`FLAG#<email>`), unless a flag lasting at least as long is there.
    fn put_flag(
        &self,
        email: &str,
        flag: &Flag,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

fn sort_key(at: i64, event_id: &str) -> String {
    format!("{:012}#{event_id}", at.max(0))
}

/// The fraud detector.
#[derive(Debug)]
pub struct FraudDetector<F, U, P> {
    store: F,
    users: U,
    publisher: P,
    settings: FraudSettings,
    clock: Clock,
}

impl<F: FraudStore, U: UserStore, P: EventPublisher> FraudDetector<F, U, P> {
    /// A detector over its store, the users table (locks) and the topic.
    pub fn new(store: F, users: U, publisher: P, settings: FraudSettings) -> Self {
        Self {
            store,
            users,
            publisher,
            settings,
            clock: Clock::System,
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The fraud store (tests).
    pub fn store(&self) -> &F {
        &self.store
    }

    /// The user store (tests).
    pub fn users(&self) -> &U {
        &self.users
    }

    /// The publisher (tests).
    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    async fn login_failed(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        let email = event
            .detail_str("email")
            .filter(|e| !e.is_empty())
            .ok_or_else(|| {
                ProcessError::Malformed("LoginFailed without detail.email".to_owned())
            })?;
        if event.detail_str("reason").unwrap_or(COUNTED_REASON) != COUNTED_REASON {
            tracing::info!("failure not counted (not a wrong password)");
            return Ok(());
        }
        let now = self.clock.now();
        let at = event.occurred_at_epoch().unwrap_or(now);
        let window = self.settings.window_seconds;
        let expires_at = at.saturating_add(window);
        let account = format!("ACCOUNT#{email}");
        self.store
            .record_failure(&account, at, &event.event_id, expires_at)
            .await?;
        let since = now.saturating_sub(window);
        let source_ip = event.detail_str("sourceIp").unwrap_or_default();
        if !source_ip.is_empty() {
            let ip = format!("IP#{source_ip}");
            self.store
                .record_failure(&ip, at, &event.event_id, expires_at)
                .await?;
            let from_ip = self.store.count_since(&ip, since).await?;
            if from_ip >= self.settings.threshold.saturating_mul(2) {
                tracing::warn!(
                    source_ip,
                    failures = from_ip,
                    "many failed logins from one source ip"
                );
            }
        }
        let failures = self.store.count_since(&account, since).await?;
        tracing::info!(
            failures,
            threshold = self.settings.threshold,
            "failed login counted"
        );
        if failures >= self.settings.flag_threshold {
            self.flag(email, FLAG_FAILED_LOGINS, &event.event_id, now)
                .await?;
        }
        if failures < self.settings.threshold {
            return Ok(());
        }
        let until = now.saturating_add(self.settings.lock_seconds);
        if !self
            .users
            .lock(email, until, &event.event_id, failures, now)
            .await?
        {
            tracing::info!("account already locked");
            return Ok(());
        }
        tracing::warn!(failures, locked_until = until, "account locked");
        let locked = EventEnvelope::new(
            EventType::AccountLocked,
            FUNCTION_NAME,
            &event.correlation_id,
            now,
            serde_json::json!({
                "email": email,
                "userId": event.detail_str("userId"),
                "failures": failures,
                "windowSeconds": window,
                "lockedUntil": rfc3339(until),
                "causedBy": event.event_id,
            }),
        );
        // A failure here fails the record; the retry finds the lock set by this same event
        // and publishes again (at least once).
        self.publisher
            .publish(&locked)
            .await
            .map_err(|e| ProcessError::Failed(e.to_string()))
    }
}

impl<F: FraudStore, U: UserStore, P: EventPublisher> FraudDetector<F, U, P> {
    async fn flag(
        &self,
        email: &str,
        reason: &'static str,
        event_id: &str,
        now: i64,
    ) -> Result<(), ProcessError> {
        let flag = Flag {
            flagged_until: now.saturating_add(self.settings.window_seconds),
            reason,
            flagged_at: now,
            event_id: event_id.to_owned(),
        };
        self.store.put_flag(email, &flag).await?;
        tracing::warn!(
            reason,
            flagged_until = %rfc3339(flag.flagged_until),
            "account flagged: its orders need approval"
        );
        Ok(())
    }

    async fn order_placed(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        let field = |name: &str| {
            event
                .detail_str(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    ProcessError::Malformed(format!("OrderPlaced without detail.{name}"))
                })
        };
        let (user_id, email) = (field("userId")?, field("email")?);
        let now = self.clock.now();
        let at = event.occurred_at_epoch().unwrap_or(now);
        let window = self.settings.window_seconds;
        let subject = format!("ORDERS#{user_id}");
        self.store
            .record_failure(&subject, at, &event.event_id, at.saturating_add(window))
            .await?;
        let orders = self
            .store
            .count_since(&subject, now.saturating_sub(window))
            .await?;
        tracing::info!(
            order_id = event.detail_str("orderId").unwrap_or_default(),
            user_id,
            orders,
            velocity = self.settings.order_velocity,
            "order counted"
        );
        if orders > self.settings.order_velocity {
            self.flag(email, FLAG_ORDER_VELOCITY, &event.event_id, now)
                .await?;
        }
        Ok(())
    }
}

impl<F: FraudStore, U: UserStore, P: EventPublisher> EventHandler for FraudDetector<F, U, P> {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), ProcessError> {
        match EventType::of(event) {
            Some(EventType::LoginFailed) => self.login_failed(event).await,
            Some(EventType::OrderPlaced) => self.order_placed(event).await,
            Some(EventType::LoginSucceeded) => {
                tracing::info!("successful login: nothing to count");
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

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
    async fn record_failure(
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
        let mut total: u32 = 0;
        let mut start = None;
        loop {
            let output = self
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
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| backend("Query fraud", &e))?;
            total = total.saturating_add(u32::try_from(output.count()).unwrap_or_default());
            match output.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => return Ok(total),
            }
        }
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

/// Failures in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryFraudStore {
    failures: Mutex<HashMap<String, std::collections::BTreeSet<String>>>,
    flags: Mutex<HashMap<String, Flag>>,
}

impl InMemoryFraudStore {
    /// The flag of `email`, if any.
    pub fn flag(&self, email: &str) -> Option<Flag> {
        self.flags
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(email)
            .cloned()
    }
}

impl FraudStore for InMemoryFraudStore {
    async fn record_failure(
        &self,
        subject: &str,
        at: i64,
        event_id: &str,
        _expires_at: i64,
    ) -> Result<(), StoreError> {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(subject.to_owned())
            .or_default()
            .insert(sort_key(at, event_id));
        Ok(())
    }

    async fn count_since(&self, subject: &str, since: i64) -> Result<u32, StoreError> {
        let since = format!("{:012}", since.max(0));
        Ok(self
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(subject)
            .map_or(0, |keys| {
                u32::try_from(keys.range(since..).count()).unwrap_or(u32::MAX)
            }))
    }

    async fn put_flag(&self, email: &str, flag: &Flag) -> Result<(), StoreError> {
        let mut flags = self.flags.lock().unwrap_or_else(PoisonError::into_inner);
        if flags
            .get(email)
            .is_none_or(|existing| existing.flagged_until < flag.flagged_until)
        {
            flags.insert(email.to_owned(), flag.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::InMemoryUserStore;
    use lambda_kit::messaging::InMemoryPublisher;

    const START: i64 = 1_800_000_000;

    fn failed(email: &str, at: i64) -> EventEnvelope {
        EventEnvelope::new(
            EventType::LoginFailed,
            "auth-api",
            "corr",
            at,
            serde_json::json!({"email": email, "reason": COUNTED_REASON, "sourceIp": "10.0.0.1"}),
        )
    }

    fn detector(
        clock: &Clock,
    ) -> FraudDetector<InMemoryFraudStore, InMemoryUserStore, InMemoryPublisher> {
        FraudDetector::new(
            InMemoryFraudStore::default(),
            InMemoryUserStore::default(),
            InMemoryPublisher::default(),
            FraudSettings::default(),
        )
        .with_clock(clock.clone())
    }

    #[tokio::test]
    async fn five_failures_in_the_window_lock_once() {
        let clock = Clock::manual(START);
        let detector = detector(&clock);
        for i in 0..4 {
            let event = failed("ann@example.com", START + i);
            assert!(detector.handle(&event).await.is_ok());
            // A redelivery counts nothing more.
            assert!(detector.handle(&event).await.is_ok());
        }
        assert!(detector.publisher().events().is_empty());
        assert_eq!(
            detector
                .users()
                .locked_until("ann@example.com", START)
                .await
                .ok(),
            Some(None)
        );
        clock.advance(10);
        assert!(
            detector
                .handle(&failed("ann@example.com", START + 10))
                .await
                .is_ok()
        );
        let until = detector
            .users()
            .locked_until("ann@example.com", START + 10)
            .await
            .ok()
            .flatten();
        assert_eq!(until, Some(START + 10 + 900));
        let events = detector.publisher().events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_type, "AccountLocked");
        assert_eq!(events[0].correlation_id, "corr");
        assert_eq!(events[0].detail_str("email"), Some("ann@example.com"));
        // A sixth failure while locked: no second lock, no second event.
        assert!(
            detector
                .handle(&failed("ann@example.com", START + 11))
                .await
                .is_ok()
        );
        assert_eq!(detector.publisher().events().len(), 1);
    }

    #[tokio::test]
    async fn failures_outside_the_window_do_not_count() {
        let clock = Clock::manual(START);
        let detector = detector(&clock);
        for i in 0..4 {
            assert!(
                detector
                    .handle(&failed("bob@example.com", START + i))
                    .await
                    .is_ok()
            );
        }
        clock.advance(901);
        assert!(
            detector
                .handle(&failed("bob@example.com", START + 901))
                .await
                .is_ok()
        );
        assert!(detector.publisher().events().is_empty());
    }

    #[tokio::test]
    async fn a_failed_publish_is_retried_by_the_same_event() {
        let clock = Clock::manual(START);
        let detector = detector(&clock);
        for i in 0..4 {
            assert!(
                detector
                    .handle(&failed("cy@example.com", START + i))
                    .await
                    .is_ok()
            );
        }
        let fifth = failed("cy@example.com", START + 5);
        detector.publisher().set_failing(true);
        assert!(detector.handle(&fifth).await.is_err());
        detector.publisher().set_failing(false);
        assert!(detector.handle(&fifth).await.is_ok());
        assert_eq!(detector.publisher().events().len(), 1);
    }

    #[tokio::test]
    async fn a_login_failed_without_email_is_malformed() {
        let clock = Clock::manual(START);
        let detector = detector(&clock);
        let mut event = failed("x@y.z", START);
        event.detail = serde_json::json!({"reason": COUNTED_REASON});
        assert!(matches!(
            detector.handle(&event).await,
            Err(ProcessError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn the_third_failure_flags_the_account_before_the_lock() {
        let clock = Clock::manual(START);
        let detector = detector(&clock);
        for i in 0..2 {
            assert!(
                detector
                    .handle(&failed("dee@example.com", START + i))
                    .await
                    .is_ok()
            );
        }
        assert_eq!(detector.store().flag("dee@example.com"), None);
        clock.advance(3);
        let third = failed("dee@example.com", START + 3);
        assert!(detector.handle(&third).await.is_ok());
        let flag = detector.store().flag("dee@example.com");
        assert_eq!(
            flag.as_ref().map(|f| (f.flagged_until, f.reason)),
            Some((START + 3 + 900, FLAG_FAILED_LOGINS))
        );
        assert_eq!(rfc3339(START + 903), "2027-01-15T08:15:03Z");
        // Flagged, not locked.
        assert_eq!(
            detector
                .users()
                .locked_until("dee@example.com", START + 3)
                .await
                .ok(),
            Some(None)
        );
        assert!(detector.publisher().events().is_empty());
        // A later failure extends the flag.
        clock.advance(10);
        assert!(
            detector
                .handle(&failed("dee@example.com", START + 13))
                .await
                .is_ok()
        );
        assert_eq!(
            detector
                .store()
                .flag("dee@example.com")
                .map(|f| f.flagged_until),
            Some(START + 13 + 900)
        );
    }

    fn placed(user: &str, email: &str, at: i64) -> EventEnvelope {
        EventEnvelope::new(
            EventType::OrderPlaced,
            "checkout",
            "corr",
            at,
            serde_json::json!({
                "orderId": "ord_1", "userId": user, "email": email,
                "total": {"amount": 100, "currency": "EUR"}, "itemCount": 1, "items": []
            }),
        )
    }

    #[tokio::test]
    async fn more_than_five_orders_in_the_window_flag_the_account() {
        let clock = Clock::manual(START);
        let detector = detector(&clock);
        for i in 0..5 {
            let order = placed("u-eve", "eve@example.com", START + i);
            assert!(detector.handle(&order).await.is_ok());
            assert!(
                detector.handle(&order).await.is_ok(),
                "redelivery counts once"
            );
        }
        assert_eq!(detector.store().flag("eve@example.com"), None);
        clock.advance(6);
        assert!(
            detector
                .handle(&placed("u-eve", "eve@example.com", START + 6))
                .await
                .is_ok()
        );
        assert_eq!(
            detector.store().flag("eve@example.com").map(|f| f.reason),
            Some(FLAG_ORDER_VELOCITY)
        );
        // Orders of another user are counted apart.
        assert!(
            detector
                .handle(&placed("u-fay", "fay@example.com", START + 6))
                .await
                .is_ok()
        );
        assert_eq!(detector.store().flag("fay@example.com"), None);
    }

    #[tokio::test]
    async fn orders_outside_the_window_do_not_count() {
        let clock = Clock::manual(START);
        let detector = detector(&clock);
        for i in 0..5 {
            assert!(
                detector
                    .handle(&placed("u-gus", "gus@example.com", START + i))
                    .await
                    .is_ok()
            );
        }
        clock.advance(901);
        assert!(
            detector
                .handle(&placed("u-gus", "gus@example.com", START + 901))
                .await
                .is_ok()
        );
        assert_eq!(detector.store().flag("gus@example.com"), None);
        let mut no_user = placed("", "gus@example.com", START + 902);
        no_user.detail["userId"] = serde_json::Value::Null;
        assert!(matches!(
            detector.handle(&no_user).await,
            Err(ProcessError::Malformed(_))
        ));
    }
}
