//! ledger: records every charge and refund in the order the payments-ledger FIFO queue
//! (`MessageGroupId` = order id) delivered them, one at a time
//! ([`lambda_kit::messaging::process_fifo_records`]: a failed record holds back the rest of its
//! group).
//!
//! Events: `PaymentCaptured` and `PaymentRefunded` (`detail`: `orderId`, `operationId`,
//! `amount` `{amount, currency}`), sent by the checkout and cancel-order workflows.
//!
//! Table (`LEDGER_TABLE`): key `order_id` (S) + `seq` (S, the record's `SequenceNumber`
//! zero-padded to 20 digits, so string order is delivery order); attributes `operation_id`,
//! `kind` (the event type: `PaymentCaptured` | `PaymentRefunded`), `amount_minor` (N),
//! `currency`, `event_id`, `recorded_at` (N, epoch seconds).
//!
//! Once per operation, however it is resent: the entry is written in one transaction with a
//! guard item keyed by the operation (`order_id` = `operation#<operationId>`, `seq` = `guard`,
//! pointing at the entry), both conditional on not existing. A redelivery of the same message
//! (same sequence number) finds the entry; a resend of the operation after the queue's
//! 5-minute deduplication window (a new sequence number) finds the guard. Either counts as
//! done. Guards live in partitions of their own, so an order's query sees only its entries.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use crate::domain::Money;
use crate::events::EventType;
use crate::store::StoreError;
use crate::store::{backend, failed_conditions};
use lambda_kit::clock::Clock;
use lambda_kit::messaging::{
    FifoRecord, ProcessError, RecordOutcome, SqsBatchResponse, SqsEvent, process_fifo_records,
};

/// Name of the function.
pub const FUNCTION_NAME: &str = "ledger";

/// `kind` of a charge's entry (its event type).
pub const CHARGE: &str = EventType::PaymentCaptured.as_str();
/// `kind` of a refund's entry (its event type).
pub const REFUND: &str = EventType::PaymentRefunded.as_str();

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The order (partition key).
    pub order_id: String,
    /// The FIFO sequence number, zero-padded to 20 digits (sort key).
    pub seq: String,
    /// `charge-<orderId>` or `refund-<orderId>`.
    pub operation_id: String,
    /// [`CHARGE`] or [`REFUND`].
    pub kind: &'static str,
    /// The amount charged or refunded.
    pub amount: Money,
    /// The event it records.
    pub event_id: String,
    /// When it was recorded (epoch seconds).
    pub recorded_at: i64,
}

/// Partition key of the guard item of `operation_id`.
pub fn guard_key(operation_id: &str) -> String {
    format!("operation#{operation_id}")
}

/// Sort key of every guard item.
pub const GUARD_SEQ: &str = "guard";

/// Where entries are kept.
pub trait LedgerStore: Send + Sync {
    /// Records `entry` unless its key or its operation is there already; `Ok(false)` for a
    /// duplicate.
    fn record(&self, entry: &LedgerEntry) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// `SequenceNumber` zero-padded to 20 digits (SQS sequence numbers are up to 20 digits).
pub fn padded_sequence(sequence_number: &str) -> Result<String, ProcessError> {
    if sequence_number.is_empty()
        || sequence_number.len() > 20
        || !sequence_number.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ProcessError::Malformed(format!(
            "SequenceNumber {sequence_number:?} is not up to 20 digits"
        )));
    }
    Ok(format!("{sequence_number:0>20}"))
}

/// The ledger consumer.
#[derive(Debug)]
pub struct Ledger<S> {
    store: S,
    clock: Clock,
}

impl<S: LedgerStore> Ledger<S> {
    /// A ledger recording into `store`.
    pub fn new(store: S) -> Self {
        Self {
            store,
            clock: Clock::System,
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The store (tests).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Processes one SQS FIFO batch; returns the records to retry.
    pub async fn process(&self, event: SqsEvent) -> SqsBatchResponse {
        process_fifo_records(FUNCTION_NAME, event.records, |record| self.handle(record)).await
    }

    /// The entry a record makes.
    pub fn entry_of(&self, record: &FifoRecord) -> Result<LedgerEntry, ProcessError> {
        let event = &record.envelope;
        let kind = match EventType::of(event) {
            Some(EventType::PaymentCaptured) => CHARGE,
            Some(EventType::PaymentRefunded) => REFUND,
            _ => {
                return Err(ProcessError::Malformed(format!(
                    "{} does not belong on the payments ledger",
                    event.event_type
                )));
            }
        };
        let field = |name: &str| {
            event
                .detail_str(name)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ProcessError::Malformed(format!("{} without detail.{name}", event.event_type))
                })
        };
        let order_id = field("orderId")?;
        let operation_id = field("operationId")?;
        let amount: Money = event
            .detail
            .get("amount")
            .cloned()
            .and_then(|a| serde_json::from_value(a).ok())
            .ok_or_else(|| {
                ProcessError::Malformed(format!(
                    "{} without a valid detail.amount",
                    event.event_type
                ))
            })?;
        if order_id != record.message_group_id {
            tracing::warn!(order_id = %order_id, group = %record.message_group_id, "order id differs from the message group");
        }
        Ok(LedgerEntry {
            order_id,
            seq: padded_sequence(&record.sequence_number)?,
            operation_id,
            kind,
            amount,
            event_id: event.event_id.clone(),
            recorded_at: self.clock.now(),
        })
    }

    /// Records one FIFO record.
    pub async fn handle(&self, record: FifoRecord) -> Result<RecordOutcome, ProcessError> {
        let entry = self.entry_of(&record)?;
        let recorded = self.store.record(&entry).await?;
        tracing::info!(
            order_id = %entry.order_id,
            seq = %entry.seq,
            kind = entry.kind,
            operation_id = %entry.operation_id,
            amount = entry.amount.amount_minor,
            "ledger entry recorded"
        );
        Ok(if recorded {
            RecordOutcome::Processed
        } else {
            RecordOutcome::Duplicate
        })
    }
}

/// The ledger table.
#[derive(Debug, Clone)]
pub struct DynamoLedgerStore {
    client: Client,
    table: String,
}

impl DynamoLedgerStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl LedgerStore for DynamoLedgerStore {
    async fn record(&self, e: &LedgerEntry) -> Result<bool, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let build = |err| backend("TransactWriteItems ledger (build)", &err);
        let entry = Put::builder()
            .table_name(&self.table)
            .item("order_id", s(&e.order_id))
            .item("seq", s(&e.seq))
            .item("operation_id", s(&e.operation_id))
            .item("kind", s(e.kind))
            .item(
                "amount_minor",
                AttributeValue::N(e.amount.amount_minor.to_string()),
            )
            .item("currency", s(e.amount.currency.as_str()))
            .item("event_id", s(&e.event_id))
            .item("recorded_at", AttributeValue::N(e.recorded_at.to_string()))
            .condition_expression("attribute_not_exists(order_id)")
            .build()
            .map_err(build)?;
        let guard = Put::builder()
            .table_name(&self.table)
            .item("order_id", s(&guard_key(&e.operation_id)))
            .item("seq", s(GUARD_SEQ))
            .item("entry_order_id", s(&e.order_id))
            .item("entry_seq", s(&e.seq))
            .condition_expression("attribute_not_exists(order_id)")
            .build()
            .map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(entry).build())
            .transact_items(TransactWriteItem::builder().put(guard).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // The entry (a redelivery) or the guard (a resend of the operation) is there.
            Err(err) if !failed_conditions(&err).is_empty() => Ok(false),
            Err(err) => Err(backend("TransactWriteItems ledger", &err)),
        }
    }
}

/// Entries in memory (tests); can be told to fail.
#[derive(Debug, Default)]
pub struct InMemoryLedgerStore {
    entries: Mutex<BTreeMap<(String, String), LedgerEntry>>,
    failing_operation: Mutex<Option<String>>,
}

impl InMemoryLedgerStore {
    /// The entries of `order_id`, in `seq` order.
    pub fn entries(&self, order_id: &str) -> Vec<LedgerEntry> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|e| e.order_id == order_id)
            .cloned()
            .collect()
    }

    /// Makes every write of `operation_id` fail (or none).
    pub fn fail_operation(&self, operation_id: Option<&str>) {
        *self
            .failing_operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = operation_id.map(str::to_owned);
    }
}

impl LedgerStore for InMemoryLedgerStore {
    async fn record(&self, entry: &LedgerEntry) -> Result<bool, StoreError> {
        if self
            .failing_operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_deref()
            == Some(entry.operation_id.as_str())
        {
            return Err(StoreError::Backend {
                operation: "TransactWriteItems ledger",
                message: "unavailable (test)".to_owned(),
            });
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (entry.order_id.clone(), entry.seq.clone());
        if entries.contains_key(&key)
            || entries
                .values()
                .any(|e| e.operation_id == entry.operation_id)
        {
            return Ok(false);
        }
        entries.insert(key, entry.clone());
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsMessage;
    use lambda_kit::messaging::EventEnvelope;

    fn record(
        id: &str,
        event_type: EventType,
        order: &str,
        operation: &str,
        seq: u64,
    ) -> SqsMessage {
        let event = EventEnvelope::new(
            event_type,
            "checkout",
            "corr",
            1_800_000_000,
            serde_json::json!({
                "orderId": order, "operationId": operation,
                "amount": {"amount": 2598, "currency": "EUR"}
            }),
        );
        let mut record = SqsMessage::default();
        record.message_id = Some(id.to_owned());
        record.body = Some(event.to_json());
        record
            .attributes
            .insert("MessageGroupId".to_owned(), order.to_owned());
        record
            .attributes
            .insert("SequenceNumber".to_owned(), seq.to_string());
        record
    }

    fn batch(records: Vec<SqsMessage>) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = records;
        event
    }

    fn failures(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[test]
    fn pads_sequence_numbers_to_20_digits() {
        assert_eq!(
            padded_sequence("18849496460467696128").ok().as_deref(),
            Some("18849496460467696128")
        );
        assert_eq!(
            padded_sequence("42").ok().as_deref(),
            Some("00000000000000000042")
        );
        for bad in ["", "-1", "1a", "123456789012345678901"] {
            assert!(padded_sequence(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn records_charge_and_refund_in_order_once() {
        let ledger = Ledger::new(InMemoryLedgerStore::default()).with_clock(Clock::manual(7));
        let records = vec![
            record(
                "m1",
                EventType::PaymentCaptured,
                "ord_1",
                "charge-ord_1",
                10,
            ),
            record(
                "m2",
                EventType::PaymentRefunded,
                "ord_1",
                "refund-ord_1",
                11,
            ),
        ];
        let response = ledger.process(batch(records.clone())).await;
        assert!(failures(&response).is_empty());
        // A redelivery writes the same keys: nothing new, no failure.
        let response = ledger.process(batch(records)).await;
        assert!(failures(&response).is_empty());
        let entries = ledger.store().entries("ord_1");
        let summary: Vec<(&str, &str, &str, i64)> = entries
            .iter()
            .map(|e| {
                (
                    e.seq.as_str(),
                    e.kind,
                    e.operation_id.as_str(),
                    e.amount.amount_minor,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("00000000000000000010", CHARGE, "charge-ord_1", 2598),
                ("00000000000000000011", REFUND, "refund-ord_1", 2598),
            ]
        );
        assert_eq!(entries[0].recorded_at, 7);
    }

    #[tokio::test]
    async fn a_resend_after_the_fifo_dedup_window_is_a_duplicate() {
        let ledger = Ledger::new(InMemoryLedgerStore::default());
        let first = record(
            "m1",
            EventType::PaymentCaptured,
            "ord_1",
            "charge-ord_1",
            10,
        );
        // The same charge sent again later: a new message id and sequence number.
        let resent = record(
            "m9",
            EventType::PaymentCaptured,
            "ord_1",
            "charge-ord_1",
            99,
        );
        assert!(failures(&ledger.process(batch(vec![first])).await).is_empty());
        assert!(failures(&ledger.process(batch(vec![resent])).await).is_empty());
        let entries = ledger.store().entries("ord_1");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].seq, "00000000000000000010");
    }

    #[tokio::test]
    async fn a_failed_entry_holds_back_the_later_entries_of_its_order() {
        let ledger = Ledger::new(InMemoryLedgerStore::default());
        ledger.store().fail_operation(Some("charge-ord_1"));
        let records = vec![
            record("m1", EventType::PaymentCaptured, "ord_1", "charge-ord_1", 1),
            record("m2", EventType::PaymentCaptured, "ord_2", "charge-ord_2", 2),
            record("m3", EventType::PaymentRefunded, "ord_1", "refund-ord_1", 3),
        ];
        let response = ledger.process(batch(records.clone())).await;
        assert_eq!(failures(&response), vec!["m1", "m3"]);
        assert!(
            ledger.store().entries("ord_1").is_empty(),
            "the refund was not recorded before its charge"
        );
        assert_eq!(ledger.store().entries("ord_2").len(), 1);
        // The redelivery, once the store works again, records them in order.
        ledger.store().fail_operation(None);
        let response = ledger
            .process(batch(vec![records[0].clone(), records[2].clone()]))
            .await;
        assert!(failures(&response).is_empty());
        let kinds: Vec<&str> = ledger
            .store()
            .entries("ord_1")
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, vec!["PaymentCaptured", "PaymentRefunded"]);
    }

    #[tokio::test]
    async fn other_events_and_bad_amounts_are_malformed() {
        let ledger = Ledger::new(InMemoryLedgerStore::default());
        let wrong = record("m1", EventType::OrderPlaced, "ord_1", "charge-ord_1", 1);
        let mut no_amount = record("m2", EventType::PaymentCaptured, "ord_2", "charge-ord_2", 2);
        if let Some(body) = no_amount.body.as_mut() {
            *body = body.replace("\"currency\":\"EUR\"", "\"currency\":\"eur\"");
        }
        let response = ledger.process(batch(vec![wrong, no_amount])).await;
        assert_eq!(failures(&response), vec!["m1", "m2"]);
    }
}
