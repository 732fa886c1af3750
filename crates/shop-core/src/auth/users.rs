//! User accounts and account locks.
//!
//! DynamoDB layout of the users table (key `pk` (S), TTL attribute `expires_at`):
//! - `USER#<email>`: `user_id`, `email`, `password_hash` (Argon2id PHC string), `role`,
//!   `created_at`.
//! - `LOCK#<email>`: `locked_until` (N), `expires_at` (= `locked_until`, TTL), `event_id`
//!   (the event that caused the lock), `failures`. Locks are keyed by e-mail, not by user,
//!   so an e-mail without an account locks the same way (no account enumeration).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::store::{StoreError, backend, is_conditional_failure, n, s};

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

fn user_pk(email: &str) -> String {
    format!("USER#{email}")
}

fn lock_pk(email: &str) -> String {
    format!("LOCK#{email}")
}

/// Users in DynamoDB (layout in the module docs).
#[derive(Debug, Clone)]
pub struct DynamoUserStore {
    client: Client,
    table: String,
}

impl DynamoUserStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn user_item(user: &User) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), s(user_pk(&user.email))),
        ("user_id".to_owned(), s(&user.user_id)),
        ("email".to_owned(), s(&user.email)),
        ("password_hash".to_owned(), s(&user.password_hash)),
        ("role".to_owned(), s(&user.role)),
        ("created_at".to_owned(), n(user.created_at)),
    ])
}

fn user_from_item(email: &str, item: &HashMap<String, AttributeValue>) -> Result<User, StoreError> {
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

impl UserStore for DynamoUserStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(user_item(user)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_conditional_failure(&err) => {
                Err(StoreError::AlreadyExists(user_pk(&user.email)))
            }
            Err(err) => Err(backend("PutItem user", &err)),
        }
    }

    async fn put_user(&self, user: &User) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(user_item(user)))
            .send()
            .await
            .map_err(|e| backend("PutItem user", &e))?;
        Ok(())
    }

    async fn get_user(&self, email: &str) -> Result<Option<User>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(user_pk(email)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem user", &e))?;
        output
            .item()
            .map(|item| user_from_item(email, item))
            .transpose()
    }

    async fn locked_until(&self, email: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(lock_pk(email)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem lock", &e))?;
        Ok(match output.item().and_then(|i| i.get("locked_until")) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().ok().filter(|until| *until > now),
            _ => None,
        })
    }

    async fn lock(
        &self,
        email: &str,
        until: i64,
        event_id: &str,
        failures: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(lock_pk(email)))
            .item("email", s(email))
            .item("locked_until", n(until))
            .item("expires_at", n(until))
            .item("event_id", s(event_id))
            .item("failures", n(i64::from(failures)))
            .item("locked_at", n(now))
            .condition_expression(
                "attribute_not_exists(pk) OR locked_until <= :now OR event_id = :event",
            )
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":event", s(event_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_failure(&err) => Ok(false),
            Err(err) => Err(backend("PutItem lock", &err)),
        }
    }
}

/// Users in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryUserStore {
    users: Mutex<HashMap<String, User>>,
    locks: Mutex<HashMap<String, (i64, String)>>,
}

impl UserStore for InMemoryUserStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if users.contains_key(&user.email) {
            return Err(StoreError::AlreadyExists(user_pk(&user.email)));
        }
        users.insert(user.email.clone(), user.clone());
        Ok(())
    }

    async fn put_user(&self, user: &User) -> Result<(), StoreError> {
        self.users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.email.clone(), user.clone());
        Ok(())
    }

    async fn get_user(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(email)
            .cloned())
    }

    async fn locked_until(&self, email: &str, now: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(email)
            .map(|(until, _)| *until)
            .filter(|until| *until > now))
    }

    async fn lock(
        &self,
        email: &str,
        until: i64,
        event_id: &str,
        _failures: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        match locks.get(email) {
            Some((current, by)) if *current > now && by != event_id => Ok(false),
            _ => {
                locks.insert(email.to_owned(), (until, event_id.to_owned()));
                Ok(true)
            }
        }
    }
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
