//! catalog-api's settings (the handlers are tested in `api.rs`, SKUs and money beside them).

use super::*;
use crate::test_support::{assert_each_required, assert_invalid, settings_from};

const ENV: &[(&str, &str)] = &[
    ("PRODUCTS_TABLE", "products"),
    ("SESSIONS_TABLE", "sessions"),
];

#[test]
fn settings_read_every_variable() {
    assert_eq!(
        settings_from(ENV),
        Ok(CatalogApiSettings {
            products_table: "products".to_owned(),
        })
    );
}

#[test]
fn settings_name_the_missing_or_invalid_variable() {
    assert_each_required::<CatalogApiSettings>(ENV, &["PRODUCTS_TABLE", "SESSIONS_TABLE"]);
    assert_invalid::<CatalogApiSettings>(ENV, "SESSION_TTL_SECONDS", "0");
}
