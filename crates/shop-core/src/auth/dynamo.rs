//! auth: the DynamoDB adapters of [`UserStore`] (users table) and [`SessionStore`]
//! (`SESSION#` items of the sessions table).
//!
//! The carts share the sessions table (`CART#` items, a cart lives and expires with its
//! session) but have their own adapter, [`crate::cart::DynamoCartStore`].

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::attempts::{AttemptKey, Claim, IN_FLIGHT_SLACK, LoginAttempts, retry_after};
use super::session::{Session, SessionId, SessionStore, session_pk};
use super::users::{User, UserStore, lock_pk, user_from_item, user_item, user_pk};
use crate::store::{
    Item, ItemReader, StoreError, backend, delete_item, is_conditional_failure, n, pk_key, s,
};

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

impl LoginAttempts for DynamoUserStore {
    async fn claim(
        &self,
        key: &AttemptKey,
        limit: u32,
        window_seconds: i64,
        now: i64,
    ) -> Result<Claim, StoreError> {
        let pk = key.pk();
        let cutoff = now - window_seconds;
        // Two conditional writes, each atomic on the item: start a new window when there is
        // none (or it ended), else count one more while under the limit. A race between
        // them (the window ending in between) is settled by going round again.
        for _ in 0..3 {
            let started = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(pk_key(pk.clone())))
                .update_expression(
                    "SET attempts = :one, failures = :zero, window_start = :now, expires_at = :end",
                )
                .condition_expression("attribute_not_exists(pk) OR window_start <= :cutoff")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":end", n(now + window_seconds))
                .expression_attribute_values(":cutoff", n(cutoff))
                .send()
                .await;
            match started {
                Ok(_) => return Ok(Claim::Granted),
                Err(err) if is_conditional_failure(&err) => {}
                Err(err) => return Err(backend("UpdateItem login attempts (window)", &err)),
            }
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(pk_key(pk.clone())))
                .update_expression("ADD attempts :one")
                .condition_expression(
                    "failures < :limit AND attempts < :cap AND window_start > :cutoff",
                )
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":limit", n(i64::from(limit)))
                .expression_attribute_values(":cap", n(i64::from(limit + IN_FLIGHT_SLACK)))
                .expression_attribute_values(":cutoff", n(cutoff))
                .send()
                .await;
            match counted {
                Ok(_) => return Ok(Claim::Granted),
                Err(err) if is_conditional_failure(&err) => {}
                Err(err) => return Err(backend("UpdateItem login attempts (count)", &err)),
            }
            // Refused, unless the window ended in between: read it to say until when.
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(pk_key(pk.clone())))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| backend("GetItem login attempts", &e))?;
            let window_start = match item.item().and_then(|i| i.get("window_start")) {
                Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
                _ => None,
            };
            if let Some(window_start) = window_start.filter(|start| *start > cutoff) {
                return Ok(Claim::Refused {
                    retry_after_seconds: retry_after(window_start, window_seconds, now),
                });
            }
        }
        Err(StoreError::Backend {
            operation: "UpdateItem login attempts",
            message: format!("{pk} kept changing under three claims in a row"),
        })
    }

    async fn record_failure(&self, key: &AttemptKey) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(pk_key(key.pk())))
            .update_expression("ADD failures :one")
            .condition_expression("attribute_exists(window_start)")
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Cleared meanwhile by a success: nothing to count against.
            Err(err) if is_conditional_failure(&err) => Ok(()),
            Err(err) => Err(backend("UpdateItem login attempts (failure)", &err)),
        }
    }

    async fn give_back(&self, key: &AttemptKey) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(pk_key(key.pk())))
            .update_expression("ADD attempts :minus_one")
            .condition_expression("attempts > :zero")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Nothing counted (the window ended and the item expired): nothing to give back.
            Err(err) if is_conditional_failure(&err) => Ok(()),
            Err(err) => Err(backend("UpdateItem login attempts (give back)", &err)),
        }
    }

    async fn clear(&self, key: &AttemptKey) -> Result<(), StoreError> {
        delete_item(
            &self.client,
            &self.table,
            pk_key(key.pk()),
            "DeleteItem login attempts",
        )
        .await
    }
}

/// Sessions in one DynamoDB table keyed by `pk` (`SESSION#<id>`), with TTL on `expires_at`;
/// the carts beside them are [`crate::cart::DynamoCartStore`]'s.
#[derive(Debug, Clone)]
pub struct DynamoSessionStore {
    client: Client,
    table: String,
}

impl DynamoSessionStore {
    /// A store on `table`, using `client` (build the client once per process).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn session_from_item(id: &SessionId, item: &Item) -> Result<Session, StoreError> {
    let key = session_pk(id);
    let r = ItemReader { item, key: &key };
    Ok(Session {
        id: id.clone(),
        created_at: r.number("created_at")?,
        expires_at: r.number("expires_at")?,
        max_expires_at: r.optional_number("max_expires_at")?,
        user_id: r.optional_string("user_id")?,
        email: r.optional_string("email")?,
        role: r.optional_string("role")?,
    })
}

impl SessionStore for DynamoSessionStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let pk = session_pk(&session.id);
        let mut item = HashMap::from([
            ("pk".to_owned(), s(&pk)),
            ("created_at".to_owned(), n(session.created_at)),
            ("expires_at".to_owned(), n(session.expires_at)),
        ]);
        if let Some(max) = session.max_expires_at {
            item.insert("max_expires_at".to_owned(), n(max));
        }
        for (name, value) in [
            ("user_id", &session.user_id),
            ("email", &session.email),
            ("role", &session.role),
        ] {
            if let Some(value) = value {
                item.insert(name.to_owned(), s(value));
            }
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_conditional_failure(&err) => Err(StoreError::AlreadyExists(pk)),
            Err(err) => Err(backend("PutItem session", &err)),
        }
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(pk_key(session_pk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem session", &e))?;
        output
            .item()
            .map(|item| session_from_item(id, item))
            .transpose()
    }

    async fn touch_session(
        &self,
        id: &SessionId,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        // Still valid, and the new expiry within the absolute end; else, when only the end
        // is in the way, the expiry moves to the end.
        let within = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(pk_key(session_pk(id))))
            .update_expression("SET expires_at = :e")
            .condition_expression(
                "expires_at > :now AND (attribute_not_exists(max_expires_at) OR max_expires_at >= :e)",
            )
            .expression_attribute_values(":e", n(expires_at))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match within {
            Ok(_) => return Ok(()),
            Err(err) if is_conditional_failure(&err) => {}
            Err(err) => return Err(backend("UpdateItem session", &err)),
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(pk_key(session_pk(id))))
            .update_expression("SET expires_at = max_expires_at")
            .condition_expression("expires_at > :now AND max_expires_at > :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The session is gone or has expired: nothing to refresh (and no stub item is
            // created, no expired session revived).
            Err(err) if is_conditional_failure(&err) => Ok(()),
            Err(err) => Err(backend("UpdateItem session", &err)),
        }
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        delete_item(
            &self.client,
            &self.table,
            pk_key(session_pk(id)),
            "DeleteItem session",
        )
        .await
    }
}
