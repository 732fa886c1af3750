//! Configuration, read once from the environment at cold start.

use std::env;

pub use lambda_kit::config::ConfigError;

/// Default session lifetime: one day.
pub const DEFAULT_SESSION_TTL_SECONDS: i64 = 86_400;

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
