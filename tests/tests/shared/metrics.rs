//! EMF metrics on LocalStack: after a checkout that ends FULFILLED, the function log groups
//! hold EMF documents that parse as EMF (one `_aws.CloudWatchMetrics` directive naming the
//! namespace, the dimension set and the metrics, each dimension and metric a member of the
//! document) with the expected names and dimensions.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use serde_json::Value;
use shop_tests::{Stack, eventually, now_epoch_millis, unique_sku};

const FULFIL: Duration = Duration::from_secs(120);
const LOGS_CATCH_UP: Duration = Duration::from_secs(60);

/// The EMF documents `function` (its full name) wrote since `since_ms`.
async fn emf_documents(stack: &Stack, function: &str, since_ms: i64) -> Vec<Value> {
    let mut documents = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let Ok(page) = stack
            .logs()
            .filter_log_events()
            .log_group_name(format!("/aws/lambda/{function}"))
            .start_time(since_ms)
            .filter_pattern("\"CloudWatchMetrics\"")
            .set_next_token(next.take())
            .send()
            .await
        else {
            return documents;
        };
        documents.extend(
            page.events()
                .iter()
                .filter_map(|e| e.message())
                .filter_map(|m| serde_json::from_str::<Value>(m.trim()).ok())
                .filter(|d| d.get("_aws").is_some()),
        );
        match page.next_token() {
            Some(token) if !page.events().is_empty() => next = Some(token.to_owned()),
            _ => return documents,
        }
    }
}

/// Checks `doc` is well-formed EMF and returns (dimension names, metric names).
fn parse_emf(doc: &Value) -> (Vec<String>, Vec<String>) {
    let aws = &doc["_aws"];
    assert!(aws["Timestamp"].as_i64().is_some(), "{doc}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert_eq!(directives.len(), 1, "{doc}");
    let directive = &directives[0];
    assert_eq!(directive["Namespace"], "ServerlessShop", "{doc}");
    let sets = directive["Dimensions"].as_array().expect("dimension sets");
    assert_eq!(sets.len(), 1, "{doc}");
    let dimensions: Vec<String> = sets[0]
        .as_array()
        .expect("a dimension set")
        .iter()
        .map(|d| d.as_str().expect("a dimension name").to_owned())
        .collect();
    for dimension in &dimensions {
        assert!(doc[dimension].is_string(), "{dimension} in {doc}");
    }
    let metrics: Vec<String> = directive["Metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| m["Name"].as_str().expect("a metric name").to_owned())
        .collect();
    for metric in &metrics {
        assert!(
            doc[metric].is_number() || doc[metric].is_array(),
            "{metric} in {doc}"
        );
    }
    (dimensions, metrics)
}

/// Waits for a document of `function` with `metric` and exactly `dimensions`; returns it.
async fn expect_metric(
    stack: &Stack,
    function: &str,
    metric: &str,
    dimensions: &[&str],
    since_ms: i64,
) -> Value {
    eventually(
        &format!("{metric} {dimensions:?} from {function}"),
        LOGS_CATCH_UP,
        || async {
            emf_documents(stack, function, since_ms)
                .await
                .into_iter()
                .find(|doc| {
                    let (dims, metrics) = parse_emf(doc);
                    metrics.iter().any(|m| m == metric) && dims == dimensions
                })
        },
    )
    .await
}

#[tokio::test]
async fn a_checkout_leaves_emf_metrics_in_the_function_log_groups() {
    let stack = Stack::load().await;
    let since = now_epoch_millis() - 5_000;
    let name = |function: &str| format!("{}-{function}", stack.output("StackName"));
    let sku = unique_sku(1);
    stack.create_product(&sku, 1_000, 5).await;
    let shopper = stack.shopper("metrics", &[(&sku, 1)]).await;
    let id = stack.place_order(&shopper.token, "tok_ok").await;
    stack
        .wait_for_order(&shopper.token, &id, &["FULFILLED"], FULFIL)
        .await;

    let latency = expect_metric(
        &stack,
        &name("checkout-api"),
        "Latency",
        &["Function", "Route", "Method", "Status"],
        since,
    )
    .await;
    assert_eq!(latency["Function"], name("checkout-api"), "{latency}");
    expect_metric(
        &stack,
        &name("payment"),
        "PaymentsSucceeded",
        &["Function", "Operation"],
        since,
    )
    .await;
    let placed = expect_metric(
        &stack,
        &name("analytics"),
        "OrdersPlaced",
        &["Function", "Currency"],
        since,
    )
    .await;
    assert!(placed["RevenueMinor"].is_number(), "{placed}");
    expect_metric(
        &stack,
        &name("fulfilment"),
        "OrdersFulfilled",
        &["Function"],
        since,
    )
    .await;
    for consumer in ["notifier", "audit-log", "fulfilment"] {
        let processed = expect_metric(
            &stack,
            &name(consumer),
            "EventsProcessed",
            &["Function", "Consumer", "EventType"],
            since,
        )
        .await;
        assert_eq!(processed["Consumer"], consumer, "{processed}");
    }
}
