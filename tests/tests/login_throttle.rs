//! The per-address brute-force guard: too many failed logins from one source IP get 429 with
//! `Retry-After`, whichever account they aim at.
//!
//! LocalStack gives every request the source IP 127.0.0.1, so the whole test run shares one
//! address: the local stack allows it 1,000 failures (`LoginIpFailures`). This test lowers
//! auth-api's limit to 3 for its own duration and clears the address's counter before and
//! after. It is alone in its binary, so no other test logs in meanwhile (cargo runs test
//! binaries one after another).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr
)]

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::StatusCode;
use shop_tests::{Stack, unique_email};

const PASSWORD: &str = "a-long-password";

/// Deletes every per-address counter (`ATTEMPTS#IP#…` items of the users table).
async fn forget_address_failures(stack: &Stack) {
    let table = stack.output("UsersTableName");
    let counters = stack
        .dynamodb()
        .scan()
        .table_name(table)
        .filter_expression("begins_with(pk, :prefix)")
        .expression_attribute_values(":prefix", AttributeValue::S("ATTEMPTS#IP#".into()))
        .send()
        .await
        .expect("scan the users table");
    for item in counters.items() {
        if let Some(pk) = item.get("pk") {
            stack
                .dynamodb()
                .delete_item()
                .table_name(table)
                .key("pk", pk.clone())
                .send()
                .await
                .expect("delete a counter");
        }
    }
}

#[tokio::test]
async fn too_many_failures_from_one_address_get_429_with_retry_after() {
    let stack = Stack::load().await;
    let email = unique_email("throttled");
    stack
        .register(&email, PASSWORD)
        .await
        .expect_status(StatusCode::ACCEPTED);
    let function = format!("{}-auth-api", stack.output("StackName"));
    let original = stack.environment(&function).await;
    let mut strict = original.clone();
    strict.insert("LOGIN_IP_FAILURES".to_owned(), "3".to_owned());
    forget_address_failures(&stack).await;
    stack.set_environment(&function, strict).await;

    // The body runs in its own task so that the configuration is restored even if it panics.
    let outcome = tokio::spawn({
        let stack = stack.clone();
        let email = email.clone();
        async move {
            // Three failures, each on a different account (no account reaches its own limit).
            for i in 0..3 {
                stack
                    .login(
                        &unique_email(&format!("guess{i}")),
                        "wrong-password",
                        None,
                        None,
                    )
                    .await
                    .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
            }
            // The fourth attempt from the address is refused before any password is checked,
            // even with the right password of a real account.
            let refused = stack.login(&email, PASSWORD, None, None).await;
            refused.expect_error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS");
            let retry_after: i64 = refused
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("a Retry-After in seconds");
            let window = stack.tunable("LoginWindowSeconds", 60) as i64;
            assert!(
                (1..=window).contains(&retry_after),
                "Retry-After {retry_after} within the {window} s window"
            );
        }
    })
    .await;
    stack.set_environment(&function, original).await;
    forget_address_failures(&stack).await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
    // Back to the stack's own limit: the account logs in.
    stack
        .login(&email, PASSWORD, None, None)
        .await
        .expect_status(StatusCode::OK);
}
