//! No secret in any log: after a run of activity that handles every kind of secret the shop
//! has (passwords at registration and login, a wrong one too; bearer tokens of anonymous and
//! signed-in sessions and of an admin; the Step Functions task token of an approval), every
//! log group of the stack on LocalStack is read since the test started and none of those
//! values appears in any line. A positive control (the order id is logged) makes sure the
//! scan saw the activity's lines at all.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use reqwest::StatusCode;
use shop_tests::{
    ADMIN_PASSWORD, Stack, eventually, now_epoch_millis, random_token, text, unique_email,
    unique_sku,
};

/// Long enough for a workflow to reach its approval, or its end.
const SETTLE: Duration = Duration::from_secs(90);
/// How long CloudWatch Logs (LocalStack's) may take to show a function's last lines.
const LOGS_CATCH_UP: Duration = Duration::from_secs(30);

/// Every log event of every log group since `since_ms`: (group, message).
async fn all_log_lines(stack: &Stack, since_ms: i64) -> Vec<(String, String)> {
    let mut groups = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = stack
            .logs()
            .describe_log_groups()
            .set_next_token(next.take())
            .send()
            .await
            .expect("list the log groups");
        groups.extend(
            page.log_groups()
                .iter()
                .filter_map(|g| g.log_group_name().map(str::to_owned)),
        );
        match page.next_token() {
            Some(token) if !page.log_groups().is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }
    assert!(!groups.is_empty(), "the stack has log groups");
    let mut lines = Vec::new();
    for group in groups {
        let mut next: Option<String> = None;
        loop {
            let page = stack
                .logs()
                .filter_log_events()
                .log_group_name(&group)
                .start_time(since_ms)
                .set_next_token(next.take())
                .send()
                .await
                .unwrap_or_else(|e| panic!("read {group}: {e:?}"));
            lines.extend(
                page.events()
                    .iter()
                    .filter_map(|e| e.message().map(|m| (group.clone(), m.to_owned()))),
            );
            match page.next_token() {
                Some(token) if !page.events().is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
    }
    lines
}

#[tokio::test]
async fn no_password_bearer_token_or_task_token_reaches_any_log_group() {
    let stack = Stack::load().await;
    let since = now_epoch_millis() - 5_000;
    // (what, value): every secret this test hands to the stack or gets from it.
    let mut secrets: Vec<(&str, String)> =
        vec![("the demo admin's password", ADMIN_PASSWORD.to_owned())];

    // An anonymous session with a cart, then registration and login with a fresh password;
    // one failed login with another.
    let anonymous = stack.new_session().await;
    secrets.push(("an anonymous bearer token", anonymous.clone()));
    let sku = unique_sku(1);
    let threshold = i64::try_from(stack.tunable("ApprovalThreshold", 100_000)).unwrap();
    stack.create_product(&sku, threshold + 1, 3).await;
    stack
        .put_item(&anonymous, &sku, 1)
        .await
        .expect_status(StatusCode::OK);
    let email = unique_email("secrets");
    let password = format!("pw-{}", random_token());
    let wrong = format!("wrong-{}", random_token());
    secrets.push(("the user's password", password.clone()));
    secrets.push(("a wrong password", wrong.clone()));
    stack
        .register(&email, &password)
        .await
        .expect_status(StatusCode::ACCEPTED);
    let failed = stack.login(&email, &wrong, None, None).await;
    assert_ne!(failed.status, StatusCode::OK, "{}", failed.body);
    let login = stack.login(&email, &password, Some(&anonymous), None).await;
    login.expect_status(StatusCode::OK);
    let token = login.body["token"].as_str().expect("a token").to_owned();
    secrets.push(("a signed-in bearer token", token.clone()));
    let admin = stack.admin_token().await;
    secrets.push(("the admin's bearer token", admin.clone()));

    // An order above the approval threshold: the workflow waits with a task token.
    let id = stack.place_order(&token, "tok_ok").await;
    stack
        .wait_for_order(&token, &id, &["AWAITING_APPROVAL"], SETTLE)
        .await;
    let order = stack.order_item(&id).await.expect("the order item");
    let task_token = text(&order, "approval_token");
    assert!(
        !task_token.is_empty(),
        "a waiting order holds its task token"
    );
    secrets.push(("the approval's task token", task_token));
    stack
        .order_action(&admin, &id, "approve")
        .await
        .expect_status(StatusCode::ACCEPTED);
    stack
        .wait_for_order(&token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;

    // The positive control: the functions' lines about this order are there to be read.
    let lines = eventually(
        "the order's lines reach the logs",
        LOGS_CATCH_UP,
        || async {
            let lines = all_log_lines(&stack, since).await;
            lines
                .iter()
                .any(|(group, line)| group.ends_with("-payment") && line.contains(&id))
                .then_some(lines)
        },
    )
    .await;

    let mut leaks = Vec::new();
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what} is too short to search for");
        for (group, line) in &lines {
            if line.contains(secret.as_str()) {
                leaks.push(format!("{what} in {group}: {line}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secrets in the logs ({} lines scanned):\n{}",
        lines.len(),
        leaks.join("\n")
    );
}
