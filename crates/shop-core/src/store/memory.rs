//! In-memory stores for unit tests. They honour the same conditions as the DynamoDB ones
//! (version-conditional cart writes, create-only sessions).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{ProductPage, ProductStore, SessionStore, StoreError};
use crate::domain::{Cart, Product, Quantity, Sku};
use crate::session::{Session, SessionId};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not poison the store for the others.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Products in a sorted map; pages follow SKU order.
#[derive(Debug, Default)]
pub struct InMemoryProductStore {
    products: Mutex<BTreeMap<Sku, Product>>,
}

impl InMemoryProductStore {
    /// A store holding `products`.
    pub fn with_products(products: impl IntoIterator<Item = Product>) -> Self {
        Self {
            products: Mutex::new(products.into_iter().map(|p| (p.sku.clone(), p)).collect()),
        }
    }
}

impl ProductStore for InMemoryProductStore {
    async fn get(&self, sku: &Sku) -> Result<Option<Product>, StoreError> {
        Ok(lock(&self.products).get(sku).cloned())
    }

    async fn batch_get(&self, skus: &[Sku]) -> Result<HashMap<Sku, Product>, StoreError> {
        let products = lock(&self.products);
        Ok(skus
            .iter()
            .filter_map(|sku| products.get(sku).map(|p| (sku.clone(), p.clone())))
            .collect())
    }

    async fn list(&self, limit: u16, start_after: Option<&Sku>) -> Result<ProductPage, StoreError> {
        let products = lock(&self.products);
        let lower = start_after.map_or(Bound::Unbounded, Bound::Excluded);
        let items: Vec<Product> = products
            .range::<Sku, _>((lower, Bound::Unbounded))
            .take(usize::from(limit))
            .map(|(_, p)| p.clone())
            .collect();
        // Like a DynamoDB Scan with Limit: a full page says "maybe more".
        let last_evaluated = if items.len() == usize::from(limit) {
            items.last().map(|p| p.sku.clone())
        } else {
            None
        };
        Ok(ProductPage {
            items,
            last_evaluated,
        })
    }

    async fn put(&self, product: &Product) -> Result<(), StoreError> {
        lock(&self.products).insert(product.sku.clone(), product.clone());
        Ok(())
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
}
