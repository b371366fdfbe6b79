//! Sign-in attempt limits: failures per account and per client IP in a sliding window.
//! In memory: a restart forgives, which is fine for throttling password guessing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures are allowed, and over what window (from the config).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub window: Duration,
    pub max_per_account: usize,
    pub max_per_ip: usize,
}

impl Limits {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Limits {
            window: config.login_window,
            max_per_account: config.login_max_failures.max(1),
            max_per_ip: config.login_max_failures_per_ip.max(1),
        }
    }
}

#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// What a failure is counted against.
pub struct AttemptKeys {
    pub account: String,
    pub ip: Option<String>,
}

impl AttemptKeys {
    fn with_limits(&self, limits: &Limits) -> Vec<(String, usize)> {
        let mut keys = vec![(format!("account:{}", self.account), limits.max_per_account)];
        if let Some(ip) = &self.ip {
            keys.push((format!("ip:{ip}"), limits.max_per_ip));
        }
        keys
    }
}

impl LoginLimiter {
    /// `Err(seconds)` when the account or the IP has used up its failures; checked
    /// before the password so a locked-out guesser learns nothing.
    pub fn check(&self, limits: &Limits, keys: &AttemptKeys, now: Instant) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = 0u64;
        for (key, max) in keys.with_limits(limits) {
            if let Some(times) = map.get_mut(&key) {
                prune(times, now, limits.window);
                if times.len() >= max
                    && let Some(oldest) = times.front()
                {
                    let until = (*oldest + limits.window).saturating_duration_since(now);
                    wait = wait.max(until.as_secs().max(1));
                }
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    pub fn record_failure(&self, limits: &Limits, keys: &AttemptKeys, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, times| {
                prune(times, now, limits.window);
                !times.is_empty()
            });
        }
        for (key, _) in keys.with_limits(limits) {
            map.entry(key).or_default().push_back(now);
        }
    }

    /// A successful sign-in forgives the account's earlier failures (not the IP's).
    pub fn record_success(&self, keys: &AttemptKeys) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("account:{}", keys.account));
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_per_account: usize, max_per_ip: usize) -> Limits {
        Limits {
            window: Duration::from_secs(60),
            max_per_account,
            max_per_ip,
        }
    }

    fn keys(account: &str, ip: &str) -> AttemptKeys {
        AttemptKeys {
            account: account.into(),
            ip: Some(ip.into()),
        }
    }

    #[test]
    fn locks_an_account_after_its_failures_until_the_window_passes() {
        let limiter = LoginLimiter::default();
        let l = limits(3, 100);
        let t0 = Instant::now();
        let k = keys("ada@example.com", "10.0.0.1");
        for _ in 0..3 {
            assert!(limiter.check(&l, &k, t0).is_ok());
            limiter.record_failure(&l, &k, t0);
        }
        let wait = limiter.check(&l, &k, t0 + Duration::from_secs(10)).expect_err("locked");
        assert_eq!(wait, 50);
        // Another IP is still locked out of this account.
        assert!(limiter.check(&l, &keys("ada@example.com", "10.0.0.2"), t0).is_err());
        // Another account from the same IP is not.
        assert!(limiter.check(&l, &keys("bob@example.com", "10.0.0.1"), t0).is_ok());
        assert!(limiter.check(&l, &k, t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn limits_one_ip_across_accounts() {
        let limiter = LoginLimiter::default();
        let l = limits(100, 2);
        let t0 = Instant::now();
        limiter.record_failure(&l, &keys("a@example.com", "10.0.0.9"), t0);
        limiter.record_failure(&l, &keys("b@example.com", "10.0.0.9"), t0);
        assert!(limiter.check(&l, &keys("c@example.com", "10.0.0.9"), t0).is_err());
        assert!(limiter.check(&l, &keys("c@example.com", "10.0.0.8"), t0).is_ok());
    }

    #[test]
    fn success_forgives_the_account() {
        let limiter = LoginLimiter::default();
        let l = limits(1, 100);
        let t0 = Instant::now();
        let k = keys("a@example.com", "10.0.0.1");
        limiter.record_failure(&l, &k, t0);
        assert!(limiter.check(&l, &k, t0).is_err());
        limiter.record_success(&k);
        assert!(limiter.check(&l, &k, t0).is_ok());
    }
}
