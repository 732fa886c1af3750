//! Stock keeping unit: the product identifier used in URLs and as the table key.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A validated SKU: 1 to 32 characters of `A-Z`, `0-9` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);

/// A string that is not a valid SKU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sku {0:?}: expected 1 to 32 characters of A-Z, 0-9 and '-'")]
pub struct SkuError(pub String);

impl Sku {
    /// Longest accepted SKU.
    pub const MAX_LEN: usize = 32;

    /// Validates `value` as a SKU.
    pub fn parse(value: &str) -> Result<Self, SkuError> {
        let valid = (1..=Self::MAX_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(SkuError(value.to_owned()))
        }
    }

    /// The SKU as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Sku {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sku {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schemas")]
impl schemars::JsonSchema for Sku {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Sku".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Z0-9-]{1,32}$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_uppercase_digits_and_dashes() {
        for good in ["A", "TSHIRT-BLK-M", "0", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"] {
            assert!(Sku::parse(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "abc",
            "A B",
            "A_B",
            "A/B",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
            "Ä",
        ] {
            assert!(Sku::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
