//! Waiting for eventual consistency: [`eventually`]. (Orders and the ledger have their own
//! waits, [`Stack::wait_for_order`](crate::Stack::wait_for_order) and
//! [`Stack::wait_for_ledger`](crate::Stack::wait_for_ledger).)

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`: first after
/// 100 ms (an event reaches its consumer in ~0.1 s locally: `make bench`), then 1.5 times
/// later each time, at most every second. Every poll is work for the one LocalStack the tests
/// share (many are API Gateway + Lambda calls): a flat 100 ms made the soak's 16 order waits
/// alone ~100 API calls a second, on the cores that run the workflows being waited for.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(std::time::Duration::from_secs(1));
    }
}
