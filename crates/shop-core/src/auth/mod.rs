//! Accounts, login and the one authentication rule.
//!
//! [`authenticate`] is the only check of a bearer token: the session must exist and be
//! unexpired, and a signed-in user's account must not be locked. The Lambda authorizer wraps
//! it into an IAM policy ([`authorizer`]); the API handlers use the authorizer's context when
//! API Gateway passed one and call [`authenticate`] themselves when it did not (LocalStack
//! does not run REST API authorizers), so both paths enforce the same rule.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Principal`], [`authenticate`], [`principal_of`], e-mails, demo users, [`AuthApiSettings`], [`AuthorizerSettings`] |
//! | `session.rs` | session tokens and ids, [`session::Session`], the [`SessionStore`] trait |
//! | `users.rs` | [`User`], the [`UserStore`] trait, account locks |
//! | `password.rs` | [`PasswordHasher`] (Argon2id) |
//! | `attempts.rs` | the login brute-force guard: [`LoginAttempts`] counters per account and per IP, [`AttemptLimits`] |
//! | `api.rs` | auth-api: `POST /auth/register`, `/auth/login` (merges the anonymous cart through a [`crate::cart::CartStore`]), `/auth/logout` |
//! | `authorizer.rs` | the API Gateway TOKEN authorizer |
//! | `dynamo.rs` | [`DynamoSessionStore`] (`SESSION#` items of the sessions table), [`DynamoUserStore`] |
//! | `memory.rs` | `InMemorySessionStore`, `InMemoryUserStore` (tests and the `fakes` feature only) |
//! | `tests.rs` | the auth API, the authorizer, seeding, the settings |
//!
//! Carts share the sessions table but not this area's store: they are [`crate::cart`]'s.

pub mod api;
mod attempts;
pub mod authorizer;
mod dynamo;
#[cfg(any(test, feature = "fakes"))]
mod memory;
mod password;
pub mod session;
mod users;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt as _};

pub use attempts::{AttemptKey, AttemptLimits, Claim, IN_FLIGHT_SLACK, LoginAttempts, retry_after};
pub use dynamo::{DynamoSessionStore, DynamoUserStore};
#[cfg(any(test, feature = "fakes"))]
pub use memory::{InMemorySessionStore, InMemoryUserStore};
pub use password::{HashError, ITERATIONS, MEMORY_KIB, PARALLELISM, PasswordHasher};
pub use session::{SessionStore, session_pk};
pub use users::{ROLE_ADMIN, ROLE_CUSTOMER, User, UserStore};

use crate::api_error::ApiError;
use crate::config::Config;
use lambda_kit::config::{ConfigError, Settings, lookup_required};
use lambda_kit::http::bearer_token;
use session::{AuthError, SessionId};

/// auth-api's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `PRODUCTS_TABLE`, `SESSIONS_TABLE`, `SESSION_TTL_SECONDS` | the shared [`Config`] (the products table is required but not kept) |
/// | `USERS_TABLE` | the users table (required) |
/// | `EVENTS_TOPIC_ARN` | the topic login events are published to (required) |
/// | `LOGIN_ACCOUNT_FAILURES`, `LOGIN_IP_FAILURES`, `LOGIN_WINDOW_SECONDS` | the brute-force guard ([`AttemptLimits`]: optional, defaults 5, 20, 900) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthApiSettings {
    /// The sessions table (sessions and the carts merged at login).
    pub sessions_table: String,
    /// Session lifetime in seconds.
    pub session_ttl_seconds: i64,
    /// Absolute session lifetime in seconds.
    pub session_max_age_seconds: i64,
    /// The users table.
    pub users_table: String,
    /// The events topic.
    pub topic_arn: String,
    /// The brute-force guard's limits.
    pub attempt_limits: AttemptLimits,
}

impl Settings for AuthApiSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Config {
            sessions_table,
            session_ttl_seconds,
            session_max_age_seconds,
            ..
        } = Config::from_lookup(lookup)?;
        Ok(Self {
            sessions_table,
            session_ttl_seconds,
            session_max_age_seconds,
            users_table: lookup_required("USERS_TABLE", lookup)?,
            topic_arn: lookup_required("EVENTS_TOPIC_ARN", lookup)?,
            attempt_limits: AttemptLimits::from_lookup(lookup)?,
        })
    }
}

/// The authorizer's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `SESSIONS_TABLE` | the sessions table (required) |
/// | `USERS_TABLE` | the users table: account locks (required) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerSettings {
    /// The sessions table.
    pub sessions_table: String,
    /// The users table.
    pub users_table: String,
}

impl Settings for AuthorizerSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            sessions_table: lookup_required("SESSIONS_TABLE", lookup)?,
            users_table: lookup_required("USERS_TABLE", lookup)?,
        })
    }
}

/// Who is calling: the session and, once signed in, the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The session (hash of the bearer token).
    pub session_id: SessionId,
    /// The signed-in user, if any.
    pub user_id: Option<String>,
    /// The signed-in user's e-mail.
    pub email: Option<String>,
    /// The signed-in user's role.
    pub role: Option<String>,
}

impl Principal {
    /// The caller's user id if their account is an admin's *now*: the role copied into the
    /// session at login is not trusted (an admin demoted since keeps their sessions), so the
    /// account is read. `None` for anyone else; the caller answers its own 403.
    pub async fn current_admin(
        &self,
        users: &impl UserStore,
    ) -> Result<Option<String>, crate::store::StoreError> {
        let (Some(user_id), Some(email)) = (&self.user_id, &self.email) else {
            return Ok(None);
        };
        Ok(match users.get_user(email).await? {
            Some(user) if user.role == ROLE_ADMIN && &user.user_id == user_id => Some(user.user_id),
            _ => None,
        })
    }

    /// The key of the cart this principal works on: the session's own cart while anonymous,
    /// the user's cart once signed in.
    pub fn cart_id(&self) -> SessionId {
        match &self.user_id {
            Some(user_id) => user_cart_id(user_id),
            None => self.session_id.clone(),
        }
    }

    /// Reads the context the Lambda authorizer attached (`sessionId`, `userId`, `email`,
    /// `role`); `None` when API Gateway passed no authorizer context.
    pub fn from_authorizer_context(req: &Request) -> Option<Self> {
        let RequestContext::ApiGatewayV1(context) = req.request_context_ref()? else {
            return None;
        };
        let fields = &context.authorizer.fields;
        let field = |name: &str| {
            fields
                .get(name)
                .and_then(serde_json::Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let session_id = SessionId::from_hex(&field("sessionId")?)?;
        Some(Self {
            session_id,
            user_id: field("userId"),
            email: field("email"),
            role: field("role"),
        })
    }
}

/// The cart key of a signed-in user: SHA-256 of `USER#<user id>`, the same shape as a
/// session id, so user carts live in the same table under `CART#<hash>`.
pub fn user_cart_id(user_id: &str) -> SessionId {
    SessionId::digest_of(&format!("USER#{user_id}"))
}

/// Longest e-mail address, in bytes (RFC 5321's path limit). Also what keeps the users
/// table's keys and the login counters' keys within DynamoDB's key size.
pub const MAX_EMAIL_BYTES: usize = 254;

/// Trims and lowercases an e-mail; `None` unless it looks like `local@domain` (1–254 chars).
pub fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let valid = email.len() <= MAX_EMAIL_BYTES
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    valid.then_some(email)
}

/// The one authentication rule: a valid session, and no lock on its user's account.
pub async fn authenticate<S: SessionStore, U: UserStore>(
    sessions: &S,
    users: &U,
    token: &str,
    now: i64,
) -> Result<Principal, AuthError> {
    let session = crate::auth::session::resolve_session(sessions, token, now).await?;
    if let Some(email) = &session.email
        && let Some(until) = users.locked_until(email, now).await?
    {
        return Err(AuthError::Locked { until });
    }
    Ok(Principal {
        session_id: session.id,
        user_id: session.user_id,
        email: session.email,
        role: session.role,
    })
}

/// The principal of an API request: from the authorizer's context when API Gateway ran the
/// authorizer, else by calling [`authenticate`] on the bearer token.
pub async fn principal_of<S: SessionStore, U: UserStore>(
    req: &Request,
    sessions: &S,
    users: &U,
    now: i64,
) -> Result<Principal, ApiError> {
    if let Some(principal) = Principal::from_authorizer_context(req) {
        return Ok(principal);
    }
    let token = bearer_token(req)?;
    authenticate(sessions, users, token, now)
        .await
        .map_err(auth_error_to_api)
}

/// The API's answer to a failed authentication.
pub fn auth_error_to_api(err: AuthError) -> ApiError {
    match err {
        AuthError::Malformed | AuthError::Unknown => {
            ApiError::unauthorized("unknown session token".to_owned())
        }
        AuthError::Expired => ApiError::unauthorized("session expired: sign in again".to_owned()),
        AuthError::Locked { .. } => ApiError::AccountLocked,
        AuthError::Store(err) => err.into(),
    }
}

/// The demo accounts of a local stack: e-mail, password, role.
pub const DEMO_USERS: [(&str, &str, &str); 2] = [
    ("demo@shop.local", "demo-password", ROLE_CUSTOMER),
    ("admin@shop.local", "admin-password", ROLE_ADMIN),
];

/// Creates or resets the [`DEMO_USERS`] (repeatable: an existing account keeps its user id,
/// so its cart survives; its password and role are reset).
pub async fn seed_demo_users<U: UserStore>(
    users: &U,
    hasher: &PasswordHasher,
    now: i64,
) -> Result<Vec<User>, SeedError> {
    let mut seeded = Vec::with_capacity(DEMO_USERS.len());
    for (email, password, role) in DEMO_USERS {
        let existing = users.get_user(email).await?;
        let user = User {
            user_id: existing
                .as_ref()
                .map_or_else(lambda_kit::ids::new_uuid, |u| u.user_id.clone()),
            email: email.to_owned(),
            password_hash: hasher.hash(password)?,
            role: role.to_owned(),
            created_at: existing.map_or(now, |u| u.created_at),
        };
        users.put_user(&user).await?;
        seeded.push(user);
    }
    Ok(seeded)
}

/// Seeding the demo users failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The users table failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
}

#[cfg(test)]
mod tests;
