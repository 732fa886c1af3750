use super::*;
use crate::events::EventType;
use crate::notifications::InMemoryNotificationStore;
use crate::orders::InMemoryOrderStore;
use crate::orders::OrderId;
use crate::orders::tests::sample_order;
use crate::orders::{Order, OrderStatus};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lambda_kit::messaging::EventEnvelope;
use lambda_kit::messaging::EventHandler as _;
use lambda_kit::messaging::ProcessError;
use lambda_kit::messaging::{BatchProcessor, Idempotent, InMemoryIdempotencyStore};

fn order(status: OrderStatus) -> Order {
    Order {
        email: "ann@example.com".to_owned(),
        status,
        correlation_id: "corr".to_owned(),
        ..sample_order("u1", "key-approvals-1", 1000)
    }
}

fn requested(order_id: &OrderId, token: &str) -> EventEnvelope {
    EventEnvelope::new(
        EventType::ApprovalRequested,
        "checkout",
        "corr",
        1_800_000_000,
        serde_json::json!({
            "orderId": order_id.as_str(), "userId": "u1", "email": "ann@example.com",
            "taskToken": token, "total": {"amount": 125_000, "currency": "EUR"},
            "flagged": false
        }),
    )
}

fn approvals(
    status: OrderStatus,
) -> (
    Approvals<InMemoryOrderStore, InMemoryNotificationStore>,
    OrderId,
) {
    let orders = InMemoryOrderStore::new();
    let order = order(status);
    let id = order.order_id.clone();
    orders.put(order);
    (
        Approvals::new(orders, InMemoryNotificationStore::default()),
        id,
    )
}

fn stored(approvals: &Approvals<InMemoryOrderStore, InMemoryNotificationStore>) -> Order {
    approvals
        .orders()
        .all()
        .pop()
        .unwrap_or_else(|| panic!("one order"))
}

#[tokio::test]
async fn stores_the_token_and_notifies_the_admins_once() {
    for status in [OrderStatus::Pending, OrderStatus::AwaitingApproval] {
        let (approvals, id) = approvals(status);
        let processor = BatchProcessor::new(
            FUNCTION_NAME,
            approvals,
            Idempotent::new(InMemoryIdempotencyStore::default(), FUNCTION_NAME),
        );
        let event = requested(&id, "token-1");
        let mut record = SqsMessage::default();
        record.message_id = Some("m1".to_owned());
        record.body = Some(event.to_json());
        let mut batch = SqsEvent::default();
        batch.records = vec![record];
        for _ in 0..2 {
            let response = processor.process(batch.clone()).await;
            assert!(response.batch_item_failures.is_empty());
        }
        // The handler itself is safe to run again (the idempotency record was lost).
        processor.handler().handle_envelope(&event).await.unwrap();
        let approvals = processor.handler();
        let order = stored(approvals);
        assert_eq!(order.status, OrderStatus::AwaitingApproval);
        assert_eq!(order.approval_token.as_deref(), Some("token-1"));
        let notes = approvals.notifications().all();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].recipient, "admins");
        assert_eq!(notes[0].kind, "APPROVAL_REQUESTED");
        assert!(
            notes[0].message.contains("1250.00 EUR"),
            "{}",
            notes[0].message
        );
        assert!(notes[0].message.contains(id.as_str()));
    }
}

#[tokio::test]
async fn an_order_no_longer_pending_is_acknowledged_untouched() {
    for status in [
        OrderStatus::Failed,
        OrderStatus::Confirmed,
        OrderStatus::Rejected,
    ] {
        let (approvals, id) = approvals(status);
        approvals
            .handle_envelope(&requested(&id, "token-1"))
            .await
            .unwrap();
        let order = stored(&approvals);
        assert_eq!(order.status, status);
        assert_eq!(order.approval_token, None);
        assert!(approvals.notifications().all().is_empty());
    }
    // A second, different token never replaces the first.
    let (approvals, id) = approvals(OrderStatus::Pending);
    approvals
        .handle_envelope(&requested(&id, "token-1"))
        .await
        .unwrap();
    approvals
        .handle_envelope(&requested(&id, "token-2"))
        .await
        .unwrap();
    assert_eq!(
        stored(&approvals).approval_token.as_deref(),
        Some("token-1")
    );
    assert_eq!(approvals.notifications().all().len(), 1);
}

#[tokio::test]
async fn malformed_requests_fail() {
    let (approvals, id) = approvals(OrderStatus::Pending);
    let mut no_token = requested(&id, "");
    assert!(matches!(
        approvals.handle_envelope(&no_token).await,
        Err(ProcessError::Malformed(_))
    ));
    no_token.detail = serde_json::json!({"orderId": "not-an-order", "taskToken": "t"});
    assert!(matches!(
        approvals.handle_envelope(&no_token).await,
        Err(ProcessError::Malformed(_))
    ));
}

const ENV: &[(&str, &str)] = &[
    ("ORDERS_TABLE", "orders"),
    ("NOTIFICATIONS_TABLE", "notifications"),
    ("IDEMPOTENCY_TABLE", "idem"),
];

#[test]
fn settings_read_every_variable_with_defaults() {
    use crate::test_support::settings_from;
    assert_eq!(
        settings_from(ENV),
        Ok(ApprovalsSettings {
            orders_table: "orders".to_owned(),
            notifications_table: "notifications".to_owned(),
            idempotency: lambda_kit::messaging::IdempotencyConfig {
                table: "idem".to_owned(),
                in_progress_seconds: 60,
            },
        })
    );
}

#[test]
fn settings_name_the_missing_or_invalid_variable() {
    use crate::test_support::{assert_each_required, assert_invalid};
    assert_each_required::<ApprovalsSettings>(
        ENV,
        &["ORDERS_TABLE", "NOTIFICATIONS_TABLE", "IDEMPOTENCY_TABLE"],
    );
    assert_invalid::<ApprovalsSettings>(ENV, "IDEMPOTENCY_IN_PROGRESS_SECONDS", "-1");
}
