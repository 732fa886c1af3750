//! cart-api: anonymous sessions and their carts.
//!
//! - `POST /sessions` → 201 `{"token", "expiresAt"}`
//! - `GET /cart` → the priced cart
//! - `PUT /cart/items/{sku}` with `{"quantity": n}` → the priced cart
//! - `DELETE /cart/items/{sku}` → the priced cart (idempotent)
//! - `DELETE /cart` → 204
//!
//! Cart routes need `Authorization: Bearer <token>`. Writes are optimistic: read the cart and
//! its version, apply the change, write conditionally on the version, retry with jittered
//! backoff when another writer got there first. Every write slides the expiry of the cart
//! and of the session. Prices come from the catalog, through a cache of a few seconds in the
//! deployed function ([`crate::catalog::CachedProducts`]): the cart is a display, checkout
//! prices again.
//!
//! Round trips (what `make bench` reports per route): reads that do not depend on each other
//! go out together, and so do the cart write, the session's new expiry and the prices.
//! Behind the authorizer, `GET /cart` is one read of the cart (plus one of the prices not in
//! the cache), `PUT /cart/items/{sku}` is the cart and product reads, then the write; without
//! the authorizer (LocalStack) the session is read beside the anonymous cart, and a
//! signed-in session adds its account-lock check and its user cart's read.

use std::collections::HashMap;
use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::api_error::ApiError;
use crate::auth::SessionStore;
use crate::auth::session::{Session, SessionToken};
use crate::auth::{Principal, UserStore, principal_of};
use crate::cart::{Cart, CartError, CartStore, Quantity};
use crate::catalog::{Product, ProductStore, Sku};
use crate::store::StoreError;
use lambda_kit::clock::{Clock, rfc3339};
use lambda_kit::http::{
    Route, bearer_token, empty_response, json_response, match_route, parse_json_body, serve,
};
use lambda_kit::ids::fill_random;

/// Name of the function (log field, crate and binary name).
pub const FUNCTION_NAME: &str = "cart-api";

/// Attempts of a conditional cart write before answering `CART_CONFLICT`. With jittered
/// backoff this lets 20+ concurrent writers to one cart all land.
pub const MAX_WRITE_ATTEMPTS: u32 = 30;

/// How long the write loop may keep retrying before answering `CART_CONFLICT` (409, "retry
/// the request"), whatever attempts are left: well inside the function's timeout, so a cart
/// under heavy contention on a slow store gets an answer the client can act on, never the
/// gateway's 502 for an invocation cut off at its deadline (seen on a loaded local stack:
/// 30 attempts of two calls at ~400 ms each outlast a 25 s timeout).
pub const WRITE_RETRY_BUDGET: Duration = Duration::from_secs(5);

/// The resources this function serves.
pub const ROUTES: &[Route] = &[
    Route {
        resource: "/sessions",
        methods: &["POST"],
    },
    Route {
        resource: "/cart",
        methods: &["GET", "DELETE"],
    },
    Route {
        resource: "/cart/items/{sku}",
        methods: &["PUT", "DELETE"],
    },
];

/// The cart API over a product store, a session store and a cart store.
#[derive(Debug)]
pub struct CartApi<P, S, C, U> {
    products: P,
    sessions: S,
    carts: C,
    users: U,
    session_ttl_seconds: i64,
    session_max_age_seconds: i64,
    clock: Clock,
}

/// `POST /sessions` body.
#[derive(Debug, Serialize)]
#[cfg_attr(
    feature = "schemas",
    derive(schemars::JsonSchema),
    schemars(rename = "NewSession")
)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewSession {
    /// The bearer token (shown once; the server keeps only its SHA-256).
    token: String,
    /// RFC 3339; every cart write moves it on (up to the session's absolute lifetime).
    #[cfg_attr(feature = "schemas", schemars(extend("format" = "date-time")))]
    expires_at: String,
}

/// `PUT /cart/items/{sku}` body.
#[derive(Debug, Deserialize)]
#[cfg_attr(
    feature = "schemas",
    derive(schemars::JsonSchema),
    schemars(rename = "SetQuantity")
)]
pub(crate) struct PutItemBody {
    // Kept as a raw JSON value so that "not an integer" is INVALID_QUANTITY, not a type error;
    // the document states what is accepted.
    /// Units of the product the cart should hold.
    #[cfg_attr(feature = "schemas", schemars(with = "Quantity"))]
    quantity: serde_json::Value,
}

impl<P: ProductStore, S: SessionStore, C: CartStore, U: UserStore> CartApi<P, S, C, U> {
    /// The API over the stores; sessions and their carts live `session_ttl_seconds` after
    /// the last write. `users` is read for account locks of signed-in sessions.
    pub fn new(products: P, sessions: S, carts: C, users: U, session_ttl_seconds: i64) -> Self {
        Self {
            products,
            sessions,
            carts,
            users,
            session_ttl_seconds,
            session_max_age_seconds: crate::config::DEFAULT_SESSION_MAX_AGE_SECONDS,
            clock: Clock::System,
        }
    }

    /// Sets the absolute session lifetime (default 7 days): no write extends a session
    /// past it.
    #[must_use]
    pub fn with_session_max_age(mut self, seconds: i64) -> Self {
        self.session_max_age_seconds = seconds;
        self
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The session store (tests and tools).
    pub fn sessions(&self) -> &S {
        &self.sessions
    }

    /// The cart store (tests and tools).
    pub fn carts(&self) -> &C {
        &self.carts
    }

    /// Handles one API Gateway request.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        serve(FUNCTION_NAME, &req, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let route = match_route(ROUTES, req)?;
        if route.resource == "/sessions" {
            return self.create_session().await;
        }
        let now = self.clock.now();
        match (route.resource, route.method.as_str()) {
            ("/cart", "GET") => self.get_cart(req, now).await,
            ("/cart", _) => self.clear_cart(req, now).await,
            (_, "PUT") => self.put_item(req, now, route.param("sku")).await,
            _ => self.remove_item(req, now, route.param("sku")).await,
        }
    }

    /// The caller and their cart, in as few round trips as the request allows: behind the
    /// authorizer the principal is in the request and only the cart is read; without it
    /// (LocalStack) the session and the anonymous cart — keyed by the same id — are read
    /// together, and a signed-in user's cart is read once the session names the user.
    /// The cart read before authentication is never shown to a caller who fails it.
    async fn principal_and_cart(
        &self,
        req: &Request,
        now: i64,
    ) -> Result<(Principal, Cart), ApiError> {
        if let Some(principal) = Principal::from_authorizer_context(req) {
            let cart = self.carts.get_cart(&principal.cart_id(), now).await?;
            return Ok((principal, cart));
        }
        let guess = bearer_token(req)
            .ok()
            .and_then(SessionToken::from_client)
            .map(|token| token.id());
        let guessed_cart = async {
            match &guess {
                Some(id) => Some(self.carts.get_cart(id, now).await),
                None => None,
            }
        };
        let (principal, guessed_cart) = tokio::join!(
            principal_of(req, &self.sessions, &self.users, now),
            guessed_cart
        );
        let principal = principal?;
        let cart_id = principal.cart_id();
        match guessed_cart {
            Some(cart) if guess.as_ref() == Some(&cart_id) => Ok((principal, cart?)),
            _ => {
                let cart = self.carts.get_cart(&cart_id, now).await?;
                Ok((principal, cart))
            }
        }
    }

    async fn create_session(&self) -> Result<Response<Body>, ApiError> {
        let token = SessionToken::generate().map_err(|e| ApiError::internal(e.to_string()))?;
        let session = Session::new_anonymous(&token, self.clock.now(), self.session_ttl_seconds)
            .limited_to(self.session_max_age_seconds);
        self.sessions.create_session(&session).await?;
        tracing::info!(session = %short(&session), "session created");
        let body = NewSession {
            token: token.expose().to_owned(),
            expires_at: rfc3339(session.expires_at),
        };
        Ok(json_response(StatusCode::CREATED, &body))
    }

    async fn get_cart(&self, req: &Request, now: i64) -> Result<Response<Body>, ApiError> {
        let (_, cart) = self.principal_and_cart(req, now).await?;
        self.priced_response(&cart).await
    }

    async fn clear_cart(&self, req: &Request, now: i64) -> Result<Response<Body>, ApiError> {
        let session = principal_of(req, &self.sessions, &self.users, now).await?;
        let cart_id = session.cart_id();
        let (deleted, touched) = tokio::join!(
            self.carts.delete_cart(&cart_id),
            self.sessions.touch_session(
                &session.session_id,
                now.saturating_add(self.session_ttl_seconds),
                now,
            )
        );
        deleted?;
        touched?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    }

    async fn put_item(
        &self,
        req: &Request,
        now: i64,
        sku: &str,
    ) -> Result<Response<Body>, ApiError> {
        // Parsed before anything is read, but reported after authentication, as always:
        // an unauthenticated caller learns nothing about its input.
        let input = parse_put_item(req, sku);
        let product = async {
            match &input {
                Ok((sku, _)) => Some(self.products.get(sku).await),
                Err(_) => None,
            }
        };
        let (caller, product) = tokio::join!(self.principal_and_cart(req, now), product);
        let (session, cart) = caller?;
        let (sku, quantity) = input?;
        let product = product
            .transpose()?
            .flatten()
            .ok_or_else(|| ApiError::ProductNotFound(sku.to_string()))?;
        if quantity.get() > product.stock {
            return Err(ApiError::InsufficientStock {
                sku: sku.to_string(),
                requested: quantity.get(),
                available: product.stock,
            });
        }
        self.update_cart(&session, now, cart, |cart| {
            if cart.lines.get(&sku) == Some(&quantity) {
                return Ok(false);
            }
            cart.set_line(sku.clone(), quantity)
                .map_err(|CartError::TooManyLines { max }| ApiError::CartFull { max })?;
            Ok(true)
        })
        .await
    }

    async fn remove_item(
        &self,
        req: &Request,
        now: i64,
        sku: &str,
    ) -> Result<Response<Body>, ApiError> {
        let sku = Sku::parse(sku).map_err(|e| ApiError::InvalidSku(e.to_string()));
        let (session, cart) = self.principal_and_cart(req, now).await?;
        let sku = sku?;
        self.update_cart(&session, now, cart, |cart| Ok(cart.remove_line(&sku)))
            .await
    }

    /// Read-modify-write of the cart, conditional on its version, retried on conflicts;
    /// answers with the priced cart. `change` returns whether it changed anything; if not,
    /// nothing is written. The first write goes out together with the session's new expiry
    /// and the prices of the new lines — one round trip when nobody else writes the cart,
    /// the common case. A retry (another writer got there first) writes alone and sends the
    /// other two only once it has landed, so that writers contending for one cart do not
    /// multiply the calls.
    async fn update_cart(
        &self,
        session: &Principal,
        now: i64,
        mut cart: Cart,
        mut change: impl FnMut(&mut Cart) -> Result<bool, ApiError>,
    ) -> Result<Response<Body>, ApiError> {
        let expires_at = now.saturating_add(self.session_ttl_seconds);
        let cart_id = session.cart_id();
        let touch = || {
            self.sessions
                .touch_session(&session.session_id, expires_at, now)
        };
        let started = tokio::time::Instant::now();
        let mut attempts = 0;
        for attempt in 1..=MAX_WRITE_ATTEMPTS {
            attempts = attempt;
            if attempt > 1 {
                if !may_retry(attempt, started.elapsed()) {
                    break;
                }
                cart = self.carts.get_cart(&cart_id, now).await?;
            }
            if !change(&mut cart)? {
                return self.priced_response(&cart).await;
            }
            let skus = cart.skus();
            let write = self.carts.put_cart(&cart_id, &cart, now, expires_at);
            let (written, sent_along) = if attempt == 1 {
                let (written, touched, products) =
                    tokio::join!(write, touch(), self.products.batch_get(&skus));
                (written, Some((touched, products)))
            } else {
                (write.await, None)
            };
            match written {
                Ok(()) => {
                    let (touched, products) = match sent_along {
                        Some(both) => both,
                        None => tokio::join!(touch(), self.products.batch_get(&skus)),
                    };
                    touched?;
                    cart.version += 1;
                    return priced(&cart, &products?);
                }
                Err(StoreError::VersionConflict { expected }) => {
                    tracing::debug!(attempt, expected, "cart write conflict, retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(err) => return Err(err.into()),
            }
        }
        tracing::warn!(
            attempts,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "cart write kept conflicting"
        );
        Err(ApiError::CartConflict { attempts })
    }

    async fn priced_response(&self, cart: &Cart) -> Result<Response<Body>, ApiError> {
        let products = self.products.batch_get(&cart.skus()).await?;
        priced(cart, &products)
    }
}

/// The cart priced at `products`, as the response.
fn priced(cart: &Cart, products: &HashMap<Sku, Product>) -> Result<Response<Body>, ApiError> {
    let priced = cart
        .price(products)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if !priced.unavailable.is_empty() {
        tracing::warn!(skus = ?priced.unavailable, "cart lines whose product left the catalog");
    }
    Ok(json_response(StatusCode::OK, &priced))
}

/// The SKU and quantity of `PUT /cart/items/{sku}`.
fn parse_put_item(req: &Request, sku: &str) -> Result<(Sku, Quantity), ApiError> {
    let sku = Sku::parse(sku).map_err(|e| ApiError::InvalidSku(e.to_string()))?;
    let body: PutItemBody = parse_json_body(req)?;
    let quantity = whole_number(&body.quantity)
        .ok_or_else(|| {
            format!(
                "quantity must be an integer from 1 to 99, got {}",
                body.quantity
            )
        })
        .and_then(|n| Quantity::new(n).map_err(|e| e.to_string()))
        .map_err(ApiError::InvalidQuantity)?;
    Ok((sku, quantity))
}

/// The integer a JSON number stands for: `2` and also `2.0`, which JSON Schema (and so the
/// API document) counts as an integer too; `None` for a fraction or anything else. Display
/// of a whole `f64` has no fraction (`2.0` → `"2"`), so parsing it back needs no cast.
fn whole_number(value: &serde_json::Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0)
            .and_then(|f| f.to_string().parse().ok())
    })
}

/// Whether the write loop makes attempt `attempt` after `elapsed` of trying: within both
/// [`MAX_WRITE_ATTEMPTS`] and [`WRITE_RETRY_BUDGET`].
fn may_retry(attempt: u32, elapsed: Duration) -> bool {
    attempt <= MAX_WRITE_ATTEMPTS && elapsed < WRITE_RETRY_BUDGET
}

/// Full-jitter exponential backoff: a random delay up to `min(5 ms * 2^(attempt-1), 100 ms)`,
/// at least 1 ms.
fn backoff(attempt: u32) -> Duration {
    let cap_ms = 5u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(5))
        .min(100);
    let mut random = [0u8; 8];
    let jitter = if fill_random(&mut random).is_ok() {
        u64::from_le_bytes(random) % cap_ms
    } else {
        cap_ms / 2
    };
    Duration::from_millis(jitter.max(1))
}

/// First characters of the session id, enough to follow one session through the logs.
fn short(session: &Session) -> &str {
    session.id.as_str().get(..12).unwrap_or_default()
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
