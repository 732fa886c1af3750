//! Metrics as CloudWatch Embedded Metric Format (EMF): JSON lines on stdout that CloudWatch
//! Logs turns into metrics, with no API call and no agent.
//!
//! | item | what it gives |
//! | --- | --- |
//! | [`init`] | the recorder (namespace from [`NAMESPACE_ENV`], the `Function` dimension), one [`COLD_START`] |
//! | [`flush`] | the invocation's metrics as EMF lines on stdout (the kit calls it, see below) |
//! | [`count`], [`value`] | a business counter or value with dimensions, from any code |
//! | [`http_request`] | [`LATENCY`] by route, method and status ([`crate::http::serve`] records it) |
//! | [`event_outcome`] | [`EVENTS_PROCESSED`] / [`EVENTS_DUPLICATE`] / [`EVENTS_FAILED`] per consumer and event type (the batch processors record them) |
//! | [`facade`] | the `metrics` crate itself (`counter!`, `histogram!`, …) for anything else |
//! | [`capture`] | what a closure recorded, for unit tests of code that emits metrics |
//!
//! The EMF documents come from `metrics_cloudwatch_embedded`, a recorder for the `metrics`
//! facade: business code only ever calls the facade (here or through [`facade`]), which is a
//! no-op until [`init`] installs the recorder (unit tests need nothing). One EMF line is
//! written per distinct set of dimensions that changed since the last flush.
//!
//! When the lines are written: the kit's invocation wrappers flush once their work is done —
//! [`crate::http::serve`] after the response is built, the SQS batch processors (standard and
//! FIFO) when they answer, [`crate::step::invoke`] after a workflow step. A function with its
//! own Lambda loop calls [`flush`] at the end of each invocation. What is recorded after the
//! last flush of an invocation goes out with the next one (Lambda freezes, not loses, it).
//!
//! Every metric has the `Function` dimension (`AWS_LAMBDA_FUNCTION_NAME`, else the name given
//! to [`init`]), so dashboards and alarms can be per function.

use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

pub use ::metrics as facade;
pub use ::metrics::Unit;
use metrics_cloudwatch_embedded::{Builder, Collector};

/// The variable naming the CloudWatch namespace; default [`DEFAULT_NAMESPACE`].
pub const NAMESPACE_ENV: &str = "METRICS_NAMESPACE";
/// The namespace when [`NAMESPACE_ENV`] is unset or empty.
pub const DEFAULT_NAMESPACE: &str = "ServerlessShop";
/// The dimension every metric carries: the function's name.
pub const FUNCTION_DIMENSION: &str = "Function";

/// 1 per execution environment, at its first flush (Count).
pub const COLD_START: &str = "ColdStart";
/// Handler latency of an HTTP request (Milliseconds), by `Route`, `Method` and `Status`.
pub const LATENCY: &str = "Latency";
/// Records a consumer processed (Count), by `Consumer` and `EventType`.
pub const EVENTS_PROCESSED: &str = "EventsProcessed";
/// Redeliveries of records already processed, acknowledged without running again (Count).
pub const EVENTS_DUPLICATE: &str = "EventsDuplicate";
/// Records that failed and will be retried or end in the DLQ (Count).
pub const EVENTS_FAILED: &str = "EventsFailed";

/// The installed collector; `None` until [`init`] (and in unit tests that never call it).
static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Serialises [`flush`]es: the collector's counters are swapped to zero as they are written,
/// and two flushes interleaving their lines on stdout would split a JSON document.
static FLUSHING: Mutex<()> = Mutex::new(());

/// The namespace and `Function` dimension [`init`] uses, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// The CloudWatch namespace.
    pub namespace: String,
    /// The value of the `Function` dimension.
    pub function: String,
}

impl MetricsConfig {
    /// Reads [`NAMESPACE_ENV`] and `AWS_LAMBDA_FUNCTION_NAME` through `lookup`; `function` is
    /// the fallback name (e.g. when run outside Lambda).
    pub fn from_lookup(function: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            namespace: non_empty(NAMESPACE_ENV).unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            function: non_empty("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| function.to_owned()),
        }
    }
}

/// Installs the EMF recorder for this process and counts one [`COLD_START`]. Called by
/// [`crate::telemetry::init`]; a second call is ignored. Cheap: no I/O, no thread, no task
/// (what it costs is a few allocations; flushing happens at the end of each invocation).
pub fn init(function: &str) {
    init_with(&MetricsConfig::from_lookup(function, &|name| {
        std::env::var(name).ok()
    }));
}

/// [`init`] with an explicit configuration.
pub fn init_with(config: &MetricsConfig) {
    if COLLECTOR.get().is_some() {
        return;
    }
    let installed = Builder::new()
        .cloudwatch_namespace(config.namespace.clone())
        .with_dimension(FUNCTION_DIMENSION, config.function.clone())
        .init();
    match installed {
        Ok(collector) => {
            if COLLECTOR.set(collector).is_ok() {
                describe();
                count(COLD_START, 1, &[]);
            }
        }
        // Another recorder is installed (a host program's own): metrics go there instead.
        Err(err) => tracing::warn!(error = %err, "metrics recorder not installed"),
    }
}

/// The units of the kit's own metrics (EMF carries them; CloudWatch shows them).
fn describe() {
    facade::describe_counter!(COLD_START, Unit::Count, "execution environments started");
    facade::describe_histogram!(LATENCY, Unit::Milliseconds, "handler latency");
    facade::describe_counter!(EVENTS_PROCESSED, Unit::Count, "records processed");
    facade::describe_counter!(EVENTS_DUPLICATE, Unit::Count, "duplicate deliveries");
    facade::describe_counter!(EVENTS_FAILED, Unit::Count, "records failed");
}

/// Writes what was recorded since the last flush to stdout as EMF lines (nothing when
/// nothing changed, or before [`init`]). A write error is logged, never raised: metrics must
/// not fail an invocation.
pub fn flush() {
    // This crate's own unit tests check the documents with `take_lines`; the batch processors
    // and `serve` flushing in parallel tests would take them first.
    if cfg!(test) {
        return;
    }
    let Some(collector) = COLLECTOR.get() else {
        return;
    };
    let _guard = crate::sync::lock(&FLUSHING);
    // Written as one buffer: the log lines of other tasks must not land inside a document.
    let mut lines = Vec::new();
    let written = collector.flush(&mut lines).and_then(|()| {
        if lines.is_empty() {
            return Ok(());
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&lines)?;
        stdout.flush()
    });
    if let Err(err) = written {
        tracing::warn!(error = %err, "could not write the metrics");
    }
}

/// The EMF lines recorded since the last flush, without writing them (tests).
pub fn take_lines() -> Vec<String> {
    let Some(collector) = COLLECTOR.get() else {
        return Vec::new();
    };
    let _guard = crate::sync::lock(&FLUSHING);
    let mut buffer = Vec::new();
    if collector.flush(&mut buffer).is_err() {
        return Vec::new();
    }
    String::from_utf8_lossy(&buffer)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn labels(dimensions: &[(&'static str, &str)]) -> Vec<facade::Label> {
    dimensions
        .iter()
        .map(|(name, value)| facade::Label::new(*name, (*value).to_owned()))
        .collect()
}

/// Adds `value` to the counter `name` with `dimensions` (besides `Function`), e.g.
/// `count("OrdersPlaced", 1, &[("Currency", "EUR")])`. Keep dimension values few and known
/// (a reason code, a currency), never ids: each combination is a metric of its own.
pub fn count(name: &'static str, value: u64, dimensions: &[(&'static str, &str)]) {
    facade::counter!(name, labels(dimensions)).increment(value);
}

/// Records one observation of `name` (a histogram: CloudWatch gets every value of the
/// invocation and computes the statistics), e.g. a latency or an amount, in `unit`.
pub fn value(name: &'static str, value: f64, unit: Unit, dimensions: &[(&'static str, &str)]) {
    facade::describe_histogram!(name, unit, "");
    facade::histogram!(name, labels(dimensions)).record(value);
}

/// Records the [`LATENCY`] of one HTTP request: `route` is the API's resource template
/// (`/orders/{orderId}`), never the raw path (one metric per order id otherwise).
pub fn http_request(route: &str, method: &str, status: u16, duration_ms: f64) {
    let status = status.to_string();
    facade::histogram!(
        LATENCY,
        "Route" => route.to_owned(),
        "Method" => method.to_owned(),
        "Status" => status,
    )
    .record(duration_ms);
}

/// What became of one record of a consumer's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// Processed now.
    Processed,
    /// A redelivery of a record already processed.
    Duplicate,
    /// Failed (retried later, or dead-lettered after the queue's receive count).
    Failed,
}

/// Counts one record of `consumer` by outcome. `event_type` is empty when the record could not
/// be parsed (counted as `Unknown`).
pub fn event_outcome(consumer: &str, event_type: &str, outcome: EventOutcome) {
    let name = match outcome {
        EventOutcome::Processed => EVENTS_PROCESSED,
        EventOutcome::Duplicate => EVENTS_DUPLICATE,
        EventOutcome::Failed => EVENTS_FAILED,
    };
    let event_type = if event_type.is_empty() {
        "Unknown"
    } else {
        event_type
    };
    count(
        name,
        1,
        &[("Consumer", consumer), ("EventType", event_type)],
    );
}

/// One metric recorded inside [`capture`]: counters summed, each histogram value apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The metric's name.
    pub name: String,
    /// Its dimensions (labels) in the order given, without `Function`.
    pub dimensions: Vec<(String, String)>,
    /// The counter's total, or one recorded value.
    pub value: f64,
}

/// Runs `f` with a recorder of its own on this thread and returns what it recorded: for unit
/// tests of code that emits metrics (no global recorder, no EMF, no interference between
/// tests running in parallel).
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<Recorded>) {
    let recorder = Capture::default();
    let result = facade::with_local_recorder(&recorder, f);
    (result, recorder.into_recorded())
}

type Series = (String, Vec<(String, String)>);

#[derive(Debug, Default)]
struct Capture {
    counters: Mutex<Vec<(Series, std::sync::Arc<std::sync::atomic::AtomicU64>)>>,
    values: std::sync::Arc<Mutex<Vec<(Series, f64)>>>,
}

#[derive(Debug)]
struct CapturedHistogram {
    series: Series,
    values: std::sync::Arc<Mutex<Vec<(Series, f64)>>>,
}

impl facade::HistogramFn for CapturedHistogram {
    fn record(&self, value: f64) {
        crate::sync::lock(&self.values).push((self.series.clone(), value));
    }
}

fn series(key: &facade::Key) -> Series {
    (
        key.name().to_owned(),
        key.labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect(),
    )
}

impl facade::Recorder for Capture {
    fn describe_counter(&self, _: facade::KeyName, _: Option<Unit>, _: facade::SharedString) {}
    fn describe_gauge(&self, _: facade::KeyName, _: Option<Unit>, _: facade::SharedString) {}
    fn describe_histogram(&self, _: facade::KeyName, _: Option<Unit>, _: facade::SharedString) {}

    fn register_counter(&self, key: &facade::Key, _: &facade::Metadata<'_>) -> facade::Counter {
        let series = series(key);
        let mut counters = crate::sync::lock(&self.counters);
        let value = match counters.iter().find(|(s, _)| *s == series) {
            Some((_, value)) => value.clone(),
            None => {
                let value = std::sync::Arc::default();
                counters.push((series, std::sync::Arc::clone(&value)));
                value
            }
        };
        facade::Counter::from_arc(value)
    }

    fn register_gauge(&self, _: &facade::Key, _: &facade::Metadata<'_>) -> facade::Gauge {
        facade::Gauge::noop()
    }

    fn register_histogram(&self, key: &facade::Key, _: &facade::Metadata<'_>) -> facade::Histogram {
        facade::Histogram::from_arc(std::sync::Arc::new(CapturedHistogram {
            series: series(key),
            values: std::sync::Arc::clone(&self.values),
        }))
    }
}

impl Capture {
    fn into_recorded(self) -> Vec<Recorded> {
        let counters = crate::sync::lock(&self.counters).clone();
        let values = crate::sync::lock(&self.values).clone();
        let recorded = |((name, dimensions), value): (Series, f64)| Recorded {
            name,
            dimensions,
            value,
        };
        counters
            .into_iter()
            .map(|(series, total)| {
                // Counts in a test stay far below 2^53: exact as f64.
                #[allow(clippy::cast_precision_loss)]
                let total = total.load(std::sync::atomic::Ordering::Relaxed) as f64;
                (series, total)
            })
            .chain(values)
            .map(recorded)
            .collect()
    }
}

#[cfg(test)]
mod tests;
