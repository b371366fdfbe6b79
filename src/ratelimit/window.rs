//! Fixed one-minute windows per key, aligned to the wall-clock minute, in a map whose size
//! is capped: whatever arrives, the limiter holds at most `capacity` keys.

use std::collections::HashMap;
use std::sync::Mutex;

const WINDOW_SECS: u64 = 60;
/// Keys held at most by default: a few MiB whatever keys arrive.
pub const DEFAULT_CAPACITY: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_secs: u64,
}

pub struct Windows {
    capacity: usize,
    counts: Mutex<HashMap<Box<str>, (u64, u32)>>,
}

impl Default for Windows {
    fn default() -> Self {
        Windows::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Windows {
    pub fn with_capacity(capacity: usize) -> Self {
        Windows {
            capacity: capacity.max(8),
            counts: Mutex::default(),
        }
    }

    /// Counts one request against `key` at `now_unix` and says whether it may proceed.
    /// A rejected request does not consume the budget.
    pub fn check(&self, key: &str, limit: u32, now_unix: u64) -> Decision {
        self.update(key, limit, now_unix, |count| {
            let allowed = *count < limit;
            if allowed {
                *count += 1;
            }
            allowed
        })
    }

    /// Counts one event against `key` whatever the count; `allowed` is false once the
    /// count is over `limit` (the event that reaches the limit is still allowed).
    pub fn hit(&self, key: &str, limit: u32, now_unix: u64) -> Decision {
        self.update(key, limit, now_unix, |count| {
            *count = count.saturating_add(1);
            *count <= limit
        })
    }

    /// Whether `key` has used up `limit` in the current window, without counting.
    pub fn is_spent(&self, key: &str, limit: u32, now_unix: u64) -> bool {
        let window = now_unix / WINDOW_SECS;
        let Ok(counts) = self.counts.lock() else { return false };
        counts.get(key).is_some_and(|(w, n)| *w == window && *n >= limit)
    }

    fn update(&self, key: &str, limit: u32, now_unix: u64, count: impl FnOnce(&mut u32) -> bool) -> Decision {
        let window = now_unix / WINDOW_SECS;
        let reset_secs = WINDOW_SECS - now_unix % WINDOW_SECS;
        let Ok(mut counts) = self.counts.lock() else {
            // A poisoned lock must not take the API down: let the request through.
            return Decision {
                allowed: true,
                limit,
                remaining: limit,
                reset_secs,
            };
        };
        if !counts.contains_key(key) && counts.len() >= self.capacity {
            make_room(&mut counts, window, self.capacity);
        }
        let entry = counts.entry(key.into()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        let allowed = count(&mut entry.1);
        Decision {
            allowed,
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset_secs,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.counts.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// Drops past windows; when the current minute alone fills the map, drops an arbitrary
/// eighth of it (hash order), so the cost of eviction is spread over many inserts. An
/// evicted key starts afresh: a flood of new keys can cost a few keys their count, never
/// the process its memory.
fn make_room(counts: &mut HashMap<Box<str>, (u64, u32)>, window: u64, capacity: usize) {
    counts.retain(|_, (w, _)| *w == window);
    let target = capacity - capacity / 8;
    if counts.len() > target {
        let excess = counts.len() - target;
        let victims: Vec<Box<str>> = counts.keys().take(excess).cloned().collect();
        for key in victims {
            counts.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_up_to_the_limit_then_rejects_until_the_next_minute() {
        let windows = Windows::default();
        let start = 1_000_040; // 20 s into a minute
        for n in 1..=3 {
            let d = windows.check("k", 3, start);
            assert!(d.allowed);
            assert_eq!(d.remaining, 3 - n);
            assert_eq!(d.reset_secs, 40);
        }
        let over = windows.check("k", 3, start + 5);
        assert!(!over.allowed);
        assert_eq!(over.remaining, 0);
        assert_eq!(over.reset_secs, 35);
        // Another key has its own budget.
        assert!(windows.check("other", 3, start).allowed);
        // The next minute starts afresh.
        let next = windows.check("k", 3, start + 40);
        assert!(next.allowed);
        assert_eq!(next.remaining, 2);
        assert_eq!(next.reset_secs, 60);
    }

    #[test]
    fn hits_count_past_the_limit_and_spent_peeks() {
        let windows = Windows::default();
        let now = 1_000_000;
        assert!(!windows.is_spent("f", 2, now));
        assert!(windows.hit("f", 2, now).allowed);
        assert!(windows.hit("f", 2, now).allowed);
        assert!(windows.is_spent("f", 2, now));
        assert!(!windows.hit("f", 2, now).allowed);
        assert!(!windows.is_spent("f", 2, now + 60), "a new minute");
    }

    #[test]
    fn the_map_never_holds_more_than_its_capacity() {
        let windows = Windows::with_capacity(1000);
        let now = 1_000_000;
        for n in 0..50_000 {
            windows.hit(&format!("junk-{n}"), 5, now);
            assert!(windows.len() <= 1000);
        }
        // Keys that keep coming are counted as before.
        for _ in 0..5 {
            windows.hit("steady", 5, now);
        }
        assert!(windows.is_spent("steady", 5, now));
    }
}
