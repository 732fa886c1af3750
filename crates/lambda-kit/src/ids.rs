//! Random bytes, UUIDs and hex: the one place each is made.
//!
//! | item | what it gives |
//! | --- | --- |
//! | [`fill_random`] | bytes from the operating system's random source |
//! | [`new_uuid`] | a UUID v4, lowercase and hyphenated (event ids, user ids, request ids) |
//! | [`uuid_from_name`] | the same UUID for the same name (deterministic event ids) |
//! | [`hex`] / [`sha256_hex`] | lowercase hex of bytes / of their SHA-256 |
//!
//! ```
//! let id = lambda_kit::ids::new_uuid();
//! assert_eq!(id.len(), 36);
//! assert_eq!(lambda_kit::ids::hex(&[0x0f, 0xa0]), "0fa0");
//! assert_eq!(
//!     lambda_kit::ids::sha256_hex(b"abc"),
//!     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//! );
//! ```

use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

/// The operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("random source unavailable: {0}")]
pub struct RandomError(String);

/// Fills `buf` from the operating system's random source.
pub fn fill_random(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
}

/// A fresh UUID v4 as a lowercase hyphenated string.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    if fill_random(&mut bytes).is_err() {
        // Extremely unlikely; uuid's own generator reads the same OS source.
        return uuid::Uuid::new_v4().to_string();
    }
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A UUID (shaped as v4) made from the SHA-256 of `name`: the same name always gives the
/// same id, e.g. for an event that several deliveries may publish and consumers must see once.
pub fn uuid_from_name(name: &[u8]) -> String {
    let digest = Sha256::digest(name);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_v4_and_distinct() {
        let id = new_uuid();
        let parsed = uuid::Uuid::parse_str(&id).map(|u| u.get_version_num());
        assert_eq!(parsed.ok(), Some(4), "{id}");
        assert_ne!(id, new_uuid());
    }

    #[test]
    fn named_uuids_are_stable_and_distinct() {
        assert_eq!(uuid_from_name(b"a"), uuid_from_name(b"a"));
        assert_ne!(uuid_from_name(b"a"), uuid_from_name(b"b"));
        uuid::Uuid::parse_str(&uuid_from_name(b"a")).unwrap();
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(hex(&[0, 1, 0xab, 0xff]), "0001abff");
        assert_eq!(sha256_hex(b"").len(), 64);
    }
}
