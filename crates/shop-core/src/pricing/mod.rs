//! pricing: the checkout workflow's `PriceOrder` step. Prices the stored cart at current
//! catalog prices and checks stock early (the reservation that follows is authoritative).
//!
//! Input (built by the ASL from the `LoadCart` result, DynamoDB JSON as GetItem returns it):
//!
//! ```json
//! {"orderId": "ord_…", "correlationId": "…",
//!  "lines": {"SKU-1": {"N": "2"}, "MUG": {"N": "1"}},
//!  "cartVersion": {"N": "3"}}
//! ```
//!
//! `lines` is `$.cart.Item.lines.M` (the whole attribute `{"M": {…}}` is accepted too);
//! `cartVersion` is `$.cart.Item.version` (`{"N": "3"}`), or `$.cart.Item.version.N`
//! (`"3"`), or a plain number. `correlationId` is optional (logs only). No lines (missing,
//! `null` or `{}`) is `CartEmpty`.
//!
//! Output (`$.priced`):
//!
//! ```json
//! {"items": [{"sku": "MUG", "name": "Mug", "quantity": 2,
//!             "unitPrice": {"amount": 1299, "currency": "EUR"},
//!             "lineTotal": {"amount": 2598, "currency": "EUR"}}],
//!  "total": {"amount": 2598, "currency": "EUR"}, "itemCount": 2, "cartVersion": "3"}
//! ```
//!
//! Errors (`errorType`): `CartEmpty`, `ProductUnavailable` (a SKU not in the catalog),
//! `OutOfStock` (stock < quantity), `InvalidPricingRequest` (malformed input, a bug),
//! `PricingUnavailable` (the catalog could not be read: transient).

mod step;

pub use step::{FUNCTION_NAME, PricedOrder, Pricing, PricingRequest, PricingStepError, STEP};

use lambda_kit::config::{ConfigError, Settings, lookup_required};

/// The pricing function's settings.
///
/// | variable | meaning |
/// | --- | --- |
/// | `PRODUCTS_TABLE` | the catalog (required) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingSettings {
    /// The products table.
    pub products_table: String,
}

impl Settings for PricingSettings {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            products_table: lookup_required("PRODUCTS_TABLE", lookup)?,
        })
    }
}

#[cfg(test)]
mod tests;
