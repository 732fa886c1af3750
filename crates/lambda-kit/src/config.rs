//! Settings from the environment, read once at cold start.
//!
//! | item | what it gives |
//! | --- | --- |
//! | [`Settings`] | the one shape of a function's settings: [`Settings::from_env`] at cold start, [`Settings::from_lookup`] in tests |
//! | [`ConfigError`] | a missing or invalid variable, named |
//! | [`lookup_required`] | a required, non-empty value |
//! | [`lookup_positive`] | an optional positive integer with a default |
//!
//! A function's settings are one struct implementing [`Settings`]: its `from_lookup` reads
//! every variable through the `lookup_*` helpers (or another `Settings`'
//! `from_lookup`, to share a group of variables), so it is unit-tested without touching the
//! process environment, and `main` calls [`Settings::from_env`] once:
//!
//! ```
//! use lambda_kit::config::{ConfigError, Settings, lookup_positive, lookup_required};
//!
//! /// The settings of a widget function.
//! #[derive(Debug, PartialEq)]
//! struct WidgetSettings {
//!     table: String,
//!     batch: i64,
//! }
//!
//! impl Settings for WidgetSettings {
//!     fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
//!         Ok(Self {
//!             table: lookup_required("TABLE", lookup)?,
//!             batch: lookup_positive("BATCH", 10, lookup)?,
//!         })
//!     }
//! }
//!
//! let vars = |name: &str| (name == "TABLE").then(|| "widgets".to_owned());
//! assert_eq!(
//!     WidgetSettings::from_lookup(&vars),
//!     Ok(WidgetSettings { table: "widgets".to_owned(), batch: 10 })
//! );
//! assert_eq!(WidgetSettings::from_lookup(&|_| None), Err(ConfigError::Missing("TABLE")));
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

/// A function's settings, read once at cold start.
///
/// Implement [`from_lookup`](Settings::from_lookup) only; [`from_env`](Settings::from_env)
/// reads the process environment through it. Settings made of other settings (a consumer's
/// tables and its [`IdempotencyConfig`](crate::messaging::IdempotencyConfig)) call the
/// parts' `from_lookup` with the same `lookup`.
pub trait Settings: Sized {
    /// Reads the settings through `lookup` (a variable's value, or `None` when unset):
    /// testable without touching the process environment.
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError>;

    /// Reads the settings from the process environment.
    fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| env::var(name).ok())
    }
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

/// An optional whole number within `range`, read through `lookup`: `default` when unset or
/// empty; anything else (not a number, out of the range) is [`ConfigError::Invalid`] with
/// `expected` as the reason, e.g. `"expected whole seconds from 0 to 300"`.
pub fn lookup_in_range(
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    expected: &'static str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<u64, ConfigError> {
    let Some(value) = lookup(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or(ConfigError::Invalid {
            name,
            value,
            reason: expected,
        })
}

/// An optional positive count read through `lookup`: `default` when unset or empty, and
/// when too large for a `u32`.
pub fn lookup_count(
    name: &'static str,
    default: u32,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<u32, ConfigError> {
    Ok(u32::try_from(lookup_positive(name, i64::from(default), lookup)?).unwrap_or(default))
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
        assert_eq!(lookup_count("N", 5, vars), Ok(15));
        assert_eq!(lookup_in_range("N", 3, 0..=20, "0..=20", vars), Ok(15));
        assert_eq!(lookup_in_range("M", 3, 0..=20, "0..=20", vars), Ok(3));
        assert!(lookup_in_range("N", 3, 0..=10, "0..=10", vars).is_err());
        assert!(lookup_in_range("BAD", 3, 0..=10, "0..=10", vars).is_err());
        assert!(lookup_in_range("A", 3, 0..=10, "0..=10", vars).is_err());
        assert_eq!(lookup_count("M", 5, vars), Ok(5));
        assert!(lookup_count("BAD", 5, vars).is_err());
    }

    /// Two variables, one with a default, read through the trait.
    #[derive(Debug, PartialEq, Eq)]
    struct Sample {
        table: String,
        seconds: i64,
    }

    impl Settings for Sample {
        fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
            Ok(Self {
                table: lookup_required("LAMBDA_KIT_SAMPLE_TABLE", lookup)?,
                seconds: lookup_positive("LAMBDA_KIT_SAMPLE_SECONDS", 30, lookup)?,
            })
        }
    }

    #[test]
    fn settings_read_through_a_lookup() {
        let with = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            Sample::from_lookup(&with(&[("LAMBDA_KIT_SAMPLE_TABLE", "t")])),
            Ok(Sample {
                table: "t".to_owned(),
                seconds: 30
            })
        );
        assert_eq!(
            Sample::from_lookup(&with(&[
                ("LAMBDA_KIT_SAMPLE_TABLE", "t"),
                ("LAMBDA_KIT_SAMPLE_SECONDS", " 5 ")
            ])),
            Ok(Sample {
                table: "t".to_owned(),
                seconds: 5
            })
        );
        assert_eq!(
            Sample::from_lookup(&with(&[("LAMBDA_KIT_SAMPLE_SECONDS", "5")])),
            Err(ConfigError::Missing("LAMBDA_KIT_SAMPLE_TABLE"))
        );
        assert_eq!(
            Sample::from_lookup(&with(&[
                ("LAMBDA_KIT_SAMPLE_TABLE", "t"),
                ("LAMBDA_KIT_SAMPLE_SECONDS", "0")
            ])),
            Err(ConfigError::Invalid {
                name: "LAMBDA_KIT_SAMPLE_SECONDS",
                value: "0".to_owned(),
                reason: "expected a positive integer",
            })
        );
    }

    #[test]
    fn from_env_reads_the_process_environment() {
        // A name no environment sets: required → missing (nothing is written to the env).
        assert_eq!(
            Sample::from_env(),
            Err(ConfigError::Missing("LAMBDA_KIT_SAMPLE_TABLE"))
        );
    }
}
