//! User accounts and account locks.
//!
//! DynamoDB layout of the users table (key `pk` (S), TTL attribute `expires_at`):
//! - `USER#<email>`: `user_id`, `email`, `password_hash` (Argon2id PHC string), `role`,
//!   `created_at`.
//! - `LOCK#<email>`: `locked_until` (N), `expires_at` (= `locked_until`, TTL), `event_id`
//!   (the event that caused the lock), `failures`. Locks are keyed by e-mail, not by user,
//!   so an e-mail without an account locks the same way (no account enumeration).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::store::{StoreError, n, s};

/// Role of an ordinary customer.
pub const ROLE_CUSTOMER: &str = "customer";

/// Role of an administrator.
pub const ROLE_ADMIN: &str = "admin";

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Opaque id (UUID).
    pub user_id: String,
    /// Normalised e-mail (trimmed, lowercase); the key.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// `customer` or `admin`.
    pub role: String,
    /// Epoch seconds.
    pub created_at: i64,
}

/// Accounts and locks.
pub trait UserStore: Send + Sync {
    /// Stores a new user; [`StoreError::AlreadyExists`] if the e-mail is taken.
    fn create_user(&self, user: &User) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Creates or replaces a user (seeding).
    fn put_user(&self, user: &User) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user with this (normalised) e-mail.
    fn get_user(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Until when the account of `email` is locked, if it is locked at `now`.
    fn locked_until(
        &self,
        email: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Locks `email` until `until` unless a lock is already in force. Returns `true` if this
    /// call (or an earlier run for the same `event_id`) set the lock, `false` if another
    /// lock was in force.
    fn lock(
        &self,
        email: &str,
        until: i64,
        event_id: &str,
        failures: u32,
        now: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

pub(super) fn user_pk(email: &str) -> String {
    format!("USER#{email}")
}

pub(super) fn lock_pk(email: &str) -> String {
    format!("LOCK#{email}")
}

pub(super) fn user_item(user: &User) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), s(user_pk(&user.email))),
        ("user_id".to_owned(), s(&user.user_id)),
        ("email".to_owned(), s(&user.email)),
        ("password_hash".to_owned(), s(&user.password_hash)),
        ("role".to_owned(), s(&user.role)),
        ("created_at".to_owned(), n(user.created_at)),
    ])
}

pub(super) fn user_from_item(
    email: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<User, StoreError> {
    let string = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Malformed {
            key: user_pk(email),
            problem: format!("attribute {name} is missing or not a string"),
        }),
    };
    Ok(User {
        user_id: string("user_id")?,
        email: string("email")?,
        password_hash: string("password_hash")?,
        role: string("role")?,
        created_at: match item.get("created_at") {
            Some(AttributeValue::N(v)) => v.parse().unwrap_or_default(),
            _ => 0,
        },
    })
}

impl<U: UserStore> UserStore for std::sync::Arc<U> {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        (**self).create_user(user).await
    }
    async fn put_user(&self, user: &User) -> Result<(), StoreError> {
        (**self).put_user(user).await
    }
    async fn get_user(&self, email: &str) -> Result<Option<User>, StoreError> {
        (**self).get_user(email).await
    }
    async fn locked_until(&self, email: &str, now: i64) -> Result<Option<i64>, StoreError> {
        (**self).locked_until(email, now).await
    }
    async fn lock(
        &self,
        email: &str,
        until: i64,
        event_id: &str,
        failures: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        (**self).lock(email, until, event_id, failures, now).await
    }
}
