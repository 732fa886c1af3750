use super::*;
use crate::catalog::{Currency, Money};
use crate::events::EventType;
use lambda_kit::messaging::EventEnvelope;
use lambda_kit::messaging::EventHandler as _;
use lambda_kit::messaging::ProcessError;

#[tokio::test]
async fn account_locked_gets_one_message_and_logins_none() {
    let notifier = Notifier::new(InMemoryNotificationStore::default());
    let locked = EventEnvelope::new(
        EventType::AccountLocked,
        "fraud-detector",
        "c",
        0,
        serde_json::json!({"email": "ann@example.com", "lockedUntil": "1970-01-01T00:15:00Z"}),
    );
    notifier.handle_envelope(&locked).await.unwrap();
    notifier.handle_envelope(&locked).await.unwrap();
    let login = EventEnvelope::new(
        EventType::LoginSucceeded,
        "auth-api",
        "c",
        0,
        serde_json::json!({"userId": "u1", "email": "ann@example.com"}),
    );
    notifier.handle_envelope(&login).await.unwrap();
    let all = notifier.store().all();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].recipient, "ann@example.com");
    assert!(all[0].message.contains("1970-01-01T00:15:00Z"));
}

#[tokio::test]
async fn the_owner_of_a_taken_address_is_told_of_the_registration() {
    let notifier = Notifier::new(InMemoryNotificationStore::default());
    let duplicate = EventEnvelope::new(
        EventType::DuplicateRegistration,
        "auth-api",
        "c",
        0,
        serde_json::json!({"email": "ann@example.com", "sourceIp": "203.0.113.9"}),
    );
    notifier.handle_envelope(&duplicate).await.unwrap();
    let all = notifier.store().all();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].recipient.as_str(), all[0].kind.as_str()),
        ("ann@example.com", "DUPLICATE_REGISTRATION")
    );
}

fn order_event(event_type: EventType, email: &str) -> EventEnvelope {
    EventEnvelope::new(
        event_type,
        "checkout",
        "c",
        1_800_000_000,
        serde_json::json!({
            "orderId": "ord_00000000000000000000000000000001", "userId": "u1", "email": email,
            "total": {"amount": 4597, "currency": "EUR"}, "itemCount": 3, "items": []
        }),
    )
}

#[tokio::test]
async fn order_events_get_one_customer_message_each() {
    let notifier = Notifier::new(InMemoryNotificationStore::default());
    for event_type in [
        EventType::OrderPlaced,
        EventType::OrderShipped,
        EventType::OrderCancelled,
    ] {
        let event = order_event(event_type, "bob@example.com");
        notifier.handle_envelope(&event).await.unwrap();
        assert!(notifier.handle_envelope(&event).await.is_ok(), "redelivery");
    }
    let mut all = notifier.store().all();
    all.sort_by(|a, b| a.kind.cmp(&b.kind));
    let kinds: Vec<&str> = all.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(kinds, ["ORDER_CANCELLED", "ORDER_PLACED", "ORDER_SHIPPED"]);
    assert!(all.iter().all(|n| n.recipient == "bob@example.com"));
    assert!(all[1].message.contains("45.97 EUR"), "{}", all[1].message);
    assert!(all[0].message.contains("45.97 EUR"), "{}", all[0].message);
}

#[tokio::test]
async fn an_order_event_without_email_is_malformed() {
    let notifier = Notifier::new(InMemoryNotificationStore::default());
    let event = order_event(EventType::OrderShipped, "");
    assert!(matches!(
        notifier.handle_envelope(&event).await,
        Err(ProcessError::Malformed(_))
    ));
}

#[test]
fn totals_read_as_currency_amounts() {
    let total = |amount: i64| display_total(&Money::new(amount, Currency::EUR));
    assert_eq!(total(4597), "45.97 EUR");
    assert_eq!(total(5), "0.05 EUR");
    assert_eq!(total(-150), "-1.50 EUR");
}

const ENV: &[(&str, &str)] = &[
    ("NOTIFICATIONS_TABLE", "notifications"),
    ("IDEMPOTENCY_TABLE", "idem"),
];

#[test]
fn settings_read_every_variable_with_defaults() {
    use crate::test_support::settings_from;
    assert_eq!(
        settings_from(ENV),
        Ok(NotifierSettings {
            notifications_table: "notifications".to_owned(),
            idempotency: IdempotencyConfig {
                table: "idem".to_owned(),
                in_progress_seconds: 60,
            },
        })
    );
}

#[test]
fn settings_name_the_missing_or_invalid_variable() {
    use crate::test_support::{assert_each_required, assert_invalid};
    assert_each_required::<NotifierSettings>(ENV, &["NOTIFICATIONS_TABLE", "IDEMPOTENCY_TABLE"]);
    assert_invalid::<NotifierSettings>(ENV, "IDEMPOTENCY_IN_PROGRESS_SECONDS", "x");
}
