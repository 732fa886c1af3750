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
