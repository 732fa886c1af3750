//! `shopctl replay` and `shopctl rebuild analytics` on LocalStack, called as the library
//! functions the binary prints (`shopctl::replay`).
//!
//! - A consumer that lost events catches up by replay, and only it: analytics' event source
//!   mapping is disabled, events are published to the topic (the audit log, the notifier and
//!   the fraud detector get them), this test's messages are deleted from the analytics queue
//!   (a purge of its own messages only: the queue is shared with the tests running beside
//!   it), the mapping is enabled again. The replay of the window sends the stored events to
//!   the analytics queue; its counters then count every event once — also the events it had
//!   processed before the outage — and a second replay changes nothing. The other consumers'
//!   effects do not move. The mapping is off for a few seconds: the other tests' analytics
//!   events wait that long, they are not lost.
//! - The analytics projection rebuilt from the audit table into a fresh table equals the live
//!   one, and names the difference once the event store holds an event analytics never got.
//!
//! Every test's events fall on a day of their own (years 2201..=2290: no real event's, nor
//! `events.rs`'s), so the windows and the compared days hold this test's data only.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use shop_core::replay::{ReplayRequest, Window, parse_time};
use shop_tests::{Stack, envelope, eventually, unique_email, unique_id};
use shopctl::replay::{Targets, plan_replay, rebuild_analytics, send_replay};

const WAIT: Duration = Duration::from_secs(45);

/// A day of its own for a test's analytics counters.
fn unique_day() -> String {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).unwrap();
    let n = u16::from_le_bytes(b);
    format!(
        "{:04}-{:02}-{:02}",
        2201 + n % 90,
        1 + (n / 90) % 12,
        1 + (n / 1080) % 28
    )
}

/// The whole of `day`.
fn window(day: &str) -> Window {
    let from = parse_time(day).unwrap();
    Window::new(from, Some(from + Duration::from_secs(86_400))).unwrap()
}

fn targets() -> Targets {
    let path = std::env::var("SHOP_STACK_OUTPUTS").expect("SHOP_STACK_OUTPUTS (make up)");
    let outputs: HashMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the outputs file"))
            .expect("outputs are a JSON object of strings");
    Targets::from_outputs(&outputs).expect("the shop's outputs")
}

fn now() -> i64 {
    lambda_kit::clock::Clock::System.now()
}

/// Publishes a `LoginSucceeded` (analytics; the fraud detector ignores it) or an
/// `AccountLocked` (analytics, notifier) for `email` on `day`; its event id.
async fn publish(stack: &Stack, event_type: &str, email: &str, day: &str, corr: &str) -> String {
    let id = unique_id();
    let detail = match event_type {
        "AccountLocked" => json!({"email": email, "lockedUntil": format!("{day}T13:00:00Z")}),
        _ => json!({"userId": unique_id(), "email": email}),
    };
    let body = envelope(&id, event_type, &format!("{day}T12:00:00Z"), corr, &detail);
    stack.publish_raw(&body, event_type).await;
    id
}

async fn wait_processed(stack: &Stack, consumer: &str, ids: &[String]) {
    for id in ids {
        eventually(&format!("{consumer} processed {id}"), WAIT, || async {
            stack.processed_by(consumer, id).await.then_some(())
        })
        .await;
    }
}

/// Turns analytics' event source mapping off or on; whether it reached that state.
async fn analytics_mapping(stack: &Stack, enabled: bool) -> bool {
    let function = stack.output("AnalyticsFunctionName");
    let Ok(list) = stack
        .lambda()
        .list_event_source_mappings()
        .function_name(function)
        .send()
        .await
    else {
        return false;
    };
    let queue_arn = stack.output("AnalyticsQueueArn");
    let Some(uuid) = list
        .event_source_mappings()
        .iter()
        .find(|m| m.event_source_arn() == Some(queue_arn))
        .and_then(|m| m.uuid())
        .map(str::to_owned)
    else {
        return false;
    };
    if stack
        .lambda()
        .update_event_source_mapping()
        .uuid(&uuid)
        .enabled(enabled)
        .send()
        .await
        .is_err()
    {
        return false;
    }
    let wanted = if enabled { "Enabled" } else { "Disabled" };
    for _ in 0..60 {
        let state = stack
            .lambda()
            .get_event_source_mapping()
            .uuid(&uuid)
            .send()
            .await
            .ok()
            .and_then(|m| m.state().map(str::to_owned));
        if state.as_deref() == Some(wanted) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

/// While analytics' mapping is off: waits until the other consumers have `ids`, then deletes
/// this test's messages (`needle`) from the analytics queue; how many it deleted. Never
/// panics, so that the caller always turns the mapping back on.
async fn lose_in_analytics(stack: &Stack, ids: &[String], needle: &str) -> usize {
    for _ in 0..90 {
        let mut audited = true;
        for id in ids {
            audited &= stack.audited(id).await;
        }
        if audited {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let url = stack.output("AnalyticsQueueUrl").to_owned();
    let mut deleted = 0;
    for _ in 0..20 {
        deleted += stack.take_from_queue(&url, needle).await;
        if deleted >= ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    deleted
}

#[tokio::test]
async fn a_consumer_that_lost_events_catches_up_by_replay_and_only_it() {
    let stack = Stack::load().await;
    let targets = targets();
    let dynamodb = stack.dynamodb().clone();
    let day = unique_day();
    let corr = unique_id();
    let (email_a, email_b) = (unique_email("replay-a"), unique_email("replay-b"));

    // Before the outage: analytics counts these as usual.
    let before = vec![
        publish(&stack, "LoginSucceeded", &email_a, &day, &corr).await,
        publish(&stack, "AccountLocked", &email_a, &day, &corr).await,
    ];
    wait_processed(&stack, "analytics", &before).await;
    wait_processed(&stack, "notifier", &before[1..]).await;
    assert_eq!(stack.counter(&day, "logins").await, 1);

    // The outage: analytics' queue loses this test's next events.
    assert!(
        analytics_mapping(&stack, false).await,
        "analytics' mapping disabled"
    );
    // A long poll already under way ends (on LocalStack the mapping's batching window, 10 s,
    // is a long poll that outlives the mapping's "Disabled" and still hands over what it gets).
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut lost = Vec::new();
    for _ in 0..2 {
        lost.push(publish(&stack, "LoginSucceeded", &email_b, &day, &corr).await);
    }
    lost.push(publish(&stack, "AccountLocked", &email_b, &day, &corr).await);
    let deleted = lose_in_analytics(&stack, &lost, &format!("{day}T12:00:00Z")).await;
    let enabled = analytics_mapping(&stack, true).await;
    assert!(enabled, "analytics' mapping enabled again");
    assert_eq!(
        deleted,
        lost.len(),
        "this test's messages taken off the analytics queue"
    );

    // The other consumers had them; analytics did not.
    wait_processed(&stack, "notifier", &lost[2..]).await;
    wait_processed(&stack, "fraud-detector", &lost[..2]).await;
    for id in &lost {
        assert!(stack.audited(id).await, "in the event store");
        assert!(
            !stack.processed_by("analytics", id).await,
            "analytics never got {id}"
        );
    }
    let counters = || async {
        (
            stack.counter(&day, "logins").await,
            stack.counter(&day, "accounts_locked").await,
        )
    };
    assert_eq!(counters().await, (1, 1));
    let others = || async {
        (
            stack.notifications(&email_a).await.len(),
            stack.notifications(&email_b).await.len(),
            stack.audit_by_correlation(&corr).await.len(),
        )
    };
    let others_before = others().await;
    assert_eq!(others_before, (1, 1, 5));

    // The dry run: what would go, per type; only types analytics subscribes to.
    let request = ReplayRequest::new("analytics", window(&day), Vec::new()).unwrap();
    let plan = plan_replay(&dynamodb, &targets, &request, now())
        .await
        .unwrap();
    let counts: Vec<(&str, usize)> = plan.counts().into_iter().collect();
    assert_eq!(
        counts,
        [("AccountLocked", 2), ("LoginSucceeded", 3)],
        "{plan}"
    );
    assert_eq!(plan.beyond_idempotency, 0);
    let only_locks =
        ReplayRequest::new("analytics", window(&day), vec!["AccountLocked".to_owned()]).unwrap();
    let locks = plan_replay(&dynamodb, &targets, &only_locks, now())
        .await
        .unwrap();
    assert_eq!(locks.events.len(), 2);
    assert!(
        ReplayRequest::new("analytics", window(&day), vec!["OrderShipped".to_owned()]).is_err(),
        "analytics does not subscribe to OrderShipped"
    );

    // The replay: analytics catches up, each event counted once (the two it had are skipped).
    let report = send_replay(stack.sqs(), &targets, &plan).await.unwrap();
    assert_eq!((report.sent, report.not_sent.len()), (5, 0), "{report}");
    wait_processed(&stack, "analytics", &lost).await;
    eventually("analytics caught up", WAIT, || async {
        (counters().await == (3, 2)).then_some(())
    })
    .await;

    // Again: nothing changes.
    let report = send_replay(stack.sqs(), &targets, &plan).await.unwrap();
    assert_eq!(report.sent, 5, "{report}");
    let url = stack.output("AnalyticsQueueUrl").to_owned();
    let needle = format!("{day}T12:00:00Z");
    eventually("the second replay consumed", WAIT, || async {
        (!stack.holds(&url, &needle).await).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(counters().await, (3, 2), "a replayed event is counted once");
    assert_eq!(
        others().await,
        others_before,
        "no other consumer saw the replays"
    );
}

#[tokio::test]
async fn a_rebuilt_analytics_projection_equals_the_live_one() {
    let stack = Stack::load().await;
    let targets = targets();
    let dynamodb = stack.dynamodb().clone();
    let day = unique_day();
    let corr = unique_id();
    let email = unique_email("rebuild");
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(publish(&stack, "LoginSucceeded", &email, &day, &corr).await);
    }
    ids.push(publish(&stack, "AccountLocked", &email, &day, &corr).await);
    wait_processed(&stack, "analytics", &ids).await;
    wait_processed(&stack, "audit-log", &ids).await;

    let mut created = Vec::new();
    let report = rebuild_analytics(&dynamodb, &targets, None, Some(window(&day)), now())
        .await
        .unwrap();
    created.push(report.rebuilt_table.clone());
    assert!(report.equal(), "{report}");
    assert_eq!(report.days, 1, "{report}");
    assert_eq!(report.rebuilt.counters[&day]["logins"], 2, "{report}");
    assert_eq!(
        report.rebuilt.counters[&day]["accounts_locked"], 1,
        "{report}"
    );
    assert!(
        report
            .rebuilt_table
            .starts_with(&format!("{}-rebuild-", targets.analytics_table)),
        "{report}"
    );

    // An event analytics never got (sent to the audit log's queue alone): the store has one
    // login more than the live table, and the rebuild says where.
    let missed = unique_id();
    let body = envelope(
        &missed,
        "LoginSucceeded",
        &format!("{day}T18:00:00Z"),
        &corr,
        &json!({"userId": unique_id(), "email": email}),
    );
    stack
        .sqs()
        .send_message()
        .queue_url(stack.output("AuditLogQueueUrl"))
        .message_body(body)
        .send()
        .await
        .unwrap();
    eventually("the audit log has it", WAIT, || async {
        stack.audited(&missed).await.then_some(())
    })
    .await;
    let table = format!("{}-rebuild-{}", targets.analytics_table, unique_id());
    let report = rebuild_analytics(
        &dynamodb,
        &targets,
        Some(table.clone()),
        Some(window(&day)),
        now(),
    )
    .await
    .unwrap();
    created.push(table.clone());
    assert_eq!(report.rebuilt_table, table);
    let diffs: Vec<(&str, &str, i64, i64)> = report
        .diffs
        .iter()
        .map(|d| (d.day.as_str(), d.counter.as_str(), d.live, d.rebuilt))
        .collect();
    assert_eq!(diffs, [(day.as_str(), "logins", 2, 3)], "{report}");
    assert!(
        report.to_string().contains("different: 1 counters"),
        "{report}"
    );

    for table in created {
        let _ = dynamodb.delete_table().table_name(table).send().await;
    }
}
