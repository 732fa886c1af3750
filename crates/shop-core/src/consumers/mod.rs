//! The event consumers behind the SNS → SQS fan-out. Each is an [`EventHandler`] run by the
//! shared [`lambda_kit::messaging::BatchProcessor`] (bounded concurrency, partial batch failures,
//! idempotency on `eventId`), with its state behind a trait (DynamoDB + in-memory).
//!
//! [`EventHandler`]: lambda_kit::messaging::EventHandler

pub mod analytics;
pub mod approvals;
pub mod audit;
pub mod fraud;
pub mod fulfilment;
pub mod ledger;
pub mod notifier;

use crate::store::StoreError;
use lambda_kit::messaging::ProcessError;

impl From<StoreError> for ProcessError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Malformed { .. } => Self::Malformed(err.to_string()),
            _ => Self::Failed(err.to_string()),
        }
    }
}
