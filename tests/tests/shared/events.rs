//! The event backbone on LocalStack, through the real SNS subscriptions, SQS queues and event
//! source mappings: fan-out with filter policies, partial batch failures ending in a DLQ,
//! redrive, and idempotent consumers.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use shop_tests::{Stack, envelope, eventually, make_redrive, unique_email, unique_id};

const PASSWORD: &str = "a-long-password";

/// A day of its own for a test's analytics counters (events carry their `occurredAt`).
fn unique_day() -> String {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).unwrap();
    let n = u16::from_le_bytes(b);
    // 1901..=1990, a day 1..=28 of a month: never a real event's day.
    format!(
        "{:04}-{:02}-{:02}",
        1901 + n % 90,
        1 + (n / 90) % 12,
        1 + (n / 1080) % 28
    )
}

#[tokio::test]
async fn a_login_is_published_once_and_fans_out_through_the_filters() {
    let stack = Stack::load().await;
    let email = unique_email("fanout");
    stack
        .register(&email, PASSWORD)
        .await
        .expect_status(StatusCode::ACCEPTED);
    let correlation_id = unique_id();
    stack
        .login(&email, PASSWORD, None, Some(&correlation_id))
        .await
        .expect_status(StatusCode::OK);

    let (event_id, event_type) = eventually(
        "the login in the audit log",
        Duration::from_secs(30),
        || async {
            stack
                .audit_by_correlation(&correlation_id)
                .await
                .into_iter()
                .next()
        },
    )
    .await;
    assert_eq!(event_type, "LoginSucceeded");
    for consumer in ["audit-log", "analytics", "fraud-detector"] {
        eventually(
            &format!("{consumer} processed the login"),
            Duration::from_secs(30),
            || async { stack.processed_by(consumer, &event_id).await.then_some(()) },
        )
        .await;
    }
    // Published once: one event for the request, whatever the consumers did.
    assert_eq!(stack.audit_by_correlation(&correlation_id).await.len(), 1);
    // The notifier's filter (AccountLocked only) keeps the login out of its queue. The other
    // consumers had it within the time above; give the notifier as long again to be sure.
    for _ in 0..8 {
        assert!(
            !stack.processed_by("notifier", &event_id).await,
            "the notifier received an event its filter policy excludes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_poison_message_ends_in_the_dlq_alone_and_redrive_brings_it_back() {
    let stack = Stack::load().await;
    let day = unique_day();
    let occurred_at = format!("{day}T12:00:00Z");
    // A LoginFailed the fraud detector cannot process (an empty detail.email: it decodes, but
    // there is no account to count against): a poison message for that consumer only. The
    // audit log and analytics accept it.
    let poison_id = unique_id();
    let poison = envelope(
        &poison_id,
        "LoginFailed",
        &occurred_at,
        &unique_id(),
        &json!({"email": "", "reason": "INVALID_CREDENTIALS"}),
    );
    // Valid events published with it, so they share batches with the poison.
    let valid: Vec<String> = (0..3).map(|_| unique_id()).collect();
    stack.publish_raw(&poison, "LoginFailed").await;
    for id in &valid {
        let body = envelope(
            id,
            "LoginFailed",
            &occurred_at,
            &unique_id(),
            &json!({"email": unique_email("poison-neighbour"), "reason": "INVALID_CREDENTIALS", "sourceIp": "198.51.100.7"}),
        );
        stack.publish_raw(&body, "LoginFailed").await;
    }
    for id in &valid {
        eventually(
            "the valid neighbours are processed",
            Duration::from_secs(30),
            || async { stack.processed_by("fraud-detector", id).await.then_some(()) },
        )
        .await;
    }
    // Other consumers are unaffected by the poison.
    for consumer in ["audit-log", "analytics"] {
        eventually(
            &format!("{consumer} processed the poison's event"),
            Duration::from_secs(30),
            || async { stack.processed_by(consumer, &poison_id).await.then_some(()) },
        )
        .await;
    }
    assert!(stack.audited(&poison_id).await);
    eventually(
        "analytics counted the poison and its neighbours",
        Duration::from_secs(30),
        || async { (stack.counter(&day, "failed_logins").await == 4).then_some(()) },
    )
    .await;

    // maxReceiveCount 5 x visibility 12 s locally.
    let dlq = stack.output("FraudDetectorDlqUrl").to_owned();
    eventually(
        "the poison in the fraud-detector DLQ",
        Duration::from_secs(120),
        || async { stack.holds(&dlq, &poison_id).await.then_some(()) },
    )
    .await;
    assert!(!stack.processed_by("fraud-detector", &poison_id).await);
    // No other DLQ got it.
    for name in ["AuditLogDlqUrl", "AnalyticsDlqUrl", "NotifierDlqUrl"] {
        let url = stack.output(name).to_owned();
        assert!(!stack.holds(&url, &poison_id).await, "{name}");
    }

    // The runbook: make redrive QUEUE=fraud-detector moves it back to the queue.
    assert_eq!(
        make_redrive("fraud-detector"),
        Some(0),
        "make redrive failed"
    );
    // …and counts what it moved (the operator's metric MessagesRedriven, per queue).
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&lambda_kit::aws::sdk_config().await);
    let now = std::time::SystemTime::now();
    let redriven = cloudwatch
        .get_metric_statistics()
        .namespace("ServerlessShop")
        .metric_name("MessagesRedriven")
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("Queue")
                .value("fraud-detector")
                .build(),
        )
        .start_time((now - Duration::from_secs(600)).into())
        .end_time((now + Duration::from_secs(60)).into())
        .period(60)
        .statistics(aws_sdk_cloudwatch::types::Statistic::Sum)
        .send()
        .await
        .expect("read MessagesRedriven");
    let moved: f64 = redriven.datapoints().iter().filter_map(|d| d.sum()).sum();
    assert!(
        moved >= 1.0,
        "MessagesRedriven counted the move: {redriven:?}"
    );
    let queue = stack.output("FraudDetectorQueueUrl").to_owned();
    eventually(
        "the poison left the DLQ for the queue",
        Duration::from_secs(30),
        || async {
            let in_dlq = stack.holds(&dlq, &poison_id).await;
            let (visible, in_flight) = stack.queue_depth(&queue).await;
            (!in_dlq && visible + in_flight > 0).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn the_same_event_delivered_twice_is_counted_once() {
    let stack = Stack::load().await;
    let day = unique_day();
    let event_id = unique_id();
    let body = envelope(
        &event_id,
        "LoginSucceeded",
        &format!("{day}T08:30:00Z"),
        &unique_id(),
        &json!({"userId": "u-1", "email": "twice@test.local"}),
    );
    // SNS + SQS deliver at least once; publishing the same envelope twice is a redelivery.
    stack.publish_raw(&body, "LoginSucceeded").await;
    stack.publish_raw(&body, "LoginSucceeded").await;
    eventually("the event is counted", Duration::from_secs(30), || async {
        (stack.counter(&day, "logins").await >= 1).then_some(())
    })
    .await;
    for consumer in ["audit-log", "analytics"] {
        eventually(
            &format!("{consumer} processed it"),
            Duration::from_secs(30),
            || async { stack.processed_by(consumer, &event_id).await.then_some(()) },
        )
        .await;
    }
    // Both copies have left the queues (the second acknowledged as a duplicate, or retried
    // after "in progress" and then found done).
    for name in ["AnalyticsQueueUrl", "AuditLogQueueUrl"] {
        let url = stack.output(name).to_owned();
        eventually(
            &format!("{name} drained"),
            Duration::from_secs(60),
            || async { (stack.queue_depth(&url).await == (0, 0)).then_some(()) },
        )
        .await;
    }
    assert_eq!(stack.counter(&day, "logins").await, 1, "counted once");
    assert!(
        stack.audited(&event_id).await,
        "one audit row, keyed by the event id"
    );
}

#[tokio::test]
async fn a_poison_ledger_message_holds_back_only_its_order_and_waits_in_the_fifo_dlq() {
    let stack = Stack::load().await;
    let queue = stack.output("PaymentsLedgerQueueUrl").to_owned();
    let dlq = stack.output("PaymentsLedgerDlqUrl").to_owned();
    // Order ids of the real shape (ord_ + 32 hex digits): anything else fails to decode.
    let blocked = format!("ord_{}", unique_id().replace('-', ""));
    let other = format!("ord_{}", unique_id().replace('-', ""));
    let payment = |event_id: &str, kind: &str, order: &str, operation: &str, amount: bool| {
        let mut detail = json!({"orderId": order, "operationId": format!("{operation}-{order}")});
        if amount {
            detail["amount"] = json!({"amount": 1500, "currency": "EUR"});
        }
        envelope(event_id, kind, "2026-01-01T00:00:00Z", order, &detail)
    };
    // A charge without an amount (the ledger cannot record it), then the refund of the same
    // order behind it in its message group, then a charge of another order.
    let poison_id = unique_id();
    let poison = payment(&poison_id, "PaymentCaptured", &blocked, "charge", false);
    let refund_id = unique_id();
    let refund = payment(&refund_id, "PaymentRefunded", &blocked, "refund", true);
    let charge = payment(&unique_id(), "PaymentCaptured", &other, "charge", true);
    stack.send_fifo(&queue, &blocked, &poison_id, &poison).await;
    stack.send_fifo(&queue, &blocked, &refund_id, &refund).await;
    stack.send_fifo(&queue, &other, &unique_id(), &charge).await;

    // Other orders are not held back.
    eventually(
        "the other order's charge is recorded",
        Duration::from_secs(30),
        || async { (stack.ledger(&other).await.len() == 1).then_some(()) },
    )
    .await;
    // The refund never overtakes the charge in front of it: nothing of the blocked order is
    // recorded while the poison is retried (maxReceiveCount 5 x visibility 12 s locally).
    // The ledger is read before the DLQ: the receive that moves the poison to the DLQ can hand
    // the refund over at once, so a refund recorded by the first read must find the poison
    // already in the DLQ at the second (read the other way round, a refund recorded between
    // the two reads looked like overtaking).
    eventually(
        "the poison in the ledger DLQ",
        Duration::from_secs(150),
        || async {
            let refund_recorded = !stack.ledger(&blocked).await.is_empty();
            let poison_in_dlq = stack.holds(&dlq, &poison_id).await;
            assert!(
                !refund_recorded || poison_in_dlq,
                "a refund was recorded while the charge before it was still being retried"
            );
            poison_in_dlq.then_some(())
        },
    )
    .await;

    // The runbook on a FIFO queue refuses to redrive inside the 5-minute deduplication window
    // (the queue could drop the message as a duplicate) and leaves the DLQ as it was.
    assert_ne!(
        make_redrive("ledger"),
        Some(0),
        "redrive inside the dedup window"
    );
    assert!(
        stack.holds(&dlq, &poison_id).await,
        "the poison is still in the DLQ"
    );
}

#[tokio::test]
async fn an_event_of_an_unknown_version_fails_in_its_typed_consumer_and_lands_in_its_dlq() {
    let stack = Stack::load().await;
    let event_id = unique_id();
    // OrderShipped v2 does not exist: the notifier (which decodes every record into the
    // shop's event types) must fail it alone and, after the retries, leave it in its DLQ; the
    // audit log, the event store, keeps every envelope as it is. (The notifier's queue is
    // one no other test waits to drain.)
    let order_id = format!("ord_{}", unique_id().replace('-', ""));
    let body = envelope(
        &event_id,
        "OrderShipped",
        &format!("{}T09:00:00Z", unique_day()),
        &unique_id(),
        &json!({"orderId": order_id, "userId": "u-v2", "email": "v2@test.local"}),
    )
    .replace("\"eventVersion\":1", "\"eventVersion\":2");
    assert!(body.contains("\"eventVersion\":2"), "{body}");
    stack.publish_raw(&body, "OrderShipped").await;
    eventually(
        "the audit log keeps it",
        Duration::from_secs(30),
        || async { stack.audited(&event_id).await.then_some(()) },
    )
    .await;
    let dlq = stack.output("NotifierDlqUrl").to_owned();
    eventually(
        "the v2 event in the notifier DLQ",
        Duration::from_secs(150),
        || async { stack.holds(&dlq, &event_id).await.then_some(()) },
    )
    .await;
    assert!(!stack.processed_by("notifier", &event_id).await);
}
