//! Login attempts: the synchronous brute-force guard of `POST /auth/login`.
//!
//! Each login first *claims* an attempt on two counters — its account (the normalised e-mail,
//! known or not: an unknown address locks exactly like a known one) and its source IP — with
//! one conditional atomic update each, in parallel, before the password hash is computed. A
//! counter holds `failures` and `attempts` (failures plus attempts still being checked); a
//! claim is refused once `failures` reached the limit, or `attempts` the limit plus
//! [`IN_FLIGHT_SLACK`]. So 40 parallel guesses evaluate at most limit + slack passwords (the
//! condition is checked by DynamoDB on the item, not by the function on a value read
//! earlier), while a few parallel logins with the right password are not refused. A failure
//! then adds to `failures`; a success clears its account's counter and gives its IP's attempt
//! back, so only failures count.
//!
//! Counters are fixed windows (`window_start`, `attempts`), items of the users table keyed
//! `ATTEMPTS#ACCOUNT#<email>` and `ATTEMPTS#IP#<ip>`, removed by the table's TTL
//! (`expires_at` = end of the window). A refused claim answers how long until the window
//! ends (`Retry-After`).
//!
//! The fraud detector keeps the asynchronous signals (flags, order velocity) and its own
//! lock from the `LoginFailed` events: both are checked.

use std::future::Future;

use lambda_kit::config::{ConfigError, lookup_count, lookup_positive};

use crate::store::StoreError;

/// How many attempts may be in flight beyond the limit: the "handful" a burst of parallel
/// guesses can overshoot by, and the room parallel logins with the right password need.
pub const IN_FLIGHT_SLACK: u32 = 5;

/// The limits (from the environment; defaults in brackets).
///
/// | variable | meaning |
/// | --- | --- |
/// | `LOGIN_ACCOUNT_FAILURES` | failures per account per window before it is locked (5) |
/// | `LOGIN_IP_FAILURES` | failures per source IP per window before it gets 429 (20) |
/// | `LOGIN_WINDOW_SECONDS` | the window (900) |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// Failures per account per window.
    pub account_failures: u32,
    /// Failures per source IP per window.
    pub ip_failures: u32,
    /// The window in seconds.
    pub window_seconds: i64,
}

impl Default for AttemptLimits {
    fn default() -> Self {
        Self {
            account_failures: 5,
            ip_failures: 20,
            window_seconds: 900,
        }
    }
}

impl AttemptLimits {
    /// Reads the limits through `lookup`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            account_failures: lookup_count(
                "LOGIN_ACCOUNT_FAILURES",
                defaults.account_failures,
                lookup,
            )?,
            ip_failures: lookup_count("LOGIN_IP_FAILURES", defaults.ip_failures, lookup)?,
            window_seconds: lookup_positive(
                "LOGIN_WINDOW_SECONDS",
                defaults.window_seconds,
                lookup,
            )?,
        })
    }
}

/// What a counter is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttemptKey {
    /// A normalised e-mail, with or without an account.
    Account(String),
    /// A source IP.
    Ip(String),
}

impl AttemptKey {
    /// The users-table key of the counter.
    pub fn pk(&self) -> String {
        match self {
            Self::Account(email) => format!("ATTEMPTS#ACCOUNT#{email}"),
            Self::Ip(ip) => format!("ATTEMPTS#IP#{ip}"),
        }
    }
}

/// The answer to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The attempt may go ahead.
    Granted,
    /// `limit` attempts were claimed in this window: refused until it ends.
    Refused {
        /// Seconds until the window ends (at least 1).
        retry_after_seconds: i64,
    },
}

/// The attempt counters.
pub trait LoginAttempts: Send + Sync {
    /// Claims one attempt on `key`: [`Claim::Granted`] if the current window of
    /// `window_seconds` (a new one starts when the last one ended) has fewer than `limit`
    /// failures and fewer than `limit` + [`IN_FLIGHT_SLACK`] attempts, atomically.
    fn claim(
        &self,
        key: &AttemptKey,
        limit: u32,
        window_seconds: i64,
        now: i64,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Records that a claimed attempt failed (it stays counted, now as a failure).
    fn record_failure(
        &self,
        key: &AttemptKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives one claimed attempt back (a login that succeeded: only failures count).
    fn give_back(&self, key: &AttemptKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets every attempt on `key` (an account's successful login).
    fn clear(&self, key: &AttemptKey) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Seconds from `now` until the window that started at `window_start` ends, at least 1.
pub fn retry_after(window_start: i64, window_seconds: i64, now: i64) -> i64 {
    (window_start + window_seconds - now).max(1)
}

impl<T: LoginAttempts> LoginAttempts for std::sync::Arc<T> {
    async fn claim(
        &self,
        key: &AttemptKey,
        limit: u32,
        window_seconds: i64,
        now: i64,
    ) -> Result<Claim, StoreError> {
        (**self).claim(key, limit, window_seconds, now).await
    }
    async fn record_failure(&self, key: &AttemptKey) -> Result<(), StoreError> {
        (**self).record_failure(key).await
    }
    async fn give_back(&self, key: &AttemptKey) -> Result<(), StoreError> {
        (**self).give_back(key).await
    }
    async fn clear(&self, key: &AttemptKey) -> Result<(), StoreError> {
        (**self).clear(key).await
    }
}
