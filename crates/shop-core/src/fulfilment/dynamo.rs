//! fulfilment: the DynamoDB adapter.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::ReservationMarkers;
use crate::orders::OrderId;
use crate::store::StoreError;
use crate::store::{backend, is_conditional_failure};

/// The markers on the products table (`PRODUCTS_TABLE`, key `sku`).
#[derive(Debug, Clone)]
pub struct DynamoReservationMarkers {
    client: Client,
    table: String,
}

impl DynamoReservationMarkers {
    /// Markers on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl ReservationMarkers for DynamoReservationMarkers {
    async fn release(&self, sku: &str, order_id: &OrderId) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("sku", AttributeValue::S(sku.to_owned()))
            .update_expression("DELETE reserved_for :o")
            .condition_expression("attribute_exists(sku)")
            .expression_attribute_values(":o", AttributeValue::Ss(vec![order_id.to_string()]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_conditional_failure(&err) => {
                tracing::info!(sku, "product no longer in the catalog: no marker to remove");
                Ok(())
            }
            Err(err) => Err(backend("UpdateItem products reserved_for", &err)),
        }
    }
}
