//! Fresh values a test owns ([`unique_sku`], [`unique_skus`], [`unique_email`], [`unique_id`],
//! [`unique_key`], [`random_token`], [`now_epoch_seconds`]) and the product fixture
//! ([`Stack::create_product`]).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::Stack;

/// A fresh, valid, unique sku for a test fixture (e.g. `T-1A2B3C4D-0`).
pub fn unique_sku(n: usize) -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("random bytes");
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!("T-{hex}-{n}")
}

/// `n` fresh skus of one family (`T-1A2B3C4D-1` …), which sort in the order given: the
/// workflow prices and reserves lines in sku order.
pub fn unique_skus(n: usize) -> Vec<String> {
    let first = unique_sku(1);
    let family = first.trim_end_matches("-1");
    (1..=n).map(|i| format!("{family}-{i}")).collect()
}

/// A fresh e-mail for a test account.
pub fn unique_email(tag: &str) -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random bytes");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{tag}-{hex}@test.local")
}

/// A fresh random id (UUID-shaped) for events and correlation ids.
pub fn unique_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("random bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A fresh Idempotency-Key.
pub fn unique_key() -> String {
    format!("k-{}", unique_id())
}

/// A well-formed session token (32 random bytes, base64url) that the API never issued.
pub fn random_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("random bytes");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now_epoch_seconds() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(now.as_secs()).expect("seconds fit in i64")
}

/// Now, in epoch milliseconds (CloudWatch Logs times, the orders' `updated_at`).
pub fn now_epoch_millis() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(now.as_millis()).expect("milliseconds fit in i64")
}

impl Stack {
    /// Puts a product straight into the products table, so a test owns its fixtures.
    pub async fn create_product(&self, sku: &str, price_minor: i64, stock: u32) {
        self.dynamodb()
            .put_item()
            .table_name(self.output("ProductsTableName"))
            .item("sku", AttributeValue::S(sku.to_owned()))
            .item("name", AttributeValue::S(format!("Test product {sku}")))
            .item(
                "description",
                AttributeValue::S("Integration test fixture".into()),
            )
            .item("price_minor", AttributeValue::N(price_minor.to_string()))
            .item("currency", AttributeValue::S("EUR".into()))
            .item("stock", AttributeValue::N(stock.to_string()))
            // Units ever stocked: the invariant checker's baseline (stock + held + shipped).
            .item("stocked_total", AttributeValue::N(stock.to_string()))
            .send()
            .await
            .expect("put a test product");
    }
}
