//! Settings, read once from the environment at cold start.
//!
//! Every function reads its settings through one shape, [`Settings::from_env`] (the kit's
//! trait): one struct per function, named after it and kept in its area's `mod.rs` (the
//! table of the crate docs lists them), whose [`Settings::from_lookup`] is unit-tested
//! without touching the process environment.
//!
//! | item | what |
//! | --- | --- |
//! | [`Settings`], [`ConfigError`] | the kit's trait and error, re-exported |
//! | [`Config`] | the variables the API functions that keep products or sessions share |
//! | [`DEFAULT_SESSION_TTL_SECONDS`], [`DEFAULT_SESSION_MAX_AGE_SECONDS`] | `SESSION_TTL_SECONDS`, `SESSION_MAX_AGE_SECONDS` when unset |

use lambda_kit::config::lookup_required;
pub use lambda_kit::config::{ConfigError, Settings};

/// Default session lifetime: one day.
pub const DEFAULT_SESSION_TTL_SECONDS: i64 = 86_400;

/// Default absolute session lifetime: seven days, however active the session.
pub const DEFAULT_SESSION_MAX_AGE_SECONDS: i64 = 604_800;

/// The variables shared by catalog-api, cart-api and auth-api.
///
/// | variable | meaning |
/// | --- | --- |
/// | `PRODUCTS_TABLE` | products table name (required) |
/// | `SESSIONS_TABLE` | sessions and carts table name (required) |
/// | `SESSION_TTL_SECONDS` | session and cart lifetime, sliding (optional, default 86400) |
/// | `SESSION_MAX_AGE_SECONDS` | absolute session lifetime, however active (optional, default 604800) |
///
/// It stays one [`Settings`] rather than being spread over those three functions' settings
/// because it is read as one group: each of them reads it whole inside its own
/// `from_lookup` and keeps the fields it uses as plain fields of its own, so every `main`
/// looks the same (flat fields, no nested `config`), the session lifetime has one default
/// and one validation, and a function missing any of the three fails at cold start exactly
/// as before. (The other functions read the tables they need on their own, as before.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Products table name.
    pub products_table: String,
    /// Sessions table name.
    pub sessions_table: String,
    /// Session lifetime in seconds, extended on every cart write.
    pub session_ttl_seconds: i64,
    /// Absolute session lifetime in seconds: no write extends a session past it.
    pub session_max_age_seconds: i64,
}

impl Settings for Config {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
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
            products_table: lookup_required("PRODUCTS_TABLE", lookup)?,
            sessions_table: lookup_required("SESSIONS_TABLE", lookup)?,
            session_ttl_seconds,
            session_max_age_seconds: lambda_kit::config::lookup_positive(
                "SESSION_MAX_AGE_SECONDS",
                DEFAULT_SESSION_MAX_AGE_SECONDS,
                lookup,
            )?,
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
        Config::from_lookup(&|name| vars.get(name).cloned())
    }

    #[test]
    fn reads_tables_and_defaults_the_ttl() {
        let cfg = config(&[("PRODUCTS_TABLE", "p"), ("SESSIONS_TABLE", "s")]);
        assert_eq!(
            cfg,
            Ok(Config {
                products_table: "p".into(),
                sessions_table: "s".into(),
                session_ttl_seconds: 86_400,
                session_max_age_seconds: 604_800,
            })
        );
        let cfg = config(&[
            ("PRODUCTS_TABLE", "p"),
            ("SESSIONS_TABLE", "s"),
            ("SESSION_TTL_SECONDS", "60"),
        ]);
        assert_eq!(cfg.map(|c| c.session_ttl_seconds), Ok(60));
        let cfg = config(&[
            ("PRODUCTS_TABLE", "p"),
            ("SESSIONS_TABLE", "s"),
            ("SESSION_MAX_AGE_SECONDS", "3600"),
        ]);
        assert_eq!(cfg.map(|c| c.session_max_age_seconds), Ok(3_600));
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
