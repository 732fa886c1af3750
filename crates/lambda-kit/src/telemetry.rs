//! Structured logs: one flat JSON object per line on stdout (CloudWatch Logs), e.g.
//!
//! ```json
//! {"level":"INFO","function":"hello-api","request_id":"…","correlation_id":"…","method":"PUT",
//!  "path":"/things/T-1","status":200,"duration_ms":7,"message":"request completed"}
//! ```
//!
//! Every line carries `function` and `timestamp` (RFC 3339, when the line was written: the
//! local stack ships a function's lines when its invocation ends, so CloudWatch's own time of
//! a line is not when it happened; `shopctl trace` orders by this one); the fields of the
//! enclosing spans (the request span opened
//! by [`crate::http::serve`]) are merged in, so Logs Insights can filter on them directly.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global JSON subscriber. Levels from `RUST_LOG` or `LOG_LEVEL`, default `info`:
/// a level (`debug`) or a list of `target=level` (`info,my_function=debug,aws_smithy_runtime=warn`).
/// Also installs the EMF metrics recorder ([`crate::metrics::init`]), so that every function
/// that logs also counts its cold starts. Calling it twice is harmless (the second call is
/// ignored).
///
/// A `Targets` filter rather than `EnvFilter`: the same per-target levels without span-field
/// directives, and without the regex engine those need (~200 KB of every binary).
pub fn init(function_name: &'static str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("LOG_LEVEL").ok())
        .map_or_else(default_filter, |spec| log_filter(&spec));
    let result = tracing_subscriber::fmt()
        .fmt_fields(JsonFields::new())
        .event_format(FlatJson {
            function: function_name,
        })
        .finish()
        .with(filter)
        .try_init();
    if result.is_ok() {
        tracing::debug!("telemetry initialised");
    }
    crate::metrics::init(function_name);
}

/// Parses a `RUST_LOG`-style spec (case-insensitive); an unparsable one falls back to `info`.
pub fn log_filter(spec: &str) -> Targets {
    spec.to_lowercase()
        .parse()
        .unwrap_or_else(|_| default_filter())
}

fn default_filter() -> Targets {
    Targets::new().with_default(tracing::Level::INFO)
}

/// Formats an event as one flat JSON object: level, function, span fields, event fields.
#[derive(Debug, Clone, Copy)]
pub struct FlatJson {
    /// Value of the `function` field on every line.
    pub function: &'static str,
}

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        line.insert(
            "level".to_owned(),
            Value::from(event.metadata().level().as_str()),
        );
        line.insert("function".to_owned(), Value::from(self.function));
        if let Ok(now) =
            time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)
        {
            line.insert("timestamp".to_owned(), Value::from(now));
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields.as_str()) {
                    line.extend(
                        fields
                            .into_iter()
                            .map(|(name, value)| (snake_case(name), value)),
                    );
                }
            }
        }
        event.record(&mut JsonVisitor(&mut line));
        if !line.contains_key("target") && *event.metadata().level() <= tracing::Level::WARN {
            line.insert("target".to_owned(), Value::from(event.metadata().target()));
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// The Lambda runtime's own span says `requestId` / `xrayTraceId`; one spelling per field.
fn snake_case(name: String) -> String {
    match name.as_str() {
        "requestId" => "request_id".to_owned(),
        "xrayTraceId" => "xray_trace_id".to_owned(),
        _ => name,
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;
    use crate::sync::lock;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    #[test]
    fn log_filter_takes_a_level_or_per_target_levels_and_falls_back_to_info() {
        use tracing::Level;
        let debug = log_filter("DEBUG");
        assert!(debug.would_enable("aws_smithy_runtime::client", &Level::DEBUG));
        assert!(!debug.would_enable("aws_smithy_runtime::client", &Level::TRACE));

        let mixed = log_filter("warn,my_function=debug");
        assert!(mixed.would_enable("my_function::http", &Level::DEBUG));
        assert!(!mixed.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(mixed.would_enable("aws_smithy_runtime", &Level::WARN));

        let garbage = log_filter("my_function=loud");
        assert!(garbage.would_enable("my_function", &Level::INFO));
        assert!(!garbage.would_enable("my_function", &Level::DEBUG));
    }

    #[test]
    fn one_flat_json_object_per_line_with_function_and_span_fields() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson {
                function: "hello-api",
            })
            .with_writer(buffer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tracing::info_span!("Lambda runtime invoke", requestId = "r-1");
            let span = tracing::info_span!("request", request_id = "r-1", correlation_id = %"c-1");
            runtime.in_scope(|| {
                span.in_scope(|| tracing::info!(status = 200_u16, "request completed"))
            });
            tracing::warn!(error = "boom", "outside any span");
        });
        let text = String::from_utf8(lock(&buffer.0).clone()).unwrap_or_default();
        let mut lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in &mut lines {
            let written = line
                .as_object_mut()
                .and_then(|fields| fields.remove("timestamp"));
            let parsed = written.as_ref().and_then(Value::as_str).map(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            });
            assert!(matches!(parsed, Some(Ok(_))), "{written:?}");
        }
        assert_eq!(
            lines[0],
            serde_json::json!({"level": "INFO", "function": "hello-api", "request_id": "r-1",
                               "correlation_id": "c-1", "status": 200, "message": "request completed"})
        );
        assert_eq!(lines[1]["function"], "hello-api");
        assert_eq!(lines[1]["error"], "boom");
        assert_eq!(lines[1]["level"], "WARN");
    }
}
