//! Configuration, read once from the environment at cold start.

use std::env;

/// Default session lifetime: one day.
pub const DEFAULT_SESSION_TTL_SECONDS: i64 = 86_400;

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

/// The functions' configuration.
///
/// | variable | meaning |
/// | --- | --- |
/// | `PRODUCTS_TABLE` | products table name (required) |
/// | `SESSIONS_TABLE` | sessions and carts table name (required) |
/// | `SESSION_TTL_SECONDS` | session and cart lifetime, sliding (optional, default 86400) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Products table name.
    pub products_table: String,
    /// Sessions table name.
    pub sessions_table: String,
    /// Session lifetime in seconds, extended on every cart write.
    pub session_ttl_seconds: i64,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (testable without touching the process env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let session_ttl_seconds =
            match lookup("SESSION_TTL_SECONDS").filter(|v| !v.trim().is_empty()) {
                None => DEFAULT_SESSION_TTL_SECONDS,
                Some(value) => value.trim().parse().ok().filter(|ttl| *ttl > 0).ok_or(
                    ConfigError::Invalid {
                        name: "SESSION_TTL_SECONDS",
                        value,
                        reason: "expected a positive number of seconds",
                    },
                )?,
            };
        Ok(Self {
            products_table: required("PRODUCTS_TABLE")?,
            sessions_table: required("SESSIONS_TABLE")?,
            session_ttl_seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn reads_tables_and_defaults_the_ttl() {
        let cfg = config(&[("PRODUCTS_TABLE", "p"), ("SESSIONS_TABLE", "s")]);
        assert_eq!(
            cfg,
            Ok(Config {
                products_table: "p".into(),
                sessions_table: "s".into(),
                session_ttl_seconds: 86_400
            })
        );
        let cfg = config(&[
            ("PRODUCTS_TABLE", "p"),
            ("SESSIONS_TABLE", "s"),
            ("SESSION_TTL_SECONDS", "60"),
        ]);
        assert_eq!(cfg.map(|c| c.session_ttl_seconds), Ok(60));
    }

    #[test]
    fn names_the_missing_or_invalid_variable() {
        assert_eq!(
            config(&[("SESSIONS_TABLE", "s")]),
            Err(ConfigError::Missing("PRODUCTS_TABLE"))
        );
        assert_eq!(
            config(&[("PRODUCTS_TABLE", "p"), ("SESSIONS_TABLE", " ")]),
            Err(ConfigError::Missing("SESSIONS_TABLE"))
        );
        let err = config(&[
            ("PRODUCTS_TABLE", "p"),
            ("SESSIONS_TABLE", "s"),
            ("SESSION_TTL_SECONDS", "-5"),
        ]);
        assert!(matches!(
            err,
            Err(ConfigError::Invalid {
                name: "SESSION_TTL_SECONDS",
                ..
            })
        ));
    }
}

/// A required, non-empty environment variable (for the settings of one function).
pub fn env_required(name: &'static str) -> Result<String, ConfigError> {
    lookup_required(name, |n| env::var(n).ok())
}

/// An optional positive integer environment variable, `default` when unset.
pub fn env_positive(name: &'static str, default: i64) -> Result<i64, ConfigError> {
    lookup_positive(name, default, |n| env::var(n).ok())
}

fn lookup_required(
    name: &'static str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

fn lookup_positive(
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
