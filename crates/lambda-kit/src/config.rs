//! Settings from the environment, read once at cold start.
//!
//! | item | what it gives |
//! | --- | --- |
//! | [`ConfigError`] | a missing or invalid variable, named |
//! | [`env_required`] / [`lookup_required`] | a required, non-empty value |
//! | [`env_positive`] / [`lookup_positive`] | an optional positive integer with a default |
//!
//! The `lookup_*` forms take any `Fn(&str) -> Option<String>`, so a function's
//! `Settings::from_lookup` can be unit-tested without touching the process environment:
//!
//! ```
//! use lambda_kit::config::{ConfigError, lookup_positive, lookup_required};
//!
//! let vars = |name: &str| (name == "TABLE").then(|| "widgets".to_owned());
//! assert_eq!(lookup_required("TABLE", vars), Ok("widgets".to_owned()));
//! assert_eq!(lookup_positive("BATCH", 10, vars), Ok(10));
//! assert_eq!(lookup_required("QUEUE", vars), Err(ConfigError::Missing("QUEUE")));
//! ```

use std::env;

/// A configuration problem, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("environment variable {name} = {value:?} is invalid: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
}

/// A required, non-empty environment variable (for the settings of one function).
pub fn env_required(name: &'static str) -> Result<String, ConfigError> {
    lookup_required(name, |n| env::var(n).ok())
}

/// An optional positive integer environment variable, `default` when unset.
pub fn env_positive(name: &'static str, default: i64) -> Result<i64, ConfigError> {
    lookup_positive(name, default, |n| env::var(n).ok())
}

/// A required, non-empty value read through `lookup`.
pub fn lookup_required(
    name: &'static str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

/// An optional positive integer read through `lookup`, `default` when unset or empty.
pub fn lookup_positive(
    name: &'static str,
    default: i64,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<i64, ConfigError> {
    match lookup(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(value) => {
            value
                .trim()
                .parse()
                .ok()
                .filter(|n: &i64| *n > 0)
                .ok_or(ConfigError::Invalid {
                    name,
                    value,
                    reason: "expected a positive integer",
                })
        }
    }
}

#[cfg(test)]
mod env_tests {
    use super::*;

    #[test]
    fn required_and_positive_lookups() {
        let vars = |name: &str| match name {
            "A" => Some("x".to_owned()),
            "N" => Some("15".to_owned()),
            "BAD" => Some("-1".to_owned()),
            _ => None,
        };
        assert_eq!(lookup_required("A", vars), Ok("x".to_owned()));
        assert_eq!(lookup_required("B", vars), Err(ConfigError::Missing("B")));
        assert_eq!(lookup_positive("N", 5, vars), Ok(15));
        assert_eq!(lookup_positive("M", 5, vars), Ok(5));
        assert!(lookup_positive("BAD", 5, vars).is_err());
    }
}
