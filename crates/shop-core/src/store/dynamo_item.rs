//! What every DynamoDB store shares: building attribute values, reading typed attributes
//! back (naming the item and attribute when one is wrong), and reading SDK errors — one test
//! for a failed condition (create-once and optimistic-concurrency writes turn it into their
//! own outcome) and one wrapper that names the operation for everything else.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute (DynamoDB numbers travel as decimal strings).
pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Reads typed attributes out of an item, naming the item and attribute on failure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemReader<'a> {
    /// The item.
    pub(crate) item: &'a Item,
    /// Its key, for error messages.
    pub(crate) key: &'a str,
}

impl ItemReader<'_> {
    /// A [`StoreError::Malformed`] about this item.
    pub(crate) fn malformed(&self, problem: impl Into<String>) -> StoreError {
        StoreError::Malformed {
            key: self.key.to_owned(),
            problem: problem.into(),
        }
    }

    /// A required string attribute.
    pub(crate) fn string(&self, name: &str) -> Result<&str, StoreError> {
        match self.item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value),
            Some(_) => Err(self.malformed(format!("attribute {name} is not a string"))),
            None => Err(self.malformed(format!("attribute {name} is missing"))),
        }
    }

    /// A string attribute that may be missing or null.
    pub(crate) fn optional_string(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.string(name).map(|v| Some(v.to_owned())),
        }
    }

    /// A number attribute that may be missing or null.
    pub(crate) fn optional_number<T: std::str::FromStr>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(value)) => value
                .parse()
                .map(Some)
                .map_err(|_| self.malformed(format!("attribute {name} = {value} is out of range"))),
            Some(_) => Err(self.malformed(format!("attribute {name} is not a number"))),
        }
    }

    /// A required number attribute.
    pub(crate) fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.optional_number(name)?
            .ok_or_else(|| self.malformed(format!("attribute {name} is missing")))
    }
}

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

/// The positions of a cancelled `TransactWriteItems`' items whose condition did not hold (one
/// cancellation reason per item, in request order); empty for any other error.
pub(crate) fn failed_conditions<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Vec<usize> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            .enumerate()
            .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
            .map(|(position, _)| position)
            .collect(),
        _ => Vec::new(),
    }
}
