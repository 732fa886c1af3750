use super::*;
use aws_lambda_events::event::sqs::SqsMessage;
use lambda_kit::clock::Clock;
use lambda_kit::messaging::EventEnvelope;
use lambda_kit::messaging::SqsBatchResponse;
use lambda_kit::messaging::SqsEvent;

fn record(id: &str, event_type: EventType, order: &str, operation: &str, seq: u64) -> SqsMessage {
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
            "ord_00000000000000000000000000000001",
            "charge-ord_00000000000000000000000000000001",
            10,
        ),
        record(
            "m2",
            EventType::PaymentRefunded,
            "ord_00000000000000000000000000000001",
            "refund-ord_00000000000000000000000000000001",
            11,
        ),
    ];
    let response = ledger.process(batch(records.clone())).await;
    assert!(failures(&response).is_empty());
    // A redelivery writes the same keys: nothing new, no failure.
    let response = ledger.process(batch(records)).await;
    assert!(failures(&response).is_empty());
    let entries = ledger
        .store()
        .entries("ord_00000000000000000000000000000001");
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
            (
                "00000000000000000010",
                CHARGE,
                "charge-ord_00000000000000000000000000000001",
                2598
            ),
            (
                "00000000000000000011",
                REFUND,
                "refund-ord_00000000000000000000000000000001",
                2598
            ),
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
        "ord_00000000000000000000000000000001",
        "charge-ord_00000000000000000000000000000001",
        10,
    );
    // The same charge sent again later: a new message id and sequence number.
    let resent = record(
        "m9",
        EventType::PaymentCaptured,
        "ord_00000000000000000000000000000001",
        "charge-ord_00000000000000000000000000000001",
        99,
    );
    assert!(failures(&ledger.process(batch(vec![first])).await).is_empty());
    assert!(failures(&ledger.process(batch(vec![resent])).await).is_empty());
    let entries = ledger
        .store()
        .entries("ord_00000000000000000000000000000001");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].seq, "00000000000000000010");
}

#[tokio::test]
async fn a_failed_entry_holds_back_the_later_entries_of_its_order() {
    let ledger = Ledger::new(InMemoryLedgerStore::default());
    ledger
        .store()
        .fail_operation(Some("charge-ord_00000000000000000000000000000001"));
    let records = vec![
        record(
            "m1",
            EventType::PaymentCaptured,
            "ord_00000000000000000000000000000001",
            "charge-ord_00000000000000000000000000000001",
            1,
        ),
        record(
            "m2",
            EventType::PaymentCaptured,
            "ord_00000000000000000000000000000002",
            "charge-ord_00000000000000000000000000000002",
            2,
        ),
        record(
            "m3",
            EventType::PaymentRefunded,
            "ord_00000000000000000000000000000001",
            "refund-ord_00000000000000000000000000000001",
            3,
        ),
    ];
    let response = ledger.process(batch(records.clone())).await;
    assert_eq!(failures(&response), vec!["m1", "m3"]);
    assert!(
        ledger
            .store()
            .entries("ord_00000000000000000000000000000001")
            .is_empty(),
        "the refund was not recorded before its charge"
    );
    assert_eq!(
        ledger
            .store()
            .entries("ord_00000000000000000000000000000002")
            .len(),
        1
    );
    // The redelivery, once the store works again, records them in order.
    ledger.store().fail_operation(None);
    let response = ledger
        .process(batch(vec![records[0].clone(), records[2].clone()]))
        .await;
    assert!(failures(&response).is_empty());
    let kinds: Vec<&str> = ledger
        .store()
        .entries("ord_00000000000000000000000000000001")
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["PaymentCaptured", "PaymentRefunded"]);
}

#[tokio::test]
async fn other_events_and_bad_amounts_are_malformed() {
    let ledger = Ledger::new(InMemoryLedgerStore::default());
    let wrong = record(
        "m1",
        EventType::OrderPlaced,
        "ord_00000000000000000000000000000001",
        "charge-ord_00000000000000000000000000000001",
        1,
    );
    let mut no_amount = record(
        "m2",
        EventType::PaymentCaptured,
        "ord_00000000000000000000000000000002",
        "charge-ord_00000000000000000000000000000002",
        2,
    );
    if let Some(body) = no_amount.body.as_mut() {
        *body = body.replace("\"currency\":\"EUR\"", "\"currency\":\"eur\"");
    }
    let response = ledger.process(batch(vec![wrong, no_amount])).await;
    assert_eq!(failures(&response), vec!["m1", "m2"]);
}

const ENV: &[(&str, &str)] = &[("LEDGER_TABLE", "ledger")];

#[test]
fn settings_read_every_variable() {
    use crate::test_support::settings_from;
    assert_eq!(
        settings_from(ENV),
        Ok(LedgerSettings {
            ledger_table: "ledger".to_owned(),
        })
    );
}

#[test]
fn settings_name_the_missing_variable() {
    crate::test_support::assert_each_required::<LedgerSettings>(ENV, &["LEDGER_TABLE"]);
}
