//! Waiting for eventual consistency: [`eventually`]. (Orders and the ledger have their own
//! waits, [`Stack::wait_for_order`](crate::Stack::wait_for_order) and
//! [`Stack::wait_for_ledger`](crate::Stack::wait_for_ledger).)

/// Polls `check` every 100 ms (an event reaches its consumer in ~0.4 s locally: `make bench`) until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
