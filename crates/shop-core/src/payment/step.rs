//! payment: the workflow task (charge or refund through the provider)

use super::{PaymentError, PaymentProvider, PaymentRequest, PaymentResponse};

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
                self.provider
                    .charge(&charge)
                    .await
                    .map(PaymentResponse::Charge)
            }
            PaymentRequest::Refund(refund) => {
                tracing::info!(operation_id = %refund.operation_id, "refund");
                self.provider
                    .refund(&refund)
                    .await
                    .map(PaymentResponse::Refund)
            }
        }
    }
}
