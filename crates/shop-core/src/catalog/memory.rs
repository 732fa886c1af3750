//! catalog: the in-memory adapter of [`ProductStore`] (unit tests and the `fakes` feature).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

use super::{Product, ProductPage, ProductStore, Sku};
use crate::store::StoreError;
use lambda_kit::sync::lock;
/// Products in a sorted map; pages follow SKU order.
#[derive(Debug, Default)]
pub struct InMemoryProductStore {
    products: Mutex<BTreeMap<Sku, Product>>,
}

impl InMemoryProductStore {
    /// A store holding `products`.
    pub fn with_products(products: impl IntoIterator<Item = Product>) -> Self {
        Self {
            products: Mutex::new(products.into_iter().map(|p| (p.sku.clone(), p)).collect()),
        }
    }
}

impl ProductStore for InMemoryProductStore {
    async fn get(&self, sku: &Sku) -> Result<Option<Product>, StoreError> {
        Ok(lock(&self.products).get(sku).cloned())
    }

    async fn batch_get(&self, skus: &[Sku]) -> Result<HashMap<Sku, Product>, StoreError> {
        let products = lock(&self.products);
        Ok(skus
            .iter()
            .filter_map(|sku| products.get(sku).map(|p| (sku.clone(), p.clone())))
            .collect())
    }

    async fn list(&self, limit: u16, start_after: Option<&Sku>) -> Result<ProductPage, StoreError> {
        let products = lock(&self.products);
        let lower = start_after.map_or(Bound::Unbounded, Bound::Excluded);
        let items: Vec<Product> = products
            .range::<Sku, _>((lower, Bound::Unbounded))
            .take(usize::from(limit))
            .map(|(_, p)| p.clone())
            .collect();
        // Like a DynamoDB Scan with Limit: a full page says "maybe more".
        let last_evaluated = if items.len() == usize::from(limit) {
            items.last().map(|p| p.sku.clone())
        } else {
            None
        };
        Ok(ProductPage {
            items,
            last_evaluated,
        })
    }

    async fn put(&self, product: &Product) -> Result<(), StoreError> {
        lock(&self.products).insert(product.sku.clone(), product.clone());
        Ok(())
    }
}
