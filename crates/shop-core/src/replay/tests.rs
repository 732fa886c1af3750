use std::time::Duration;

use super::rebuild::{Counters, derived_table_name, diff, project, rebuild};
use super::*;
use crate::analytics::{Analytics, InMemoryCounterStore};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lambda_kit::messaging::{
    BatchProcessor, Idempotent, InMemoryBatchQueue, InMemoryIdempotencyStore,
};

const QUICK: RetryPolicy = RetryPolicy {
    attempts: 3,
    backoff: Duration::ZERO,
};

fn at(text: &str) -> OffsetDateTime {
    parse_time(text).unwrap()
}

fn event(id: &str, event_type: EventType, occurred_at: &str) -> EventEnvelope {
    let detail = match event_type {
        EventType::OrderPlaced | EventType::OrderCancelled => serde_json::json!({
            "orderId": "ord_00000000000000000000000000000001", "userId": "u1",
            "email": "ann@example.com", "total": {"amount": 1250, "currency": "EUR"},
            "itemCount": 1, "items": []
        }),
        EventType::OrderShipped => serde_json::json!({
            "orderId": "ord_00000000000000000000000000000001", "userId": "u1",
            "email": "ann@example.com"
        }),
        _ => serde_json::json!({"userId": "u1", "email": "ann@example.com"}),
    };
    let mut event = EventEnvelope::new(event_type, "test", "c", 0, detail);
    event.event_id = id.to_owned();
    event.occurred_at = occurred_at.to_owned();
    event
}

/// Five events over two days, stored out of order; one OrderShipped analytics never gets.
fn stored() -> StoredEvents {
    StoredEvents {
        events: vec![
            event("e3", EventType::OrderPlaced, "2026-11-02T10:00:00Z"),
            event("e1", EventType::LoginSucceeded, "2026-11-01T09:00:00.500Z"),
            event("e2", EventType::LoginFailed, "2026-11-01T09:00:00.500Z"),
            event("e0", EventType::LoginSucceeded, "2026-11-01T08:00:00+01:00"),
            event("e4", EventType::OrderShipped, "2026-11-02T11:00:00Z"),
            event("e5", EventType::LoginSucceeded, "2026-11-03T00:00:00Z"),
        ],
        unreadable: vec!["broken".to_owned()],
    }
}

fn ids(events: &[EventEnvelope]) -> Vec<&str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

/// Nov 1 and 2, 2026.
fn two_days() -> Window {
    Window::new(at("2026-11-01"), Some(at("2026-11-03"))).unwrap()
}

/// 2026-11-10: within the idempotency horizon of every event above.
const NOW: i64 = 1_794_787_200;

#[test]
fn the_subscribers_match_the_templates_filter_policies() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/template.yaml"
    ))
    .unwrap();
    for sub in &SUBSCRIBERS {
        let prefix = sub.queue_output.trim_end_matches("QueueUrl");
        let endpoint = format!("Endpoint: !GetAtt {prefix}Queue.Arn");
        let at = template
            .find(&endpoint)
            .unwrap_or_else(|| panic!("no subscription of {prefix}Queue"));
        let block: &str = template[..at]
            .rsplit("Type: AWS::SNS::Subscription")
            .next()
            .unwrap();
        assert!(block.contains("TopicArn: !Ref EventsTopic"), "{}", sub.name);
        let rest = &template[at..];
        let block_end = rest.find("\n\n").unwrap_or(rest.len());
        let block = &rest[..block_end];
        assert!(block.contains("RawMessageDelivery: true"), "{}", sub.name);
        let filter = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("eventType: ["))
            .map(|l| {
                let mut types: Vec<&str> = l.trim_end_matches(']').split(", ").collect();
                types.sort_unstable();
                types
            });
        let mut ours = sub
            .filter
            .map(|types| types.iter().map(|t| t.as_str()).collect::<Vec<_>>());
        if let Some(ours) = ours.as_mut() {
            ours.sort_unstable();
        }
        assert_eq!(filter, ours, "{}'s filter policy", sub.name);
    }
}

#[test]
fn times_are_rfc3339_or_dates() {
    assert_eq!(at("2026-11-01").unix_timestamp(), 1_793_491_200);
    assert_eq!(
        at("2026-11-01T01:00:00+01:00").unix_timestamp(),
        1_793_491_200
    );
    for bad in [
        "yesterday",
        "2026-13-01",
        "2026-11",
        "1793491200",
        "2026-11-01T",
    ] {
        assert!(
            matches!(parse_time(bad), Err(ReplayError::BadTime(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        Window::new(at("2026-11-02"), Some(at("2026-11-01"))),
        Err(ReplayError::EmptyWindow { .. })
    ));
    let window = two_days();
    assert!(window.covers_day("2026-11-01") && window.covers_day("2026-11-02"));
    assert!(!window.covers_day("2026-11-03") && !window.covers_day("2026-10-31"));
    assert!(Window::everything().covers_day("1901-01-01"));
}

#[test]
fn only_subscribed_consumers_and_types_can_be_replayed() {
    let window = two_days();
    for name in ["approvals", "ledger", "repair", "nobody"] {
        let err = ReplayRequest::new(name, window, Vec::new()).unwrap_err();
        assert!(matches!(err, ReplayError::UnknownConsumer { .. }), "{name}");
        assert!(
            err.to_string().contains("analytics, fraud-detector"),
            "{err}"
        );
    }
    let err = ReplayRequest::new("analytics", window, vec!["OrderShipped".to_owned()]).unwrap_err();
    assert!(
        matches!(&err, ReplayError::NotSubscribed { consumer: "analytics", event_type, .. } if event_type == "OrderShipped"),
        "{err}"
    );
    assert!(err.to_string().contains("LoginSucceeded"), "{err}");
    assert!(matches!(
        ReplayRequest::new("fulfilment", window, vec!["Nope".to_owned()]),
        Err(ReplayError::UnknownEventType(_))
    ));
    assert!(ReplayRequest::new("audit-log", window, vec!["OrderShipped".to_owned()]).is_ok());
}

#[test]
fn a_plan_holds_the_consumers_events_of_the_window_in_order() {
    let request = ReplayRequest::new("analytics", two_days(), Vec::new()).unwrap();
    let plan = plan(&request, stored(), NOW);
    // e0 is 07:00Z; e1 and e2 share a time and are ordered by id; no OrderShipped (not
    // subscribed), no e5 (after the window).
    assert_eq!(ids(&plan.events), ["e0", "e1", "e2", "e3"]);
    assert_eq!(
        plan.counts().into_iter().collect::<Vec<_>>(),
        [
            ("LoginFailed", 1),
            ("LoginSucceeded", 2),
            ("OrderPlaced", 1)
        ]
    );
    assert_eq!(plan.beyond_idempotency, 0);
    assert_eq!(plan.unreadable, ["broken"]);
    let printed = plan.to_string();
    assert!(
        printed.contains("LoginSucceeded") && printed.contains("total"),
        "{printed}"
    );
    assert!(!printed.contains("warning"), "{printed}");

    let only = ReplayRequest::new("analytics", two_days(), vec!["LoginSucceeded".to_owned()]);
    assert_eq!(
        ids(&super::plan(&only.unwrap(), stored(), NOW).events),
        ["e0", "e1"]
    );
    let audit = ReplayRequest::new("audit-log", Window::everything(), Vec::new()).unwrap();
    assert_eq!(super::plan(&audit, stored(), NOW).events.len(), 6);
}

#[test]
fn a_plan_counts_the_events_the_consumer_may_have_forgotten() {
    let request = ReplayRequest::new("analytics", two_days(), Vec::new()).unwrap();
    // 15 days and a bit after Nov 1, 09:00: e0, e1 and e2 are beyond the horizon.
    let now = at("2026-11-16T12:00:00Z").unix_timestamp();
    let plan = plan(&request, stored(), now);
    assert_eq!(plan.beyond_idempotency, 3);
    assert!(plan.to_string().contains("warning: 3 of them"), "{plan}");
}

#[tokio::test]
async fn a_replay_sends_what_the_subscription_would_in_order() {
    let request = ReplayRequest::new("analytics", two_days(), Vec::new()).unwrap();
    let plan = plan(&request, stored(), NOW);
    let queue = InMemoryBatchQueue::default();
    let report = replay(&plan, &queue, QUICK).await;
    assert_eq!(
        report,
        ReplayReport {
            sent: 4,
            ..Default::default()
        }
    );
    let sent = queue.sent();
    let bodies: Vec<EventEnvelope> = sent
        .iter()
        .map(|m| EventEnvelope::from_json(&m.body).unwrap())
        .collect();
    assert_eq!(
        bodies, plan.events,
        "the stored envelopes, unchanged, in order"
    );
    assert_eq!(
        sent[3].attributes,
        [
            ("eventType".to_owned(), "OrderPlaced".to_owned()),
            ("source".to_owned(), "test".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_replay_retries_and_reports_what_it_could_not_send() {
    let request = ReplayRequest::new("audit-log", Window::everything(), Vec::new()).unwrap();
    let plan = plan(&request, stored(), NOW);
    let queue = InMemoryBatchQueue::default();
    queue.refuse("\"e3\"", 1, false);
    queue.refuse("\"e4\"", 10, false);
    let report = replay(&plan, &queue, QUICK).await;
    assert_eq!((report.sent, report.retries), (5, 3));
    assert_eq!(report.not_sent.len(), 1);
    assert_eq!(
        (
            report.not_sent[0].event_id.as_str(),
            report.not_sent[0].event_type.as_str()
        ),
        ("e4", "OrderShipped")
    );
    assert!(
        report.to_string().contains("not sent: OrderShipped e4"),
        "{report}"
    );
}

fn sqs_batch(messages: &[lambda_kit::messaging::OutgoingMessage]) -> SqsEvent {
    let mut batch = SqsEvent::default();
    for (i, m) in messages.iter().enumerate() {
        let mut record = SqsMessage::default();
        record.message_id = Some(format!("m{i}"));
        record.body = Some(m.body.clone());
        batch.records.push(record);
    }
    batch
}

/// The proof that replaying is safe: the analytics consumer's own processor (idempotency on
/// `eventId` + once-only counters) takes the replayed messages as any delivery. It counts the
/// events it missed, skips those it processed before, and a second replay changes nothing.
#[tokio::test]
async fn replayed_events_are_processed_once_by_the_consumer() {
    let processor = BatchProcessor::new(
        crate::analytics::FUNCTION_NAME,
        Analytics::new(InMemoryCounterStore::default()),
        Idempotent::new(
            InMemoryIdempotencyStore::default(),
            crate::analytics::FUNCTION_NAME,
        ),
    );
    let request = ReplayRequest::new("analytics", two_days(), Vec::new()).unwrap();
    let plan = plan(&request, stored(), NOW);
    // Delivered by the topic before the queue was purged: e0 only.
    let delivered: Vec<_> = plan.events[..1]
        .iter()
        .map(OutgoingMessage::event)
        .collect();
    assert!(
        processor
            .process(sqs_batch(&delivered))
            .await
            .batch_item_failures
            .is_empty()
    );
    let store = || processor.handler().store();
    assert_eq!(store().get("2026-11-01", "logins"), 1);

    let counters = |store: &InMemoryCounterStore| {
        [
            store.get("2026-11-01", "logins"),
            store.get("2026-11-01", "failed_logins"),
            store.get("2026-11-02", "orders"),
            store.get("2026-11-02", "revenue_minor"),
        ]
    };
    for _ in 0..2 {
        let queue = InMemoryBatchQueue::default();
        replay(&plan, &queue, QUICK).await;
        let response = processor.process(sqs_batch(&queue.sent())).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            counters(store()),
            [2, 1, 1, 1250],
            "each event counted once"
        );
    }
}

#[tokio::test]
async fn the_projection_is_what_the_consumer_counts() {
    let rebuilt = project(stored().events, None).await;
    assert_eq!(rebuilt.events, 5, "OrderShipped is not an analytics event");
    assert!(rebuilt.failed.is_empty());
    let live = Analytics::new(InMemoryCounterStore::default());
    for event in &stored().events {
        let _ = lambda_kit::messaging::EventHandler::handle_envelope(&live, event).await;
    }
    use crate::analytics::{
        ACCOUNTS_LOCKED, CANCELLATIONS, FAILED_LOGINS, LOGINS, ORDERS, REVENUE_MINOR,
    };
    let names = [
        LOGINS,
        FAILED_LOGINS,
        ACCOUNTS_LOCKED,
        ORDERS,
        REVENUE_MINOR,
        CANCELLATIONS,
    ];
    for (day, values) in &rebuilt.counters {
        for (name, value) in values {
            let name = names.into_iter().find(|n| n == name).unwrap();
            assert_eq!(live.store().get(day, name), *value, "{day} {name}");
        }
    }
    assert_eq!(rebuilt.counters["2026-11-01"]["logins"], 2);
    assert_eq!(rebuilt.counters["2026-11-03"]["logins"], 1);
    let windowed = project(stored().events, Some(&two_days())).await;
    assert!(!windowed.counters.contains_key("2026-11-03"));

    let mut malformed = stored();
    malformed.events[0].detail = serde_json::json!({"orderId": "x"});
    let rebuilt = project(malformed.events, None).await;
    assert_eq!(rebuilt.failed.len(), 1);
    assert_eq!(rebuilt.failed[0].0, "e3");
}

fn counters(entries: &[(&str, &str, i64)]) -> Counters {
    let mut counters = Counters::new();
    for (day, name, value) in entries {
        counters
            .entry((*day).to_owned())
            .or_default()
            .insert((*name).to_owned(), *value);
    }
    counters
}

#[test]
fn the_diff_names_each_differing_counter_in_scope() {
    let live = counters(&[
        ("2026-11-01", "logins", 2),
        ("2026-11-01", "failed_logins", 1),
        ("2026-11-02", "orders", 0),
        ("2026-11-05", "orders", 7),
    ]);
    let rebuilt = counters(&[
        ("2026-11-01", "logins", 3),
        ("2026-11-01", "failed_logins", 1),
        ("2026-11-04", "logins", 1),
    ]);
    let all = diff(&live, &rebuilt, |_| true);
    let keys: Vec<(&str, &str, i64, i64)> = all
        .iter()
        .map(|d| (d.day.as_str(), d.counter.as_str(), d.live, d.rebuilt))
        .collect();
    assert_eq!(
        keys,
        [
            ("2026-11-01", "logins", 2, 3),
            ("2026-11-04", "logins", 0, 1),
            ("2026-11-05", "orders", 7, 0)
        ],
        "an absent counter is 0"
    );
    assert_eq!(diff(&live, &rebuilt, |d| d < "2026-11-04").len(), 1);
}

#[tokio::test]
async fn a_rebuild_writes_a_new_table_and_compares_it_with_the_live_one() {
    let tables = InMemoryAnalyticsTables::default();
    let live = project(stored().events, None).await.counters;
    tables.set("analytics", live);
    let report = rebuild(&tables, stored(), "analytics", "analytics-rebuild-1", None)
        .await
        .unwrap();
    assert!(report.equal(), "{report}");
    assert_eq!(tables.names(), ["analytics", "analytics-rebuild-1"]);
    assert!(report.to_string().contains("equal"), "{report}");
    assert_eq!(report.unreadable, ["broken"]);

    // The live consumer missed e1 (its queue was purged) and counted an event the store
    // does not have on Nov 3.
    let mut missed = stored();
    missed.events.retain(|e| e.event_id != "e1");
    let mut live = project(missed.events, None).await.counters;
    *live
        .get_mut("2026-11-03")
        .unwrap()
        .get_mut("logins")
        .unwrap() += 1;
    tables.set("analytics", live);
    let report = rebuild(&tables, stored(), "analytics", "analytics-rebuild-2", None)
        .await
        .unwrap();
    assert!(!report.equal());
    let keys: Vec<(&str, i64, i64)> = report
        .diffs
        .iter()
        .map(|d| (d.day.as_str(), d.live, d.rebuilt))
        .collect();
    assert_eq!(keys, [("2026-11-01", 1, 2), ("2026-11-03", 2, 1)]);
    assert!(
        report.to_string().contains("different: 2 counters"),
        "{report}"
    );

    // Scoped to whole days of a window: Nov 3 is out of scope.
    let report = rebuild(
        &tables,
        stored(),
        "analytics",
        "analytics-rebuild-3",
        Some(two_days()),
    )
    .await
    .unwrap();
    assert_eq!(report.diffs.len(), 1);
    assert_eq!(report.days, 2);

    // A table that exists is never overwritten.
    assert!(matches!(
        rebuild(&tables, stored(), "analytics", "analytics-rebuild-3", None).await,
        Err(ReplayError::Store(StoreError::AlreadyExists(_)))
    ));
}

#[test]
fn a_rebuilds_table_is_named_after_the_live_one_and_the_time() {
    assert_eq!(
        derived_table_name("shop-AnalyticsTable-X", 1_793_491_200 + 3_723),
        "shop-AnalyticsTable-X-rebuild-20261101t010203z"
    );
}
