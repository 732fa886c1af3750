//! fraud-detector: the queue handler.

use super::{
    COUNTED_REASON, FLAG_FAILED_LOGINS, FLAG_ORDER_VELOCITY, FUNCTION_NAME, Flag, FraudSettings,
    FraudStore,
};
use crate::auth::UserStore;
use crate::events::{AccountLocked, LoginFailed, OrderPlaced, ShopEvent};
use lambda_kit::clock::{Clock, rfc3339};
use lambda_kit::messaging::{EventEnvelope, EventHandler, EventPublisher, ProcessError};

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

    async fn login_failed(
        &self,
        event: &EventEnvelope,
        failed: LoginFailed,
    ) -> Result<(), ProcessError> {
        let email = failed.email.as_str();
        if email.is_empty() {
            return Err(ProcessError::Malformed(
                "LoginFailed with an empty detail.email".to_owned(),
            ));
        }
        if failed.reason != COUNTED_REASON {
            tracing::info!("failure not counted (not a wrong password)");
            return Ok(());
        }
        let now = self.clock.now();
        let at = event.occurred_at_epoch().unwrap_or(now);
        let window = self.settings.window_seconds;
        let expires_at = at.saturating_add(window);
        let account = format!("ACCOUNT#{email}");
        self.store
            .record_occurrence(&account, at, &event.event_id, expires_at)
            .await?;
        let since = now.saturating_sub(window);
        let source_ip = failed.source_ip.as_str();
        if !source_ip.is_empty() {
            let ip = format!("IP#{source_ip}");
            self.store
                .record_occurrence(&ip, at, &event.event_id, expires_at)
                .await?;
            let from_ip = self.store.count_since(&ip, since).await?;
            if from_ip >= self.settings.lock_threshold.saturating_mul(2) {
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
            lock_threshold = self.settings.lock_threshold,
            "failed login counted"
        );
        if failures >= self.settings.flag_threshold {
            self.flag(email, FLAG_FAILED_LOGINS, &event.event_id, now)
                .await?;
        }
        if failures < self.settings.lock_threshold {
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
        let locked = ShopEvent::AccountLocked(AccountLocked {
            email: email.to_owned(),
            user_id: failed.user_id.clone(),
            failures,
            window_seconds: window,
            locked_until: rfc3339(until),
            caused_by: event.event_id.clone(),
        })
        .to_envelope(FUNCTION_NAME, &event.correlation_id, now);
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

    async fn order_placed(
        &self,
        event: &EventEnvelope,
        placed: OrderPlaced,
    ) -> Result<(), ProcessError> {
        let (user_id, email) = (placed.user_id.as_str(), placed.email.as_str());
        if user_id.is_empty() || email.is_empty() {
            return Err(ProcessError::Malformed(
                "OrderPlaced with an empty detail.userId or detail.email".to_owned(),
            ));
        }
        let now = self.clock.now();
        let at = event.occurred_at_epoch().unwrap_or(now);
        let window = self.settings.window_seconds;
        let subject = format!("ORDERS#{user_id}");
        self.store
            .record_occurrence(&subject, at, &event.event_id, at.saturating_add(window))
            .await?;
        let orders = self
            .store
            .count_since(&subject, now.saturating_sub(window))
            .await?;
        tracing::info!(
            order_id = %placed.order_id,
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
    type Event = ShopEvent;

    async fn handle(&self, event: &EventEnvelope, decoded: ShopEvent) -> Result<(), ProcessError> {
        match decoded {
            ShopEvent::LoginFailed(failed) => self.login_failed(event, failed).await,
            ShopEvent::OrderPlaced(placed) => self.order_placed(event, placed).await,
            other => {
                tracing::info!(event_type = other.event_type().as_str(), "nothing to count");
                Ok(())
            }
        }
    }
}
