//! The EMF lines, parsed back: namespace, dimensions, metric names, units and values.
//!
//! The recorder is process-global, so every test takes [`SERIAL`] and starts by discarding
//! what earlier tests left behind.

use std::sync::Mutex;

use serde_json::Value;

use super::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn installed() -> std::sync::MutexGuard<'static, ()> {
    let guard = crate::sync::lock(&SERIAL);
    init_with(&MetricsConfig {
        namespace: "TestShop".to_owned(),
        function: "shop-test-fn".to_owned(),
    });
    drop(take_lines());
    guard
}

fn documents() -> Vec<Value> {
    take_lines()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or(Value::Null))
        .collect()
}

/// A metric's name and unit, as the directive declares it.
type Declared = (String, Option<String>);

/// The one EMF directive of `doc`: (namespace, dimension names, metric names with units).
fn directive(doc: &Value) -> (String, Vec<String>, Vec<Declared>) {
    let cw = &doc["_aws"]["CloudWatchMetrics"];
    assert_eq!(cw.as_array().map(Vec::len), Some(1), "{doc}");
    let namespace = cw[0]["Namespace"].as_str().unwrap_or_default().to_owned();
    let dimension_sets = cw[0]["Dimensions"].as_array().cloned().unwrap_or_default();
    assert_eq!(dimension_sets.len(), 1, "{doc}");
    let dimensions = dimension_sets[0]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect();
    let metrics = cw[0]["Metrics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            (
                m["Name"].as_str().unwrap_or_default().to_owned(),
                m["Unit"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert!(doc["_aws"]["Timestamp"].as_u64().is_some(), "{doc}");
    (namespace, dimensions, metrics)
}

fn find<'a>(docs: &'a [Value], metric: &str) -> &'a Value {
    docs.iter()
        .find(|d| d.get(metric).is_some())
        .unwrap_or_else(|| panic!("no document with {metric} in {docs:?}"))
}

#[test]
fn config_reads_the_namespace_and_the_lambda_function_name() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    assert_eq!(
        MetricsConfig::from_lookup("cart-api", &env(&[])),
        MetricsConfig {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            function: "cart-api".to_owned()
        }
    );
    assert_eq!(
        MetricsConfig::from_lookup(
            "cart-api",
            &env(&[
                (NAMESPACE_ENV, "Shop/Staging"),
                ("AWS_LAMBDA_FUNCTION_NAME", "shop-cart-api")
            ])
        ),
        MetricsConfig {
            namespace: "Shop/Staging".to_owned(),
            function: "shop-cart-api".to_owned()
        }
    );
    assert_eq!(
        MetricsConfig::from_lookup("cart-api", &env(&[(NAMESPACE_ENV, " ")])).namespace,
        DEFAULT_NAMESPACE
    );
}

#[test]
fn a_business_counter_is_one_emf_document_with_its_dimensions() {
    let _serial = installed();
    count("OrdersPlaced", 2, &[("Currency", "EUR")]);
    count("OrdersPlaced", 1, &[("Currency", "EUR")]);
    count("CheckoutsFailed", 1, &[("Reason", "PAYMENT_DECLINED")]);
    let docs = documents();
    assert_eq!(docs.len(), 2, "{docs:?}");

    let placed = find(&docs, "OrdersPlaced");
    let (namespace, dimensions, metrics) = directive(placed);
    assert_eq!(namespace, "TestShop");
    assert_eq!(dimensions, ["Function", "Currency"]);
    assert_eq!(metrics, [("OrdersPlaced".to_owned(), None)]);
    assert_eq!(placed["Function"], "shop-test-fn");
    assert_eq!(placed["Currency"], "EUR");
    assert_eq!(placed["OrdersPlaced"], 3);

    let failed = find(&docs, "CheckoutsFailed");
    assert_eq!(directive(failed).1, ["Function", "Reason"]);
    assert_eq!(failed["Reason"], "PAYMENT_DECLINED");

    // Counted once: the next flush has nothing new.
    assert!(documents().is_empty());
}

#[test]
fn http_latency_by_route_method_and_status_in_milliseconds() {
    let _serial = installed();
    http_request("/orders/{orderId}", "GET", 200, 12.0);
    http_request("/orders/{orderId}", "GET", 200, 30.0);
    http_request("/orders/{orderId}", "GET", 404, 3.0);
    let docs = documents();
    assert_eq!(docs.len(), 2, "{docs:?}");
    let ok = docs
        .iter()
        .find(|d| d["Status"] == "200")
        .unwrap_or(&Value::Null);
    let (_, dimensions, metrics) = directive(ok);
    assert_eq!(dimensions, ["Function", "Route", "Method", "Status"]);
    assert_eq!(
        metrics,
        [(LATENCY.to_owned(), Some("Milliseconds".to_owned()))]
    );
    assert_eq!(ok["Route"], "/orders/{orderId}");
    assert_eq!(ok[LATENCY], serde_json::json!([12.0, 30.0]));
}

#[test]
fn event_outcomes_per_consumer_and_event_type() {
    let _serial = installed();
    event_outcome("notifier", "OrderPlaced", EventOutcome::Processed);
    event_outcome("notifier", "OrderPlaced", EventOutcome::Duplicate);
    event_outcome("notifier", "", EventOutcome::Failed);
    let docs = documents();
    let processed = find(&docs, EVENTS_PROCESSED);
    let (_, dimensions, metrics) = directive(processed);
    assert_eq!(dimensions, ["Function", "Consumer", "EventType"]);
    assert!(metrics.contains(&(EVENTS_PROCESSED.to_owned(), Some("Count".to_owned()))));
    assert_eq!(processed["Consumer"], "notifier");
    assert_eq!(processed[EVENTS_DUPLICATE], 1);
    let failed = find(&docs, EVENTS_FAILED);
    assert_eq!(failed["EventType"], "Unknown");
    assert_eq!(failed[EVENTS_FAILED], 1);
}

#[test]
fn values_carry_their_unit() {
    let _serial = installed();
    value("Revenue", 2599.0, Unit::Count, &[("Currency", "EUR")]);
    let docs = documents();
    let revenue = find(&docs, "Revenue");
    assert_eq!(
        directive(revenue).2,
        [("Revenue".to_owned(), Some("Count".to_owned()))]
    );
    assert_eq!(revenue["Revenue"], serde_json::json!([2599.0]));
}

#[test]
fn init_twice_is_harmless() {
    let _serial = installed();
    init("another-name");
    count("Probe", 1, &[]);
    let docs = documents();
    assert_eq!(find(&docs, "Probe")["Function"], "shop-test-fn");
}

#[test]
fn capture_sees_what_a_closure_records_and_nothing_else() {
    let ((), recorded) = capture(|| {
        count("OrdersPlaced", 2, &[("Currency", "EUR")]);
        count("OrdersPlaced", 1, &[("Currency", "EUR")]);
        http_request("/cart", "GET", 200, 4.0);
    });
    assert_eq!(
        recorded,
        [
            Recorded {
                name: "OrdersPlaced".to_owned(),
                dimensions: vec![("Currency".to_owned(), "EUR".to_owned())],
                value: 3.0,
            },
            Recorded {
                name: LATENCY.to_owned(),
                dimensions: vec![
                    ("Route".to_owned(), "/cart".to_owned()),
                    ("Method".to_owned(), "GET".to_owned()),
                    ("Status".to_owned(), "200".to_owned()),
                ],
                value: 4.0,
            },
        ]
    );
}
