use super::*;
use crate::events::EventType;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lambda_kit::messaging::EventEnvelope;
use lambda_kit::messaging::EventHandler as _;
use lambda_kit::messaging::ProcessError;
use lambda_kit::messaging::{BatchProcessor, Idempotent, InMemoryIdempotencyStore};

#[tokio::test]
async fn counts_each_event_once_by_event_day() {
    let processor = BatchProcessor::new(
        FUNCTION_NAME,
        Analytics::new(InMemoryCounterStore::default()),
        Idempotent::new(InMemoryIdempotencyStore::default(), FUNCTION_NAME),
    );
    let login = EventEnvelope::new(
        EventType::LoginSucceeded,
        "t",
        "c",
        1_700_000_000,
        serde_json::json!({"userId": "u1", "email": "ann@example.com"}),
    );
    let failed = EventEnvelope::new(
        EventType::LoginFailed,
        "t",
        "c",
        1_700_000_000,
        serde_json::json!({"email": "ann@example.com"}),
    );
    for _ in 0..2 {
        let mut batch = SqsEvent::default();
        for (i, e) in [&login, &failed].into_iter().enumerate() {
            let mut record = SqsMessage::default();
            record.message_id = Some(i.to_string());
            record.body = Some(e.to_json());
            batch.records.push(record);
        }
        let response = processor.process(batch).await;
        assert!(response.batch_item_failures.is_empty());
    }
    let store = processor.handler().store();
    assert_eq!(store.get("2023-11-14", "logins"), 1);
    assert_eq!(store.get("2023-11-14", "failed_logins"), 1);
}

#[tokio::test]
async fn counts_once_even_when_the_idempotency_record_was_lost() {
    // A crash after the ADD and before the DONE record: the retry runs the handler again.
    let analytics = Analytics::new(InMemoryCounterStore::default());
    let login = EventEnvelope::new(
        EventType::LoginSucceeded,
        "t",
        "c",
        1_700_000_000,
        serde_json::json!({"userId": "u1", "email": "ann@example.com"}),
    );
    analytics.handle_envelope(&login).await.unwrap();
    analytics.handle_envelope(&login).await.unwrap();
    assert_eq!(analytics.store().get("2023-11-14", "logins"), 1);
}

fn order_event(event_type: EventType, total: i64) -> EventEnvelope {
    EventEnvelope::new(
        event_type,
        "checkout",
        "c",
        1_700_000_000,
        serde_json::json!({
            "orderId": "ord_00000000000000000000000000000001", "userId": "u1", "email": "ann@example.com",
            "total": {"amount": total, "currency": "EUR"}, "itemCount": 2, "items": []
        }),
    )
}

#[tokio::test]
async fn order_placed_counts_orders_and_revenue_once() {
    let analytics = Analytics::new(InMemoryCounterStore::default());
    let placed = order_event(EventType::OrderPlaced, 2598);
    let other = order_event(EventType::OrderPlaced, 1000);
    let cancelled = order_event(EventType::OrderCancelled, 2598);
    for event in [&placed, &placed, &other, &cancelled, &cancelled] {
        analytics.handle_envelope(event).await.unwrap();
    }
    let store = analytics.store();
    assert_eq!(store.get("2023-11-14", ORDERS), 2);
    assert_eq!(store.get("2023-11-14", REVENUE_MINOR), 3598);
    assert_eq!(store.get("2023-11-14", CANCELLATIONS), 1);
}

#[tokio::test]
async fn order_placed_without_total_is_malformed() {
    let analytics = Analytics::new(InMemoryCounterStore::default());
    let mut placed = order_event(EventType::OrderPlaced, 1);
    placed.detail = serde_json::json!({"orderId": "ord_00000000000000000000000000000001"});
    assert!(matches!(
        analytics.handle_envelope(&placed).await,
        Err(ProcessError::Malformed(_))
    ));
    assert_eq!(analytics.store().get("2023-11-14", ORDERS), 0);
}

const ENV: &[(&str, &str)] = &[
    ("ANALYTICS_TABLE", "analytics"),
    ("IDEMPOTENCY_TABLE", "idem"),
];

#[test]
fn settings_read_every_variable_with_defaults() {
    use crate::test_support::{settings_from, with_var};
    assert_eq!(
        settings_from(ENV),
        Ok(AnalyticsSettings {
            analytics_table: "analytics".to_owned(),
            idempotency: lambda_kit::messaging::IdempotencyConfig {
                table: "idem".to_owned(),
                in_progress_seconds: 60,
            },
        })
    );
    let settings: Result<AnalyticsSettings, _> =
        settings_from(&with_var(ENV, "IDEMPOTENCY_IN_PROGRESS_SECONDS", "45"));
    assert_eq!(settings.map(|s| s.idempotency.in_progress_seconds), Ok(45));
}

#[test]
fn settings_name_the_missing_or_invalid_variable() {
    use crate::test_support::{assert_each_required, assert_invalid};
    assert_each_required::<AnalyticsSettings>(ENV, &["ANALYTICS_TABLE", "IDEMPOTENCY_TABLE"]);
    assert_invalid::<AnalyticsSettings>(ENV, "IDEMPOTENCY_IN_PROGRESS_SECONDS", "0");
}

#[test]
fn business_metrics_of_the_counted_events() {
    use crate::events::ShopEvent;
    use lambda_kit::metrics::{Recorded, capture};
    let decode = |envelope: &EventEnvelope| ShopEvent::from_envelope(envelope).unwrap();
    let placed = decode(&order_event(EventType::OrderPlaced, 2598));
    let failed = decode(&EventEnvelope::new(
        EventType::LoginFailed,
        "t",
        "c",
        1_700_000_000,
        serde_json::json!({"email": "ann@example.com", "reason": "INVALID_CREDENTIALS"}),
    ));
    let ((), recorded) = capture(|| {
        emit_metrics(&placed);
        emit_metrics(&placed);
        emit_metrics(&failed);
    });
    let metric = |name: &str, dimensions: &[(&str, &str)], value: f64| Recorded {
        name: name.to_owned(),
        dimensions: dimensions
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        value,
    };
    assert_eq!(
        recorded,
        [
            metric(metric::ORDERS_PLACED, &[("Currency", "EUR")], 2.0),
            metric(metric::REVENUE_MINOR, &[("Currency", "EUR")], 5196.0),
            metric(
                metric::LOGINS_FAILED,
                &[("Reason", "INVALID_CREDENTIALS")],
                1.0
            ),
        ]
    );
}
