//! Locking the in-memory state of fakes and caches.
//!
//! | item | what it gives |
//! | --- | --- |
//! | [`lock`] | a [`Mutex`]'s guard, whether or not the mutex is poisoned |
//!
//! A mutex is poisoned when a thread panicked while holding it. The state behind the mutexes
//! locked here (an in-memory store, a recording fake, a test's buffer) is a set of plain
//! values that every writer leaves whole between statements, so a panic — typically a
//! failed assertion in one test thread, or one record's panic contained by a batch
//! processor — leaves nothing half-written worth refusing. Treating poison as fatal would
//! only cascade that one panic into every other test or record that touches the same fake.
//! Code whose invariants can break mid-update must not use this helper.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, taking the guard even when another thread panicked while holding it (see
/// the module docs for why that is sound here).
///
/// ```
/// use std::sync::Mutex;
///
/// use lambda_kit::sync::lock;
///
/// let seen = Mutex::new(Vec::new());
/// // A thread that panics while holding the lock poisons it…
/// let _ = std::thread::scope(|s| {
///     s.spawn(|| {
///         let _guard = lock(&seen);
///         panic!("a failing test");
///     })
///     .join()
/// });
/// assert!(seen.is_poisoned());
/// // …and the others still get the state.
/// lock(&seen).push("still usable");
/// assert_eq!(*lock(&seen), ["still usable"]);
/// ```
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_poisoned_mutex_still_locks_with_its_state() {
        let counter = Arc::new(Mutex::new(1));
        let poisoner = Arc::clone(&counter);
        let joined = std::thread::spawn(move || {
            let mut guard = lock(&poisoner);
            *guard += 1;
            panic!("poison it");
        })
        .join();
        assert!(joined.is_err());
        assert!(counter.is_poisoned());
        *lock(&counter) += 1;
        assert_eq!(*lock(&counter), 3);
    }
}
