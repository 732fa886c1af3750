use super::*;
use crate::orders::IdempotencyKey;

fn order(key: &str) -> OrderId {
    OrderId::derive("u-res", &IdempotencyKey::parse(key).unwrap())
}

#[tokio::test]
async fn a_release_gives_the_units_back_once() {
    let store = InMemoryReservations::default();
    let (mine, other) = (order("res-1"), order("res-2"));
    store.set_stock("MUG", 8);
    store.hold("MUG", &mine, 2);
    store.hold("MUG", &other, 1);
    assert!(store.release("MUG", &mine, 2).await.unwrap());
    assert!(
        !store.release("MUG", &mine, 2).await.unwrap(),
        "a second release finds nothing held"
    );
    assert!(!store.release("TEE", &mine, 1).await.unwrap());
    assert_eq!(store.stock("MUG"), 10);
    assert_eq!(store.held("MUG", &mine), None);
    assert_eq!(store.held("MUG", &other), Some(1));
}

#[tokio::test]
async fn a_consume_keeps_the_stock_down_and_is_idempotent() {
    let store = InMemoryReservations::default();
    let (mine, other) = (order("res-3"), order("res-4"));
    store.set_stock("MUG", 8);
    store.hold("MUG", &mine, 2);
    store.hold("TEE", &other, 1);
    store.consume("MUG", &mine).await.unwrap();
    store.consume("MUG", &mine).await.unwrap();
    assert_eq!(store.stock("MUG"), 8);
    assert!(store.holders("MUG").is_empty());
    assert_eq!(
        store.all().await.unwrap(),
        vec![Reservation {
            sku: "TEE".into(),
            order_id: other,
            quantity: 1
        }]
    );
}
