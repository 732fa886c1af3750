//! pricing: the workflow task (see the module docs of [`super`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cart::{Cart, PricedLine, Quantity};
use crate::catalog::ProductStore;
use crate::catalog::{Money, Sku};
use crate::checkout::error_types;
use crate::store::StoreError;
use lambda_kit::step::StepError;

/// Name of the function.
pub const FUNCTION_NAME: &str = "pricing";

/// How the workflow task logs: as this function, about the order in its input's `orderId`.
pub const STEP: lambda_kit::step::StepName = lambda_kit::step::StepName {
    function: FUNCTION_NAME,
    subject_field: "orderId",
};

/// Why an order could not be priced.
#[derive(Debug, thiserror::Error)]
pub enum PricingStepError {
    /// No lines in the cart.
    #[error("the cart has no lines")]
    CartEmpty,
    /// Lines whose product is no longer in the catalog.
    #[error("products no longer available: {}", join(.0))]
    ProductUnavailable(Vec<Sku>),
    /// Lines asking for more than the stock.
    #[error("not enough stock for: {}", join(.0))]
    OutOfStock(Vec<Sku>),
    /// The input is not what the workflow sends.
    #[error("invalid pricing request: {0}")]
    InvalidRequest(String),
    /// The catalog could not be read, or the cart cannot be totalled.
    #[error("pricing failed: {0}")]
    Unavailable(String),
}

fn join(skus: &[Sku]) -> String {
    skus.iter().map(Sku::as_str).collect::<Vec<_>>().join(", ")
}

impl StepError for PricingStepError {
    fn error_type(&self) -> &'static str {
        match self {
            Self::CartEmpty => error_types::CART_EMPTY,
            Self::ProductUnavailable(_) => error_types::PRODUCT_UNAVAILABLE,
            Self::OutOfStock(_) => error_types::OUT_OF_STOCK,
            Self::InvalidRequest(_) => error_types::INVALID_PRICING_REQUEST,
            Self::Unavailable(_) => error_types::PRICING_UNAVAILABLE,
        }
    }
}

impl From<StoreError> for PricingStepError {
    fn from(err: StoreError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

/// The step's input (see the module docs).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricingRequest {
    /// The order being priced (logs).
    #[serde(default)]
    pub order_id: String,
    /// The cart's `lines` attribute, DynamoDB JSON.
    #[serde(default)]
    pub lines: Option<serde_json::Value>,
    /// The cart's `version` attribute.
    #[serde(default)]
    pub cart_version: Option<serde_json::Value>,
}

/// The step's output (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PricedOrder {
    /// Priced lines, in SKU order.
    pub items: Vec<PricedLine>,
    /// Sum of the line totals.
    pub total: Money,
    /// Sum of the quantities.
    pub item_count: u32,
    /// The priced cart's version, as a string (as the cart item stores it), for `ClearCart`.
    pub cart_version: String,
}

fn invalid(problem: impl Into<String>) -> PricingStepError {
    PricingStepError::InvalidRequest(problem.into())
}

/// A DynamoDB JSON number (`{"N": "3"}`), a numeric string or a JSON number, as an integer.
fn number(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Object(o) => o.get("N").and_then(number),
        _ => None,
    }
}

impl PricingRequest {
    /// Parses the step's input.
    pub fn from_value(input: serde_json::Value) -> Result<Self, PricingStepError> {
        serde_json::from_value(input).map_err(|e| invalid(e.to_string()))
    }

    /// The cart described by the input.
    pub fn cart(&self) -> Result<Cart, PricingStepError> {
        let version = match &self.cart_version {
            None | Some(serde_json::Value::Null) => 0,
            Some(v) => number(v)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| invalid(format!("cartVersion {v} is not a version number")))?,
        };
        let lines = match &self.lines {
            None | Some(serde_json::Value::Null) => return Err(PricingStepError::CartEmpty),
            Some(serde_json::Value::Object(map)) => match map.get("M") {
                // The whole attribute ({"M": {...}}) rather than its map.
                Some(serde_json::Value::Object(inner)) if map.len() == 1 => inner,
                _ => map,
            },
            Some(other) => return Err(invalid(format!("lines {other} is not a map"))),
        };
        let mut parsed = BTreeMap::new();
        for (sku, quantity) in lines {
            let sku = Sku::parse(sku).map_err(|e| invalid(e.to_string()))?;
            let quantity = number(quantity)
                .ok_or_else(|| invalid(format!("line {sku}: {quantity} is not a quantity")))
                .and_then(|n| Quantity::new(n).map_err(|e| invalid(format!("line {sku}: {e}"))))?;
            parsed.insert(sku, quantity);
        }
        if parsed.is_empty() {
            return Err(PricingStepError::CartEmpty);
        }
        Ok(Cart {
            lines: parsed,
            version,
        })
    }
}

/// The pricing step over the catalog.
#[derive(Debug)]
pub struct Pricing<P> {
    products: P,
}

impl<P: ProductStore> Pricing<P> {
    /// Pricing against `products`.
    pub fn new(products: P) -> Self {
        Self { products }
    }

    /// Handles one invocation.
    pub async fn handle(&self, input: serde_json::Value) -> Result<PricedOrder, PricingStepError> {
        let request = PricingRequest::from_value(input)?;
        let result = self.price(&request).await;
        if let Err(
            err @ (PricingStepError::CartEmpty
            | PricingStepError::ProductUnavailable(_)
            | PricingStepError::OutOfStock(_)),
        ) = &result
        {
            // Permanent: the workflow does not retry them, so each is one failed checkout
            // (the transient `PricingUnavailable` is retried and counted by the kit's
            // `StepErrors` only).
            lambda_kit::metrics::count(
                crate::checkout::metric::CHECKOUTS_FAILED,
                1,
                &[("Reason", err.error_type())],
            );
        }
        result
    }

    /// Prices `request`'s cart: every SKU must be in the catalog with enough stock.
    pub async fn price(&self, request: &PricingRequest) -> Result<PricedOrder, PricingStepError> {
        let cart = request.cart()?;
        let products = self.products.batch_get(&cart.skus()).await?;
        let priced = cart
            .price(&products)
            .map_err(|e| PricingStepError::Unavailable(e.to_string()))?;
        if !priced.unavailable.is_empty() {
            return Err(PricingStepError::ProductUnavailable(priced.unavailable));
        }
        let short: Vec<Sku> = cart
            .lines
            .iter()
            .filter(|(sku, quantity)| products.get(*sku).is_some_and(|p| p.stock < quantity.get()))
            .map(|(sku, _)| sku.clone())
            .collect();
        if !short.is_empty() {
            return Err(PricingStepError::OutOfStock(short));
        }
        tracing::info!(
            total = priced.total.amount_minor,
            currency = %priced.total.currency,
            item_count = priced.item_count,
            "order priced"
        );
        Ok(PricedOrder {
            items: priced.items,
            total: priced.total,
            item_count: priced.item_count,
            cart_version: cart.version.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::InMemoryProductStore;
    use crate::test_support::product;

    fn pricing() -> Pricing<InMemoryProductStore> {
        Pricing::new(InMemoryProductStore::with_products([
            product("MUG", 1299, 10),
            product("TEE", 2000, 1),
        ]))
    }

    fn error_type(result: Result<PricedOrder, PricingStepError>) -> &'static str {
        result.err().map_or("ok", |e| e.error_type())
    }

    #[tokio::test]
    async fn prices_the_cart_in_dynamodb_json() {
        let input = serde_json::json!({
            "orderId": "ord_1",
            "lines": {"MUG": {"N": "2"}, "TEE": {"N": "1"}},
            "cartVersion": {"N": "3"}
        });
        let priced = pricing().handle(input).await;
        let json = priced
            .ok()
            .map(|p| serde_json::to_value(p).unwrap_or_default());
        assert_eq!(
            json,
            Some(serde_json::json!({
                "items": [
                    {"sku": "MUG", "name": "Product MUG", "quantity": 2,
                     "unitPrice": {"amount": 1299, "currency": "EUR"},
                     "lineTotal": {"amount": 2598, "currency": "EUR"}},
                    {"sku": "TEE", "name": "Product TEE", "quantity": 1,
                     "unitPrice": {"amount": 2000, "currency": "EUR"},
                     "lineTotal": {"amount": 2000, "currency": "EUR"}}
                ],
                "total": {"amount": 4598, "currency": "EUR"},
                "itemCount": 3,
                "cartVersion": "3"
            }))
        );
    }

    #[tokio::test]
    async fn accepts_the_attribute_forms_of_lines_and_version() {
        let input = serde_json::json!({
            "orderId": "ord_1",
            "lines": {"M": {"MUG": {"N": "1"}}},
            "cartVersion": "7"
        });
        let priced = pricing().handle(input).await;
        assert_eq!(priced.ok().map(|p| p.cart_version), Some("7".to_owned()));
    }

    #[tokio::test]
    async fn empty_missing_and_unknown_lines() {
        for lines in [serde_json::json!({}), serde_json::Value::Null] {
            let input =
                serde_json::json!({"orderId": "o", "lines": lines, "cartVersion": {"N": "1"}});
            assert_eq!(error_type(pricing().handle(input).await), "CartEmpty");
        }
        assert_eq!(
            error_type(pricing().handle(serde_json::json!({"orderId": "o"})).await),
            "CartEmpty"
        );
        let gone = serde_json::json!({"lines": {"MUG": {"N": "1"}, "GONE": {"N": "1"}}});
        let result = pricing().handle(gone).await;
        assert!(
            result
                .as_ref()
                .err()
                .is_some_and(|e| e.to_string().contains("GONE"))
        );
        assert_eq!(error_type(result), "ProductUnavailable");
    }

    #[tokio::test]
    async fn more_than_the_stock_is_out_of_stock() {
        let input = serde_json::json!({"lines": {"MUG": {"N": "10"}, "TEE": {"N": "2"}}});
        let result = pricing().handle(input).await;
        assert!(
            result
                .as_ref()
                .err()
                .is_some_and(|e| e.to_string().contains("TEE"))
        );
        assert_eq!(error_type(result), "OutOfStock");
    }

    #[tokio::test]
    async fn malformed_input_is_an_invalid_request() {
        for input in [
            serde_json::json!({"lines": {"mug": {"N": "1"}}}),
            serde_json::json!({"lines": {"MUG": {"N": "0"}}}),
            serde_json::json!({"lines": {"MUG": {"S": "x"}}}),
            serde_json::json!({"lines": ["MUG"]}),
            serde_json::json!({"lines": {"MUG": {"N": "1"}}, "cartVersion": {"N": "-1"}}),
            serde_json::json!([1, 2]),
        ] {
            assert_eq!(
                error_type(pricing().handle(input.clone()).await),
                "InvalidPricingRequest",
                "{input}"
            );
        }
    }
}
