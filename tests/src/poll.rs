//! Waiting for eventual consistency: [`eventually`], and the [`Backoff`] between its polls
//! (also [`Stack::wait_for_order`](crate::Stack::wait_for_order)'s). (The ledger has its own
//! wait, [`Stack::wait_for_ledger`](crate::Stack::wait_for_ledger).)

/// The pause between two polls: first 100 ms (an event reaches its consumer in ~0.1 s locally:
/// `make bench`; approvals and the cancel window need a quick reaction), then 1.5 times longer
/// each time, at most a second. Every poll is work for the one LocalStack the tests share
/// (many are API Gateway + Lambda calls): a flat 100 ms made the soak's 16 order waits alone
/// ~100 API calls a second, on the cores that run the workflows being waited for.
#[derive(Debug)]
pub struct Backoff {
    pause: std::time::Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            pause: std::time::Duration::from_millis(100),
        }
    }
}

impl Backoff {
    /// Sleeps the current pause, then lengthens the next one.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 3 / 2).min(std::time::Duration::from_secs(1));
    }
}

/// Polls `check`, with a [`Backoff`] between polls, until it returns `Some`, or panics with
/// `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    let mut backoff = Backoff::default();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        backoff.wait().await;
    }
}
