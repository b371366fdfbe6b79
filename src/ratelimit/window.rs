//! Fixed one-minute windows per key, aligned to the wall-clock minute.

use std::collections::HashMap;
use std::sync::Mutex;

const WINDOW_SECS: u64 = 60;
/// Above this many keys, windows from past minutes are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_secs: u64,
}

#[derive(Default)]
pub struct Windows {
    counts: Mutex<HashMap<String, (u64, u32)>>,
}

impl Windows {
    /// Counts one request against `key` at `now_unix` and says whether it may proceed.
    /// A rejected request does not consume the budget.
    pub fn check(&self, key: &str, limit: u32, now_unix: u64) -> Decision {
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
        if counts.len() > PRUNE_ABOVE {
            counts.retain(|_, (w, _)| *w == window);
        }
        let entry = counts.entry(key.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        let allowed = entry.1 < limit;
        if allowed {
            entry.1 += 1;
        }
        Decision {
            allowed,
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset_secs,
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
}
