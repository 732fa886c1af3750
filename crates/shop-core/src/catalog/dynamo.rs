//! catalog: the DynamoDB adapter of [`ProductStore`] (products table, key `sku`).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::{Currency, Money, Product, ProductPage, ProductStore, Sku};
use crate::store::{Item, ItemReader, StoreError, backend, n, s};

/// BatchGetItem accepts at most 100 keys per call.
const BATCH_GET_MAX_KEYS: usize = 100;
/// Rounds of retrying `UnprocessedKeys` before giving up.
const BATCH_GET_MAX_ROUNDS: u32 = 5;

fn product_from_item(item: &Item) -> Result<Product, StoreError> {
    let key = match item.get("sku") {
        Some(AttributeValue::S(sku)) => sku.as_str(),
        _ => "<no sku>",
    };
    let r = ItemReader { item, key };
    let sku = Sku::parse(r.string("sku")?).map_err(|e| r.malformed(e.to_string()))?;
    let currency =
        Currency::parse(r.string("currency")?).map_err(|e| r.malformed(e.to_string()))?;
    Ok(Product {
        sku,
        name: r.string("name")?.to_owned(),
        description: r.optional_string("description")?.unwrap_or_default(),
        price: Money::new(r.number("price_minor")?, currency),
        stock: r.number("stock")?,
    })
}

fn product_to_item(product: &Product) -> Item {
    HashMap::from([
        ("sku".to_owned(), s(product.sku.as_str())),
        ("name".to_owned(), s(&product.name)),
        ("description".to_owned(), s(&product.description)),
        ("price_minor".to_owned(), n(product.price.amount_minor)),
        ("currency".to_owned(), s(product.price.currency.as_str())),
        ("stock".to_owned(), n(product.stock)),
    ])
}

fn sku_key(sku: &Sku) -> Item {
    HashMap::from([("sku".to_owned(), s(sku.as_str()))])
}

/// The catalog in a DynamoDB table keyed by `sku`.
#[derive(Debug, Clone)]
pub struct DynamoProductStore {
    client: Client,
    table: String,
}

impl DynamoProductStore {
    /// A store on `table`, using `client` (build the client once per process).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl ProductStore for DynamoProductStore {
    async fn get(&self, sku: &Sku) -> Result<Option<Product>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(sku_key(sku)))
            .send()
            .await
            .map_err(|e| backend("GetItem products", &e))?;
        output.item().map(product_from_item).transpose()
    }

    async fn batch_get(&self, skus: &[Sku]) -> Result<HashMap<Sku, Product>, StoreError> {
        let mut unique: Vec<&Sku> = skus.iter().collect();
        unique.sort();
        unique.dedup();
        let mut found = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(BATCH_GET_MAX_KEYS) {
            let mut keys: Vec<Item> = chunk.iter().map(|sku| sku_key(sku)).collect();
            for round in 0..BATCH_GET_MAX_ROUNDS {
                if keys.is_empty() {
                    break;
                }
                if round > 0 {
                    tokio::time::sleep(Duration::from_millis(20 << round)).await;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .build()
                    .map_err(|e| StoreError::Backend {
                        operation: "BatchGetItem products",
                        message: e.to_string(),
                    })?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| backend("BatchGetItem products", &e))?;
                for item in output
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let product = product_from_item(item)?;
                    found.insert(product.sku.clone(), product);
                }
                keys = output
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
            }
            if !keys.is_empty() {
                return Err(StoreError::Backend {
                    operation: "BatchGetItem products",
                    message: format!(
                        "{} keys still unprocessed after {BATCH_GET_MAX_ROUNDS} rounds",
                        keys.len()
                    ),
                });
            }
        }
        Ok(found)
    }

    async fn list(&self, limit: u16, start_after: Option<&Sku>) -> Result<ProductPage, StoreError> {
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(i32::from(limit))
            .set_exclusive_start_key(start_after.map(sku_key))
            .send()
            .await
            .map_err(|e| backend("Scan products", &e))?;
        let items = output
            .items()
            .iter()
            .map(product_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let last_evaluated = match output.last_evaluated_key().and_then(|k| k.get("sku")) {
            Some(AttributeValue::S(sku)) => {
                Some(Sku::parse(sku).map_err(|e| StoreError::Malformed {
                    key: sku.clone(),
                    problem: e.to_string(),
                })?)
            }
            _ => None,
        };
        Ok(ProductPage {
            items,
            last_evaluated,
        })
    }

    async fn put(&self, product: &Product) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(product_to_item(product)))
            .send()
            .await
            .map_err(|e| backend("PutItem products", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_item_round_trip() {
        let product = Product {
            sku: Sku::parse("MUG-01").unwrap(),
            name: "Mug".to_owned(),
            description: "A mug".to_owned(),
            price: Money::new(899, Currency::EUR),
            stock: 12,
        };
        let item = product_to_item(&product);
        assert_eq!(
            item.get("price_minor"),
            Some(&AttributeValue::N("899".to_owned()))
        );
        assert_eq!(
            item.get("currency"),
            Some(&AttributeValue::S("EUR".to_owned()))
        );
        assert_eq!(product_from_item(&item).ok(), Some(product));
    }

    #[test]
    fn malformed_product_names_the_attribute() {
        let mut item = HashMap::from([("sku".to_owned(), s("MUG-01"))]);
        item.insert("name".to_owned(), n(5));
        let err = product_from_item(&item)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("MUG-01") && err.contains("currency"), "{err}");
    }
}
