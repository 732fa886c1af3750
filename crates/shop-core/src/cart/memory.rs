//! cart: the in-memory adapter of [`CartStore`] (unit tests and the `fakes` feature). It
//! honours the same conditions as the DynamoDB one (version-conditional cart writes, a move
//! conditional on both carts' versions).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{Cart, CartMerge, CartMove, CartStore, Quantity};
use crate::auth::session::SessionId;
use crate::catalog::Sku;
use crate::store::StoreError;
use lambda_kit::sync::lock;

#[derive(Debug, Clone)]
struct StoredCart {
    lines: BTreeMap<Sku, Quantity>,
    version: u64,
    expires_at: i64,
}

/// Carts in a map keyed by session id (or user cart id).
#[derive(Debug, Default)]
pub struct InMemoryCartStore {
    carts: Mutex<HashMap<SessionId, StoredCart>>,
}

impl InMemoryCartStore {
    /// The stored expiry of the session's cart item, if any (test inspection).
    pub fn cart_expires_at(&self, id: &SessionId) -> Option<i64> {
        lock(&self.carts).get(id).map(|c| c.expires_at)
    }
}

impl CartStore for InMemoryCartStore {
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

    async fn delete_cart_if_version(
        &self,
        id: &SessionId,
        version: u64,
    ) -> Result<bool, StoreError> {
        let mut carts = lock(&self.carts);
        if carts.get(id).map(|c| c.version) != Some(version) {
            return Ok(false);
        }
        carts.remove(id);
        Ok(true)
    }

    async fn move_cart(&self, merge: &CartMerge<'_>) -> Result<CartMove, StoreError> {
        let CartMerge {
            source,
            source_version,
            target,
            merged,
            expires_at,
            ..
        } = *merge;
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
