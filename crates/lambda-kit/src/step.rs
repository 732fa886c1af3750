//! What the Lambda tasks of a Step Functions workflow share: an error type with an explicit
//! `errorType` (the names the ASL's `Retry`/`Catch` match) and the Lambda loop that takes
//! plain JSON in and out.
//!
//! Without an explicit conversion `lambda_runtime` reports a Rust type name as the
//! `errorType`, which no `ErrorEquals` will ever match; so every step error implements
//! [`StepError`] and is turned into a [`Diagnostic`] by [`diagnostic`]. The input is taken as
//! a `serde_json::Value` and parsed by the step itself, so that a malformed input is the
//! step's own `Invalid…Request` error, not the runtime's deserialisation error.

use lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use tracing::Instrument as _;

/// An error of a workflow step, with the `errorType` the state machine matches.
pub trait StepError: std::error::Error {
    /// The `errorType` reported to Step Functions.
    fn error_type(&self) -> &'static str;
}

/// The Lambda error of `err`: its explicit `errorType` and its message.
pub fn diagnostic<E: StepError + ?Sized>(err: &E) -> Diagnostic {
    Diagnostic {
        error_type: err.error_type().to_owned(),
        error_message: err.to_string(),
    }
}

/// The ids a step logs with: the value of `subject_field` (what the workflow is about, e.g. an
/// order id) and, when the workflow passes it, `correlationId`.
fn ids(input: &serde_json::Value, subject_field: &str) -> (String, String) {
    let field = |name: &str| {
        input
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (field(subject_field), field("correlationId"))
}

/// Which function a step is, and which input field names what the workflow is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepName {
    /// The function's name, logged as `function`.
    pub function: &'static str,
    /// The input field logged as `subject_id` (e.g. `"orderId"`).
    pub subject_field: &'static str,
}

/// Runs `step` on one invocation's JSON input inside a span carrying `subject_id`,
/// `correlation_id` and `request_id`; logs the outcome, counts an error ([`STEP_ERRORS`]),
/// maps it to its [`Diagnostic`] and flushes the invocation's metrics.
pub async fn invoke<F, Fut, O, E>(
    name: StepName,
    request_id: &str,
    input: serde_json::Value,
    step: F,
) -> Result<O, Diagnostic>
where
    F: FnOnce(serde_json::Value) -> Fut,
    Fut: Future<Output = Result<O, E>>,
    E: StepError,
{
    let (subject_id, correlation_id) = ids(&input, name.subject_field);
    let span = tracing::info_span!(
        "step",
        function = name.function,
        request_id,
        subject_id = %subject_id,
        correlation_id = %correlation_id,
    );
    // Boxed: the stores' SDK futures are deep, and nesting them in the runtime's service
    // future overflows the compiler's layout query depth.
    let future = Box::pin(step(input));
    let result = async move {
        match future.await {
            Ok(output) => {
                tracing::info!("step succeeded");
                Ok(output)
            }
            Err(err) => {
                let error_type = err.error_type();
                tracing::warn!(error_type, error = %err, "step failed");
                crate::metrics::count(STEP_ERRORS, 1, &[("ErrorType", error_type)]);
                Err(diagnostic(&err))
            }
        }
    }
    .instrument(span)
    .await;
    // One invocation is one step: its metrics leave with it.
    crate::metrics::flush();
    result
}

/// Steps that failed (Count), by `ErrorType` (the name the state machine's `Retry`/`Catch`
/// match), besides `Function`.
pub const STEP_ERRORS: &str = "StepErrors";

/// Serves invocations to `step` until the runtime stops (see [`invoke`]).
pub async fn run_step<F, Fut, O, E>(name: StepName, step: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(serde_json::Value) -> Fut,
    Fut: Future<Output = Result<O, E>>,
    O: Serialize,
    E: StepError,
{
    let step = &step;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            invoke(name, &event.context.request_id, event.payload, step).await
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("no lines")]
    struct Empty;

    impl StepError for Empty {
        fn error_type(&self) -> &'static str {
            "BasketEmpty"
        }
    }

    #[tokio::test]
    async fn errors_carry_their_explicit_error_type() {
        const NAME: StepName = StepName {
            function: "pricing",
            subject_field: "basketId",
        };
        let input = serde_json::json!({"basketId": "b-1"});
        let result = invoke(NAME, "req-1", input, |_| async { Err::<(), _>(Empty) }).await;
        let Err(diagnostic) = result else {
            panic!("the step failed");
        };
        assert_eq!(diagnostic.error_type, "BasketEmpty");
        assert_eq!(diagnostic.error_message, "no lines");
        let ok = invoke(NAME, "req-2", serde_json::json!({}), |v| async move {
            Ok::<_, Empty>(v)
        })
        .await;
        assert_eq!(ok.ok(), Some(serde_json::json!({})));
    }
}
