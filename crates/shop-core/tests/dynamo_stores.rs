//! The DynamoDB stores against a real DynamoDB API (LocalStack or DynamoDB Local).
//!
//! Needs LocalStack, so it is `#[ignore]`d in the unit-test run; `make integration-test`
//! runs it with `--ignored` and the SDK environment of `infra/local/env.sh`. It creates two tables with unique names and deletes them afterwards.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use shop_core::auth::session::{Session, SessionToken};
use shop_core::auth::{DynamoSessionStore, SessionStore};
use shop_core::cart::{Cart, CartMerge, CartMove, CartStore, DynamoCartStore, Quantity};
use shop_core::catalog::{Currency, Money, Product, Sku};
use shop_core::catalog::{DynamoProductStore, ProductStore};
use shop_core::store::StoreError;

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn create_table(client: &Client, name: &str, key: &str) -> TestResult {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

fn product(sku: &str, price: i64, stock: u32) -> Result<Product, Box<dyn std::error::Error>> {
    Ok(Product {
        sku: Sku::parse(sku)?,
        name: format!("Product {sku}"),
        description: String::new(),
        price: Money::new(price, Currency::EUR),
        stock,
    })
}

#[tokio::test]
#[ignore = "needs LocalStack: `make integration-test` runs it"]
async fn dynamodb_stores_behave_like_the_in_memory_ones() -> TestResult {
    let config = lambda_kit::aws::sdk_config().await;
    let client = Client::new(&config);
    let suffix = SessionToken::generate()?.id().as_str()[..10].to_owned();
    let (products_table, sessions_table) = (
        format!("store-test-products-{suffix}"),
        format!("store-test-sessions-{suffix}"),
    );
    create_table(&client, &products_table, "sku").await?;
    create_table(&client, &sessions_table, "pk").await?;
    let result = exercise(&client, &products_table, &sessions_table).await;
    for table in [&products_table, &sessions_table] {
        let _ = client.delete_table().table_name(table).send().await;
    }
    result
}

async fn exercise(client: &Client, products_table: &str, sessions_table: &str) -> TestResult {
    let products = DynamoProductStore::new(client.clone(), products_table);
    for i in 0..25 {
        products
            .put(&product(&format!("P-{i:02}"), 100 + i, 5)?)
            .await?;
    }
    assert_eq!(
        products.get(&Sku::parse("P-03")?).await?,
        Some(product("P-03", 103, 5)?)
    );
    assert_eq!(products.get(&Sku::parse("NOPE")?).await?, None);

    // Paging visits every product once.
    let mut seen = Vec::new();
    let mut start: Option<Sku> = None;
    loop {
        let page = products.list(10, start.as_ref()).await?;
        seen.extend(page.items.into_iter().map(|p| p.sku));
        match page.last_evaluated {
            Some(last) => start = Some(last),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);

    let wanted = vec![
        Sku::parse("P-01")?,
        Sku::parse("P-24")?,
        Sku::parse("NOPE")?,
    ];
    let found = products.batch_get(&wanted).await?;
    assert_eq!(found.len(), 2);

    // Sessions: create once, read back, refresh.
    let sessions = DynamoSessionStore::new(client.clone(), sessions_table);
    let carts = DynamoCartStore::new(client.clone(), sessions_table);
    let token = SessionToken::generate()?;
    let session = Session::new_anonymous(&token, 1_000, 60).limited_to(10_000);
    sessions.create_session(&session).await?;
    assert!(matches!(
        sessions.create_session(&session).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(
        sessions.get_session(&session.id).await?,
        Some(session.clone())
    );
    let expiry = async || {
        sessions
            .get_session(&session.id)
            .await
            .ok()
            .flatten()
            .map(|s| s.expires_at)
    };
    sessions.touch_session(&session.id, 5_000, 1_030).await?;
    assert_eq!(expiry().await, Some(5_000));
    // Never past the absolute end (created 1_000 + 10_000)...
    sessions.touch_session(&session.id, 20_000, 4_000).await?;
    assert_eq!(expiry().await, Some(11_000));
    // ... and an expired session is not revived by a late write.
    sessions.touch_session(&session.id, 13_000, 12_000).await?;
    assert_eq!(expiry().await, Some(11_000));
    let ghost = SessionToken::generate()?.id();
    sessions.touch_session(&ghost, 5_000, 1_030).await?;
    assert_eq!(sessions.get_session(&ghost).await?, None, "no stub item");

    // Carts: version-conditional writes.
    let mut cart = carts.get_cart(&session.id, 1_000).await?;
    assert_eq!(cart, Cart::default());
    cart.set_line(Sku::parse("P-01")?, Quantity::new(2)?)?;
    carts.put_cart(&session.id, &cart, 1_000, 2_000).await?;
    assert!(matches!(
        carts.put_cart(&session.id, &cart, 1_000, 2_000).await,
        Err(StoreError::VersionConflict { expected: 0 })
    ));
    let stored = carts.get_cart(&session.id, 1_000).await?;
    assert_eq!((stored.version, stored.lines.len()), (1, 1));
    carts.put_cart(&session.id, &stored, 1_001, 2_000).await?;
    assert!(matches!(
        carts.put_cart(&session.id, &stored, 1_001, 2_000).await,
        Err(StoreError::VersionConflict { expected: 1 })
    ));
    // Past its expiry the cart reads empty but keeps its version.
    let expired = carts.get_cart(&session.id, 2_000).await?;
    assert_eq!((expired.version, expired.lines.len()), (2, 0));
    carts.delete_cart(&session.id).await?;
    carts.delete_cart(&session.id).await?;
    assert_eq!(carts.get_cart(&session.id, 1_000).await?, Cart::default());
    // Moving a cart (login merge): target written and source deleted in one transaction; a
    // second move of the same source (a parallel login) changes nothing.
    let mut source = carts.get_cart(&session.id, 1_000).await?;
    source.set_line(Sku::parse("P-01")?, Quantity::new(2)?)?;
    carts.put_cart(&session.id, &source, 1_000, 2_000).await?;
    let source = carts.get_cart(&session.id, 1_000).await?;
    let target = SessionToken::generate()?.id();
    let mut merged = carts.get_cart(&target, 1_000).await?;
    merged.merge_from(&source);
    assert_eq!(
        carts
            .move_cart(&CartMerge {
                source: &session.id,
                source_version: source.version,
                target: &target,
                merged: &merged,
                now: 1_000,
                expires_at: 2_000,
            })
            .await?,
        CartMove::Moved
    );
    assert_eq!(
        carts
            .move_cart(&CartMerge {
                source: &session.id,
                source_version: source.version,
                target: &target,
                merged: &merged,
                now: 1_000,
                expires_at: 2_000,
            })
            .await?,
        CartMove::SourceChanged,
        "the source is gone: nothing is merged twice"
    );
    let stored = carts.get_cart(&target, 1_000).await?;
    assert_eq!(stored.version, 1);
    assert_eq!(
        stored.lines.get(&Sku::parse("P-01")?).map(|q| q.get()),
        Some(2)
    );
    assert_eq!(carts.get_cart(&session.id, 1_000).await?, Cart::default());
    let mut other = carts.get_cart(&session.id, 1_000).await?;
    other.set_line(Sku::parse("P-02")?, Quantity::new(1)?)?;
    carts.put_cart(&session.id, &other, 1_000, 2_000).await?;
    let other = carts.get_cart(&session.id, 1_000).await?;
    assert_eq!(
        carts
            .move_cart(&CartMerge {
                source: &session.id,
                source_version: other.version,
                target: &target,
                merged: &merged,
                now: 1_000,
                expires_at: 2_000,
            })
            .await?,
        CartMove::TargetChanged,
        "a stale target version writes nothing"
    );
    assert_eq!(carts.get_cart(&session.id, 1_000).await?.lines.len(), 1);
    Ok(())
}
