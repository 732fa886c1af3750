//! The shop's domain: money, SKUs, products and carts. Pure data and rules, no I/O.

mod cart;
mod money;
mod order;
mod product;
mod sku;

pub use cart::{
    Cart, CartError, MAX_CART_LINES, PricedCart, PricedLine, PricingError, Quantity, QuantityError,
};
pub use money::{Currency, CurrencyError, Money, MoneyError};
pub use order::{
    IdempotencyKey, IdempotencyKeyError, Order, OrderId, OrderIdError, OrderLine, OrderLinks,
    OrderStatus, OrderStatusError, OrderView, PaymentToken, PaymentTokenError, rfc3339_millis,
};
pub use product::Product;
pub use sku::{Sku, SkuError};
