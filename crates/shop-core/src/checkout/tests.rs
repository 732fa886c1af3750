//! checkout-api's settings (the handler is tested in `api_tests.rs`).

use super::*;
use crate::test_support::{assert_each_required, settings_from};

const ENV: &[(&str, &str)] = &[
    ("ORDERS_TABLE", "orders"),
    ("SESSIONS_TABLE", "sessions"),
    ("USERS_TABLE", "users"),
    (
        "CHECKOUT_STATE_MACHINE_ARN",
        "arn:aws:states:eu-west-1:000000000000:stateMachine:checkout",
    ),
];

#[test]
fn settings_read_every_variable() {
    assert_eq!(
        settings_from(ENV),
        Ok(CheckoutApiSettings {
            orders_table: "orders".to_owned(),
            sessions_table: "sessions".to_owned(),
            users_table: "users".to_owned(),
            state_machine_arn: "arn:aws:states:eu-west-1:000000000000:stateMachine:checkout"
                .to_owned(),
        })
    );
}

#[test]
fn settings_name_the_missing_variable() {
    assert_each_required::<CheckoutApiSettings>(
        ENV,
        &[
            "ORDERS_TABLE",
            "SESSIONS_TABLE",
            "USERS_TABLE",
            "CHECKOUT_STATE_MACHINE_ARN",
        ],
    );
}
