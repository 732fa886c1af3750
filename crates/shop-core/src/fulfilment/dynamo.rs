//! fulfilment: the DynamoDB adapter.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::Reservations;
use crate::orders::OrderId;
use crate::store::StoreError;
use crate::store::backend;

/// The reservations table (`RESERVATIONS_TABLE`, key `sku` + `order_id`).
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
            .key("sku", AttributeValue::S(sku.to_owned()))
            .key("order_id", AttributeValue::S(order_id.to_string()))
            .send()
            .await
            .map_err(|err| backend("DeleteItem reservations", &err))?;
        Ok(())
    }
}
