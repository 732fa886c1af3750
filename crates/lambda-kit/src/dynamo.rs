//! What every DynamoDB store shares: building attribute values, reading typed attributes
//! back (naming the item and attribute when one is wrong), and reading SDK errors — one test
//! for a failed condition (create-once and optimistic-concurrency writes turn it into their
//! own outcome), the failed items of a cancelled transaction, and one description of
//! everything else that names the operation.
//!
//! | item | what it gives |
//! | --- | --- |
//! | [`Item`], [`s`], [`n`] | an item and its string / number attributes |
//! | [`ItemReader`] | typed reads that fail with an [`ItemError`] naming item and attribute |
//! | [`is_conditional_failure`] | a write lost only because its condition did not hold |
//! | [`failed_conditions`] | which items of a `TransactWriteItems` failed their condition |
//! | [`BackendError`] | any other SDK failure, with the operation and the error chain |
//!
//! ```
//! use lambda_kit::dynamo::{Item, ItemReader, n, s};
//!
//! let item: Item = [("pk".to_owned(), s("user#1")), ("visits".to_owned(), n(3))].into();
//! let reader = ItemReader { item: &item, key: "user#1" };
//! assert_eq!(reader.number::<u32>("visits").ok(), Some(3));
//! let err = reader.string("name").err().map(|e| e.to_string());
//! assert_eq!(err.as_deref(), Some("malformed item user#1: attribute name is missing"));
//! ```

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

/// An item that does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed item {key}: {problem}")]
pub struct ItemError {
    /// Key of the item.
    pub key: String,
    /// What is wrong with it.
    pub problem: String,
}

/// A DynamoDB call that failed for another reason than its condition (network, throttling,
/// permissions…), naming the operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store backend error during {operation}: {message}")]
pub struct BackendError {
    /// Which operation, e.g. `GetItem sessions`.
    pub operation: &'static str,
    /// The SDK's description, with its causes.
    pub message: String,
}

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute (DynamoDB numbers travel as decimal strings).
pub fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Reads typed attributes out of an item, naming the item and attribute on failure.
#[derive(Debug, Clone, Copy)]
pub struct ItemReader<'a> {
    /// The item.
    pub item: &'a Item,
    /// Its key, for error messages.
    pub key: &'a str,
}

impl ItemReader<'_> {
    /// An [`ItemError`] about this item.
    pub fn malformed(&self, problem: impl Into<String>) -> ItemError {
        ItemError {
            key: self.key.to_owned(),
            problem: problem.into(),
        }
    }

    /// A required string attribute.
    pub fn string(&self, name: &str) -> Result<&str, ItemError> {
        match self.item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value),
            Some(_) => Err(self.malformed(format!("attribute {name} is not a string"))),
            None => Err(self.malformed(format!("attribute {name} is missing"))),
        }
    }

    /// A string attribute that may be missing or null.
    pub fn optional_string(&self, name: &str) -> Result<Option<String>, ItemError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.string(name).map(|v| Some(v.to_owned())),
        }
    }

    /// A number attribute that may be missing or null.
    pub fn optional_number<T: std::str::FromStr>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ItemError> {
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
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, ItemError> {
        self.optional_number(name)?
            .ok_or_else(|| self.malformed(format!("attribute {name} is missing")))
    }
}

/// A failure of `operation` (e.g. `"PutItem sessions"`), with the SDK's full error chain.
pub fn backend(operation: &'static str, err: &impl std::error::Error) -> BackendError {
    BackendError {
        operation,
        message: DisplayErrorContext(err).to_string(),
    }
}

/// Whether a write failed only because its `ConditionExpression` did not hold. Matched on the
/// service error code, so it works for every operation's error type alike.
pub fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

/// The positions of a cancelled `TransactWriteItems`' items whose condition did not hold (one
/// cancellation reason per item, in request order); empty for any other error.
pub fn failed_conditions<R>(
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
