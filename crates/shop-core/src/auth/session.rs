//! Anonymous sessions: an opaque bearer token handed to the client once, stored only as its
//! SHA-256 hash, with a sliding expiry.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use lambda_kit::ids::{RandomError, fill_random, sha256_hex};

use std::future::Future;

use crate::store::StoreError;

/// Random bytes in a session token.
pub const TOKEN_BYTES: usize = 32;

/// The secret the client holds: 32 random bytes, base64url without padding (43 characters).
/// Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

impl SessionToken {
    /// A fresh random token.
    pub fn generate() -> Result<Self, RandomError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        fill_random(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps a token presented by a client. Returns `None` unless it has the shape of a
    /// token this service issues (cheap rejection before any store access).
    pub fn from_client(value: &str) -> Option<Self> {
        let decoded = URL_SAFE_NO_PAD.decode(value).ok()?;
        (decoded.len() == TOKEN_BYTES).then(|| Self(value.to_owned()))
    }

    /// The token string to give to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The identifier the session is stored under.
    pub fn id(&self) -> SessionId {
        SessionId::digest_of(&self.0)
    }
}

/// Lowercase hex SHA-256 of a session token: the only form in which a session is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    /// The lowercase hex SHA-256 of `input`.
    pub fn digest_of(input: &str) -> Self {
        Self(sha256_hex(input.as_bytes()))
    }

    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a hex digest read back from a store.
    pub fn from_hex(hex: &str) -> Option<Self> {
        (hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(hex.to_owned()))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored session. Times are Unix epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Hash of the token.
    pub id: SessionId,
    /// When the session was created.
    pub created_at: i64,
    /// When it stops being valid (also the DynamoDB TTL attribute); a write moves it on,
    /// never past `max_expires_at`.
    pub expires_at: i64,
    /// The absolute end, however active the session is (`None` for sessions stored before
    /// there was one).
    pub max_expires_at: Option<i64>,
    /// The signed-in user, if any (anonymous sessions have none).
    pub user_id: Option<String>,
    /// The signed-in user's e-mail (account locks are keyed by it).
    pub email: Option<String>,
    /// The signed-in user's role (`customer` or `admin`).
    pub role: Option<String>,
}

impl Session {
    /// A new anonymous session for `token`, valid for `ttl_seconds` from `now`.
    pub fn new_anonymous(token: &SessionToken, now: i64, ttl_seconds: i64) -> Self {
        Self {
            id: token.id(),
            created_at: now,
            expires_at: now.saturating_add(ttl_seconds),
            max_expires_at: None,
            user_id: None,
            email: None,
            role: None,
        }
    }

    /// A new session of a signed-in user.
    pub fn new_for_user(
        token: &SessionToken,
        now: i64,
        ttl_seconds: i64,
        user_id: &str,
        email: &str,
        role: &str,
    ) -> Self {
        Self {
            user_id: Some(user_id.to_owned()),
            email: Some(email.to_owned()),
            role: Some(role.to_owned()),
            ..Self::new_anonymous(token, now, ttl_seconds)
        }
    }

    /// The same session, ending `max_age_seconds` after it was created at the latest.
    #[must_use]
    pub fn limited_to(mut self, max_age_seconds: i64) -> Self {
        let max = self.created_at.saturating_add(max_age_seconds);
        self.max_expires_at = Some(max);
        self.expires_at = self.expires_at.min(max);
        self
    }

    /// DynamoDB deletes expired items lazily (up to days later), so every read checks this.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.expires_at > now && self.max_expires_at.is_none_or(|max| max > now)
    }
}

/// Why a bearer token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not a token this service could have issued.
    #[error("malformed session token")]
    Malformed,
    /// No session is stored for the token.
    #[error("unknown session")]
    Unknown,
    /// The session expired (the item may not have been deleted yet).
    #[error("session expired")]
    Expired,
    /// The session is valid but its account is locked.
    #[error("account locked until {until}")]
    Locked {
        /// Epoch seconds.
        until: i64,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves a bearer token to an unexpired session: the session half of
/// [`crate::auth::authenticate`] (which also checks the account), and on its own what logout
/// and the login's cart merge need.
pub async fn resolve_session<S: SessionStore>(
    store: &S,
    token: &str,
    now: i64,
) -> Result<Session, AuthError> {
    let token = SessionToken::from_client(token).ok_or(AuthError::Malformed)?;
    let session = store
        .get_session(&token.id())
        .await?
        .ok_or(AuthError::Unknown)?;
    if session.is_valid_at(now) {
        Ok(session)
    } else {
        Err(AuthError::Expired)
    }
}

/// Sessions (`SESSION#` items of the sessions table). The carts beside them in that table
/// are [`crate::cart::CartStore`]'s.
pub trait SessionStore: Send + Sync {
    /// Stores a new session; fails with [`StoreError::AlreadyExists`] if the id is taken.
    fn create_session(
        &self,
        session: &Session,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session stored under `id`, expired or not (callers check expiry).
    fn get_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;

    /// Moves the session's expiry to `expires_at` (sliding TTL), but never past its
    /// `max_expires_at`, and only while it is still valid at `now`: a write never revives an
    /// expired session that DynamoDB has not deleted yet. No-op if it is gone or expired.
    fn touch_session(
        &self,
        id: &SessionId,
        expires_at: i64,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the session (logout; idempotent).
    fn delete_session(&self, id: &SessionId)
    -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Partition key of a session item.
pub fn session_pk(id: &SessionId) -> String {
    format!("SESSION#{id}")
}

impl<T: SessionStore> SessionStore for std::sync::Arc<T> {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        (**self).create_session(session).await
    }
    async fn get_session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        (**self).get_session(id).await
    }
    async fn touch_session(
        &self,
        id: &SessionId,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        (**self).touch_session(id, expires_at, now).await
    }
    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        (**self).delete_session(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_char_base64url_and_hash_to_hex() {
        let Ok(token) = SessionToken::generate() else {
            panic!("no randomness")
        };
        assert_eq!(token.expose().len(), 43);
        assert!(
            token
                .expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert!(SessionToken::from_client(token.expose()).is_some());
        let id = token.id();
        assert_eq!(id.as_str().len(), 64);
        assert_eq!(SessionId::from_hex(id.as_str()), Some(id));
        let Ok(other) = SessionToken::generate() else {
            panic!("no randomness")
        };
        assert_ne!(token, other);
    }

    #[test]
    fn known_sha256() {
        // sha256("abc")
        let token = SessionToken("abc".to_owned());
        assert_eq!(
            token.id().as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn rejects_malformed_tokens() {
        for bad in ["", "abc", "not a token", &"A".repeat(44), &"+".repeat(43)] {
            assert!(SessionToken::from_client(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn validity_is_strictly_before_expiry() {
        let Ok(token) = SessionToken::generate() else {
            panic!("no randomness")
        };
        let session = Session::new_anonymous(&token, 1_000, 60);
        assert!(session.is_valid_at(1_059));
        assert!(!session.is_valid_at(1_060));
        let capped = Session::new_anonymous(&token, 1_000, 60).limited_to(30);
        assert_eq!(
            (capped.expires_at, capped.max_expires_at),
            (1_030, Some(1_030))
        );
        let mut slid = Session::new_anonymous(&token, 1_000, 60).limited_to(600);
        slid.expires_at = 5_000;
        assert!(
            !slid.is_valid_at(1_600),
            "the absolute end holds whatever expires_at says"
        );
        assert!(format!("{token:?}").contains("redacted"));
    }
}
