//! A small cache of values that may be a few seconds stale, kept for the life of one
//! execution environment.
//!
//! | item | what |
//! | --- | --- |
//! | [`TtlCache`] | key → value, each entry good for a fixed time, at most `capacity` entries |
//!
//! A warm Lambda execution environment serves one request at a time for minutes; reference
//! data it reads on every request (prices, settings) can be kept between requests to save a
//! round trip, as long as the reader accepts that it is up to the TTL old. Entries expire on
//! read; when the cache is full, expired entries are dropped first and, if that frees
//! nothing, the whole cache is cleared (a rare, cheap reset rather than an eviction policy).
//!
//! Why not `moka`, the ecosystem's cache: for a map of tens to thousands of entries read by one
//! request at a time, its concurrent admission and eviction machinery would add eight crates
//! to every function's build and a few hundred KB to its binary for a timestamp compare.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::lock;

/// Key → value, each entry good for `ttl` after it was inserted.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
    ttl: Duration,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// A cache whose entries live `ttl` (zero: nothing is ever returned) and which holds at
    /// most `capacity` entries.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity,
        }
    }

    /// Whether the cache can ever return anything.
    pub fn is_enabled(&self) -> bool {
        !self.ttl.is_zero() && self.capacity > 0
    }

    /// The fresh value of `key`, if any.
    pub fn get(&self, key: &K) -> Option<V> {
        let now = Instant::now();
        let mut entries = lock(&self.entries);
        match entries.get(key) {
            Some((expires, value)) if *expires > now => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` for `key` for the cache's TTL.
    pub fn insert(&self, key: K, value: V) {
        if !self.is_enabled() {
            return;
        }
        let now = Instant::now();
        let mut entries = lock(&self.entries);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (now + self.ttl, value));
    }

    /// Drops `key` (the caller knows its value changed).
    pub fn remove(&self, key: &K) {
        lock(&self.entries).remove(key);
    }

    /// Entries held, fresh or not (tests and metrics).
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_the_ttl() {
        let cache = TtlCache::new(Duration::from_secs(30), 10);
        cache.insert("a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(cache.get(&"a"), Some(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(cache.get(&"a"), None);
        assert!(cache.is_empty(), "an expired entry is dropped on read");
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_cache_drops_expired_entries_then_everything() {
        let cache = TtlCache::new(Duration::from_secs(10), 2);
        cache.insert(1, "one");
        tokio::time::advance(Duration::from_secs(11)).await;
        cache.insert(2, "two");
        cache.insert(3, "three");
        assert_eq!(cache.len(), 2, "the expired entry made room");
        assert_eq!((cache.get(&2), cache.get(&3)), (Some("two"), Some("three")));
        cache.insert(4, "four");
        assert_eq!(
            cache.len(),
            1,
            "nothing had expired: cleared, then inserted"
        );
        assert_eq!(cache.get(&4), Some("four"));
        cache.insert(4, "FOUR");
        assert_eq!(cache.get(&4), Some("FOUR"));
        cache.remove(&4);
        assert_eq!(cache.get(&4), None);
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = TtlCache::new(Duration::ZERO, 10);
        assert!(!cache.is_enabled());
        cache.insert("a", 1);
        assert_eq!(cache.get(&"a"), None);
    }
}
