//! A checkout that fails after the provider captured the charge, and whose own refund fails
//! too: the money is owed (`REFUND_PENDING`), then repaid by the repair queue, and the ledger
//! gets the charge before the refund although the checkout never recorded the charge.
//!
//! Its own test binary: it breaks the shared `payment` function for a minute, and cargo runs
//! test binaries one after another, so no other test's checkout meets the fault. Only `auth`,
//! which checks out nothing, runs beside it (infra/scripts/integration-tests.sh).

#![allow(clippy::print_stderr)] // prints the owed-refund wait, a figure for the note

use std::time::Duration;

use shop_tests::{Stack, text, unique_sku};

/// The payment function's DynamoDB writes are applied but never answer: the call hangs past
/// the function's timeout (25 s on the local stack), so the function dies after the write.
/// Charge: the capture is recorded, then the step fails (`Sandbox.Timedout`). Refund: its
/// attempt is counted, then the step fails the same way.
const LOST_ANSWERS: &str = "dynamodb:UpdateItem=1:timeout:120s";

#[tokio::test]
async fn a_refund_failing_inside_checkout_after_the_charge_is_owed_then_repaid() {
    let stack = Stack::load().await;
    let sku = unique_sku(1);
    stack.create_product(&sku, 1_500, 3).await;
    let shopper = stack.shopper("charge-lost", &[(&sku, 1)]).await;
    let payment = format!("{}-payment", stack.output("StackName"));
    let original = stack.environment(&payment).await;
    let mut faulty = original.clone();
    faulty.insert("LAMBDA_KIT_FAULTS".to_owned(), LOST_ANSWERS.to_owned());
    stack.set_environment(&payment, faulty).await;

    // In a task of its own, so that the function is restored even if an assertion fails.
    // tok_refund_flaky_2: the refund is refused twice (the checkout's attempt and the
    // repair's first), then made.
    let run = tokio::spawn({
        let stack = stack.clone();
        let token = shopper.token.clone();
        async move {
            let id = stack.place_order(&token, "tok_refund_flaky_2").await;
            let owed = stack
                .wait_for_order(
                    &token,
                    &id,
                    &["REFUND_PENDING", "FAILED", "CONFIRMED"],
                    Duration::from_secs(180),
                )
                .await;
            (id, owed)
        }
    })
    .await;
    stack.set_environment(&payment, original).await;
    let (id, owed) = match run {
        Ok(result) => result,
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    };

    // Owed: visible, with why, and the outcome it waits for.
    assert_eq!(owed["status"], "REFUND_PENDING", "{owed}");
    assert!(
        owed["refundPendingReason"]
            .as_str()
            .is_some_and(|reason| !reason.is_empty()),
        "{owed}"
    );
    let charge = stack
        .payment(&format!("charge-{id}"))
        .await
        .expect("the provider captured the charge");
    assert_eq!(text(&charge, "amount_minor"), "1500");

    // Repaid by the repair consumer: FAILED only once the money is back.
    let owed_since = std::time::Instant::now();
    let ended = stack
        .wait_for_order(&shopper.token, &id, &["FAILED"], Duration::from_secs(120))
        .await;
    assert_eq!(ended["failureReason"], "INTERNAL_ERROR", "{ended}");
    // A figure for the README, not an assertion: how long the money was owed once seen.
    eprintln!(
        "owed refund repaid {:.1} s after REFUND_PENDING was seen",
        owed_since.elapsed().as_secs_f64()
    );
    let refund = stack
        .payment(&format!("refund-{id}"))
        .await
        .expect("the provider's refund record");
    assert_eq!(text(&refund, "amount_minor"), "1500");
    let ledger = stack
        .wait_for_ledger(&id, &["PaymentCaptured", "PaymentRefunded"])
        .await;
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!(ledger[0].operation_id, format!("charge-{id}"));
    assert_eq!(ledger[1].operation_id, format!("refund-{id}"));
    assert!(ledger[0].seq < ledger[1].seq, "{ledger:?}");
    stack.assert_stock_conserved(&[(&sku, 3)]).await;
}
