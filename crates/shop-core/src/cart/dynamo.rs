//! cart: the DynamoDB adapter of [`CartStore`]: `CART#<id>` items of the sessions table,
//! beside the `SESSION#` items of [`crate::auth::DynamoSessionStore`] (a cart lives and
//! expires with its session).
//!
//! A cart item: `pk` (S, [`cart_pk`]), `lines` (M, SKU → quantity N), `version` (N, bumped by
//! every write), `updated_at` (N) and `expires_at` (N, the table's TTL attribute).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::{Cart, CartMerge, CartMove, CartStore, Quantity, cart_pk};
use crate::auth::session::SessionId;
use crate::catalog::Sku;
use crate::store::{
    Item, ItemReader, StoreError, backend, delete_item, failed_conditions, is_conditional_failure,
    n, pk_key, s,
};

/// Carts in the sessions table, keyed by `pk`, with TTL on `expires_at`.
#[derive(Debug, Clone)]
pub struct DynamoCartStore {
    client: Client,
    table: String,
}

impl DynamoCartStore {
    /// A store on `table` (the sessions table), using `client` (build the client once per
    /// process).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn cart_from_item(id: &SessionId, item: &Item, now: i64) -> Result<Cart, StoreError> {
    let key = cart_pk(id);
    let r = ItemReader { item, key: &key };
    let version: u64 = r.number("version")?;
    let expires_at: i64 = r.number("expires_at")?;
    if expires_at <= now {
        // Expired but not yet swept by TTL: empty, but keep the version for the next write.
        return Ok(Cart {
            lines: BTreeMap::new(),
            version,
        });
    }
    let Some(AttributeValue::M(stored)) = item.get("lines") else {
        return Err(r
            .malformed("attribute lines is missing or not a map")
            .into());
    };
    let mut lines = BTreeMap::new();
    for (sku, quantity) in stored {
        let sku = Sku::parse(sku).map_err(|e| r.malformed(e.to_string()))?;
        let quantity = match quantity {
            AttributeValue::N(q) => q.parse::<i64>().ok().and_then(|q| Quantity::new(q).ok()),
            _ => None,
        }
        .ok_or_else(|| r.malformed(format!("line {sku} has an invalid quantity")))?;
        lines.insert(sku, quantity);
    }
    Ok(Cart { lines, version })
}

/// The item, condition and condition values of a version-conditional cart write: version 0
/// creates the cart only if none is stored, any other version replaces exactly that version.
fn cart_write(
    id: &SessionId,
    cart: &Cart,
    now: i64,
    expires_at: i64,
) -> (Item, &'static str, Option<Item>) {
    let lines: Item = cart
        .lines
        .iter()
        .map(|(sku, q)| (sku.as_str().to_owned(), n(q.get())))
        .collect();
    let item = HashMap::from([
        ("pk".to_owned(), s(cart_pk(id))),
        ("lines".to_owned(), AttributeValue::M(lines)),
        ("version".to_owned(), n(cart.version + 1)),
        ("updated_at".to_owned(), n(now)),
        ("expires_at".to_owned(), n(expires_at)),
    ]);
    if cart.version == 0 {
        (item, "attribute_not_exists(pk)", None)
    } else {
        let values = HashMap::from([(":expected".to_owned(), n(cart.version))]);
        (item, "version = :expected", Some(values))
    }
}

impl CartStore for DynamoCartStore {
    async fn get_cart(&self, id: &SessionId, now: i64) -> Result<Cart, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(pk_key(cart_pk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem cart", &e))?;
        match output.item() {
            Some(item) => cart_from_item(id, item, now),
            None => Ok(Cart::default()),
        }
    }

    async fn put_cart(
        &self,
        id: &SessionId,
        cart: &Cart,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let (item, condition, values) = cart_write(id, cart, now, expires_at);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values);
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if is_conditional_failure(&err) => Err(StoreError::VersionConflict {
                expected: cart.version,
            }),
            Err(err) => Err(backend("PutItem cart", &err)),
        }
    }

    async fn delete_cart(&self, id: &SessionId) -> Result<(), StoreError> {
        delete_item(
            &self.client,
            &self.table,
            pk_key(cart_pk(id)),
            "DeleteItem cart",
        )
        .await
    }

    async fn delete_cart_if_version(
        &self,
        id: &SessionId,
        version: u64,
    ) -> Result<bool, StoreError> {
        // The condition fails for another version and for a missing item alike: either way
        // there is nothing of this checkout's to clear.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(pk_key(cart_pk(id))))
            .condition_expression("version = :version")
            .expression_attribute_values(":version", n(version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_failure(&err) => Ok(false),
            Err(err) => Err(backend("DeleteItem cart (if version)", &err)),
        }
    }

    async fn move_cart(&self, merge: &CartMerge<'_>) -> Result<CartMove, StoreError> {
        let CartMerge {
            source,
            source_version,
            target,
            merged,
            now,
            expires_at,
        } = *merge;
        let build = |err| backend("TransactWriteItems cart move (build)", &err);
        let (item, condition, values) = cart_write(target, merged, now, expires_at);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .build()
            .map_err(build)?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(pk_key(cart_pk(source))))
            .condition_expression("version = :source_version")
            .expression_attribute_values(":source_version", n(source_version))
            .build()
            .map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(CartMove::Moved),
            Err(err) => {
                let failed = failed_conditions(&err);
                if failed.contains(&1) {
                    Ok(CartMove::SourceChanged)
                } else if failed.contains(&0) {
                    Ok(CartMove::TargetChanged)
                } else {
                    Err(backend("TransactWriteItems cart move", &err))
                }
            }
        }
    }
}
