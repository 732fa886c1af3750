//! Structured logs: one flat JSON object per line on stdout (CloudWatch Logs), e.g.
//!
//! ```json
//! {"level":"INFO","function":"cart-api","request_id":"…","correlation_id":"…","method":"PUT",
//!  "path":"/cart/items/MUG","status":200,"duration_ms":7,"message":"request completed"}
//! ```
//!
//! Every line carries `function`; the fields of the enclosing spans (the request span opened
//! by [`crate::http::serve`]) are merged in, so Logs Insights can filter on them directly.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the global JSON subscriber. Level from `RUST_LOG` (full filter syntax) or
/// `LOG_LEVEL`, default `info`. Calling it twice is harmless (the second call is ignored).
pub fn init(function_name: &'static str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("LOG_LEVEL").ok())
        .and_then(|spec| EnvFilter::try_new(spec.to_lowercase()).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let result = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(JsonFields::new())
        .event_format(FlatJson {
            function: function_name,
        })
        .try_init();
    if result.is_ok() {
        tracing::debug!("telemetry initialised");
    }
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
    use std::sync::{Arc, Mutex, PoisonError};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
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
    fn one_flat_json_object_per_line_with_function_and_span_fields() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson {
                function: "cart-api",
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
        let text = String::from_utf8(
            buffer
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
        .unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(
            lines[0],
            serde_json::json!({"level": "INFO", "function": "cart-api", "request_id": "r-1",
                               "correlation_id": "c-1", "status": 200, "message": "request completed"})
        );
        assert_eq!(lines[1]["function"], "cart-api");
        assert_eq!(lines[1]["error"], "boom");
        assert_eq!(lines[1]["level"], "WARN");
    }
}
