//! The function's settings (the step itself is tested in `step.rs`).

use super::*;
use crate::test_support::{assert_each_required, settings_from};

const ENV: &[(&str, &str)] = &[("PRODUCTS_TABLE", "products")];

#[test]
fn settings_read_every_variable() {
    assert_eq!(
        settings_from(ENV),
        Ok(PricingSettings {
            products_table: "products".to_owned(),
        })
    );
}

#[test]
fn settings_name_the_missing_variable() {
    assert_each_required::<PricingSettings>(ENV, &["PRODUCTS_TABLE"]);
}
