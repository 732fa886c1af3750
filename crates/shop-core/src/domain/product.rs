//! A catalog product.

use serde::{Deserialize, Serialize};

use super::{Money, Sku};

/// A product as stored in the catalog and shown by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
