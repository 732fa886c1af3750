//! Checkout v2 on LocalStack: the unattended checkout as an EXPRESS machine, the STANDARD
//! approval workflow it hands over to (exactly once), the Wait loop of an asynchronous
//! settlement (`tok_pending_N`, `tok_pending_forever`), the Parallel follow-ups after the
//! confirmation and their repair. The contract is `statemachines/README.md`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::types::StateMachineType;
use serde_json::{Value, json};
use shop_tests::{Stack, eventually, text, unique_key, unique_sku};

/// Long enough for a workflow with retries, the settlement wait or an approval.
const SETTLE: Duration = Duration::from_secs(90);

async fn machine_type(stack: &Stack, arn: &str) -> StateMachineType {
    stack
        .sfn()
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("describe {arn}: {e:?}"))
        .r#type
}

#[tokio::test]
async fn the_unattended_paths_are_express_and_only_the_approval_is_standard() {
    let stack = Stack::load().await;
    assert_eq!(
        machine_type(&stack, stack.output("CheckoutStateMachineArn")).await,
        StateMachineType::Express
    );
    assert_eq!(
        machine_type(&stack, stack.output("CancelOrderStateMachineArn")).await,
        StateMachineType::Express
    );
    assert_eq!(
        machine_type(&stack, stack.output("ApprovalStateMachineArn")).await,
        StateMachineType::Standard
    );
}

/// How many times `state` was entered in the order's runs.
fn entered(states: &[String], state: &str) -> usize {
    states.iter().filter(|s| s.as_str() == state).count()
}

#[tokio::test]
async fn a_pending_charge_is_asked_again_after_each_wait_and_captured_once() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 2_500, 4).await;
    let shopper = stack.shopper("pending", &[(&sku, 1)]).await;
    let id = stack.place_order(&shopper.token, "tok_pending_2").await;
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;

    // Pending twice (two waits), captured on the third ask.
    let states = stack.states_entered(&id).await;
    assert_eq!(entered(&states, "WaitForSettlement"), 2, "{states:?}");
    assert_eq!(entered(&states, "ChargePayment"), 3, "{states:?}");
    assert_eq!(entered(&states, "ConfirmOrder"), 1, "{states:?}");
    let charge = stack
        .payment(&format!("charge-{id}"))
        .await
        .expect("the provider's charge record");
    assert_eq!(text(&charge, "amount_minor"), "2500");
    let ledger = stack.wait_for_ledger(&id, &["PaymentCaptured"]).await;
    assert_eq!(ledger[0].amount_minor, 2_500);
    stack.assert_stock_conserved(&[(&sku, 4)]).await;
}

#[tokio::test]
async fn a_charge_that_never_settles_is_voided_at_the_deadline_and_the_order_fails() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 1_200, 3).await;
    let shopper = stack.shopper("never-settles", &[(&sku, 2)]).await;
    let id = stack
        .place_order(&shopper.token, "tok_pending_forever")
        .await;
    let order = stack
        .wait_for_order(&shopper.token, &id, &["FAILED"], SETTLE)
        .await;
    assert_eq!(order["failureReason"], "PAYMENT_NOT_SETTLED", "{order}");

    let deadline = stack.tunable("PaymentSettlementDeadlineSeconds", 4);
    let retry_after = stack.tunable("PaymentPendingRetryAfterSeconds", 1).max(1);
    let states = stack.states_entered(&id).await;
    assert_eq!(
        entered(&states, "WaitForSettlement"),
        usize::try_from(deadline.div_ceil(retry_after)).unwrap(),
        "waits up to the deadline: {states:?}"
    );
    assert_eq!(entered(&states, "ConfirmOrder"), 0, "{states:?}");
    assert_eq!(entered(&states, "RefundPayment"), 1, "{states:?}");

    // The pending charge was voided: asking for it again (what a late poll would do) cannot
    // capture it.
    let (error, body) = stack
        .invoke(
            stack.output("PaymentFunctionName"),
            &json!({
                "operation": "charge",
                "orderId": id,
                "operationId": format!("charge-{id}"),
                "paymentToken": "tok_pending_forever",
                "idempotencyKey": "late-poll",
                "amount": {"amount": 2_400, "currency": "EUR"},
            }),
        )
        .await;
    assert!(
        error.is_some(),
        "a late poll of a voided charge fails: {body}"
    );
    assert_eq!(body["errorType"], "PaymentDeclined", "{body}");
    // No money moved: nothing in the ledger, the stock back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(stack.ledger(&id).await.is_empty());
    stack.assert_stock_conserved(&[(&sku, 3)]).await;
}

#[tokio::test]
async fn after_the_confirmation_each_follow_up_runs_once() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 999, 5).await;
    let shopper = stack.shopper("follow-ups", &[(&sku, 3)]).await;
    let id = stack.place_order(&shopper.token, "tok_ok").await;
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;
    let states = stack.states_entered(&id).await;
    for branch in ["PublishOrderPlaced", "RecordCharge", "ClearCart"] {
        assert_eq!(entered(&states, branch), 1, "{branch}: {states:?}");
    }
    for repair in [
        "RequestOrderPlacedRepair",
        "RequestLedgerChargeRepair",
        "RequestClearCartRepair",
    ] {
        assert_eq!(entered(&states, repair), 0, "{repair}: {states:?}");
    }
    // Ledger once, OrderPlaced once, the cart cleared.
    stack.wait_for_ledger(&id, &["PaymentCaptured"]).await;
    let correlation_id = text(&stack.order_item(&id).await.unwrap(), "correlation_id");
    eventually("OrderPlaced audited", SETTLE, || async {
        let placed: Vec<_> = stack
            .audit_by_correlation(&correlation_id)
            .await
            .into_iter()
            .filter(|(_, t)| t == "OrderPlaced")
            .collect();
        assert!(placed.len() <= 1, "OrderPlaced published twice: {placed:?}");
        (placed.len() == 1).then_some(())
    })
    .await;
    let cart = stack.get("/cart", Some(&shopper.token)).await;
    assert_eq!(cart.body["items"], json!([]), "{}", cart.body);
    assert_eq!(stack.ledger(&id).await.len(), 1);
}

#[tokio::test]
async fn an_approval_order_crosses_to_the_standard_workflow_exactly_once() {
    let stack = Stack::load().await;
    let threshold = i64::try_from(stack.tunable("ApprovalThreshold", 100_000)).unwrap();
    let sku = unique_sku(1);
    stack.create_product(&sku, threshold + 1, 2).await;
    let shopper = stack.shopper("handover", &[(&sku, 1)]).await;
    let admin = stack.admin_token().await;
    let key = unique_key();
    let response = stack.checkout(&shopper.token, Some(&key), "tok_ok").await;
    let id = response.body["orderId"].as_str().unwrap().to_owned();
    stack
        .wait_for_order(&shopper.token, &id, &["AWAITING_APPROVAL"], SETTLE)
        .await;

    // The hand-over again (a retried task, or a duplicate run of the checkout: Express starts
    // are at least once) starts no second approval run.
    let approval_machine = stack.output("ApprovalStateMachineArn");
    let again = stack
        .sfn()
        .start_execution()
        .state_machine_arn(approval_machine)
        .name(format!("approval-{id}"))
        .input(json!({"orderId": id, "duplicate": true}).to_string())
        .send()
        .await;
    let err = again.expect_err("a second approval run under the same name");
    assert!(
        format!("{err:?}").contains("ExecutionAlreadyExists"),
        "{err:?}"
    );
    let order_item = stack.order_item(&id).await.unwrap();
    let input = json!({
        "orderId": id,
        "userId": text(&order_item, "user_id"),
        "email": text(&order_item, "email"),
        "cartKey": text(&order_item, "cart_key"),
        "paymentToken": "tok_ok",
        "idempotencyKey": key,
        "correlationId": text(&order_item, "correlation_id"),
    });
    let duplicate = format!("{id}-duplicate");
    let started_at = shop_tests::now_epoch_millis();
    stack
        .sfn()
        .start_execution()
        .state_machine_arn(stack.output("CheckoutStateMachineArn"))
        .name(&duplicate)
        .input(input.to_string())
        .send()
        .await
        .expect("start a duplicate checkout run");
    let duplicate_events = stack
        .wait_run_finished(&stack.checkout_log_group(), &duplicate, started_at - 10_000)
        .await;
    let duplicate_states: Vec<_> = duplicate_events
        .iter()
        .filter_map(|e| e.state.clone())
        .collect();
    assert!(
        duplicate_states.contains(&"AlreadyHandled".to_owned())
            && !duplicate_states.contains(&"LoadCart".to_owned()),
        "a duplicate run touches nothing: {duplicate_states:?}"
    );
    let approval_runs: Vec<String> = stack
        .sfn()
        .list_executions()
        .state_machine_arn(approval_machine)
        .send()
        .await
        .unwrap()
        .executions()
        .iter()
        .map(|e| e.name().to_owned())
        .filter(|name| name.contains(&id))
        .collect();
    assert_eq!(approval_runs, [format!("approval-{id}")]);

    stack
        .order_action(&admin, &id, "approve")
        .await
        .expect_status(reqwest::StatusCode::ACCEPTED);
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;
    let runs = stack.runs_of(&id).await;
    assert_eq!(
        runs,
        [id.clone(), format!("approval-{id}"), format!("resume-{id}")],
        "the order's runs"
    );
    let ledger = stack.wait_for_ledger(&id, &["PaymentCaptured"]).await;
    assert_eq!(ledger[0].amount_minor, threshold + 1);
    stack.assert_stock_conserved(&[(&sku, 2)]).await;
}

/// Sends a follow-up `RepairRequested` for `order_id` to the repair queue, as a Parallel
/// branch's Catch does; waits until the repair consumer has processed it.
async fn request_follow_up(stack: &Stack, order_id: &str, follow_up: &str, extra: Value) {
    let mut detail = json!({
        "orderId": order_id,
        "outcome": "CONFIRMED",
        "reason": follow_up,
        "refund": false,
        "followUp": follow_up,
        "cause": "{\"Error\":\"States.TaskFailed\",\"Cause\":\"injected by the test\"}",
    });
    if let (Some(detail), Value::Object(extra)) = (detail.as_object_mut(), extra) {
        detail.extend(extra);
    }
    let event_id = uuid_like();
    let body = shop_tests::envelope(
        &event_id,
        "RepairRequested",
        "2026-12-01T00:00:00Z",
        &format!("follow-up-{order_id}"),
        &detail,
    );
    stack
        .sqs()
        .send_message()
        .queue_url(stack.output("RepairQueueUrl"))
        .message_body(body)
        .send()
        .await
        .expect("send to the repair queue");
    eventually("the repair processed the follow-up", SETTLE, || async {
        stack.processed_by("repair", &event_id).await.then_some(())
    })
    .await;
}

/// The audit log's copy of an event: its envelope's `source`, `None` if not audited.
async fn audited_source(stack: &Stack, event_id: &str) -> Option<String> {
    let item = stack
        .dynamodb()
        .get_item()
        .table_name(stack.output("AuditTableName"))
        .key("event_id", AttributeValue::S(event_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item?;
    let envelope: Value = serde_json::from_str(&text(&item, "envelope")).ok()?;
    envelope["source"].as_str().map(str::to_owned)
}

fn uuid_like() -> String {
    let id = shop_tests::unique_id();
    lambda_kit::ids::uuid_from_name(id.as_bytes())
}

#[tokio::test]
async fn a_follow_up_that_failed_is_done_by_the_repair_consumer() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 700, 5).await;
    let shopper = stack.shopper("repaired", &[(&sku, 1)]).await;
    let id = stack.place_order(&shopper.token, "tok_ok").await;
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED", "FULFILLED"], SETTLE)
        .await;

    // ORDER_PLACED: the repair publishes the order's OrderPlaced under the checkout's own
    // event id, so the consumers see it once: the audit log keeps one OrderPlaced for it.
    let event_id = format!("OrderPlaced-{id}");
    eventually("the checkout's OrderPlaced audited", SETTLE, || async {
        audited_source(&stack, &event_id).await
    })
    .await;
    assert_eq!(
        audited_source(&stack, &event_id).await.as_deref(),
        Some("checkout")
    );
    let since = shop_tests::now_epoch_millis();
    request_follow_up(&stack, &id, "ORDER_PLACED", json!({})).await;
    let repair = format!("{}-repair", stack.output("StackName"));
    eventually("the repair says it published", SETTLE, || async {
        stack
            .log_lines(&repair, "follow-up done", since - 5_000)
            .await
            .iter()
            .any(|line| {
                line.fields["order_id"] == id.as_str() && line.fields["follow_up"] == "ORDER_PLACED"
            })
            .then_some(())
    })
    .await;
    // Published again (source: repair) under the same id: the audit log processed it once.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        audited_source(&stack, &event_id).await.as_deref(),
        Some("checkout"),
        "the repaired OrderPlaced is the same event to the consumers"
    );

    // CLEAR_CART: a cart at the priced version is deleted; one changed since is kept.
    let cart_key = text(&stack.order_item(&id).await.unwrap(), "cart_key");
    stack.put_item(&shopper.token, &sku, 2).await;
    let cart = stack
        .session_table_item(&cart_key)
        .await
        .expect("a new cart");
    let version = match cart.get("version") {
        Some(AttributeValue::N(n)) => n.clone(),
        other => panic!("cart version: {other:?}"),
    };
    let stale: i64 = version.parse::<i64>().unwrap() - 1;
    request_follow_up(
        &stack,
        &id,
        "CLEAR_CART",
        json!({"cartKey": cart_key, "cartVersion": stale.to_string()}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        stack.session_table_item(&cart_key).await.is_some(),
        "a cart changed since is kept"
    );
    request_follow_up(
        &stack,
        &id,
        "CLEAR_CART",
        json!({"cartKey": cart_key, "cartVersion": version}),
    )
    .await;
    eventually("the cart cleared by the repair", SETTLE, || async {
        stack
            .session_table_item(&cart_key)
            .await
            .is_none()
            .then_some(())
    })
    .await;
    // The order itself never moved.
    let status = text(&stack.order_item(&id).await.unwrap(), "status");
    assert!(
        ["CONFIRMED", "FULFILLED"].contains(&status.as_str()),
        "{status}"
    );
}
