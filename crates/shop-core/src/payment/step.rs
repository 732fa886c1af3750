//! payment: the workflow task (charge or refund through the provider)

use super::{PaymentError, PaymentProvider, PaymentRequest, PaymentResponse};
use lambda_kit::step::StepError as _;

/// The payment step over a provider.
#[derive(Debug)]
pub struct PaymentStep<P> {
    provider: P,
}

impl<P: PaymentProvider> PaymentStep<P> {
    /// The step in front of `provider`.
    pub fn new(provider: P) -> Self {
        Self { provider }
    }

    /// The provider (tests).
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// Handles one invocation.
    pub async fn handle(&self, input: serde_json::Value) -> Result<PaymentResponse, PaymentError> {
        match PaymentRequest::from_value(input)? {
            PaymentRequest::Charge(charge) => {
                tracing::info!(operation_id = %charge.operation_id, "charge");
                let result = self.provider.charge(&charge).await;
                record(Operation::Charge, result.as_ref().err());
                result.map(PaymentResponse::Charge)
            }
            PaymentRequest::Refund(refund) => {
                tracing::info!(operation_id = %refund.operation_id, "refund");
                let result = self.provider.refund(&refund).await;
                record(Operation::Refund, result.as_ref().err());
                result.map(PaymentResponse::Refund)
            }
        }
    }
}

/// CloudWatch metric names of the payment step (EMF), each by `Operation` (`Charge`,
/// `Refund`).
pub mod metric {
    /// Calls the provider answered with success (Count).
    pub const PAYMENTS_SUCCEEDED: &str = "PaymentsSucceeded";
    /// Calls that failed for now (`PaymentProviderUnavailable`): the workflow retries each
    /// with backoff, so this is the retry count (the last, exhausted attempt included).
    pub const PAYMENT_RETRIES: &str = "PaymentRetries";
    /// Charges declined for good (`PaymentDeclined`), also counted as a failed checkout.
    pub const CHARGES_DECLINED: &str = "ChargesDeclined";
}

#[derive(Debug, Clone, Copy)]
enum Operation {
    Charge,
    Refund,
}

/// Counts one call to the provider by its outcome.
fn record(operation: Operation, error: Option<&PaymentError>) {
    use lambda_kit::metrics::count;
    let op = match operation {
        Operation::Charge => "Charge",
        Operation::Refund => "Refund",
    };
    match error {
        None => count(metric::PAYMENTS_SUCCEEDED, 1, &[("Operation", op)]),
        Some(PaymentError::Unavailable(_)) => {
            count(metric::PAYMENT_RETRIES, 1, &[("Operation", op)]);
        }
        Some(err @ PaymentError::Declined(_)) => {
            count(metric::CHARGES_DECLINED, 1, &[("Operation", op)]);
            count(
                crate::checkout::metric::CHECKOUTS_FAILED,
                1,
                &[("Reason", err.error_type())],
            );
        }
        Some(PaymentError::InvalidRequest(_)) => {}
    }
}
