//! auth-api: accounts and sign-in.
//!
//! - `POST /auth/register` `{"email","password"}` → 202 `{"email"}`, the same for a new
//!   address and for one that has an account (no enumeration: the owner of a taken one gets
//!   a `DUPLICATE_REGISTRATION` notification instead, through `DuplicateRegistration`); 400
//!   `INVALID_REQUEST` for a malformed e-mail or a password outside 8..=128 characters. The
//!   password is hashed either way, so both answers take as long, but for the taken
//!   address's best-effort publish.
//! - `POST /auth/login` `{"email","password"}` → 200 `{"token","expiresAt","userId","email",
//!   "role"}`; 401 `UNAUTHORIZED` with one generic message whatever was wrong (unknown
//!   e-mail or wrong password: no account enumeration); 403 `ACCOUNT_LOCKED` once the
//!   account had 5 failures in its window (the synchronous guard, [`super::LoginAttempts`],
//!   checked before the password is hashed, also for the right password and for e-mails
//!   without an account) or while the fraud detector's lock is in force; 429
//!   `TOO_MANY_ATTEMPTS` with `Retry-After` once the source IP had too many failures. A
//!   bearer token of an anonymous session, if sent, has its cart merged into the user's cart
//!   and is then ended.
//! - `POST /auth/logout` (bearer) → 204; the session is deleted.
//!
//! Login publishes `LoginSucceeded` / `LoginFailed` after the state change (the new session
//! and the merged cart are written first). Publishing is best effort with a short timeout:
//! a failure is logged and never fails the login.

use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt as _, Response};
use serde::{Deserialize, Serialize};

use super::{
    AttemptKey, AttemptLimits, Claim, LoginAttempts, MAX_EMAIL_BYTES, PasswordHasher,
    ROLE_CUSTOMER, User, UserStore, normalize_email,
};
use crate::api_error::ApiError;
use crate::auth::SessionStore;
use crate::auth::session::{Session, SessionToken};
use crate::cart::{Cart, CartMerge, CartMove, CartStore};
use crate::events::{DuplicateRegistration, LoginFailed, LoginSucceeded, ShopEvent};
use crate::store::StoreError;
use lambda_kit::clock::{Clock, rfc3339};
use lambda_kit::http::{
    Route, correlation_id, empty_response, json_response, match_route, parse_json_body, serve,
};
use lambda_kit::ids::new_uuid as new_event_id;
use lambda_kit::messaging::{EventPublisher, publish_best_effort};

/// Name of the function (log field, crate and binary name, event `source`).
pub const FUNCTION_NAME: &str = "auth-api";

/// The one message of every failed login.
pub const LOGIN_FAILED_MESSAGE: &str = "invalid email or password";

/// Longest time a login waits for the event to be published.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_millis(1_500);

/// Password length accepted at registration.
pub const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 8..=128;

/// Attempts of the conditional write that merges an anonymous cart.
const MERGE_ATTEMPTS: u32 = 10;

/// The resources this function serves.
pub const ROUTES: &[Route] = &[
    Route {
        resource: "/auth/register",
        methods: &["POST"],
    },
    Route {
        resource: "/auth/login",
        methods: &["POST"],
    },
    Route {
        resource: "/auth/logout",
        methods: &["POST"],
    },
];

/// `POST /auth/login` body.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
pub(crate) struct Credentials {
    /// The account's address, compared case-insensitively (at most 254 bytes).
    #[cfg_attr(feature = "schemas", schemars(length(max = 254)))]
    email: String,
    /// The account's password.
    password: String,
}

/// `POST /auth/register` body: the same fields, with what a new account needs (the document
/// states the limits the handler checks: [`MAX_EMAIL_BYTES`], [`PASSWORD_LENGTH`]).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
pub(crate) struct NewAccount {
    /// `name@domain`, at most 254 bytes, no whitespace; stored lowercased.
    #[cfg_attr(feature = "schemas", schemars(email, length(min = 3, max = 254)))]
    email: String,
    /// 8 to 128 characters.
    #[cfg_attr(feature = "schemas", schemars(length(min = 8, max = 128)))]
    password: String,
}

/// `POST /auth/register` body: the same whether the address was new or taken.
#[derive(Debug, Serialize)]
#[cfg_attr(
    feature = "schemas",
    derive(schemars::JsonSchema),
    schemars(rename = "Registration")
)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Registered {
    /// The address, normalised.
    email: String,
}

/// `POST /auth/login` body.
#[derive(Debug, Serialize)]
#[cfg_attr(
    feature = "schemas",
    derive(schemars::JsonSchema),
    schemars(rename = "SignedIn")
)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoggedIn {
    /// The new session's bearer token.
    token: String,
    /// RFC 3339.
    #[cfg_attr(feature = "schemas", schemars(extend("format" = "date-time")))]
    expires_at: String,
    /// The account.
    user_id: String,
    /// The account's address.
    email: String,
    /// `customer` or `admin`.
    role: String,
}

/// Where a login came from (event detail).
#[derive(Debug, Clone, Default)]
struct Origin {
    source_ip: String,
    user_agent: String,
    correlation_id: String,
}

fn origin(req: &Request) -> Origin {
    let (source_ip, context_agent) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => (
            context.identity.source_ip.clone().unwrap_or_default(),
            context.identity.user_agent.clone(),
        ),
        _ => (String::new(), None),
    };
    let user_agent = context_agent
        .or_else(|| {
            req.headers()
                .get(lambda_http::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    Origin {
        source_ip,
        user_agent: user_agent.chars().take(256).collect(),
        correlation_id: correlation_id(req),
    }
}

/// The auth API over sessions, carts (the login's merge), users and the event topic.
#[derive(Debug)]
pub struct AuthApi<S, C, U, P> {
    sessions: S,
    carts: C,
    users: U,
    publisher: P,
    hasher: PasswordHasher,
    session_ttl_seconds: i64,
    session_max_age_seconds: i64,
    attempt_limits: AttemptLimits,
    clock: Clock,
}

impl<S: SessionStore, C: CartStore, U: UserStore + LoginAttempts, P: EventPublisher>
    AuthApi<S, C, U, P>
{
    /// The API; sessions live `session_ttl_seconds` after the last write. `carts` holds the
    /// anonymous cart a login merges into the user's.
    pub fn new(sessions: S, carts: C, users: U, publisher: P, session_ttl_seconds: i64) -> Self {
        Self {
            sessions,
            carts,
            users,
            publisher,
            hasher: PasswordHasher::default(),
            session_ttl_seconds,
            session_max_age_seconds: crate::config::DEFAULT_SESSION_MAX_AGE_SECONDS,
            attempt_limits: AttemptLimits::default(),
            clock: Clock::System,
        }
    }

    /// Sets the absolute session lifetime (default 7 days).
    #[must_use]
    pub fn with_session_max_age(mut self, seconds: i64) -> Self {
        self.session_max_age_seconds = seconds;
        self
    }

    /// Replaces the brute-force guard's limits (default: [`AttemptLimits::default`]).
    #[must_use]
    pub fn with_attempt_limits(mut self, limits: AttemptLimits) -> Self {
        self.attempt_limits = limits;
        self
    }

    /// Replaces the password hasher (tests use cheap parameters).
    #[must_use]
    pub fn with_hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The session store (tests).
    pub fn sessions(&self) -> &S {
        &self.sessions
    }

    /// The cart store (tests).
    pub fn carts(&self) -> &C {
        &self.carts
    }

    /// The user store (tests, seeding).
    pub fn users(&self) -> &U {
        &self.users
    }

    /// The publisher (tests).
    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    /// Handles one API Gateway request.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        serve(FUNCTION_NAME, &req, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let route = match_route(ROUTES, req)?;
        match route.resource {
            "/auth/register" => self.register(req).await,
            "/auth/login" => self.login(req).await,
            _ => self.logout(req).await,
        }
    }

    /// Creates an account (shared with `shopctl seed`).
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        role: &str,
    ) -> Result<User, ApiError> {
        let email = normalize_email(email).ok_or_else(|| {
            ApiError::invalid_request("email must look like name@domain".to_owned())
        })?;
        if !PASSWORD_LENGTH.contains(&password.chars().count()) {
            return Err(ApiError::invalid_request(format!(
                "password must have {} to {} characters",
                PASSWORD_LENGTH.start(),
                PASSWORD_LENGTH.end()
            )));
        }
        let password_hash = self
            .hasher
            .hash(password)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let user = User {
            user_id: new_event_id(),
            email,
            password_hash,
            role: role.to_owned(),
            created_at: self.clock.now(),
        };
        match self.users.create_user(&user).await {
            Ok(()) => Ok(user),
            Err(StoreError::AlreadyExists(_)) => Err(ApiError::EmailTaken),
            Err(err) => Err(err.into()),
        }
    }

    /// 202 `{"email"}` whether the address was new or taken: the answer never tells anyone
    /// who has an account. A taken address's owner is told instead (`DuplicateRegistration`
    /// → notifier).
    async fn register(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let credentials: NewAccount = parse_json_body(req)?;
        let origin = origin(req);
        let email = match self
            .create_user(&credentials.email, &credentials.password, ROLE_CUSTOMER)
            .await
        {
            Ok(user) => {
                tracing::info!(user_id = %user.user_id, "user registered");
                user.email
            }
            Err(ApiError::EmailTaken) => {
                // `create_user` accepted the address, so it normalises.
                let email = normalize_email(&credentials.email).unwrap_or_default();
                let event = ShopEvent::DuplicateRegistration(DuplicateRegistration {
                    email: email.clone(),
                    source_ip: origin.source_ip.clone(),
                    user_agent: origin.user_agent.clone(),
                })
                .to_envelope(
                    FUNCTION_NAME,
                    &origin.correlation_id,
                    self.clock.now(),
                );
                publish_best_effort(&self.publisher, &event, PUBLISH_TIMEOUT).await;
                tracing::info!("registration of an address that has an account: owner told");
                email
            }
            Err(err) => return Err(err),
        };
        Ok(json_response(StatusCode::ACCEPTED, &Registered { email }))
    }

    async fn login(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let credentials: Credentials = parse_json_body(req)?;
        let origin = origin(req);
        let now = self.clock.now();
        // An address that is not an e-mail is counted (and answered) like an unknown one.
        let email = normalize_email(&credentials.email)
            .unwrap_or_else(|| credentials.email.trim().to_lowercase());
        // ... unless it is longer than any address can be: it keys the counters, and a key
        // past DynamoDB's size limit failed the request (500). No account has such an
        // address, so refusing it tells nobody anything.
        if email.len() > MAX_EMAIL_BYTES {
            return Err(ApiError::invalid_request(format!(
                "email must be at most {MAX_EMAIL_BYTES} bytes"
            )));
        }
        let account = AttemptKey::Account(email.clone());
        let ip = AttemptKey::Ip(origin.source_ip.clone());
        let limits = self.attempt_limits;
        // Claim the attempts before any password is hashed, in parallel with the reads.
        let (user, locked_until, account_claim, ip_claim) = tokio::join!(
            self.users.get_user(&email),
            self.users.locked_until(&email, now),
            self.users.claim(
                &account,
                limits.account_failures,
                limits.window_seconds,
                now
            ),
            self.users
                .claim(&ip, limits.ip_failures, limits.window_seconds, now),
        );
        let (user, locked_until) = (user?, locked_until?);
        if let Claim::Refused {
            retry_after_seconds,
        } = ip_claim?
        {
            tracing::warn!(
                source_ip = %origin.source_ip,
                retry_after_seconds,
                "login refused: too many failures from this address"
            );
            self.publish_failure(&email, user.as_ref(), "IP_THROTTLED", &origin, now)
                .await;
            return Err(ApiError::TooManyAttempts {
                retry_after_seconds,
            });
        }
        let account_claim = account_claim?;
        if locked_until.is_some() || account_claim != Claim::Granted {
            tracing::info!(
                ?locked_until,
                ?account_claim,
                "login refused: account locked"
            );
            self.publish_failure(&email, user.as_ref(), "ACCOUNT_LOCKED", &origin, now)
                .await;
            return Err(ApiError::AccountLocked);
        }
        let user = match user {
            Some(user)
                if self
                    .hasher
                    .verify(&credentials.password, &user.password_hash) =>
            {
                user
            }
            Some(user) => {
                self.record_failure(&account, &ip).await;
                self.publish_failure(&email, Some(&user), "INVALID_CREDENTIALS", &origin, now)
                    .await;
                return Err(ApiError::unauthorized(LOGIN_FAILED_MESSAGE.to_owned()));
            }
            None => {
                self.hasher.verify_dummy(&credentials.password);
                self.record_failure(&account, &ip).await;
                self.publish_failure(&email, None, "INVALID_CREDENTIALS", &origin, now)
                    .await;
                return Err(ApiError::unauthorized(LOGIN_FAILED_MESSAGE.to_owned()));
            }
        };
        // Only failures count: the account's slate is wiped, the address's attempt given
        // back. Best effort: a counter left one too high only shortens the next window.
        let (cleared, given_back) =
            tokio::join!(self.users.clear(&account), self.users.give_back(&ip));
        if let Err(err) = cleared.and(given_back) {
            tracing::warn!(error = %err, "login attempts not reset after a success");
        }

        // The state change: a fresh session (never reuse the caller's token: no session
        // fixation) and the anonymous cart merged into the user's.
        let token = SessionToken::generate().map_err(|e| ApiError::internal(e.to_string()))?;
        let session = Session::new_for_user(
            &token,
            now,
            self.session_ttl_seconds,
            &user.user_id,
            &user.email,
            &user.role,
        )
        .limited_to(self.session_max_age_seconds);
        self.sessions.create_session(&session).await?;
        let merged = self.merge_anonymous_cart(req, &user, now).await?;

        // Only now the event.
        let event = ShopEvent::LoginSucceeded(LoginSucceeded {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
            role: user.role.clone(),
            source_ip: origin.source_ip.clone(),
            user_agent: origin.user_agent.clone(),
            merged_cart_lines: u32::try_from(merged).unwrap_or(u32::MAX),
        })
        .to_envelope(FUNCTION_NAME, &origin.correlation_id, now);
        publish_best_effort(&self.publisher, &event, PUBLISH_TIMEOUT).await;
        tracing::info!(user_id = %user.user_id, merged_cart_lines = merged, "login succeeded");
        Ok(json_response(
            StatusCode::OK,
            &LoggedIn {
                token: token.expose().to_owned(),
                expires_at: rfc3339(session.expires_at),
                user_id: user.user_id,
                email: user.email,
                role: user.role,
            },
        ))
    }

    /// Counts a failed password on the account and the address. Best effort: the attempt
    /// was claimed already, so a lost write still counts it towards the in-flight cap.
    async fn record_failure(&self, account: &AttemptKey, ip: &AttemptKey) {
        let (on_account, on_ip) = tokio::join!(
            self.users.record_failure(account),
            self.users.record_failure(ip)
        );
        if let Err(err) = on_account.and(on_ip) {
            tracing::warn!(error = %err, "failed login not counted");
        }
    }

    async fn publish_failure(
        &self,
        email: &str,
        user: Option<&User>,
        reason: &str,
        origin: &Origin,
        now: i64,
    ) {
        let event = ShopEvent::LoginFailed(LoginFailed {
            email: email.to_owned(),
            user_id: user.map(|u| u.user_id.clone()),
            reason: reason.to_owned(),
            source_ip: origin.source_ip.clone(),
            user_agent: origin.user_agent.clone(),
        })
        .to_envelope(FUNCTION_NAME, &origin.correlation_id, now);
        tracing::info!(reason, "login failed");
        publish_best_effort(&self.publisher, &event, PUBLISH_TIMEOUT).await;
    }

    /// Merges the cart of the caller's anonymous session (if the request carries a valid
    /// one) into the user's cart, then ends that session. Returns the number of lines
    /// merged.
    async fn merge_anonymous_cart(
        &self,
        req: &Request,
        user: &User,
        now: i64,
    ) -> Result<usize, ApiError> {
        let Ok(token) = lambda_kit::http::bearer_token(req) else {
            return Ok(0);
        };
        let Ok(anonymous) = crate::auth::session::resolve_session(&self.sessions, token, now).await
        else {
            return Ok(0);
        };
        if anonymous.user_id.is_some() {
            return Ok(0);
        }
        let source = self.carts.get_cart(&anonymous.id, now).await?;
        let mut lines = source.lines.len();
        if lines > 0 {
            let target = super::user_cart_id(&user.user_id);
            let expires_at = now.saturating_add(self.session_ttl_seconds);
            let mut done = false;
            for _ in 0..MERGE_ATTEMPTS {
                let mut cart: Cart = self.carts.get_cart(&target, now).await?;
                // Even when nothing changes (the lines were all there already) the source is
                // moved, i.e. deleted in the same write, so it can never be merged again.
                cart.merge_from(&source);
                let moved = self
                    .carts
                    .move_cart(&CartMerge {
                        source: &anonymous.id,
                        source_version: source.version,
                        target: &target,
                        merged: &cart,
                        now,
                        expires_at,
                    })
                    .await?;
                match moved {
                    CartMove::Moved => {
                        done = true;
                        break;
                    }
                    // A parallel login carrying the same session merged it first.
                    CartMove::SourceChanged => {
                        lines = 0;
                        done = true;
                        break;
                    }
                    CartMove::TargetChanged => {}
                }
            }
            if !done {
                return Err(ApiError::CartConflict {
                    attempts: MERGE_ATTEMPTS,
                });
            }
        }
        self.sessions.delete_session(&anonymous.id).await?;
        Ok(lines)
    }

    async fn logout(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let now = self.clock.now();
        // A locked account may still end its session: only the session is checked here.
        let session_id = match super::Principal::from_authorizer_context(req) {
            Some(principal) => principal.session_id,
            None => {
                let token = lambda_kit::http::bearer_token(req)?;
                crate::auth::session::resolve_session(&self.sessions, token, now)
                    .await
                    .map_err(super::auth_error_to_api)?
                    .id
            }
        };
        self.sessions.delete_session(&session_id).await?;
        tracing::info!("logged out");
        Ok(empty_response(StatusCode::NO_CONTENT))
    }
}
