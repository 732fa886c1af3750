//! When a batch must stop working on its records, so that the function can still answer.
//!
//! If the invocation times out, Lambda reports nothing for the batch: **every** record comes
//! back (even those processed), each with one more receive, and a slow minute under throttling
//! sends whole batches to the DLQ. So the processors stop short of the invocation's deadline:
//!
//! | instant | what happens |
//! | --- | --- |
//! | [`BatchDeadline::records_stop`] | a record not started yet is held back; a handler still running is abandoned (its idempotency claim released) and its record reported failed |
//! | [`BatchDeadline::hard_stop`] | anything still waiting (a claim, a release) is dropped and its record reported failed |
//! | the invocation's deadline | the batch response has been sent |
//!
//! The reserve before the deadline is a fifth of the time left, between 500 ms and 2 s: 1 s
//! of a 5 s consumer, 2 s of a 30 s one. A held-back or abandoned record is redelivered after
//! the visibility timeout like any failed one.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Least time kept back for answering.
const MIN_RESERVE: Duration = Duration::from_millis(500);
/// Most time kept back for answering.
const MAX_RESERVE: Duration = Duration::from_secs(2);

/// The stop instants of one batch (or none: no deadline, as in unit tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchDeadline {
    records_stop: Option<Instant>,
    hard_stop: Option<Instant>,
}

impl BatchDeadline {
    /// No deadline: every record runs to its end.
    pub const NONE: Self = Self {
        records_stop: None,
        hard_stop: None,
    };

    /// The stops of an invocation that must answer by `deadline` (the Lambda context's
    /// deadline), seen at `now`. A deadline already past, or absurdly far (over 15 minutes,
    /// Lambda's maximum), is treated as none rather than failing every record.
    pub fn for_invocation(deadline: SystemTime, now: SystemTime) -> Self {
        match deadline.duration_since(now) {
            Ok(left) if !left.is_zero() && left <= Duration::from_secs(15 * 60) => {
                Self::within(left)
            }
            _ => Self::NONE,
        }
    }

    /// The stops of a batch that has `left` from now.
    pub fn within(left: Duration) -> Self {
        let reserve = (left / 5).clamp(MIN_RESERVE, MAX_RESERVE).min(left);
        let now = Instant::now();
        Self {
            records_stop: Some(now + left.saturating_sub(reserve)),
            hard_stop: Some(now + left.saturating_sub(reserve / 2)),
        }
    }

    /// When records stop being started and running handlers are abandoned.
    pub fn records_stop(&self) -> Option<Instant> {
        self.records_stop
    }

    /// When anything still waiting is dropped.
    pub fn hard_stop(&self) -> Option<Instant> {
        self.hard_stop
    }

    /// Whether no new record should start.
    pub fn records_stopped(&self) -> bool {
        self.records_stop.is_some_and(|stop| Instant::now() >= stop)
    }
}

/// Runs `future` until `stop` (forever without one); `None` when it was cut off.
pub(super) async fn until<F: Future>(stop: Option<Instant>, future: F) -> Option<F::Output> {
    match stop {
        Some(stop) => tokio::time::timeout_at(stop, future).await.ok(),
        None => Some(future.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_a_fifth_between_half_a_second_and_two() {
        let cases = [
            (Duration::from_secs(5), Duration::from_secs(1)),
            (Duration::from_secs(1), Duration::from_millis(500)),
            (Duration::from_secs(60), Duration::from_secs(2)),
            (Duration::from_millis(300), Duration::from_millis(300)),
        ];
        for (left, reserve) in cases {
            let before = Instant::now();
            let deadline = BatchDeadline::within(left);
            let records = deadline.records_stop().unwrap_or(before) - before;
            let expected = left - reserve;
            assert!(
                records >= expected && records <= expected + Duration::from_millis(50),
                "{left:?}: records stop after {records:?}, expected {expected:?}"
            );
            assert!(deadline.hard_stop() >= deadline.records_stop());
        }
    }

    #[test]
    fn past_or_absurd_deadlines_are_none() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            BatchDeadline::for_invocation(now - Duration::from_secs(1), now),
            BatchDeadline::NONE
        );
        assert_eq!(
            BatchDeadline::for_invocation(now + Duration::from_secs(3600), now),
            BatchDeadline::NONE
        );
        assert!(
            BatchDeadline::for_invocation(now + Duration::from_secs(5), now)
                .records_stop()
                .is_some()
        );
        assert!(!BatchDeadline::NONE.records_stopped());
    }

    #[tokio::test]
    async fn until_cuts_off_at_the_stop() {
        let stop = Some(Instant::now() + Duration::from_millis(20));
        assert_eq!(until(stop, async { 7 }).await, Some(7));
        let slow = tokio::time::sleep(Duration::from_secs(5));
        assert_eq!(until(stop, slow).await, None);
        assert_eq!(until(None, async { 8 }).await, Some(8));
    }
}
