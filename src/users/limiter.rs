//! Sign-in attempt limits: failures per account and per client address in a sliding
//! window, and a way around both for the browsers a person already signed in with.
//!
//! Per-address and per-account limits stop guessing, but either can be turned against
//! the innocent: guesses at one account lock its owner out, and behind a proxy every
//! user shares an address. So a successful sign-in hands the browser a device cookie
//! (OWASP's "device cookies"); a sign-in presenting a device cookie of the account it
//! names is limited only by that device's own failures. In memory: a restart forgives,
//! which is fine for throttling password guessing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::vault::{Secret, hash_token, random_token};

/// The cookie carrying a device token (`tsd_` + random), sent only to `/api/v1/session`.
pub const DEVICE_COOKIE: &str = "tessera_device";
/// How long a device is remembered after its last successful sign-in.
pub const DEVICE_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Devices remembered at most; the least recently used goes first.
const MAX_DEVICES: usize = 10_000;

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

struct Device {
    account: String,
    failures: VecDeque<Instant>,
    last_success: Instant,
}

#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// By SHA-256 of the device token.
    devices: Mutex<HashMap<String, Device>>,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter").finish_non_exhaustive()
    }
}

/// What a failure is counted against.
pub struct AttemptKeys {
    pub account: String,
    pub ip: Option<String>,
    /// The device cookie presented with the attempt, if any.
    pub device: Option<String>,
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

fn wait_until_free(times: &mut VecDeque<Instant>, max: usize, now: Instant, window: Duration) -> u64 {
    prune(times, now, window);
    match times.front() {
        Some(oldest) if times.len() >= max => (*oldest + window).saturating_duration_since(now).as_secs().max(1),
        _ => 0,
    }
}

impl LoginLimiter {
    /// The hash of the presented device token when it is a live device of this account.
    fn known_device(&self, keys: &AttemptKeys, now: Instant) -> Option<String> {
        let hash = hash_token(keys.device.as_deref()?);
        let devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        let device = devices.get(&hash)?;
        (device.account == keys.account && now.saturating_duration_since(device.last_success) < DEVICE_LIFETIME)
            .then_some(hash)
    }

    /// `Err(seconds)` when the attempt's budget is used up; checked before the password
    /// so a locked-out guesser learns nothing.
    pub fn check(&self, limits: &Limits, keys: &AttemptKeys, now: Instant) -> Result<(), u64> {
        if let Some(hash) = self.known_device(keys, now) {
            let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
            let wait = devices.get_mut(&hash).map_or(0, |d| {
                wait_until_free(&mut d.failures, limits.max_per_account, now, limits.window)
            });
            return if wait > 0 { Err(wait) } else { Ok(()) };
        }
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = 0u64;
        for (key, max) in keys.with_limits(limits) {
            if let Some(times) = map.get_mut(&key) {
                wait = wait.max(wait_until_free(times, max, now, limits.window));
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    pub fn record_failure(&self, limits: &Limits, keys: &AttemptKeys, now: Instant) {
        if let Some(hash) = self.known_device(keys, now) {
            let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(device) = devices.get_mut(&hash) {
                device.failures.push_back(now);
            }
            return;
        }
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

    /// A successful sign-in forgives the account's earlier failures (not the IP's) and
    /// gives the browser a new device token (the one it presented, if any, is retired).
    pub fn record_success(&self, keys: &AttemptKeys, now: Instant) -> Secret {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("account:{}", keys.account));
        drop(map);
        let token = random_token("tsd_");
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = keys.device.as_deref() {
            devices.remove(&hash_token(old));
        }
        if devices.len() >= MAX_DEVICES {
            devices.retain(|_, d| now.saturating_duration_since(d.last_success) < DEVICE_LIFETIME);
        }
        if devices.len() >= MAX_DEVICES
            && let Some(oldest) = devices
                .iter()
                .min_by_key(|(_, d)| d.last_success)
                .map(|(k, _)| k.clone())
        {
            devices.remove(&oldest);
        }
        devices.insert(
            hash_token(token.expose()),
            Device {
                account: keys.account.clone(),
                failures: VecDeque::new(),
                last_success: now,
            },
        );
        token
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
            device: None,
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
        limiter.record_success(&k, t0);
        assert!(limiter.check(&l, &k, t0).is_ok());
    }

    #[test]
    fn a_known_device_is_limited_on_its_own() {
        let limiter = LoginLimiter::default();
        let l = limits(2, 2);
        let t0 = Instant::now();
        let plain = keys("a@example.com", "10.0.0.1");
        let device = limiter.record_success(&plain, t0);
        // Others lock the account and the shared address.
        for _ in 0..3 {
            limiter.record_failure(&l, &keys("a@example.com", "10.0.0.1"), t0);
        }
        assert!(limiter.check(&l, &plain, t0).is_err());
        let with_device = AttemptKeys {
            device: Some(device.expose().to_owned()),
            ..keys("a@example.com", "10.0.0.1")
        };
        assert!(limiter.check(&l, &with_device, t0).is_ok());
        // The device's own failures count, and it opens no other account.
        limiter.record_failure(&l, &with_device, t0);
        limiter.record_failure(&l, &with_device, t0);
        assert!(limiter.check(&l, &with_device, t0).is_err());
        let elsewhere = AttemptKeys {
            account: "b@example.com".into(),
            ..with_device
        };
        for _ in 0..2 {
            limiter.record_failure(&l, &keys("b@example.com", "10.0.0.9"), t0);
        }
        assert!(limiter.check(&l, &elsewhere, t0).is_err());
        // A device expires.
        let fresh = limiter.record_success(&plain, t0);
        let later = AttemptKeys {
            device: Some(fresh.expose().to_owned()),
            ..keys("a@example.com", "10.0.0.1")
        };
        assert!(limiter.known_device(&later, t0).is_some());
        assert!(limiter.known_device(&later, t0 + DEVICE_LIFETIME).is_none());
    }
}
