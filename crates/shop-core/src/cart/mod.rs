//! The shopping cart: SKU → quantity lines with an optimistic-concurrency version, and its
//! pricing against the current catalog.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Cart`], [`Quantity`], [`PricedCart`], the [`CartStore`] trait, [`CartMerge`] → [`CartMove`], [`cart_pk`] (and back: [`cart_id_from_pk`]), cart-api's [`CartApiSettings`] |
//! | `api.rs` | cart-api: `POST /sessions`, `GET /cart`, `PUT`/`DELETE /cart/items/{sku}` (its tests: `api_tests.rs`) |
//! | `dynamo.rs` | [`DynamoCartStore`]: `CART#` items of the sessions table |
//! | `memory.rs` | `InMemoryCartStore` (tests and the `fakes` feature only) |
//! | `tests.rs` | cart rules, pricing, the cart store's conditions (in memory), the settings |
//!
//! Carts have their own store ([`CartStore`]) but live in the sessions table (`CART#` items
//! beside the `SESSION#` items of [`crate::auth::SessionStore`]) because a cart lives and
//! expires with its session.

pub mod api;
mod dynamo;
#[cfg(any(test, feature = "fakes"))]
mod memory;

pub use api::{CartApi, FUNCTION_NAME, MAX_WRITE_ATTEMPTS, ROUTES};
pub use dynamo::DynamoCartStore;
#[cfg(any(test, feature = "fakes"))]
pub use memory::InMemoryCartStore;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::auth::session::SessionId;
use crate::catalog::{Currency, Money, MoneyError, Product, Sku};
use crate::config::Config;
use crate::store::StoreError;
use lambda_kit::config::{ConfigError, Settings, lookup_required};

/// cart-api's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `PRODUCTS_TABLE`, `SESSIONS_TABLE`, `SESSION_TTL_SECONDS`, `SESSION_MAX_AGE_SECONDS` | the shared [`Config`] |
/// | `USERS_TABLE` | the users table: signed-in sessions are checked for account locks (required) |
/// | `PRICE_CACHE_SECONDS` | how stale a displayed price may be: 0 to [`MAX_PRICE_CACHE_SECONDS`], 0 = no cache (default [`DEFAULT_PRICE_CACHE_SECONDS`]) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartApiSettings {
    /// The products table (prices).
    pub products_table: String,
    /// The sessions table (sessions and their carts).
    pub sessions_table: String,
    /// Session and cart lifetime in seconds, extended on every cart write.
    pub session_ttl_seconds: i64,
    /// Absolute session lifetime in seconds.
    pub session_max_age_seconds: i64,
    /// The users table.
    pub users_table: String,
    /// How long a product's price is reused for display ([`crate::catalog::CachedProducts`]).
    pub price_cache: Duration,
}

/// `PRICE_CACHE_SECONDS` when unset.
pub const DEFAULT_PRICE_CACHE_SECONDS: u64 = 10;
/// Longest allowed `PRICE_CACHE_SECONDS`: a shopper should see a new price within minutes.
pub const MAX_PRICE_CACHE_SECONDS: u64 = 300;

fn price_cache_from(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    lambda_kit::config::lookup_in_range(
        "PRICE_CACHE_SECONDS",
        DEFAULT_PRICE_CACHE_SECONDS,
        0..=MAX_PRICE_CACHE_SECONDS,
        "expected whole seconds from 0 to 300",
        lookup,
    )
    .map(Duration::from_secs)
}

impl Settings for CartApiSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Config {
            products_table,
            sessions_table,
            session_ttl_seconds,
            session_max_age_seconds,
        } = Config::from_lookup(lookup)?;
        Ok(Self {
            products_table,
            sessions_table,
            session_ttl_seconds,
            session_max_age_seconds,
            users_table: lookup_required("USERS_TABLE", lookup)?,
            price_cache: price_cache_from(lookup)?,
        })
    }
}

/// Most distinct lines a cart may hold.
pub const MAX_CART_LINES: usize = 50;

/// Quantity of one cart line: 1 to 99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(u8);

/// A number that is not a valid line quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantity must be an integer from {min} to {max}, got {0}", min = Quantity::MIN, max = Quantity::MAX)]
pub struct QuantityError(pub i64);

impl Quantity {
    /// Smallest quantity of a line (a line with 0 is removed instead).
    pub const MIN: u8 = 1;
    /// Largest quantity of one line.
    pub const MAX: u8 = 99;

    /// Validates `value` as a quantity.
    pub fn new(value: i64) -> Result<Self, QuantityError> {
        u8::try_from(value)
            .ok()
            .filter(|q| (Self::MIN..=Self::MAX).contains(q))
            .map(Self)
            .ok_or(QuantityError(value))
    }

    /// The quantity as a number.
    pub const fn get(self) -> u32 {
        self.0 as u32
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(i64::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schemas")]
impl schemars::JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "minimum": 1,
            "maximum": 99
        })
    }
}

/// A cart as stored: its lines and the version it was read at (0 = never written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    /// SKU → quantity, in SKU order.
    pub lines: BTreeMap<Sku, Quantity>,
    /// Version of the stored cart; every successful write increments it.
    pub version: u64,
}

/// A change that would break a cart rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    /// Adding a new line would exceed [`MAX_CART_LINES`].
    #[error("a cart holds at most {max} different products")]
    TooManyLines {
        /// The limit.
        max: usize,
    },
}

impl Cart {
    /// Sets the quantity of `sku` (adds the line or replaces its quantity).
    pub fn set_line(&mut self, sku: Sku, quantity: Quantity) -> Result<(), CartError> {
        if !self.lines.contains_key(&sku) && self.lines.len() >= MAX_CART_LINES {
            return Err(CartError::TooManyLines {
                max: MAX_CART_LINES,
            });
        }
        self.lines.insert(sku, quantity);
        Ok(())
    }

    /// Removes the line of `sku`; returns whether there was one.
    pub fn remove_line(&mut self, sku: &Sku) -> bool {
        self.lines.remove(sku).is_some()
    }

    /// Adds the lines of `other` (an anonymous cart being merged into a user's cart on
    /// login): quantities of a SKU in both add up, capped at [`Quantity::MAX`]; lines that
    /// would exceed [`MAX_CART_LINES`] are left out. Returns whether anything changed.
    pub fn merge_from(&mut self, other: &Cart) -> bool {
        let mut changed = false;
        for (sku, quantity) in &other.lines {
            let merged = match self.lines.get(sku) {
                Some(existing) => {
                    let sum = existing.0.saturating_add(quantity.0).min(Quantity::MAX);
                    Quantity(sum)
                }
                None => *quantity,
            };
            if self.lines.get(sku) != Some(&merged) && self.set_line(sku.clone(), merged).is_ok() {
                changed = true;
            }
        }
        changed
    }

    /// The SKUs of all lines.
    pub fn skus(&self) -> Vec<Sku> {
        self.lines.keys().cloned().collect()
    }

    /// Prices the cart against `products` (the current catalog entries of its SKUs).
    ///
    /// A line whose product is no longer in the catalog is left out of the priced cart and
    /// reported in [`PricedCart::unavailable`]; it cannot be bought at any price.
    pub fn price(&self, products: &HashMap<Sku, Product>) -> Result<PricedCart, PricingError> {
        let mut items = Vec::with_capacity(self.lines.len());
        let mut unavailable = Vec::new();
        let mut total: Option<Money> = None;
        let mut item_count: u32 = 0;
        for (sku, quantity) in &self.lines {
            let Some(product) = products.get(sku) else {
                unavailable.push(sku.clone());
                continue;
            };
            let line_total = product.price.checked_mul(quantity.get())?;
            total = Some(match total {
                None => line_total,
                Some(sum) => sum.checked_add(line_total)?,
            });
            item_count = item_count.saturating_add(quantity.get());
            items.push(PricedLine {
                sku: sku.clone(),
                name: product.name.clone(),
                quantity: *quantity,
                unit_price: product.price,
                line_total,
            });
        }
        Ok(PricedCart {
            items,
            total: total.unwrap_or(Money::zero(Currency::EUR)),
            item_count,
            version: self.version,
            unavailable,
        })
    }
}

/// A cart that cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// Lines in different currencies, or a total that overflows.
    #[error("cannot price cart: {0}")]
    Money(#[from] MoneyError),
}

/// One priced line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PricedLine {
    /// Product SKU.
    pub sku: Sku,
    /// Product name at pricing time.
    pub name: String,
    /// Units in the cart.
    pub quantity: Quantity,
    /// Current catalog price of one unit.
    pub unit_price: Money,
    /// `unit_price * quantity`.
    pub line_total: Money,
}

/// A cart priced at current catalog prices; the cart API's response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PricedCart {
    /// Priced lines, in SKU order.
    pub items: Vec<PricedLine>,
    /// Sum of the line totals (`0 EUR` for an empty cart).
    pub total: Money,
    /// Sum of the quantities.
    pub item_count: u32,
    /// Version of the stored cart.
    pub version: u64,
    /// Lines whose product left the catalog (not part of the total). Not serialised.
    #[serde(skip)]
    pub unavailable: Vec<Sku>,
}

/// Carts keyed by a session id (an anonymous session's own cart) or by
/// [`crate::auth::user_cart_id`] (a signed-in user's), each with an optimistic-concurrency
/// version.
pub trait CartStore: Send + Sync {
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

    /// Deletes the cart only while it is stored at `version` (a checked-out cart, cleared
    /// unless the shopper changed it since). `true` when this call deleted it; `false` when
    /// it has another version or is gone (both fine: nothing to clear).
    fn delete_cart_if_version(
        &self,
        id: &SessionId,
        version: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Writes `merge.merged` as the cart of `merge.target` (conditional on its version, as
    /// [`Self::put_cart`]) and deletes the cart of `merge.source` (conditional on it still
    /// being at `merge.source_version`) as one atomic write, so that a cart is merged at most
    /// once even when two logins carry it at the same time.
    fn move_cart(
        &self,
        merge: &CartMerge<'_>,
    ) -> impl Future<Output = Result<CartMove, StoreError>> + Send;
}

/// One cart merged into another by [`CartStore::move_cart`].
#[derive(Debug, Clone, Copy)]
pub struct CartMerge<'a> {
    /// The session whose cart is moved (and deleted).
    pub source: &'a SessionId,
    /// The source cart's version when it was read.
    pub source_version: u64,
    /// The session whose cart receives the lines.
    pub target: &'a SessionId,
    /// The target cart with the source's lines merged in, at the version it was read.
    pub merged: &'a Cart,
    /// Now, epoch seconds.
    pub now: i64,
    /// When the merged cart expires, epoch seconds.
    pub expires_at: i64,
}

/// What [`CartStore::move_cart`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartMove {
    /// The target holds the merged lines and the source cart is gone.
    Moved,
    /// The target changed since it was read: read it again and retry.
    TargetChanged,
    /// The source cart changed or is gone (another login merged it): nothing was written.
    SourceChanged,
}

/// Partition key of a cart item.
pub fn cart_pk(id: &SessionId) -> String {
    format!("CART#{id}")
}

/// The cart id in a cart item's partition key ([`cart_pk`]'s inverse), as the workflow
/// passes it along (`cartKey`); `None` unless it is `CART#` and a 64-hex-digit id.
pub fn cart_id_from_pk(pk: &str) -> Option<SessionId> {
    pk.strip_prefix("CART#").and_then(SessionId::from_hex)
}

impl<T: CartStore> CartStore for std::sync::Arc<T> {
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
    async fn delete_cart_if_version(
        &self,
        id: &SessionId,
        version: u64,
    ) -> Result<bool, StoreError> {
        (**self).delete_cart_if_version(id, version).await
    }
    async fn move_cart(&self, merge: &CartMerge<'_>) -> Result<CartMove, StoreError> {
        (**self).move_cart(merge).await
    }
}

#[cfg(test)]
mod tests;
