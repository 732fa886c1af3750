//! The catalog: products, their SKUs and prices, and the store they live in.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Product`], [`ProductStore`], [`ProductPage`], [`CatalogApiSettings`] |
//! | `sku.rs`, `money.rs` | [`Sku`], [`Money`] and [`Currency`] (used by every area that prices) |
//! | `api.rs` | catalog-api: `GET /products`, `GET /products/{sku}` (with the product's images: `crate::media`), `GET /partner/products` (API key required: [`partner_key_id`]) |
//! | `dynamo.rs` / `memory.rs` | the products table / in memory |
//! | `cached.rs` | [`CachedProducts`]: prices for display from a short-lived cache (cart-api) |
//! | `tests.rs` | catalog-api's [`CatalogApiSettings`] (the handlers are tested in `api.rs`) |
//!
//! Products table: key `sku` (S); attributes `name`, `description` (S), `price_minor` (N),
//! `currency` (S), `stock` (N).

pub mod api;
mod cached;
mod dynamo;
#[cfg(any(test, feature = "fakes"))]
mod memory;
mod money;
mod sku;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

pub use api::{
    CatalogApi, DEFAULT_IMAGE_URL_SECONDS, DEFAULT_PAGE_SIZE, FUNCTION_NAME, MAX_PAGE_SIZE,
    PARTNER_PRODUCTS, PartnerKeyId, ROUTES, decode_cursor, encode_cursor, partner_key_id,
};
pub use cached::{CachedProducts, PRICE_CACHE_CAPACITY};
pub use dynamo::DynamoProductStore;
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryProductStore;
pub use money::{Currency, CurrencyError, Money, MoneyError};
pub use sku::{Sku, SkuError};

use crate::config::Config;
use crate::store::StoreError;
use lambda_kit::config::{ConfigError, Settings, lookup_in_range, lookup_required};

use serde::{Deserialize, Serialize};

/// catalog-api's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `PRODUCTS_TABLE` | the products table, and each product's images (required) |
/// | `MEDIA_BUCKET` | the media bucket: the thumbnails' URLs are signed for it (required) |
/// | `IMAGE_URL_SECONDS` | how long a thumbnail URL still works when the response leaves the stage cache at the latest (optional, default 900, 60 to 3600) |
/// | `CATALOG_CACHE_TTL_SECONDS` | how long API Gateway's stage cache may serve `GET /products/{sku}` (optional, default 0, 0 to 3600; the template passes `CatalogCacheTtlSeconds` when the cache is on) |
///
/// Read through the shared [`Config`] (which also requires `SESSIONS_TABLE` and checks
/// `SESSION_TTL_SECONDS`, as catalog-api always has); only the products table is kept of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogApiSettings {
    /// The products table.
    pub products_table: String,
    /// The media bucket.
    pub media_bucket: String,
    /// How long a thumbnail URL works after the stage cache served it at the latest.
    pub image_url_seconds: u64,
    /// How long the stage cache may serve a product.
    pub cache_ttl_seconds: u64,
}

impl CatalogApiSettings {
    /// How long the thumbnails' URLs are signed for: the cache's TTL plus
    /// `IMAGE_URL_SECONDS`, so a response served from the cache at its last second still
    /// carries URLs that work that long (at most 2 hours, well within presigning's 7 days).
    pub fn image_url_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_seconds + self.image_url_seconds)
    }
}

impl Settings for CatalogApiSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Config { products_table, .. } = Config::from_lookup(lookup)?;
        Ok(Self {
            products_table,
            media_bucket: lookup_required("MEDIA_BUCKET", lookup)?,
            image_url_seconds: lookup_in_range(
                "IMAGE_URL_SECONDS",
                DEFAULT_IMAGE_URL_SECONDS,
                60..=3600,
                "expected whole seconds from 60 to 3600",
                lookup,
            )?,
            cache_ttl_seconds: lookup_in_range(
                "CATALOG_CACHE_TTL_SECONDS",
                0,
                0..=3600,
                "expected whole seconds from 0 to 3600 (the stage cache's TTL)",
                lookup,
            )?,
        })
    }
}

/// A product as stored in the catalog and shown by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
pub struct Product {
    /// Identifier (table key).
    pub sku: Sku,
    /// Display name.
    pub name: String,
    /// Longer description.
    pub description: String,
    /// Current unit price.
    pub price: Money,
    /// Units in stock.
    pub stock: u32,
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

impl<T: ProductStore> ProductStore for std::sync::Arc<T> {
    async fn get(&self, sku: &Sku) -> Result<Option<Product>, StoreError> {
        (**self).get(sku).await
    }
    async fn batch_get(&self, skus: &[Sku]) -> Result<HashMap<Sku, Product>, StoreError> {
        (**self).batch_get(skus).await
    }
    async fn list(&self, limit: u16, start_after: Option<&Sku>) -> Result<ProductPage, StoreError> {
        (**self).list(limit, start_after).await
    }
    async fn put(&self, product: &Product) -> Result<(), StoreError> {
        (**self).put(product).await
    }
}

#[cfg(test)]
mod tests;
