//! The shopping cart: SKU → quantity lines with an optimistic-concurrency version, and its
//! pricing against the current catalog.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Cart`], [`Quantity`], [`PricedCart`] |
//! | `api.rs` | cart-api: `POST /sessions`, `GET /cart`, `PUT`/`DELETE /cart/items/{sku}` |
//!
//! Carts are stored by the session store ([`crate::auth::SessionStore`], `CART#` items of
//! the sessions table) because a cart lives and expires with its session.

pub mod api;

pub use api::{CartApi, FUNCTION_NAME, MAX_WRITE_ATTEMPTS, ROUTES};

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Deserializer, Serialize};

use crate::catalog::{Currency, Money, MoneyError, Product, Sku};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn qty(n: i64) -> Quantity {
        Quantity::new(n).unwrap()
    }

    fn product(s: &str, price: i64, currency: Currency) -> Product {
        Product {
            sku: sku(s),
            name: format!("Product {s}"),
            description: String::new(),
            price: Money::new(price, currency),
            stock: 10,
        }
    }

    #[test]
    fn merging_adds_quantities_capped_at_99() {
        let mut user = Cart::default();
        user.set_line(sku("A"), qty(2)).unwrap();
        user.set_line(sku("B"), qty(90)).unwrap();
        let mut anonymous = Cart::default();
        anonymous.set_line(sku("A"), qty(3)).unwrap();
        anonymous.set_line(sku("B"), qty(20)).unwrap();
        anonymous.set_line(sku("C"), qty(1)).unwrap();
        assert!(user.merge_from(&anonymous));
        assert_eq!(user.lines.get(&sku("A")), Some(&qty(5)));
        assert_eq!(user.lines.get(&sku("B")), Some(&qty(99)));
        assert_eq!(user.lines.get(&sku("C")), Some(&qty(1)));
        assert!(
            !user.merge_from(&Cart::default()),
            "an empty cart changes nothing"
        );
    }

    #[test]
    fn quantity_range_is_1_to_99() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-1).is_err());
        assert!(Quantity::new(100).is_err());
        assert!(Quantity::new(256 + 5).is_err(), "no wrap-around through u8");
        assert_eq!(Quantity::new(1).map(Quantity::get), Ok(1));
        assert_eq!(Quantity::new(99).map(Quantity::get), Ok(99));
    }

    #[test]
    fn line_limit_applies_to_new_lines_only() {
        let mut cart = Cart::default();
        for i in 0..MAX_CART_LINES {
            cart.set_line(sku(&format!("SKU-{i}")), qty(1)).unwrap();
        }
        assert_eq!(
            cart.set_line(sku("ONE-TOO-MANY"), qty(1)),
            Err(CartError::TooManyLines {
                max: MAX_CART_LINES
            })
        );
        assert!(
            cart.set_line(sku("SKU-0"), qty(5)).is_ok(),
            "changing an existing line is fine"
        );
        assert!(cart.remove_line(&sku("SKU-0")));
        assert!(!cart.remove_line(&sku("SKU-0")));
    }

    #[test]
    fn prices_lines_at_catalog_prices() {
        let mut cart = Cart {
            version: 7,
            ..Cart::default()
        };
        cart.set_line(sku("A"), qty(2)).unwrap();
        cart.set_line(sku("B"), qty(3)).unwrap();
        cart.set_line(sku("GONE"), qty(1)).unwrap();
        let products: HashMap<Sku, Product> = [
            product("A", 1299, Currency::EUR),
            product("B", 100, Currency::EUR),
        ]
        .into_iter()
        .map(|p| (p.sku.clone(), p))
        .collect();
        let priced = cart.price(&products);
        let Ok(priced) = priced else {
            panic!("{priced:?}")
        };
        assert_eq!(priced.total, Money::new(2 * 1299 + 300, Currency::EUR));
        assert_eq!(priced.item_count, 5);
        assert_eq!(priced.version, 7);
        assert_eq!(priced.items.len(), 2);
        assert_eq!(priced.items[0].line_total, Money::new(2598, Currency::EUR));
        assert_eq!(priced.unavailable, vec![sku("GONE")]);
    }

    #[test]
    fn empty_cart_totals_zero_eur() {
        let priced = Cart::default().price(&HashMap::new());
        assert!(
            matches!(priced, Ok(p) if p.total == Money::zero(Currency::EUR) && p.items.is_empty() && p.item_count == 0)
        );
    }

    #[test]
    fn mixed_currencies_are_an_error() {
        let usd = Currency::parse("USD").unwrap_or(Currency::EUR);
        let mut cart = Cart::default();
        cart.set_line(sku("A"), qty(1)).unwrap();
        cart.set_line(sku("B"), qty(1)).unwrap();
        let products: HashMap<Sku, Product> =
            [product("A", 1, Currency::EUR), product("B", 1, usd)]
                .into_iter()
                .map(|p| (p.sku.clone(), p))
                .collect();
        assert!(matches!(
            cart.price(&products),
            Err(PricingError::Money(MoneyError::CurrencyMismatch { .. }))
        ));
    }

    #[test]
    fn priced_cart_json_shape() {
        let mut cart = Cart {
            version: 1,
            ..Cart::default()
        };
        cart.set_line(sku("A"), qty(2)).unwrap();
        let products: HashMap<Sku, Product> = [(sku("A"), product("A", 500, Currency::EUR))]
            .into_iter()
            .collect();
        let json = cart
            .price(&products)
            .ok()
            .and_then(|p| serde_json::to_value(p).ok());
        assert_eq!(
            json,
            Some(serde_json::json!({
                "items": [{"sku": "A", "name": "Product A", "quantity": 2,
                           "unitPrice": {"amount": 500, "currency": "EUR"},
                           "lineTotal": {"amount": 1000, "currency": "EUR"}}],
                "total": {"amount": 1000, "currency": "EUR"},
                "itemCount": 2,
                "version": 1
            }))
        );
    }
}
