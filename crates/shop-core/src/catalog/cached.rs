//! catalog: [`CachedProducts`], a [`ProductStore`] that serves `batch_get` from a short-lived
//! in-process cache, for callers that only display prices.
//!
//! Who may use it: cart-api, whose priced cart is a display (the checkout workflow prices
//! the order again from the table, inside its reservation transaction, so a price up to the
//! TTL stale can never be charged). `get` always reads the store — cart-api checks stock with
//! it — and refreshes the cache with what it read. Setting: `PRICE_CACHE_SECONDS` (0 turns it
//! off; [`crate::cart::CartApiSettings`]).

use std::collections::HashMap;
use std::time::Duration;

use lambda_kit::cache::TtlCache;

use super::{Product, ProductPage, ProductStore, Sku};
use crate::store::StoreError;

/// Most products one execution environment keeps (a few hundred bytes each).
pub const PRICE_CACHE_CAPACITY: usize = 2_000;

/// `inner`, with `batch_get` answered from a cache of at most `ttl` old products.
#[derive(Debug)]
pub struct CachedProducts<P> {
    inner: P,
    cache: TtlCache<Sku, Product>,
}

impl<P: ProductStore> CachedProducts<P> {
    /// Caches `inner`'s products for `ttl`.
    pub fn new(inner: P, ttl: Duration) -> Self {
        Self {
            inner,
            cache: TtlCache::new(ttl, PRICE_CACHE_CAPACITY),
        }
    }
}

impl<P: ProductStore> ProductStore for CachedProducts<P> {
    async fn get(&self, sku: &Sku) -> Result<Option<Product>, StoreError> {
        let product = self.inner.get(sku).await?;
        match &product {
            Some(product) => self.cache.insert(sku.clone(), product.clone()),
            None => self.cache.remove(sku),
        }
        Ok(product)
    }

    async fn batch_get(&self, skus: &[Sku]) -> Result<HashMap<Sku, Product>, StoreError> {
        let mut found = HashMap::with_capacity(skus.len());
        let mut missing = Vec::new();
        for sku in skus {
            match self.cache.get(sku) {
                Some(product) => {
                    found.insert(sku.clone(), product);
                }
                None => missing.push(sku.clone()),
            }
        }
        if !missing.is_empty() {
            // A SKU that is not in the catalog is not cached: it is asked for again next time.
            for (sku, product) in self.inner.batch_get(&missing).await? {
                self.cache.insert(sku.clone(), product.clone());
                found.insert(sku, product);
            }
        }
        Ok(found)
    }

    async fn list(&self, limit: u16, start_after: Option<&Sku>) -> Result<ProductPage, StoreError> {
        self.inner.list(limit, start_after).await
    }

    async fn put(&self, product: &Product) -> Result<(), StoreError> {
        self.cache.remove(&product.sku);
        self.inner.put(product).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Currency, InMemoryProductStore, Money};

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::EUR)
    }

    fn product(sku: &str, price_minor: i64) -> Product {
        Product {
            sku: Sku::parse(sku).unwrap(),
            name: sku.to_owned(),
            description: String::new(),
            price: eur(price_minor),
            stock: 5,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn batch_get_serves_prices_at_most_the_ttl_old() {
        let store = std::sync::Arc::new(InMemoryProductStore::default());
        store.put(&product("MUG", 900)).await.unwrap();
        let cached = CachedProducts::new(store.clone(), Duration::from_secs(30));
        let skus = [Sku::parse("MUG").unwrap(), Sku::parse("NOPE").unwrap()];
        let first = cached.batch_get(&skus).await.unwrap();
        assert_eq!(first.len(), 1);
        store.put(&product("MUG", 1200)).await.unwrap();
        let stale = cached.batch_get(&skus).await.unwrap();
        assert_eq!(stale[&skus[0]].price, eur(900), "within the TTL: cached");
        tokio::time::advance(Duration::from_secs(31)).await;
        let fresh = cached.batch_get(&skus).await.unwrap();
        assert_eq!(
            fresh[&skus[0]].price,
            eur(1200),
            "after the TTL: read again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn get_always_reads_the_store_and_refreshes_the_cache() {
        let store = std::sync::Arc::new(InMemoryProductStore::default());
        store.put(&product("MUG", 900)).await.unwrap();
        let cached = CachedProducts::new(store.clone(), Duration::from_secs(30));
        let mug = Sku::parse("MUG").unwrap();
        cached.batch_get(std::slice::from_ref(&mug)).await.unwrap();
        store.put(&product("MUG", 1200)).await.unwrap();
        let read = cached.get(&mug).await.unwrap().unwrap();
        assert_eq!(read.price, eur(1200));
        let listed = cached.batch_get(std::slice::from_ref(&mug)).await.unwrap();
        assert_eq!(listed[&mug].price, eur(1200));
    }

    #[tokio::test]
    async fn a_zero_ttl_reads_the_store_every_time() {
        let store = std::sync::Arc::new(InMemoryProductStore::default());
        store.put(&product("MUG", 900)).await.unwrap();
        let cached = CachedProducts::new(store.clone(), Duration::ZERO);
        let mug = Sku::parse("MUG").unwrap();
        cached.batch_get(std::slice::from_ref(&mug)).await.unwrap();
        store.put(&product("MUG", 1200)).await.unwrap();
        let listed = cached.batch_get(std::slice::from_ref(&mug)).await.unwrap();
        assert_eq!(listed[&mug].price, eur(1200));
    }
}
