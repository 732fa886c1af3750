//! Persistence behind two traits, each with a DynamoDB and an in-memory implementation.
//!
//! DynamoDB layout (the infrastructure template and the integration tests rely on it):
//! - products table, key `sku` (S); attributes `name`, `description` (S), `price_minor` (N),
//!   `currency` (S), `stock` (N).
//! - sessions table, key `pk` (S), TTL attribute `expires_at` (N):
//!   `SESSION#<sha256 hex>` items (`created_at`, `expires_at`, optional `user_id`, `email`,
//!   `role`) and `CART#<sha256 hex>` items (`lines` M of sku → N, `version`, `updated_at`,
//!   `expires_at`). A signed-in user's cart is keyed by [`crate::auth::user_cart_id`]
//!   instead of the session, so it follows the user from session to session.

mod dynamo;
mod memory;

use std::collections::HashMap;
use std::future::Future;

pub use dynamo::{DynamoProductStore, DynamoSessionStore};
use lambda_kit::dynamo::{BackendError, ItemError};
pub(crate) use lambda_kit::dynamo::{
    Item, ItemReader, failed_conditions, is_conditional_failure, n, s,
};
pub use memory::{InMemoryProductStore, InMemorySessionStore};

use crate::domain::{Cart, Product, Sku};
use crate::session::{Session, SessionId};

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the cart changed since it was read.
    #[error("cart version conflict: expected version {expected}")]
    VersionConflict {
        /// The version the write was conditional on.
        expected: u64,
    },
    /// A conditional create found the item already there.
    #[error("item already exists: {0}")]
    AlreadyExists(String),
    /// The backend failed (network, throttling, permissions…).
    #[error("store backend error during {operation}: {message}")]
    Backend {
        /// Which operation, e.g. `GetItem sessions`.
        operation: &'static str,
        /// The backend's description, with its causes.
        message: String,
    },
    /// An item does not have the expected shape.
    #[error("malformed item {key}: {problem}")]
    Malformed {
        /// Key of the item.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl From<ItemError> for StoreError {
    fn from(err: ItemError) -> Self {
        Self::Malformed {
            key: err.key,
            problem: err.problem,
        }
    }
}

impl From<BackendError> for StoreError {
    fn from(err: BackendError) -> Self {
        Self::Backend {
            operation: err.operation,
            message: err.message,
        }
    }
}

/// A store failure of `operation` (e.g. `"PutItem cart"`), with the SDK's full error chain.
pub(crate) fn backend(operation: &'static str, err: &impl std::error::Error) -> StoreError {
    lambda_kit::dynamo::backend(operation, err).into()
}

/// One page of products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPage {
    /// Products of this page.
    pub items: Vec<Product>,
    /// Key to continue after, when there may be more.
    pub last_evaluated: Option<Sku>,
}

/// The product catalog.
pub trait ProductStore: Send + Sync {
    /// One product, if it exists.
    fn get(&self, sku: &Sku) -> impl Future<Output = Result<Option<Product>, StoreError>> + Send;

    /// The products of `skus` that exist (missing ones are simply absent from the map).
    fn batch_get(
        &self,
        skus: &[Sku],
    ) -> impl Future<Output = Result<HashMap<Sku, Product>, StoreError>> + Send;

    /// Up to `limit` products after `start_after` (in the store's order).
    fn list(
        &self,
        limit: u16,
        start_after: Option<&Sku>,
    ) -> impl Future<Output = Result<ProductPage, StoreError>> + Send;

    /// Creates or replaces a product (seeding).
    fn put(&self, product: &Product) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Sessions and their carts.
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

    /// Moves the session's expiry to `expires_at` (sliding TTL). No-op if it is gone.
    fn touch_session(
        &self,
        id: &SessionId,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the session (logout; idempotent).
    fn delete_session(&self, id: &SessionId)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session's cart with its version; an empty cart at version 0 if none is stored.
    /// A stored cart past its expiry reads as empty but keeps its version, so the next
    /// conditional write still lines up.
    fn get_cart(
        &self,
        id: &SessionId,
        now: i64,
    ) -> impl Future<Output = Result<Cart, StoreError>> + Send;

    /// Writes `cart.lines` as version `cart.version + 1`, only if the stored version is still
    /// `cart.version` (for 0: only if no cart is stored). Loses with
    /// [`StoreError::VersionConflict`].
    fn put_cart(
        &self,
        id: &SessionId,
        cart: &Cart,
        now: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the cart (idempotent).
    fn delete_cart(&self, id: &SessionId) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Partition key of a session item.
pub fn session_pk(id: &SessionId) -> String {
    format!("SESSION#{id}")
}

/// Partition key of a cart item.
pub fn cart_pk(id: &SessionId) -> String {
    format!("CART#{id}")
}

impl<T: SessionStore> SessionStore for std::sync::Arc<T> {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        (**self).create_session(session).await
    }
    async fn get_session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        (**self).get_session(id).await
    }
    async fn touch_session(&self, id: &SessionId, expires_at: i64) -> Result<(), StoreError> {
        (**self).touch_session(id, expires_at).await
    }
    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        (**self).delete_session(id).await
    }
    async fn get_cart(&self, id: &SessionId, now: i64) -> Result<Cart, StoreError> {
        (**self).get_cart(id, now).await
    }
    async fn put_cart(
        &self,
        id: &SessionId,
        cart: &Cart,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        (**self).put_cart(id, cart, now, expires_at).await
    }
    async fn delete_cart(&self, id: &SessionId) -> Result<(), StoreError> {
        (**self).delete_cart(id).await
    }
}
