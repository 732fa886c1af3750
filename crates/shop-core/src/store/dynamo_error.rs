//! How every DynamoDB store reads SDK errors: one test for a failed condition (the
//! create-once and optimistic-concurrency writes turn it into their own outcome) and one
//! wrapper that names the operation for everything else.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::StoreError;

/// A store failure of `operation` (e.g. `"PutItem cart"`), with the SDK's full error chain.
pub(crate) fn backend(operation: &'static str, err: &impl std::error::Error) -> StoreError {
    StoreError::Backend {
        operation,
        message: DisplayErrorContext(err).to_string(),
    }
}

/// Whether a write failed only because its `ConditionExpression` did not hold. Matched on the
/// service error code, so it works for every operation's error type alike.
pub(crate) fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}
