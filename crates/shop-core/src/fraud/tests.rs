use super::*;
use crate::auth::InMemoryUserStore;
use crate::auth::UserStore as _;
use crate::events::EventType;
use lambda_kit::clock::Clock;
use lambda_kit::clock::rfc3339;
use lambda_kit::messaging::EventEnvelope;
use lambda_kit::messaging::EventHandler as _;
use lambda_kit::messaging::InMemoryPublisher;
use lambda_kit::messaging::ProcessError;

const START: i64 = 1_800_000_000;

fn failed(email: &str, at: i64) -> EventEnvelope {
    EventEnvelope::new(
        EventType::LoginFailed,
        "auth-api",
        "corr",
        at,
        serde_json::json!({"email": email, "reason": COUNTED_REASON, "sourceIp": "10.0.0.1"}),
    )
}

fn detector(
    clock: &Clock,
) -> FraudDetector<InMemoryFraudStore, InMemoryUserStore, InMemoryPublisher> {
    FraudDetector::new(
        InMemoryFraudStore::default(),
        InMemoryUserStore::default(),
        InMemoryPublisher::default(),
        FraudSettings::default(),
    )
    .with_clock(clock.clone())
}

#[tokio::test]
async fn five_failures_in_the_window_lock_once() {
    let clock = Clock::manual(START);
    let detector = detector(&clock);
    for i in 0..4 {
        let event = failed("ann@example.com", START + i);
        detector.handle_envelope(&event).await.unwrap();
        // A redelivery counts nothing more.
        detector.handle_envelope(&event).await.unwrap();
    }
    assert!(detector.publisher().events().is_empty());
    assert_eq!(
        detector
            .users()
            .locked_until("ann@example.com", START)
            .await
            .ok(),
        Some(None)
    );
    clock.advance(10);
    assert!(
        detector
            .handle_envelope(&failed("ann@example.com", START + 10))
            .await
            .is_ok()
    );
    let until = detector
        .users()
        .locked_until("ann@example.com", START + 10)
        .await
        .ok()
        .flatten();
    assert_eq!(until, Some(START + 10 + 900));
    let events = detector.publisher().events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "AccountLocked");
    assert_eq!(events[0].correlation_id, "corr");
    assert_eq!(events[0].detail_str("email"), Some("ann@example.com"));
    // A sixth failure while locked: no second lock, no second event.
    assert!(
        detector
            .handle_envelope(&failed("ann@example.com", START + 11))
            .await
            .is_ok()
    );
    assert_eq!(detector.publisher().events().len(), 1);
}

#[tokio::test]
async fn failures_outside_the_window_do_not_count() {
    let clock = Clock::manual(START);
    let detector = detector(&clock);
    for i in 0..4 {
        assert!(
            detector
                .handle_envelope(&failed("bob@example.com", START + i))
                .await
                .is_ok()
        );
    }
    clock.advance(901);
    assert!(
        detector
            .handle_envelope(&failed("bob@example.com", START + 901))
            .await
            .is_ok()
    );
    assert!(detector.publisher().events().is_empty());
}

#[tokio::test]
async fn a_failed_publish_is_retried_by_the_same_event() {
    let clock = Clock::manual(START);
    let detector = detector(&clock);
    for i in 0..4 {
        assert!(
            detector
                .handle_envelope(&failed("cy@example.com", START + i))
                .await
                .is_ok()
        );
    }
    let fifth = failed("cy@example.com", START + 5);
    detector.publisher().set_failing(true);
    assert!(detector.handle_envelope(&fifth).await.is_err());
    detector.publisher().set_failing(false);
    detector.handle_envelope(&fifth).await.unwrap();
    assert_eq!(detector.publisher().events().len(), 1);
}

#[tokio::test]
async fn a_login_failed_without_email_is_malformed() {
    let clock = Clock::manual(START);
    let detector = detector(&clock);
    let mut event = failed("x@y.z", START);
    event.detail = serde_json::json!({"reason": COUNTED_REASON});
    assert!(matches!(
        detector.handle_envelope(&event).await,
        Err(ProcessError::Malformed(_))
    ));
}

#[tokio::test]
async fn the_third_failure_flags_the_account_before_the_lock() {
    let clock = Clock::manual(START);
    let detector = detector(&clock);
    for i in 0..2 {
        assert!(
            detector
                .handle_envelope(&failed("dee@example.com", START + i))
                .await
                .is_ok()
        );
    }
    assert_eq!(detector.store().flag("dee@example.com"), None);
    clock.advance(3);
    let third = failed("dee@example.com", START + 3);
    detector.handle_envelope(&third).await.unwrap();
    let flag = detector.store().flag("dee@example.com");
    assert_eq!(
        flag.as_ref().map(|f| (f.flagged_until, f.reason)),
        Some((START + 3 + 900, FLAG_FAILED_LOGINS))
    );
    assert_eq!(rfc3339(START + 903), "2027-01-15T08:15:03Z");
    // Flagged, not locked.
    assert_eq!(
        detector
            .users()
            .locked_until("dee@example.com", START + 3)
            .await
            .ok(),
        Some(None)
    );
    assert!(detector.publisher().events().is_empty());
    // A later failure extends the flag.
    clock.advance(10);
    assert!(
        detector
            .handle_envelope(&failed("dee@example.com", START + 13))
            .await
            .is_ok()
    );
    assert_eq!(
        detector
            .store()
            .flag("dee@example.com")
            .map(|f| f.flagged_until),
        Some(START + 13 + 900)
    );
}

fn placed(user: &str, email: &str, at: i64) -> EventEnvelope {
    EventEnvelope::new(
        EventType::OrderPlaced,
        "checkout",
        "corr",
        at,
        serde_json::json!({
            "orderId": "ord_00000000000000000000000000000001", "userId": user, "email": email,
            "total": {"amount": 100, "currency": "EUR"}, "itemCount": 1, "items": []
        }),
    )
}

#[tokio::test]
async fn more_than_five_orders_in_the_window_flag_the_account() {
    let clock = Clock::manual(START);
    let detector = detector(&clock);
    for i in 0..5 {
        let order = placed("u-eve", "eve@example.com", START + i);
        detector.handle_envelope(&order).await.unwrap();
        assert!(
            detector.handle_envelope(&order).await.is_ok(),
            "redelivery counts once"
        );
    }
    assert_eq!(detector.store().flag("eve@example.com"), None);
    clock.advance(6);
    assert!(
        detector
            .handle_envelope(&placed("u-eve", "eve@example.com", START + 6))
            .await
            .is_ok()
    );
    assert_eq!(
        detector.store().flag("eve@example.com").map(|f| f.reason),
        Some(FLAG_ORDER_VELOCITY)
    );
    // Orders of another user are counted apart.
    assert!(
        detector
            .handle_envelope(&placed("u-fay", "fay@example.com", START + 6))
            .await
            .is_ok()
    );
    assert_eq!(detector.store().flag("fay@example.com"), None);
}

#[tokio::test]
async fn orders_outside_the_window_do_not_count() {
    let clock = Clock::manual(START);
    let detector = detector(&clock);
    for i in 0..5 {
        assert!(
            detector
                .handle_envelope(&placed("u-gus", "gus@example.com", START + i))
                .await
                .is_ok()
        );
    }
    clock.advance(901);
    assert!(
        detector
            .handle_envelope(&placed("u-gus", "gus@example.com", START + 901))
            .await
            .is_ok()
    );
    assert_eq!(detector.store().flag("gus@example.com"), None);
    let mut no_user = placed("", "gus@example.com", START + 902);
    no_user.detail["userId"] = serde_json::Value::Null;
    assert!(matches!(
        detector.handle_envelope(&no_user).await,
        Err(ProcessError::Malformed(_))
    ));
}

const ENV: &[(&str, &str)] = &[
    ("FRAUD_TABLE", "fraud"),
    ("USERS_TABLE", "users"),
    (
        "EVENTS_TOPIC_ARN",
        "arn:aws:sns:eu-west-1:000000000000:events",
    ),
    ("IDEMPOTENCY_TABLE", "idem"),
];

#[test]
fn settings_read_every_variable_with_defaults() {
    use crate::test_support::{settings_from, with_var};
    assert_eq!(
        settings_from(ENV),
        Ok(FraudDetectorSettings {
            fraud_table: "fraud".to_owned(),
            users_table: "users".to_owned(),
            topic_arn: "arn:aws:sns:eu-west-1:000000000000:events".to_owned(),
            idempotency: IdempotencyConfig {
                table: "idem".to_owned(),
                in_progress_seconds: 60,
            },
            fraud: FraudSettings::default(),
        })
    );
    let mut vars = ENV.to_vec();
    for (name, value) in [
        ("FRAUD_WINDOW_SECONDS", "600"),
        ("FRAUD_THRESHOLD", "7"),
        ("FRAUD_LOCK_SECONDS", "1200"),
        ("FRAUD_FLAG_THRESHOLD", "2"),
        ("FRAUD_ORDER_VELOCITY", "9"),
    ] {
        vars = with_var(&vars, name, value);
    }
    let settings: Result<FraudDetectorSettings, _> = settings_from(&vars);
    assert_eq!(
        settings.map(|s| s.fraud),
        Ok(FraudSettings {
            window_seconds: 600,
            lock_threshold: 7,
            lock_seconds: 1200,
            flag_threshold: 2,
            order_velocity: 9,
        })
    );
    // A count too large for a u32 is its default, as it always was.
    let settings: Result<FraudDetectorSettings, _> =
        settings_from(&with_var(ENV, "FRAUD_THRESHOLD", "4294967296"));
    assert_eq!(
        settings.map(|s| s.fraud.lock_threshold),
        Ok(FraudSettings::default().lock_threshold)
    );
}

#[test]
fn settings_name_the_missing_or_invalid_variable() {
    use crate::test_support::{assert_each_required, assert_invalid};
    assert_each_required::<FraudDetectorSettings>(
        ENV,
        &[
            "FRAUD_TABLE",
            "USERS_TABLE",
            "EVENTS_TOPIC_ARN",
            "IDEMPOTENCY_TABLE",
        ],
    );
    assert_invalid::<FraudDetectorSettings>(ENV, "IDEMPOTENCY_IN_PROGRESS_SECONDS", "0");
    for name in [
        "FRAUD_WINDOW_SECONDS",
        "FRAUD_THRESHOLD",
        "FRAUD_LOCK_SECONDS",
        "FRAUD_FLAG_THRESHOLD",
        "FRAUD_ORDER_VELOCITY",
    ] {
        assert_invalid::<FraudDetectorSettings>(ENV, name, "-3");
        assert_invalid::<FraudDetectorSettings>(ENV, name, "five");
    }
}
