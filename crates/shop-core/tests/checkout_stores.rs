//! The DynamoDB stores of the checkout steps and order consumers against a real DynamoDB API
//! (LocalStack): the simulated provider's payments table, the ledger, fraud flags, the
//! products' reservation reservations and the analytics transaction with several counters. Their
//! expressions (conditional updates, `ADD`, `DELETE` on a string set, transactions) are what
//! the in-memory fakes cannot check.
//!
//! Needs LocalStack, so it is `#[ignore]`d in the unit-test run; run it with
//! `. infra/local/env.sh && cargo test -p shop-core --test checkout_stores -- --ignored`.
//! It creates its tables with unique names and deletes them afterwards.

use std::panic::AssertUnwindSafe;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use futures::FutureExt as _;
use shop_core::analytics::{CounterStore, DynamoCounterStore};
use shop_core::catalog::{Currency, Money};
use shop_core::fraud::{DynamoFraudStore, FLAG_FAILED_LOGINS, Flag, FraudStore};
use shop_core::ledger::{
    CHARGE, DynamoLedgerStore, GUARD_SEQ, LedgerEntry, LedgerStore, guard_key,
};
use shop_core::orders::{IdempotencyKey, OrderId};
use shop_core::payment::{ChargeRecord, DynamoPaymentStore, PaymentStore, RefundRecord};
use shop_core::reservations::{DynamoReservations, Reservation, Reservations};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn create_table(client: &Client, name: &str, hash: &str, range: Option<&str>) -> TestResult {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (key, key_type) in
        std::iter::once((hash, KeyType::Hash)).chain(range.map(|r| (r, KeyType::Range)))
    {
        request = request
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(key_type)
                    .build()?,
            );
    }
    request.send().await?;
    Ok(())
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::EUR)
}

async fn get(
    client: &Client,
    table: &str,
    key: &[(&str, &str)],
) -> Result<Option<std::collections::HashMap<String, AttributeValue>>, Box<dyn std::error::Error>> {
    let mut request = client.get_item().table_name(table).consistent_read(true);
    for (name, value) in key {
        request = request.key(*name, AttributeValue::S((*value).to_owned()));
    }
    Ok(request.send().await?.item)
}

async fn payments(client: &Client, table: &str) -> TestResult {
    let store = DynamoPaymentStore::new(client.clone(), table);
    assert_eq!(store.get_charge("charge-ord_x").await?, None);
    assert_eq!(store.count_attempt("charge-ord_x", 1).await?, 1);
    assert_eq!(store.count_attempt("charge-ord_x", 2).await?, 2);
    assert_eq!(
        store.get_charge("charge-ord_x").await?,
        None,
        "attempts only"
    );
    let first = ChargeRecord {
        charge_id: "ch_first".to_owned(),
        order_id: "ord_x".to_owned(),
        amount: eur(2598),
        idempotency_key: "key-1".to_owned(),
    };
    assert_eq!(store.record_charge("charge-ord_x", &first, 3).await?, first);
    let second = ChargeRecord {
        charge_id: "ch_second".to_owned(),
        ..first.clone()
    };
    assert_eq!(
        store.record_charge("charge-ord_x", &second, 4).await?,
        first,
        "the first charge wins"
    );
    assert_eq!(store.get_charge("charge-ord_x").await?, Some(first));
    let refund = RefundRecord {
        refund_id: "re_first".to_owned(),
        charge_id: "ch_first".to_owned(),
        charge_operation_id: "charge-ord_x".to_owned(),
        order_id: "ord_x".to_owned(),
        amount: eur(2598),
    };
    assert_eq!(
        store.record_refund("refund-ord_x", &refund, 5).await?,
        refund
    );
    let again = RefundRecord {
        refund_id: "re_second".to_owned(),
        ..refund.clone()
    };
    assert_eq!(
        store.record_refund("refund-ord_x", &again, 6).await?,
        refund
    );
    let item = get(client, table, &[("operation_id", "charge-ord_x")])
        .await?
        .unwrap_or_default();
    assert_eq!(
        item.get("attempts"),
        Some(&AttributeValue::N("2".to_owned()))
    );
    assert_eq!(
        item.get("kind"),
        Some(&AttributeValue::S("CHARGE".to_owned()))
    );
    Ok(())
}

async fn ledger(client: &Client, table: &str) -> TestResult {
    let store = DynamoLedgerStore::new(client.clone(), table);
    let entry = LedgerEntry {
        order_id: "ord_x".to_owned(),
        seq: "00000000000000000042".to_owned(),
        operation_id: "charge-ord_x".to_owned(),
        kind: CHARGE,
        amount: eur(2598),
        event_id: "e1".to_owned(),
        recorded_at: 7,
    };
    assert!(store.record(&entry).await?);
    assert!(!store.record(&entry).await?, "a redelivery is a duplicate");
    let resent = LedgerEntry {
        seq: "00000000000000000077".to_owned(),
        event_id: "e2".to_owned(),
        ..entry.clone()
    };
    assert!(
        !store.record(&resent).await?,
        "a resend of the operation with a new sequence number is a duplicate"
    );
    assert_eq!(
        get(
            client,
            table,
            &[("order_id", "ord_x"), ("seq", "00000000000000000077")]
        )
        .await?,
        None,
        "the resend wrote no second entry"
    );
    let guard_pk = guard_key("charge-ord_x");
    let guard = get(
        client,
        table,
        &[("order_id", guard_pk.as_str()), ("seq", GUARD_SEQ)],
    )
    .await?
    .unwrap_or_default();
    assert_eq!(
        guard.get("entry_seq"),
        Some(&AttributeValue::S("00000000000000000042".to_owned()))
    );
    let item = get(
        client,
        table,
        &[("order_id", "ord_x"), ("seq", "00000000000000000042")],
    )
    .await?
    .unwrap_or_default();
    assert_eq!(
        item.get("amount_minor"),
        Some(&AttributeValue::N("2598".to_owned()))
    );
    assert_eq!(
        item.get("kind"),
        Some(&AttributeValue::S("PaymentCaptured".to_owned()))
    );
    Ok(())
}

async fn flags(client: &Client, table: &str) -> TestResult {
    let store = DynamoFraudStore::new(client.clone(), table);
    let flag = |until: i64| Flag {
        flagged_until: until,
        reason: FLAG_FAILED_LOGINS,
        flagged_at: until - 900,
        event_id: "e1".to_owned(),
    };
    store
        .put_flag("ann@example.com", &flag(1_800_000_900))
        .await?;
    store
        .put_flag("ann@example.com", &flag(1_800_000_100))
        .await?;
    let item = get(
        client,
        table,
        &[("pk", "FLAG#ann@example.com"), ("sk", "FLAG")],
    )
    .await?
    .unwrap_or_default();
    assert_eq!(
        item.get("flagged_until"),
        Some(&AttributeValue::S("2027-01-15T08:15:00Z".to_owned())),
        "a shorter flag never replaces a longer one"
    );
    assert_eq!(
        item.get("reason"),
        Some(&AttributeValue::S("FAILED_LOGINS".to_owned()))
    );
    store
        .put_flag("ann@example.com", &flag(1_800_001_000))
        .await?;
    let item = get(
        client,
        table,
        &[("pk", "FLAG#ann@example.com"), ("sk", "FLAG")],
    )
    .await?
    .unwrap_or_default();
    assert_eq!(
        item.get("expires_at"),
        Some(&AttributeValue::N("1800001000".to_owned()))
    );
    // The sliding-window records of orders.
    store
        .record_occurrence("ORDERS#u1", 100, "e1", 1000)
        .await?;
    store
        .record_occurrence("ORDERS#u1", 100, "e1", 1000)
        .await?;
    store
        .record_occurrence("ORDERS#u1", 200, "e2", 1000)
        .await?;
    assert_eq!(store.count_since("ORDERS#u1", 150).await?, 1);
    assert_eq!(store.count_since("ORDERS#u1", 0).await?, 2);
    Ok(())
}

async fn reservations(client: &Client, table: &str) -> TestResult {
    let key = IdempotencyKey::parse("reservation-key-1")?;
    let (mine, other) = (OrderId::derive("u1", &key), OrderId::derive("u2", &key));
    for order in [&mine, &other] {
        client
            .put_item()
            .table_name(table)
            .item("sku", AttributeValue::S("MUG".to_owned()))
            .item("order_id", AttributeValue::S(order.to_string()))
            .item("quantity", AttributeValue::N("2".to_owned()))
            .send()
            .await?;
    }
    let store = DynamoReservations::new(client.clone(), table);
    store.consume("MUG", &mine).await?;
    store.consume("MUG", &mine).await?;
    store.consume("GONE", &mine).await?;
    assert_eq!(
        get(
            client,
            table,
            &[("sku", "MUG"), ("order_id", mine.as_str())]
        )
        .await?,
        None,
        "the shipped order's reservation is consumed"
    );
    assert!(
        get(
            client,
            table,
            &[("sku", "MUG"), ("order_id", other.as_str())]
        )
        .await?
        .is_some(),
        "another order's reservation stays"
    );
    let held: Vec<Reservation> = store
        .all()
        .await?
        .into_iter()
        .filter(|r| r.order_id == mine || r.order_id == other)
        .collect();
    assert_eq!(
        held,
        vec![Reservation {
            sku: "MUG".to_owned(),
            order_id: other,
            quantity: 2
        }]
    );
    Ok(())
}

async fn counters(client: &Client, table: &str) -> TestResult {
    let store = DynamoCounterStore::new(client.clone(), table);
    let increments = [("orders", 1), ("revenue_minor", 2598)];
    assert!(
        store
            .increment_once("2026-11-23", &increments, "e1", 1)
            .await?
    );
    assert!(
        !store
            .increment_once("2026-11-23", &increments, "e1", 1)
            .await?
    );
    assert!(
        store
            .increment_once(
                "2026-11-23",
                &[("orders", 1), ("revenue_minor", 1000)],
                "e2",
                1
            )
            .await?
    );
    let item = get(client, table, &[("day", "2026-11-23")])
        .await?
        .unwrap_or_default();
    assert_eq!(item.get("orders"), Some(&AttributeValue::N("2".to_owned())));
    assert_eq!(
        item.get("revenue_minor"),
        Some(&AttributeValue::N("3598".to_owned()))
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs LocalStack: . infra/local/env.sh && cargo test -p shop-core --test checkout_stores -- --ignored"]
async fn checkout_stores_on_dynamodb() -> TestResult {
    let config = lambda_kit::aws::sdk_config().await;
    let client = Client::new(&config);
    let suffix = lambda_kit::ids::new_uuid()[..8].to_owned();
    let tables = [
        (
            format!("checkout-test-payments-{suffix}"),
            "operation_id",
            None,
        ),
        (
            format!("checkout-test-ledger-{suffix}"),
            "order_id",
            Some("seq"),
        ),
        (format!("checkout-test-fraud-{suffix}"), "pk", Some("sk")),
        (
            format!("checkout-test-reservations-{suffix}"),
            "sku",
            Some("order_id"),
        ),
        (format!("checkout-test-analytics-{suffix}"), "day", None),
    ];
    for (name, hash, range) in &tables {
        create_table(&client, name, hash, *range).await?;
    }
    // A failed assertion must not leave the tables behind: catch it, clean up, re-raise.
    let result = AssertUnwindSafe(async {
        payments(&client, &tables[0].0).await?;
        ledger(&client, &tables[1].0).await?;
        flags(&client, &tables[2].0).await?;
        reservations(&client, &tables[3].0).await?;
        counters(&client, &tables[4].0).await
    })
    .catch_unwind()
    .await;
    for (name, _, _) in &tables {
        client.delete_table().table_name(name).send().await?;
    }
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
