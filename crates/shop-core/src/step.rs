//! What the Lambdas inside the checkout workflow share: an error type with an explicit
//! `errorType` (the names the ASL's `Retry`/`Catch` match, see `statemachines/README.md`) and
//! the Lambda loop that takes plain JSON in and out.
//!
//! Without an explicit conversion `lambda_runtime` reports a Rust type name as the
//! `errorType`, which no `ErrorEquals` will ever match; so every step error implements
//! [`StepError`] and is turned into a [`Diagnostic`] by [`diagnostic`]. The input is taken as
//! a `serde_json::Value` and parsed by the step itself, so that a malformed input is the
//! step's own `Invalid…Request` error, not the runtime's deserialisation error.

use lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use tracing::Instrument as _;

/// `errorType` names of the workflow's Lambda steps (the README's table).
pub mod error_types {
    /// pricing: no lines in the cart.
    pub const CART_EMPTY: &str = "CartEmpty";
    /// pricing: a line's product left the catalog.
    pub const PRODUCT_UNAVAILABLE: &str = "ProductUnavailable";
    /// pricing: a line asks for more than the stock.
    pub const OUT_OF_STOCK: &str = "OutOfStock";
    /// pricing: the input is not what the workflow sends (a bug, not retried).
    pub const INVALID_PRICING_REQUEST: &str = "InvalidPricingRequest";
    /// pricing: the catalog could not be read (transient).
    pub const PRICING_UNAVAILABLE: &str = "PricingUnavailable";
    /// payment: the provider refused (permanent).
    pub const PAYMENT_DECLINED: &str = "PaymentDeclined";
    /// payment: transient provider failure (retried with backoff).
    pub const PAYMENT_PROVIDER_UNAVAILABLE: &str = "PaymentProviderUnavailable";
    /// payment: malformed input (a bug, never retried).
    pub const INVALID_PAYMENT_REQUEST: &str = "InvalidPaymentRequest";
}

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

/// The ids a step logs with: `orderId` and (when the workflow passes it) `correlationId`.
fn ids(input: &serde_json::Value) -> (String, String) {
    let field = |name: &str| {
        input
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (field("orderId"), field("correlationId"))
}

/// Runs `step` on one invocation's JSON input inside a span carrying `order_id`,
/// `correlation_id` and `request_id`; logs the outcome and maps an error to its
/// [`Diagnostic`].
pub async fn invoke<F, Fut, O, E>(
    function: &'static str,
    request_id: &str,
    input: serde_json::Value,
    step: F,
) -> Result<O, Diagnostic>
where
    F: FnOnce(serde_json::Value) -> Fut,
    Fut: Future<Output = Result<O, E>>,
    E: StepError,
{
    let (order_id, correlation_id) = ids(&input);
    let span = tracing::info_span!(
        "step",
        function,
        request_id,
        order_id = %order_id,
        correlation_id = %correlation_id,
    );
    // Boxed: the stores' SDK futures are deep, and nesting them in the runtime's service
    // future overflows the compiler's layout query depth.
    let future = Box::pin(step(input));
    async move {
        match future.await {
            Ok(output) => {
                tracing::info!("step succeeded");
                Ok(output)
            }
            Err(err) => {
                let error_type = err.error_type();
                tracing::warn!(error_type, error = %err, "step failed");
                Err(diagnostic(&err))
            }
        }
    }
    .instrument(span)
    .await
}

/// Serves invocations to `step` until the runtime stops (see [`invoke`]).
pub async fn run_step<F, Fut, O, E>(
    function: &'static str,
    step: F,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(serde_json::Value) -> Fut,
    Fut: Future<Output = Result<O, E>>,
    O: Serialize,
    E: StepError,
{
    let step = &step;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            invoke(function, &event.context.request_id, event.payload, step).await
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
            error_types::CART_EMPTY
        }
    }

    #[tokio::test]
    async fn errors_carry_their_explicit_error_type() {
        let input = serde_json::json!({"orderId": "ord_1"});
        let result = invoke("pricing", "req-1", input, |_| async { Err::<(), _>(Empty) }).await;
        let Err(diagnostic) = result else {
            unreachable!("the step failed");
        };
        assert_eq!(diagnostic.error_type, "CartEmpty");
        assert_eq!(diagnostic.error_message, "no lines");
        let ok = invoke("pricing", "req-2", serde_json::json!({}), |v| async move {
            Ok::<_, Empty>(v)
        })
        .await;
        assert_eq!(ok.ok(), Some(serde_json::json!({})));
    }
}
