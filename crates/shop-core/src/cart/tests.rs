//! Cart rules and pricing, and the cart store's conditions on the in-memory store (the
//! DynamoDB store's are exercised by the LocalStack integration tests); cart-api's settings.

use super::*;
use crate::auth::session::SessionToken;

const START: i64 = 1_800_000_000;
const TTL: i64 = 3_600;

fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap()
}

fn qty(n: i64) -> Quantity {
    Quantity::new(n).unwrap()
}

fn product(s: &str, price: i64, currency: Currency) -> Product {
    Product {
        sku: sku(s),
        name: format!("Product {s}"),
        description: String::new(),
        price: Money::new(price, currency),
        stock: 10,
    }
}

#[test]
fn merging_adds_quantities_capped_at_99() {
    let mut user = Cart::default();
    user.set_line(sku("A"), qty(2)).unwrap();
    user.set_line(sku("B"), qty(90)).unwrap();
    let mut anonymous = Cart::default();
    anonymous.set_line(sku("A"), qty(3)).unwrap();
    anonymous.set_line(sku("B"), qty(20)).unwrap();
    anonymous.set_line(sku("C"), qty(1)).unwrap();
    assert!(user.merge_from(&anonymous));
    assert_eq!(user.lines.get(&sku("A")), Some(&qty(5)));
    assert_eq!(user.lines.get(&sku("B")), Some(&qty(99)));
    assert_eq!(user.lines.get(&sku("C")), Some(&qty(1)));
    assert!(
        !user.merge_from(&Cart::default()),
        "an empty cart changes nothing"
    );
}

#[test]
fn quantity_range_is_1_to_99() {
    assert!(Quantity::new(0).is_err());
    assert!(Quantity::new(-1).is_err());
    assert!(Quantity::new(100).is_err());
    assert!(Quantity::new(256 + 5).is_err(), "no wrap-around through u8");
    assert_eq!(Quantity::new(1).map(Quantity::get), Ok(1));
    assert_eq!(Quantity::new(99).map(Quantity::get), Ok(99));
}

#[test]
fn line_limit_applies_to_new_lines_only() {
    let mut cart = Cart::default();
    for i in 0..MAX_CART_LINES {
        cart.set_line(sku(&format!("SKU-{i}")), qty(1)).unwrap();
    }
    assert_eq!(
        cart.set_line(sku("ONE-TOO-MANY"), qty(1)),
        Err(CartError::TooManyLines {
            max: MAX_CART_LINES
        })
    );
    assert!(
        cart.set_line(sku("SKU-0"), qty(5)).is_ok(),
        "changing an existing line is fine"
    );
    assert!(cart.remove_line(&sku("SKU-0")));
    assert!(!cart.remove_line(&sku("SKU-0")));
}

#[test]
fn prices_lines_at_catalog_prices() {
    let mut cart = Cart {
        version: 7,
        ..Cart::default()
    };
    cart.set_line(sku("A"), qty(2)).unwrap();
    cart.set_line(sku("B"), qty(3)).unwrap();
    cart.set_line(sku("GONE"), qty(1)).unwrap();
    let products: HashMap<Sku, Product> = [
        product("A", 1299, Currency::EUR),
        product("B", 100, Currency::EUR),
    ]
    .into_iter()
    .map(|p| (p.sku.clone(), p))
    .collect();
    let priced = cart.price(&products);
    let Ok(priced) = priced else {
        panic!("{priced:?}")
    };
    assert_eq!(priced.total, Money::new(2 * 1299 + 300, Currency::EUR));
    assert_eq!(priced.item_count, 5);
    assert_eq!(priced.version, 7);
    assert_eq!(priced.items.len(), 2);
    assert_eq!(priced.items[0].line_total, Money::new(2598, Currency::EUR));
    assert_eq!(priced.unavailable, vec![sku("GONE")]);
}

#[test]
fn empty_cart_totals_zero_eur() {
    let priced = Cart::default().price(&HashMap::new());
    assert!(
        matches!(priced, Ok(p) if p.total == Money::zero(Currency::EUR) && p.items.is_empty() && p.item_count == 0)
    );
}

#[test]
fn mixed_currencies_are_an_error() {
    let usd = Currency::parse("USD").unwrap_or(Currency::EUR);
    let mut cart = Cart::default();
    cart.set_line(sku("A"), qty(1)).unwrap();
    cart.set_line(sku("B"), qty(1)).unwrap();
    let products: HashMap<Sku, Product> = [product("A", 1, Currency::EUR), product("B", 1, usd)]
        .into_iter()
        .map(|p| (p.sku.clone(), p))
        .collect();
    assert!(matches!(
        cart.price(&products),
        Err(PricingError::Money(MoneyError::CurrencyMismatch { .. }))
    ));
}

#[test]
fn priced_cart_json_shape() {
    let mut cart = Cart {
        version: 1,
        ..Cart::default()
    };
    cart.set_line(sku("A"), qty(2)).unwrap();
    let products: HashMap<Sku, Product> = [(sku("A"), product("A", 500, Currency::EUR))]
        .into_iter()
        .collect();
    let json = cart
        .price(&products)
        .ok()
        .and_then(|p| serde_json::to_value(p).ok());
    assert_eq!(
        json,
        Some(serde_json::json!({
            "items": [{"sku": "A", "name": "Product A", "quantity": 2,
                       "unitPrice": {"amount": 500, "currency": "EUR"},
                       "lineTotal": {"amount": 1000, "currency": "EUR"}}],
            "total": {"amount": 1000, "currency": "EUR"},
            "itemCount": 2,
            "version": 1
        }))
    );
}

#[tokio::test]
async fn a_moved_cart_cannot_be_moved_again() -> Result<(), Box<dyn std::error::Error>> {
    let store = InMemoryCartStore::default();
    let source_id = SessionToken::generate()?.id();
    let target_id = SessionToken::generate()?.id();
    let mut source = Cart::default();
    source.set_line(sku("MUG"), Quantity::new(2)?)?;
    store
        .put_cart(&source_id, &source, START, START + TTL)
        .await?;
    let source = store.get_cart(&source_id, START).await?;
    let mut merged = store.get_cart(&target_id, START).await?;
    merged.merge_from(&source);

    let first = store
        .move_cart(&CartMerge {
            source: &source_id,
            source_version: source.version,
            target: &target_id,
            merged: &merged,
            now: START,
            expires_at: START + TTL,
        })
        .await?;
    let second = store
        .move_cart(&CartMerge {
            source: &source_id,
            source_version: source.version,
            target: &target_id,
            merged: &merged,
            now: START,
            expires_at: START + TTL,
        })
        .await?;
    assert_eq!((first, second), (CartMove::Moved, CartMove::SourceChanged));
    let target = store.get_cart(&target_id, START).await?;
    assert_eq!(target.lines.get(&sku("MUG")).map(|q| q.get()), Some(2));
    assert_eq!(store.get_cart(&source_id, START).await?, Cart::default());
    Ok(())
}

const ENV: &[(&str, &str)] = &[
    ("PRODUCTS_TABLE", "products"),
    ("SESSIONS_TABLE", "sessions"),
    ("USERS_TABLE", "users"),
];

#[test]
fn settings_read_every_variable_with_defaults() {
    use crate::test_support::{settings_from, with_var};
    assert_eq!(
        settings_from(ENV),
        Ok(CartApiSettings {
            products_table: "products".to_owned(),
            sessions_table: "sessions".to_owned(),
            session_ttl_seconds: crate::config::DEFAULT_SESSION_TTL_SECONDS,
            session_max_age_seconds: crate::config::DEFAULT_SESSION_MAX_AGE_SECONDS,
            users_table: "users".to_owned(),
            price_cache: std::time::Duration::from_secs(super::DEFAULT_PRICE_CACHE_SECONDS),
        })
    );
    let settings: Result<CartApiSettings, _> =
        settings_from(&with_var(ENV, "SESSION_TTL_SECONDS", "600"));
    assert_eq!(settings.map(|s| s.session_ttl_seconds), Ok(600));
    let settings: Result<CartApiSettings, _> =
        settings_from(&with_var(ENV, "PRICE_CACHE_SECONDS", "0"));
    assert_eq!(
        settings.map(|s| s.price_cache),
        Ok(std::time::Duration::ZERO)
    );
}

#[test]
fn settings_name_the_missing_or_invalid_variable() {
    use crate::test_support::{assert_each_required, assert_invalid};
    assert_each_required::<CartApiSettings>(
        ENV,
        &["PRODUCTS_TABLE", "SESSIONS_TABLE", "USERS_TABLE"],
    );
    assert_invalid::<CartApiSettings>(ENV, "SESSION_TTL_SECONDS", "0");
    assert_invalid::<CartApiSettings>(ENV, "SESSION_TTL_SECONDS", "1d");
    assert_invalid::<CartApiSettings>(ENV, "PRICE_CACHE_SECONDS", "301");
    assert_invalid::<CartApiSettings>(ENV, "PRICE_CACHE_SECONDS", "-1");
}
