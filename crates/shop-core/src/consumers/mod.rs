//! The event consumers behind the SNS → SQS fan-out. Each is an [`EventHandler`] run by the
//! shared [`crate::messaging::BatchProcessor`] (bounded concurrency, partial batch failures,
//! idempotency on `eventId`), with its state behind a trait (DynamoDB + in-memory).
//!
//! [`EventHandler`]: crate::messaging::EventHandler

pub mod analytics;
pub mod approvals;
pub mod audit;
pub mod fraud;
pub mod fulfilment;
pub mod ledger;
pub mod notifier;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::messaging::ProcessError;
use crate::store::StoreError;

impl From<StoreError> for ProcessError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Malformed { .. } => Self::Malformed(err.to_string()),
            _ => Self::Failed(err.to_string()),
        }
    }
}

pub(crate) fn backend<E, R>(operation: &'static str, err: &SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Backend {
        operation,
        message: DisplayErrorContext(err).to_string(),
    }
}

pub(crate) fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}
