//! Structured logs: one JSON object per line on stdout (CloudWatch Logs), each carrying the
//! `function` name, plus the request span's fields (`request_id`, `correlation_id`…).

use tracing_subscriber::EnvFilter;

/// Installs the global JSON subscriber. Level from `RUST_LOG` (full filter syntax) or
/// `LOG_LEVEL`, default `info`. Calling it twice is harmless (the second call is ignored).
pub fn init(function_name: &'static str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("LOG_LEVEL").ok())
        .and_then(|spec| EnvFilter::try_new(spec.to_lowercase()).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let result = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .with_ansi(false)
        .without_time() // CloudWatch stamps every line; keeps lines short.
        .try_init();
    if result.is_ok() {
        tracing::info!(function = function_name, "telemetry initialised");
    }
}
