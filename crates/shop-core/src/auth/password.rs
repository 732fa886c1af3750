//! Password hashing with Argon2id (the `argon2` crate, PHC string format).
//!
//! Parameters: m = 19 MiB, t = 2, p = 1 — the OWASP minimum for Argon2id. Memory per hash is
//! 19 MiB, which fits a 128–256 MB Lambda with room to spare; time is what the memory size
//! buys (Lambda CPU scales with memory): auth-api runs with 256 MB, where one hash takes tens
//! of milliseconds. The parameters are stored in every hash, so raising them later only
//! affects new hashes (and logins can rehash).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use lambda_kit::ids::fill_random;

/// Memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Iterations.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

/// Hashing failed (bad parameters or no randomness); never a wrong password.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// An Argon2id hasher with fixed parameters.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of a random password with the same parameters: verified against when the
    /// account does not exist, so that an unknown e-mail costs as much time as a known one.
    dummy: OnceLockString,
}

#[derive(Debug, Clone, Default)]
struct OnceLockString(OnceLock<String>);

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new(MEMORY_KIB, ITERATIONS, PARALLELISM).unwrap_or_else(|_| Self::fallback())
    }
}

impl PasswordHasher {
    /// A hasher with the given Argon2id parameters (tests use cheap ones).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, HashError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| HashError(e.to_string()))?;
        Ok(Self {
            params,
            dummy: OnceLockString::default(),
        })
    }

    fn fallback() -> Self {
        Self {
            params: Params::default(),
            dummy: OnceLockString::default(),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes `password` with a fresh random salt; returns the PHC string.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        fill_random(&mut salt).map_err(|e| HashError(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    }

    /// Whether `password` matches the PHC string `stored` (a malformed hash never matches).
    /// The parameters come from `stored`.
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        PasswordHash::new(stored).is_ok_and(|hash| {
            self.argon2()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    }

    /// Spends the time of one verification without an account (see `dummy`).
    pub fn verify_dummy(&self, password: &str) {
        let dummy = self
            .dummy
            .0
            .get_or_init(|| self.hash("no such account").unwrap_or_default());
        let _ = self.verify(password, dummy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let Ok(hasher) = PasswordHasher::new(256, 1, 1) else {
            panic!("valid params")
        };
        let Ok(hash) = hasher.hash("correct horse") else {
            panic!("hashing works")
        };
        assert!(hash.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse", &hash));
        assert!(!hasher.verify("wrong horse", &hash));
        assert!(!hasher.verify("correct horse", "not a hash"));
        assert_ne!(hasher.hash("correct horse").ok(), Some(hash));
        hasher.verify_dummy("anything");
    }

    #[test]
    fn production_parameters_are_the_documented_ones() {
        let hasher = PasswordHasher::default();
        assert_eq!(hasher.params.m_cost(), 19 * 1024);
        assert_eq!(hasher.params.t_cost(), 2);
        assert_eq!(hasher.params.p_cost(), 1);
    }
}
