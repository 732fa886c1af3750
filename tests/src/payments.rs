//! Payments: the FIFO ledger ([`LedgerEntry`], [`Stack::ledger`], [`Stack::wait_for_ledger`])
//! and the simulated provider's records ([`Stack::payment`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::{Stack, eventually, text};

/// One entry of the payments ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub seq: String,
    pub kind: String,
    pub operation_id: String,
    pub amount_minor: i64,
}

impl Stack {
    /// The ledger entries of an order, in `seq` order.
    pub async fn ledger(&self, order_id: &str) -> Vec<LedgerEntry> {
        let output = self
            .dynamodb()
            .query()
            .table_name(self.output("LedgerTableName"))
            .key_condition_expression("order_id = :o")
            .expression_attribute_values(":o", AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("query the ledger");
        output
            .items()
            .iter()
            .map(|item| LedgerEntry {
                seq: text(item, "seq"),
                kind: text(item, "kind"),
                operation_id: text(item, "operation_id"),
                amount_minor: text(item, "amount_minor").parse().unwrap_or(-1),
            })
            .collect()
    }

    /// Polls the ledger until it holds exactly `kinds` (in this order); returns the entries.
    pub async fn wait_for_ledger(&self, order_id: &str, kinds: &[&str]) -> Vec<LedgerEntry> {
        eventually(
            &format!("ledger of {order_id} is {kinds:?}"),
            std::time::Duration::from_secs(60),
            || async {
                let entries = self.ledger(order_id).await;
                let got: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
                assert!(
                    got.len() <= kinds.len() && kinds.starts_with(&got),
                    "ledger of {order_id}: {entries:?}, expected {kinds:?}"
                );
                (got == kinds).then_some(entries)
            },
        )
        .await
    }

    /// The simulated provider's record of an operation (`charge-<orderId>` …).
    pub async fn payment(&self, operation_id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb()
            .get_item()
            .table_name(self.output("PaymentsTableName"))
            .key("operation_id", AttributeValue::S(operation_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get a payment record")
            .item
    }
}
