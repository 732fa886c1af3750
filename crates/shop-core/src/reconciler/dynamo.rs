//! reconciler: the DynamoDB adapter of [`ReservationScan`] (reservations table).

use aws_sdk_dynamodb::Client;

use super::ReservationScan;
use crate::orders::OrderId;
use crate::store::{ItemReader, StoreError, backend};

/// Scans the reservations table (key `sku` + `order_id`, attribute `quantity`).
#[derive(Debug, Clone)]
pub struct DynamoReservationScan {
    client: Client,
    table: String,
}

impl DynamoReservationScan {
    /// Scans `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl ReservationScan for DynamoReservationScan {
    async fn all(&self) -> Result<Vec<(String, OrderId, u32)>, StoreError> {
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
                let order_id = OrderId::parse(r.string("order_id")?)
                    .map_err(|e| r.malformed(e.to_string()))?;
                Ok((r.string("sku")?.to_owned(), order_id, r.number("quantity")?))
            })
            .collect()
    }
}
