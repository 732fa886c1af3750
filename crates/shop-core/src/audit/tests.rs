use super::*;
use crate::events::EventType;
use lambda_kit::messaging::EventHandler as _;

#[tokio::test]
async fn every_event_once() {
    let log = AuditLog::new(InMemoryAuditStore::default());
    let event = EventEnvelope::new(EventType::LoginFailed, "t", "c", 0, serde_json::json!({}));
    log.handle_envelope(&event).await.unwrap();
    log.handle_envelope(&event).await.unwrap();
    let mut unknown = event.clone();
    unknown.event_id = "other".to_owned();
    unknown.event_type = "SomethingNew".to_owned();
    assert!(
        log.handle_envelope(&unknown).await.is_ok(),
        "unknown types are audited too"
    );
    assert_eq!(log.store().len(), 2);
}

const ENV: &[(&str, &str)] = &[("AUDIT_TABLE", "audit"), ("IDEMPOTENCY_TABLE", "idem")];

#[test]
fn settings_read_every_variable_with_defaults() {
    use crate::test_support::settings_from;
    assert_eq!(
        settings_from(ENV),
        Ok(AuditLogSettings {
            audit_table: "audit".to_owned(),
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
    assert_each_required::<AuditLogSettings>(ENV, &["AUDIT_TABLE", "IDEMPOTENCY_TABLE"]);
    assert_invalid::<AuditLogSettings>(ENV, "IDEMPOTENCY_IN_PROGRESS_SECONDS", "1.5");
}
