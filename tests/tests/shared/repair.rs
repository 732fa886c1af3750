//! Compensation that cannot be lost: the reconciler and the repair queue finish what the
//! workflows could not (statemachines/README.md, "Repair").

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use shop_tests::{Stack, eventually, now_epoch_millis, unique_sku};

/// How long the stack's repair path may take: the repair queue's retry interval and a sweep.
const REPAIRED: Duration = Duration::from_secs(90);

#[tokio::test]
async fn stock_still_held_for_a_failed_order_is_released_by_the_reconciler() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 1_000, 5).await;
    let shopper = stack.shopper("stranded", &[(&sku, 2)]).await;
    let id = stack.place_order(&shopper.token, "tok_declined").await;
    stack
        .wait_for_order(&shopper.token, &id, &["FAILED"], Duration::from_secs(60))
        .await;
    assert_eq!(stack.stock(&sku).await, (5, vec![]));

    // A release that failed: the reservation is still there and the stock still down, for
    // an order that has ended.
    stack
        .dynamodb()
        .transact_write_items()
        .transact_items(
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .put(
                    aws_sdk_dynamodb::types::Put::builder()
                        .table_name(stack.output("ReservationsTableName"))
                        .item("sku", AttributeValue::S(sku.clone()))
                        .item("order_id", AttributeValue::S(id.clone()))
                        .item("quantity", AttributeValue::N("2".into()))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .update(
                    aws_sdk_dynamodb::types::Update::builder()
                        .table_name(stack.output("ProductsTableName"))
                        .key("sku", AttributeValue::S(sku.clone()))
                        .update_expression("SET stock = stock - :q")
                        .expression_attribute_values(":q", AttributeValue::N("2".into()))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .expect("seed the stranded reservation");
    assert_eq!(stack.stock(&sku).await, (3, vec![id.clone()]));
    // ... long ago: the reconciler leaves an order that ended less than its `stuck_after`
    // ago to the workflow that may still be releasing.
    let long_ago = now_epoch_millis() - 3_600_000;
    stack
        .dynamodb()
        .update_item()
        .table_name(stack.output("OrdersTableName"))
        .key("order_id", AttributeValue::S(id.clone()))
        .update_expression("SET updated_at = :t")
        .expression_attribute_values(":t", AttributeValue::N(long_ago.to_string()))
        .send()
        .await
        .expect("age the order");

    // The sweep finds it and hands it to the repair queue; the repair gives the stock back.
    let (error, report) = stack
        .invoke(stack.output("ReconcilerFunctionName"), &json!({}))
        .await;
    assert_eq!(error, None, "{report}");
    assert!(
        report["strandedReservations"].as_u64() >= Some(1),
        "{report}"
    );
    eventually("the stock is given back", REPAIRED, || async {
        (stack.stock(&sku).await == (5, vec![])).then_some(())
    })
    .await;
    let order = stack.order(&shopper.token, &id).await;
    assert_eq!(order.body["status"], "FAILED", "{}", order.body);
    assert_eq!(
        order.body["failureReason"], "PAYMENT_DECLINED",
        "{}",
        order.body
    );
    stack.assert_stock_conserved(&[(&sku, 5)]).await;
}

#[tokio::test]
async fn a_refund_the_provider_refuses_during_a_cancel_is_owed_then_repaid_in_ledger_order() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 2_000, 4).await;
    let shopper = stack.shopper("refund-owed", &[(&sku, 1)]).await;
    // The charge succeeds; the refund fails 6 times: the cancel workflow's own attempts (1 +
    // PaymentRetryMaxAttempts) and the repair's first ones, then it succeeds.
    let id = stack
        .place_order(&shopper.token, "tok_refund_flaky_6")
        .await;
    stack
        .wait_for_order(&shopper.token, &id, &["CONFIRMED"], Duration::from_secs(60))
        .await;
    stack
        .order_action(&shopper.token, &id, "cancel")
        .await
        .expect_status(reqwest::StatusCode::ACCEPTED);

    // Owed: visible, with the reason, and the stock already back.
    let owed = stack
        .wait_for_order(
            &shopper.token,
            &id,
            &["REFUND_PENDING", "CANCELLED"],
            REPAIRED,
        )
        .await;
    if owed["status"] == "REFUND_PENDING" {
        // Written by the workflow (its error name, PaymentProviderUnavailable) or, once the
        // repair consumer has tried too, by the repair (the provider's message): both say why.
        let reason = owed["refundPendingReason"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            reason.contains("provider") && reason.contains("unavailable"),
            "{owed}"
        );
    }
    // Repaid by the repair consumer: cancelled, refunded once, charge before refund.
    stack
        .wait_for_order(&shopper.token, &id, &["CANCELLED"], REPAIRED)
        .await;
    let ledger = stack
        .wait_for_ledger(&id, &["PaymentCaptured", "PaymentRefunded"])
        .await;
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert!(ledger[0].seq < ledger[1].seq, "{ledger:?}");
    assert_eq!(ledger[1].operation_id, format!("refund-{id}"));
    assert_eq!(ledger[1].amount_minor, 2_000);
    let refund = stack
        .payment(&format!("refund-{id}"))
        .await
        .expect("the provider's refund record");
    assert_eq!(shop_tests::text(&refund, "amount_minor"), "2000");
    stack.assert_stock_conserved(&[(&sku, 4)]).await;
}
