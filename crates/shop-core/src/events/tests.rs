use super::*;
use crate::catalog::Currency;

const ORDER: &str = "ord_0123456789abcdef0123456789abcdef";

fn envelope(event_type: &str, version: u32, detail: serde_json::Value) -> EventEnvelope {
    let mut envelope = EventEnvelope::new(event_type, "test", "corr", 1_700_000_000, detail);
    envelope.event_version = version;
    envelope
}

#[test]
fn event_type_names_are_stable() {
    for t in EventType::ALL {
        assert_eq!(EventType::parse(t.as_str()), Some(t));
    }
    assert_eq!(EventType::parse("UserLoggedIn"), None);
}

#[test]
fn producers_and_consumers_share_one_shape() {
    let placed = ShopEvent::OrderPlaced(OrderPlaced {
        order_id: OrderId::parse(ORDER).unwrap(),
        user_id: "u-1".into(),
        email: "ann@example.com".into(),
        total: Money::new(2598, Currency::EUR),
        item_count: 2,
        items: Vec::new(),
    });
    let envelope = placed.to_envelope("checkout", "corr-1", 1_700_000_000);
    assert_eq!(envelope.event_type, "OrderPlaced");
    assert_eq!(envelope.event_version, 1);
    assert_eq!(envelope.detail["total"]["amount"], 2598);
    assert_eq!(envelope.detail["orderId"], ORDER);
    let parsed = EventEnvelope::from_json(&envelope.to_json()).unwrap();
    assert_eq!(ShopEvent::from_envelope(&parsed), Ok(placed));
}

#[test]
fn unknown_types_and_versions_are_named() {
    assert_eq!(
        ShopEvent::from_envelope(&envelope("UserLoggedIn", 1, serde_json::json!({}))),
        Err(EventError::UnknownType("UserLoggedIn".into()))
    );
    let v2 = envelope("OrderShipped", 2, serde_json::json!({}));
    let err = ShopEvent::from_envelope(&v2).unwrap_err();
    assert_eq!(
        err,
        EventError::UnknownVersion {
            event_type: "OrderShipped",
            version: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "OrderShipped v2 is not a known version (this code knows v1)"
    );
}

#[test]
fn a_malformed_detail_names_the_field() {
    let missing = envelope("OrderShipped", 1, serde_json::json!({"orderId": ORDER}));
    let err = ShopEvent::from_envelope(&missing).unwrap_err().to_string();
    assert!(
        err.contains("OrderShipped") && err.contains("userId"),
        "{err}"
    );
    let bad_id = envelope(
        "PaymentCaptured",
        1,
        serde_json::json!({"orderId": "ord_1", "operationId": "c-1",
                           "amount": {"amount": 1, "currency": "EUR"}}),
    );
    let err = ShopEvent::from_envelope(&bad_id).unwrap_err().to_string();
    assert!(err.contains("invalid order id"), "{err}");
    let bad_money = envelope(
        "PaymentRefunded",
        1,
        serde_json::json!({"orderId": ORDER, "operationId": "r-1",
                           "amount": {"amount": 1, "currency": "euro"}}),
    );
    assert!(ShopEvent::from_envelope(&bad_money).is_err());
}

#[test]
fn optional_fields_take_their_defaults() {
    let failed = envelope("LoginFailed", 1, serde_json::json!({"email": "a@b.c"}));
    let Ok(ShopEvent::LoginFailed(failed)) = ShopEvent::from_envelope(&failed) else {
        panic!("a LoginFailed with only an email decodes");
    };
    assert_eq!(failed.reason, LoginFailed::INVALID_CREDENTIALS);
    assert_eq!(failed.user_id, None);
}

/// The envelopes the state machines and functions really published, captured from a
/// LocalStack run (`events/envelopes/`), decode into the shop's types.
#[test]
fn captured_envelopes_decode() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/envelopes");
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let envelope =
            EventEnvelope::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let event = ShopEvent::from_envelope(&envelope)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(event.event_type().as_str(), envelope.event_type);
        seen.insert(envelope.event_type);
    }
    let all: std::collections::BTreeSet<String> = EventType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    assert_eq!(seen, all, "one captured envelope of every type");
}

/// `events/schemas/` is what the types generate (`UPDATE_SCHEMAS=1 cargo test -p shop-core
/// --features schemas schemas_are_committed` rewrites it).
#[cfg(feature = "schemas")]
#[test]
fn schemas_are_committed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let generated = schemas();
    let names: std::collections::BTreeSet<String> =
        generated.iter().map(|(name, _)| name.clone()).collect();
    let wanted: std::collections::BTreeSet<String> = EventType::ALL
        .iter()
        .map(|t| format!("{}.v1.json", t.as_str()))
        .collect();
    assert_eq!(names, wanted, "one schema for every event type");
    for (name, schema) in &generated {
        let text = serde_json::to_string_pretty(schema).unwrap() + "\n";
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed, text,
            "{name} differs from the types: run UPDATE_SCHEMAS=1 cargo test -p shop-core --features schemas schemas_are_committed"
        );
    }
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        files,
        generated.len(),
        "a schema file without a type in {}",
        dir.display()
    );
}
