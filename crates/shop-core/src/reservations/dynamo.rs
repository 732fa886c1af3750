//! reservations: the DynamoDB adapters.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::{Reservation, Reservations, StockRelease};
use crate::orders::OrderId;
use crate::store::{ItemReader, StoreError, backend, failed_conditions};

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// The reservations table (key `sku` + `order_id`, attribute `quantity`).
#[derive(Debug, Clone)]
pub struct DynamoReservations {
    client: Client,
    table: String,
}

impl DynamoReservations {
    /// Reservations in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl Reservations for DynamoReservations {
    async fn consume(&self, sku: &str, order_id: &OrderId) -> Result<(), StoreError> {
        // Deleting an item that is not there succeeds: a redelivery consumes nothing twice.
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("sku", s(sku))
            .key("order_id", s(order_id.as_str()))
            .send()
            .await
            .map_err(|err| backend("DeleteItem reservations", &err))?;
        Ok(())
    }

    async fn all(&self) -> Result<Vec<Reservation>, StoreError> {
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| backend("Scan reservations", &e))?;
        items
            .iter()
            .map(|item| {
                let r = ItemReader {
                    item,
                    key: "reservation",
                };
                Ok(Reservation {
                    sku: r.string("sku")?.to_owned(),
                    order_id: OrderId::parse(r.string("order_id")?)
                        .map_err(|e| r.malformed(e.to_string()))?,
                    quantity: r.number("quantity")?,
                })
            })
            .collect()
    }
}

/// Releases through one `TransactWriteItems`: the reservation's `Delete` (if it is there)
/// and the product's `SET stock = stock + :q` — the same transaction as the workflows'
/// `ReleaseLine` state.
#[derive(Debug, Clone)]
pub struct DynamoStockRelease {
    client: Client,
    reservations_table: String,
    products_table: String,
}

impl DynamoStockRelease {
    /// Releases on these two tables.
    pub fn new(
        client: Client,
        reservations_table: impl Into<String>,
        products_table: impl Into<String>,
    ) -> Self {
        Self {
            client,
            reservations_table: reservations_table.into(),
            products_table: products_table.into(),
        }
    }
}

impl StockRelease for DynamoStockRelease {
    async fn release(
        &self,
        sku: &str,
        order_id: &OrderId,
        quantity: u32,
    ) -> Result<bool, StoreError> {
        let build = |err| backend("TransactWriteItems release (build)", &err);
        let delete = Delete::builder()
            .table_name(&self.reservations_table)
            .key("sku", s(sku))
            .key("order_id", s(order_id.as_str()))
            .condition_expression("attribute_exists(order_id)")
            .build()
            .map_err(build)?;
        let update = Update::builder()
            .table_name(&self.products_table)
            .key("sku", s(sku))
            .update_expression("SET stock = stock + :q")
            .condition_expression("attribute_exists(sku)")
            .expression_attribute_values(":q", AttributeValue::N(quantity.to_string()))
            .build()
            .map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // Not held (never reserved, released already) or the product is gone: nothing
            // to give back.
            Err(err) if !failed_conditions(&err).is_empty() => Ok(false),
            Err(err) => Err(backend("TransactWriteItems release", &err)),
        }
    }
}
