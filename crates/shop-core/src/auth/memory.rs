//! auth: the in-memory adapters of [`UserStore`] and [`SessionStore`] (unit tests and the
//! `fakes` feature). They honour the same conditions as the DynamoDB ones (version-conditional
//! cart writes, create-only sessions).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use super::session::{CartMove, Session, SessionId, SessionStore};
use super::users::{User, UserStore, user_pk};
use crate::cart::{Cart, Quantity};
use crate::catalog::Sku;
use crate::store::{StoreError, lock};

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

#[derive(Debug, Clone)]
struct StoredCart {
    lines: BTreeMap<Sku, Quantity>,
    version: u64,
    expires_at: i64,
}

/// Sessions and carts in maps keyed by session id.
#[derive(Debug, Default)]
pub struct InMemorySessionStore {
    sessions: Mutex<HashMap<SessionId, Session>>,
    carts: Mutex<HashMap<SessionId, StoredCart>>,
}

impl InMemorySessionStore {
    /// The stored expiry of the session's cart item, if any (test inspection).
    pub fn cart_expires_at(&self, id: &SessionId) -> Option<i64> {
        lock(&self.carts).get(id).map(|c| c.expires_at)
    }
}

impl SessionStore for InMemorySessionStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut sessions = lock(&self.sessions);
        if sessions.contains_key(&session.id) {
            return Err(StoreError::AlreadyExists(super::session_pk(&session.id)));
        }
        sessions.insert(session.id.clone(), session.clone());
        Ok(())
    }

    async fn get_session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        Ok(lock(&self.sessions).get(id).cloned())
    }

    async fn touch_session(&self, id: &SessionId, expires_at: i64) -> Result<(), StoreError> {
        if let Some(session) = lock(&self.sessions).get_mut(id) {
            session.expires_at = expires_at;
        }
        Ok(())
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        lock(&self.sessions).remove(id);
        Ok(())
    }

    async fn get_cart(&self, id: &SessionId, now: i64) -> Result<Cart, StoreError> {
        // Let other tasks run between a read and the write that follows it, as real I/O
        // would, so that concurrent writers really conflict.
        tokio::task::yield_now().await;
        Ok(match lock(&self.carts).get(id) {
            None => Cart::default(),
            Some(stored) if stored.expires_at <= now => Cart {
                lines: BTreeMap::new(),
                version: stored.version,
            },
            Some(stored) => Cart {
                lines: stored.lines.clone(),
                version: stored.version,
            },
        })
    }

    async fn put_cart(
        &self,
        id: &SessionId,
        cart: &Cart,
        _now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut carts = lock(&self.carts);
        let stored_version = carts.get(id).map(|c| c.version);
        let matches = match stored_version {
            None => cart.version == 0,
            Some(v) => v == cart.version && cart.version != 0,
        };
        if !matches {
            return Err(StoreError::VersionConflict {
                expected: cart.version,
            });
        }
        carts.insert(
            id.clone(),
            StoredCart {
                lines: cart.lines.clone(),
                version: cart.version + 1,
                expires_at,
            },
        );
        Ok(())
    }

    async fn delete_cart(&self, id: &SessionId) -> Result<(), StoreError> {
        lock(&self.carts).remove(id);
        Ok(())
    }

    async fn move_cart(
        &self,
        source: &SessionId,
        source_version: u64,
        target: &SessionId,
        merged: &Cart,
        _now: i64,
        expires_at: i64,
    ) -> Result<CartMove, StoreError> {
        let mut carts = lock(&self.carts);
        if carts.get(source).map(|c| c.version) != Some(source_version) {
            return Ok(CartMove::SourceChanged);
        }
        let target_matches = match carts.get(target).map(|c| c.version) {
            None => merged.version == 0,
            Some(v) => v == merged.version && merged.version != 0,
        };
        if !target_matches {
            return Ok(CartMove::TargetChanged);
        }
        carts.insert(
            target.clone(),
            StoredCart {
                lines: merged.lines.clone(),
                version: merged.version + 1,
                expires_at,
            },
        );
        carts.remove(source);
        Ok(CartMove::Moved)
    }
}
