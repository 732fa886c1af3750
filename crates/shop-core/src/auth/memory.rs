//! auth: the in-memory adapters of [`UserStore`] and [`SessionStore`] (unit tests and the
//! `fakes` feature). They honour the same conditions as the DynamoDB ones (create-only
//! sessions); the carts' is [`crate::cart::InMemoryCartStore`].

use std::collections::HashMap;
use std::sync::Mutex;

use super::attempts::{AttemptKey, Claim, IN_FLIGHT_SLACK, LoginAttempts, retry_after};
use super::session::{Session, SessionId, SessionStore};
use super::users::{User, UserStore, user_pk};
use crate::store::StoreError;
use lambda_kit::sync::lock;

/// Users in memory (tests).
#[derive(Debug, Default)]
pub struct InMemoryUserStore {
    users: Mutex<HashMap<String, User>>,
    locks: Mutex<HashMap<String, (i64, String)>>,
    /// Counter key → (window start, attempts, failures).
    attempts: Mutex<HashMap<String, (i64, u32, u32)>>,
}

impl LoginAttempts for InMemoryUserStore {
    async fn claim(
        &self,
        key: &AttemptKey,
        limit: u32,
        window_seconds: i64,
        now: i64,
    ) -> Result<Claim, StoreError> {
        let mut attempts = lock(&self.attempts);
        let counter = attempts.entry(key.pk()).or_insert((now, 0, 0));
        if counter.0 <= now - window_seconds {
            *counter = (now, 0, 0);
        }
        if counter.2 >= limit || counter.1 >= limit + IN_FLIGHT_SLACK {
            return Ok(Claim::Refused {
                retry_after_seconds: retry_after(counter.0, window_seconds, now),
            });
        }
        counter.1 += 1;
        Ok(Claim::Granted)
    }

    async fn record_failure(&self, key: &AttemptKey) -> Result<(), StoreError> {
        if let Some(counter) = lock(&self.attempts).get_mut(&key.pk()) {
            counter.2 += 1;
        }
        Ok(())
    }

    async fn give_back(&self, key: &AttemptKey) -> Result<(), StoreError> {
        if let Some(counter) = lock(&self.attempts).get_mut(&key.pk()) {
            counter.1 = counter.1.saturating_sub(1);
        }
        Ok(())
    }

    async fn clear(&self, key: &AttemptKey) -> Result<(), StoreError> {
        lock(&self.attempts).remove(&key.pk());
        Ok(())
    }
}

impl UserStore for InMemoryUserStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let mut users = lock(&self.users);
        if users.contains_key(&user.email) {
            return Err(StoreError::AlreadyExists(user_pk(&user.email)));
        }
        users.insert(user.email.clone(), user.clone());
        Ok(())
    }

    async fn put_user(&self, user: &User) -> Result<(), StoreError> {
        lock(&self.users).insert(user.email.clone(), user.clone());
        Ok(())
    }

    async fn get_user(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(lock(&self.users).get(email).cloned())
    }

    async fn locked_until(&self, email: &str, now: i64) -> Result<Option<i64>, StoreError> {
        Ok(lock(&self.locks)
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
        let mut locks = lock(&self.locks);
        match locks.get(email) {
            Some((current, by)) if *current > now && by != event_id => Ok(false),
            _ => {
                locks.insert(email.to_owned(), (until, event_id.to_owned()));
                Ok(true)
            }
        }
    }
}

/// Sessions in a map keyed by session id.
#[derive(Debug, Default)]
pub struct InMemorySessionStore {
    sessions: Mutex<HashMap<SessionId, Session>>,
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

    async fn touch_session(
        &self,
        id: &SessionId,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        if let Some(session) = lock(&self.sessions).get_mut(id)
            && session.is_valid_at(now)
        {
            session.expires_at = session
                .max_expires_at
                .map_or(expires_at, |max| expires_at.min(max));
        }
        Ok(())
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        lock(&self.sessions).remove(id);
        Ok(())
    }
}
