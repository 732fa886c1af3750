//! Accounts, login and the one authentication rule, through API Gateway and by invoking the
//! Lambda authorizer directly (LocalStack does not run REST API authorizers).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shop_tests::{
    Stack, eventually, now_epoch_seconds, random_token, token_key, unique_email, unique_sku,
};

const PASSWORD: &str = "a-long-password";

#[tokio::test]
async fn register_login_and_logout() {
    let stack = Stack::load().await;
    let email = unique_email("reg");
    stack
        .register(&email, PASSWORD)
        .await
        .expect_status(StatusCode::ACCEPTED);
    // A taken address gets the very same answer (no enumeration); its owner is told.
    let new = stack.register(&unique_email("reg-new"), PASSWORD).await;
    let taken = stack
        .register(&email.to_uppercase(), "another-password")
        .await;
    taken.expect_status(StatusCode::ACCEPTED);
    assert_eq!(
        (
            new.status,
            new.body
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
        ),
        (
            taken.status,
            taken
                .body
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
        ),
        "the same shape for a new and a taken address"
    );
    assert_eq!(taken.body["email"], email.as_str());
    eventually("the owner is told", Duration::from_secs(30), || async {
        stack
            .notifications(&email)
            .await
            .contains(&"DUPLICATE_REGISTRATION".to_owned())
            .then_some(())
    })
    .await;
    // (The account is unchanged: the first password signs in below.)
    stack
        .register("not-an-email", PASSWORD)
        .await
        .expect_error(StatusCode::BAD_REQUEST, "INVALID_REQUEST");

    // One generic 401 whatever was wrong.
    let wrong = stack.login(&email, "wrong-password", None, None).await;
    let unknown = stack
        .login(&unique_email("nobody"), PASSWORD, None, None)
        .await;
    wrong.expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert_eq!(wrong.body, unknown.body, "no account enumeration");

    let started = Instant::now();
    let response = stack.login(&email, PASSWORD, None, None).await;
    let login_latency = started.elapsed();
    response.expect_status(StatusCode::OK);
    eprintln!("login latency (warm or cold): {login_latency:?}");
    let token = response.body["token"].as_str().unwrap().to_owned();
    assert_eq!(response.body["email"], email.as_str());
    assert_eq!(response.body["role"], "customer");
    // The token is stored only as a hash, bound to the user.
    let item = stack
        .session_table_item(&token_key("SESSION", &token))
        .await
        .expect("the session item");
    assert_eq!(item.get("email"), Some(&AttributeValue::S(email.clone())));

    stack
        .get("/cart", Some(&token))
        .await
        .expect_status(StatusCode::OK);
    stack
        .call(Method::POST, "/auth/logout", Some(&token), None)
        .await
        .expect_status(StatusCode::NO_CONTENT);
    stack
        .get("/cart", Some(&token))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

/// A registered account (not signed in) and an anonymous session whose cart holds 2 units of
/// a fresh product: (sku, e-mail, anonymous token).
async fn account_and_anonymous_cart(stack: &Stack, tag: &str) -> (String, String, String) {
    let sku = unique_sku(1);
    stack.create_product(&sku, 1_000, 20).await;
    let email = unique_email(tag);
    stack
        .register(&email, PASSWORD)
        .await
        .expect_status(StatusCode::ACCEPTED);
    let anonymous = stack.new_session().await;
    stack
        .put_item(&anonymous, &sku, 2)
        .await
        .expect_status(StatusCode::OK);
    (sku, email, anonymous)
}

#[tokio::test]
async fn the_anonymous_cart_is_merged_into_the_users_cart_on_login() {
    let stack = Stack::load().await;
    let (sku, email, anonymous) = account_and_anonymous_cart(&stack, "merge").await;
    let response = stack.login(&email, PASSWORD, Some(&anonymous), None).await;
    response.expect_status(StatusCode::OK);
    let token = response.body["token"].as_str().unwrap().to_owned();
    assert_ne!(token, anonymous, "a fresh token on login");

    let cart = stack.get("/cart", Some(&token)).await;
    cart.expect_status(StatusCode::OK);
    assert_eq!(cart.body["items"][0]["sku"], sku.as_str());
    assert_eq!(cart.body["items"][0]["quantity"], 2);
    stack
        .get("/cart", Some(&anonymous))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    // The cart belongs to the user: another login sees it, and a second anonymous cart adds up.
    let second = stack.new_session().await;
    stack
        .put_item(&second, &sku, 3)
        .await
        .expect_status(StatusCode::OK);
    let again = stack.login(&email, PASSWORD, Some(&second), None).await;
    again.expect_status(StatusCode::OK);
    let cart = stack
        .get("/cart", Some(again.body["token"].as_str().unwrap()))
        .await;
    assert_eq!(cart.body["items"][0]["quantity"], 5);
}

#[tokio::test]
async fn parallel_logins_carrying_one_anonymous_cart_merge_it_once() {
    let stack = Stack::load().await;
    let (_, email, anonymous) = account_and_anonymous_cart(&stack, "merge-race").await;

    let logins = (0..6).map(|_| stack.login(&email, PASSWORD, Some(&anonymous), None));
    let responses = futures::future::join_all(logins).await;
    let mut token = None;
    for response in &responses {
        // Each login succeeds (the merge is atomic, not exclusive) or, at worst, reports that
        // the user's cart kept changing under it; none may merge the cart a second time.
        assert!(
            response.status == StatusCode::OK || response.status == StatusCode::CONFLICT,
            "{}: {}",
            response.status,
            response.body
        );
        if response.status == StatusCode::OK {
            token = response.body["token"].as_str().map(str::to_owned);
        }
    }
    let token = token.expect("at least one login succeeded");
    let cart = stack.get("/cart", Some(&token)).await;
    cart.expect_status(StatusCode::OK);
    assert_eq!(cart.body["items"][0]["quantity"], 2, "merged exactly once");
}

#[tokio::test]
async fn five_failed_logins_lock_the_account_until_the_lock_expires() {
    let stack = Stack::load().await;
    let (email, token) = stack.new_user("lock", PASSWORD).await;
    for _ in 0..5 {
        stack
            .login(&email, "wrong-password", None, None)
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
    // The synchronous guard refuses the sixth attempt at once, right password or not.
    stack
        .login(&email, PASSWORD, None, None)
        .await
        .expect_error(StatusCode::FORBIDDEN, "ACCOUNT_LOCKED");
    // The fraud detector counts the LoginFailed events asynchronously and locks the account:
    // private routes answer 403 for the user's existing session too.
    eventually("the session is locked", Duration::from_secs(40), || async {
        let response = stack.get("/cart", Some(&token)).await;
        (response.status == StatusCode::FORBIDDEN).then_some(response)
    })
    .await
    .expect_error(StatusCode::FORBIDDEN, "ACCOUNT_LOCKED");
    // The notifier recorded the customer-facing message.
    eventually("the lock notification", Duration::from_secs(30), || async {
        stack
            .notifications(&email)
            .await
            .contains(&"ACCOUNT_LOCKED".to_owned())
            .then_some(())
    })
    .await;
    // The lock expires (LoginWindowSeconds=60 and FraudLockSeconds=15 locally).
    eventually("the lock expires", Duration::from_secs(120), || async {
        let response = stack.login(&email, PASSWORD, None, None).await;
        (response.status == StatusCode::OK).then_some(())
    })
    .await;
    stack
        .get("/cart", Some(&token))
        .await
        .expect_status(StatusCode::OK);
}

#[tokio::test]
async fn forty_parallel_guesses_evaluate_at_most_five_passwords() {
    let stack = Stack::load().await;
    let (email, _) = stack.new_user("guesses", PASSWORD).await;
    let answers = futures::future::join_all(
        (0..40).map(|_| stack.login(&email, "wrong-password", None, None)),
    )
    .await;
    let count = |status: StatusCode| answers.iter().filter(|a| a.status == status).count();
    let (evaluated, refused) = (
        count(StatusCode::UNAUTHORIZED),
        count(StatusCode::FORBIDDEN),
    );
    eprintln!("40 parallel guesses: {evaluated} evaluated (401), {refused} refused (403)");
    // 5 failures lock the account; at most a handful more may be in flight when they land.
    let most = 5 + shop_core::auth::IN_FLIGHT_SLACK as usize;
    assert!(evaluated <= most, "{evaluated} passwords evaluated");
    assert_eq!(evaluated + refused, 40, "every answer is 401 or 403");
    stack
        .login(&email, PASSWORD, None, None)
        .await
        .expect_error(StatusCode::FORBIDDEN, "ACCOUNT_LOCKED");
}

fn authorizer_event(header: Option<&str>) -> serde_json::Value {
    let mut event = json!({
        "type": "TOKEN",
        "methodArn": "arn:aws:execute-api:us-east-1:000000000000:abc123/v1/GET/cart",
    });
    if let Some(header) = header {
        event["authorizationToken"] = json!(header);
    }
    event
}

async fn expect_unauthorized(stack: &Stack, header: Option<&str>) {
    let (error, payload) = stack
        .invoke(
            stack.output("AuthorizerFunctionName"),
            &authorizer_event(header),
        )
        .await;
    assert!(
        error.is_some(),
        "{header:?}: an error, not a policy: {payload}"
    );
    assert_eq!(
        payload["errorMessage"], "Unauthorized",
        "{header:?}: {payload}"
    );
    assert_eq!(
        payload["errorType"], "Unauthorized",
        "{header:?}: {payload}"
    );
}

#[tokio::test]
async fn the_authorizer_allows_valid_sessions_and_rejects_the_rest() {
    let stack = Stack::load().await;
    let function = stack.output("AuthorizerFunctionName").to_owned();
    let (email, token) = stack.new_user("authz", PASSWORD).await;

    // Valid: Allow on the whole stage, with the principal in the context.
    let (error, payload) = stack
        .invoke(
            &function,
            &authorizer_event(Some(&format!("Bearer {token}"))),
        )
        .await;
    assert!(error.is_none(), "{payload}");
    let statement = &payload["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(
        statement["Resource"],
        "arn:aws:execute-api:us-east-1:000000000000:abc123/v1/*/*"
    );
    assert_eq!(payload["context"]["email"], email.as_str());

    // Missing and malformed.
    expect_unauthorized(&stack, None).await;
    expect_unauthorized(&stack, Some("Bearer")).await;
    expect_unauthorized(&stack, Some("Basic abc")).await;
    expect_unauthorized(&stack, Some("Bearer not-a-token")).await;
    // Well-formed but unknown.
    expect_unauthorized(&stack, Some(&format!("Bearer {}", random_token()))).await;

    // Expired (DynamoDB TTL deletes lazily: the item may still be there).
    let expired = random_token();
    stack
        .dynamodb()
        .put_item()
        .table_name(stack.output("SessionsTableName"))
        .item("pk", AttributeValue::S(token_key("SESSION", &expired)))
        .item(
            "created_at",
            AttributeValue::N((now_epoch_seconds() - 7_200).to_string()),
        )
        .item(
            "expires_at",
            AttributeValue::N((now_epoch_seconds() - 3_600).to_string()),
        )
        .send()
        .await
        .unwrap();
    expect_unauthorized(&stack, Some(&format!("Bearer {expired}"))).await;
    stack
        .get("/cart", Some(&expired))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    // Locked: Deny (403), and the handlers' fallback agrees.
    stack
        .dynamodb()
        .put_item()
        .table_name(stack.output("UsersTableName"))
        .item("pk", AttributeValue::S(format!("LOCK#{email}")))
        .item(
            "locked_until",
            AttributeValue::N((now_epoch_seconds() + 600).to_string()),
        )
        .item(
            "expires_at",
            AttributeValue::N((now_epoch_seconds() + 600).to_string()),
        )
        .item("event_id", AttributeValue::S("test".into()))
        .send()
        .await
        .unwrap();
    let (error, payload) = stack
        .invoke(
            &function,
            &authorizer_event(Some(&format!("Bearer {token}"))),
        )
        .await;
    assert!(error.is_none(), "{payload}");
    assert_eq!(payload["policyDocument"]["Statement"][0]["Effect"], "Deny");
    stack
        .get("/cart", Some(&token))
        .await
        .expect_error(StatusCode::FORBIDDEN, "ACCOUNT_LOCKED");

    // Logged out (a locked account may still log out).
    stack
        .call(Method::POST, "/auth/logout", Some(&token), None)
        .await
        .expect_status(StatusCode::NO_CONTENT);
    expect_unauthorized(&stack, Some(&format!("Bearer {token}"))).await;
}
