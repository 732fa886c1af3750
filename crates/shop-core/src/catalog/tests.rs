//! catalog-api's settings (the handlers are tested in `api.rs`, SKUs and money beside them).

use super::*;
use crate::test_support::{assert_each_required, assert_invalid, settings_from};

const ENV: &[(&str, &str)] = &[
    ("PRODUCTS_TABLE", "products"),
    ("SESSIONS_TABLE", "sessions"),
    ("MEDIA_BUCKET", "media"),
];

#[test]
fn settings_read_every_variable() {
    let settings = CatalogApiSettings {
        products_table: "products".to_owned(),
        media_bucket: "media".to_owned(),
        image_url_seconds: DEFAULT_IMAGE_URL_SECONDS,
        cache_ttl_seconds: 0,
    };
    assert_eq!(settings_from(ENV), Ok(settings.clone()));
    assert_eq!(
        settings.image_url_ttl(),
        std::time::Duration::from_secs(900)
    );
    let mut env = ENV.to_vec();
    env.extend([
        ("IMAGE_URL_SECONDS", "600"),
        ("CATALOG_CACHE_TTL_SECONDS", "3600"),
    ]);
    let cached: CatalogApiSettings = settings_from(&env).unwrap();
    assert_eq!(
        (cached.image_url_seconds, cached.cache_ttl_seconds),
        (600, 3600)
    );
    // A response the cache serves at its last second still carries 10 minutes of URL.
    assert_eq!(cached.image_url_ttl(), std::time::Duration::from_secs(4200));
}

#[test]
fn settings_name_the_missing_or_invalid_variable() {
    assert_each_required::<CatalogApiSettings>(
        ENV,
        &["PRODUCTS_TABLE", "SESSIONS_TABLE", "MEDIA_BUCKET"],
    );
    assert_invalid::<CatalogApiSettings>(ENV, "SESSION_TTL_SECONDS", "0");
    for value in ["59", "3601", "soon"] {
        assert_invalid::<CatalogApiSettings>(ENV, "IMAGE_URL_SECONDS", value);
    }
    assert_invalid::<CatalogApiSettings>(ENV, "CATALOG_CACHE_TTL_SECONDS", "3601");
}
