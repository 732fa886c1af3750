//! What every area's store shares: the one [`StoreError`], the DynamoDB item helpers of
//! [`lambda_kit::dynamo`] with their errors read as a [`StoreError`]. Each area's store trait
//! is in its `mod.rs`, its adapters in `dynamo.rs` and `memory.rs` (which lock their state
//! with [`lambda_kit::sync::lock`]).

use lambda_kit::dynamo::{BackendError, ItemError};
pub(crate) use lambda_kit::dynamo::{
    Item, ItemReader, failed_conditions, is_conditional_failure, n, s,
};
use lambda_kit::messaging::ProcessError;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the cart changed since it was read.
    #[error("cart version conflict: expected version {expected}")]
    VersionConflict {
        /// The version the write was conditional on.
        expected: u64,
    },
    /// A conditional create found the item already there.
    #[error("item already exists: {0}")]
    AlreadyExists(String),
    /// The backend failed (network, throttling, permissions…).
    #[error("store backend error during {operation}: {message}")]
    Backend {
        /// Which operation, e.g. `GetItem sessions`.
        operation: &'static str,
        /// The backend's description, with its causes.
        message: String,
    },
    /// An item does not have the expected shape.
    #[error("malformed item {key}: {problem}")]
    Malformed {
        /// Key of the item.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl From<ItemError> for StoreError {
    fn from(err: ItemError) -> Self {
        Self::Malformed {
            key: err.key,
            problem: err.problem,
        }
    }
}

impl From<BackendError> for StoreError {
    fn from(err: BackendError) -> Self {
        Self::Backend {
            operation: err.operation,
            message: err.message,
        }
    }
}

/// A store failure of `operation` (e.g. `"PutItem cart"`), with the SDK's full error chain.
pub(crate) fn backend(operation: &'static str, err: &impl std::error::Error) -> StoreError {
    lambda_kit::dynamo::backend(operation, err).into()
}

/// The key of an item of a table keyed by one string attribute `pk` (the sessions table, which
/// holds sessions and carts).
pub(crate) fn pk_key(pk: String) -> Item {
    Item::from([("pk".to_owned(), s(pk))])
}

/// Deletes the item at `key` of `table`; deleting what is not there succeeds (idempotent).
pub(crate) async fn delete_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Item,
    operation: &'static str,
) -> Result<(), StoreError> {
    client
        .delete_item()
        .table_name(table)
        .set_key(Some(key))
        .send()
        .await
        .map_err(|e| backend(operation, &e))?;
    Ok(())
}

impl From<StoreError> for ProcessError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Malformed { .. } => Self::Malformed(err.to_string()),
            _ => Self::Failed(err.to_string()),
        }
    }
}
