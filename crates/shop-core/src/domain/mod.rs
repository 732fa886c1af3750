//! The shop's domain: money, SKUs, products and carts. Pure data and rules, no I/O.

mod cart;
mod money;
mod product;
mod sku;

pub use cart::{
    Cart, CartError, MAX_CART_LINES, PricedCart, PricedLine, PricingError, Quantity, QuantityError,
};
pub use money::{Currency, CurrencyError, Money, MoneyError};
pub use product::Product;
pub use sku::{Sku, SkuError};
