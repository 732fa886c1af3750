use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::messaging::InMemoryIdempotencyStore;
use crate::sync::lock;

fn record(id: &str, body: &str) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body.to_owned());
    message
}

fn event(kind: &str) -> EventEnvelope {
    EventEnvelope::new(
        "SomethingHappened",
        "test",
        "corr",
        1_700_000_000,
        serde_json::json!({ "kind": kind }),
    )
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn only_failed_records_are_reported() {
    let processed = AtomicUsize::new(0);
    let records = vec![
        record("ok-1", &event("ok").to_json()),
        record("bad-json", "{not json"),
        record("error", &event("error").to_json()),
        record("panic", &event("panic").to_json()),
        record("ok-2", &event("ok").to_json()),
    ];
    let response = process_standard_batch("test", records, 2, BatchDeadline::NONE, |envelope| {
        let processed = &processed;
        async move {
            match envelope.detail_str("kind") {
                Some("error") => Err(ProcessError::Failed("boom".to_owned())),
                #[allow(clippy::panic)]
                Some("panic") => panic!("a bug in one record"),
                _ => {
                    processed.fetch_add(1, Ordering::SeqCst);
                    Ok(RecordOutcome::Processed)
                }
            }
        }
    })
    .await;
    assert_eq!(failed_ids(&response), ["bad-json", "error", "panic"]);
    assert_eq!(processed.load(Ordering::SeqCst), 2);
    let json = serde_json::to_value(&response).unwrap_or_default();
    // Serialised in the shape Lambda expects.
    let ids: Vec<&str> = json["batchItemFailures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    assert_eq!(ids.len(), 3, "{json}");
}

#[tokio::test]
async fn a_panic_while_building_the_future_fails_only_that_record() {
    let records = vec![record("a", &event("x").to_json()), record("b", "null")];
    #[allow(clippy::panic)]
    let response = process_standard_batch("test", records, 4, BatchDeadline::NONE, |envelope| {
        if envelope.detail_str("kind") == Some("x") {
            panic!("before the future exists");
        }
        async { Ok(RecordOutcome::Processed) }
    })
    .await;
    assert_eq!(failed_ids(&response), ["a", "b"]);
}

#[tokio::test]
async fn concurrency_is_bounded() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let records: Vec<SqsMessage> = (0..10)
        .map(|i| record(&format!("m{i}"), &event("ok").to_json()))
        .collect();
    let response = process_standard_batch("test", records, 3, BatchDeadline::NONE, |_| {
        let running = Arc::clone(&running);
        let peak = Arc::clone(&peak);
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(RecordOutcome::Processed)
        }
    })
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        peak.load(Ordering::SeqCst),
        3,
        "ran 3 at a time, never more"
    );
}

/// Counts the events it sees; fails events whose detail says so.
#[derive(Debug, Default)]
struct Counting {
    seen: AtomicUsize,
    fail_next: AtomicUsize,
}

impl EventHandler for Counting {
    type Event = AnyEvent;

    async fn handle(&self, _envelope: &EventEnvelope, _: AnyEvent) -> Result<(), ProcessError> {
        if self.fail_next.load(Ordering::SeqCst) > 0 {
            self.fail_next.fetch_sub(1, Ordering::SeqCst);
            return Err(ProcessError::Failed("table unreachable".to_owned()));
        }
        self.seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn sqs_event(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

#[tokio::test]
async fn a_redelivered_event_is_processed_once() {
    let processor = BatchProcessor::new(
        "audit-log",
        Counting::default(),
        Idempotent::new(InMemoryIdempotencyStore::default(), "audit-log"),
    );
    let e = event("ok");
    // Twice in one batch (SQS at-least-once) and once more in a later batch.
    let response = processor
        .process(sqs_event(vec![
            record("1", &e.to_json()),
            record("2", &e.to_json()),
        ]))
        .await;
    // The two copies may race: one wins, the other is either a duplicate or "in progress"
    // (then retried later and found done).
    assert!(response.batch_item_failures.len() <= 1);
    let response = processor
        .process(sqs_event(vec![record("3", &e.to_json())]))
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(processor.handler().seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_event_is_retried_and_then_counted_once() {
    let handler = Counting::default();
    handler.fail_next.store(2, Ordering::SeqCst);
    let processor = BatchProcessor::new(
        "analytics",
        handler,
        Idempotent::new(InMemoryIdempotencyStore::default(), "analytics"),
    );
    let e = event("ok");
    for _ in 0..2 {
        let response = processor
            .process(sqs_event(vec![record("1", &e.to_json())]))
            .await;
        assert_eq!(failed_ids(&response), ["1"], "the claim was released");
    }
    for _ in 0..2 {
        let response = processor
            .process(sqs_event(vec![record("1", &e.to_json())]))
            .await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(processor.handler().seen.load(Ordering::SeqCst), 1);
}

/// Panics on every event.
#[derive(Debug)]
struct Panicking;

impl EventHandler for Panicking {
    type Event = AnyEvent;

    #[allow(clippy::panic)]
    async fn handle(&self, _envelope: &EventEnvelope, _: AnyEvent) -> Result<(), ProcessError> {
        panic!("handler bug")
    }
}

#[tokio::test]
async fn a_panicking_handler_releases_its_claim() {
    let processor = BatchProcessor::new(
        "fraud-detector",
        Panicking,
        Idempotent::new(InMemoryIdempotencyStore::default(), "fraud-detector"),
    );
    let e = event("ok");
    let response = processor
        .process(sqs_event(vec![record("1", &e.to_json())]))
        .await;
    assert_eq!(failed_ids(&response), ["1"]);
    let claim = processor
        .idempotency
        .claim(&e.event_id, Clock::System.now())
        .await;
    assert_eq!(claim.ok(), Some(Claim::Acquired), "not left in progress");
}

/// Accepts only `SomethingHappened` v1 whose detail has a string `kind`.
#[derive(Debug)]
struct Happened {
    kind: String,
}

impl FromEnvelope for Happened {
    fn from_envelope(envelope: &EventEnvelope) -> Result<Self, String> {
        if (envelope.event_type.as_str(), envelope.event_version) != ("SomethingHappened", 1) {
            return Err(format!(
                "unknown event {} v{}",
                envelope.event_type, envelope.event_version
            ));
        }
        let kind = envelope.detail["kind"]
            .as_str()
            .ok_or("detail.kind is missing")?;
        Ok(Self {
            kind: kind.to_owned(),
        })
    }
}

#[derive(Debug, Default)]
struct Kinds(std::sync::Mutex<Vec<String>>);

impl EventHandler for Kinds {
    type Event = Happened;

    async fn handle(&self, _envelope: &EventEnvelope, event: Happened) -> Result<(), ProcessError> {
        lock(&self.0).push(event.kind);
        Ok(())
    }
}

#[tokio::test]
async fn records_that_do_not_decode_fail_alone_and_claim_nothing() {
    let store = Arc::new(InMemoryIdempotencyStore::default());
    let processor = BatchProcessor::new(
        "greeter",
        Kinds::default(),
        Idempotent::new(Arc::clone(&store), "greeter"),
    );
    let good = event("ok");
    let mut unknown_type = event("ok");
    unknown_type.event_type = "SomethingElse".to_owned();
    let mut unknown_version = event("ok");
    unknown_version.event_version = 2;
    let mut malformed = event("ok");
    malformed.detail = serde_json::json!({"kind": 5});
    let response = processor
        .process(sqs_event(vec![
            record("good", &good.to_json()),
            record("type", &unknown_type.to_json()),
            record("version", &unknown_version.to_json()),
            record("detail", &malformed.to_json()),
        ]))
        .await;
    assert_eq!(failed_ids(&response), vec!["detail", "type", "version"]);
    assert_eq!(*lock(&processor.handler().0), vec!["ok"]);
    // Only the decoded record was claimed: a fixed producer's redelivery is not a duplicate.
    for bad in [&unknown_type, &unknown_version, &malformed] {
        assert_eq!(
            store
                .claim(&format!("greeter#{}", bad.event_id), 1, 60)
                .await
                .ok(),
            Some(Claim::Acquired)
        );
    }
}

/// Sleeps for as long as the event's `kind` says (`"slow"`: ten seconds), then counts it.
#[derive(Debug, Default)]
struct Sleepy {
    done: AtomicUsize,
}

impl EventHandler for Sleepy {
    type Event = AnyEvent;

    async fn handle(&self, envelope: &EventEnvelope, _: AnyEvent) -> Result<(), ProcessError> {
        let pause = match envelope.detail_str("kind") {
            Some("slow") => Duration::from_secs(10),
            _ => Duration::from_millis(10),
        };
        tokio::time::sleep(pause).await;
        self.done.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn a_slow_record_fails_alone_at_the_deadline_and_releases_its_claim() {
    let processor = BatchProcessor::new(
        "notifier",
        Sleepy::default(),
        Idempotent::new(InMemoryIdempotencyStore::default(), "notifier"),
    )
    .with_concurrency(4);
    let slow = event("slow");
    let started = std::time::Instant::now();
    let response = processor
        .process_within(
            sqs_event(vec![
                record("slow", &slow.to_json()),
                record("quick-1", &event("quick").to_json()),
                record("quick-2", &event("quick").to_json()),
            ]),
            BatchDeadline::within(Duration::from_millis(800)),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(failed_ids(&response), ["slow"]);
    assert_eq!(processor.handler().done.load(Ordering::SeqCst), 2);
    assert!(took < Duration::from_millis(800), "answered in {took:?}");
    let claim = processor
        .idempotency
        .claim(&slow.event_id, Clock::System.now())
        .await;
    assert_eq!(claim.ok(), Some(Claim::Acquired), "not left in progress");
}

#[tokio::test]
async fn records_not_started_by_the_deadline_are_held_back_unprocessed() {
    let processor = BatchProcessor::new(
        "notifier",
        Sleepy::default(),
        Idempotent::new(InMemoryIdempotencyStore::default(), "notifier"),
    )
    .with_concurrency(1);
    let response = processor
        .process_within(
            sqs_event(vec![
                record("slow", &event("slow").to_json()),
                record("later-1", &event("quick").to_json()),
                record("later-2", &event("quick").to_json()),
            ]),
            BatchDeadline::within(Duration::from_millis(600)),
        )
        .await;
    assert_eq!(failed_ids(&response), ["later-1", "later-2", "slow"]);
    assert_eq!(processor.handler().done.load(Ordering::SeqCst), 0);
}
