//! When to try a failed delivery again.

use std::time::Duration;

use rand::Rng;

use super::endpoints::RetryPolicy;

/// Default delays after attempts 1, 2, ...: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_SCHEDULE_SECS: &[u64] = &[5, 300, 1800, 7200, 18000, 36000, 36000];
/// The longest `Retry-After` a receiver may ask for; longer asks are capped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The retry delays in force (from `TESSERA_RETRY_SCHEDULE` or the default).
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter: bool,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            delays: DEFAULT_SCHEDULE_SECS.iter().map(|s| Duration::from_secs(*s)).collect(),
            jitter: true,
        }
    }
}

impl RetrySchedule {
    /// The delays after attempts 1, 2, ... (the `retry_schedule` setting). An empty list
    /// means "never retry".
    pub fn new(delays: Vec<Duration>) -> RetrySchedule {
        RetrySchedule { delays, jitter: true }
    }

    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    pub fn len(&self) -> usize {
        self.delays.len()
    }

    pub fn is_empty(&self) -> bool {
        self.delays.is_empty()
    }

    /// The delay after attempt number `attempts` (1-based) failed, or `None` when the
    /// delivery is exhausted. `linear` spreads the same number of retries evenly over the
    /// same total span; `none` never retries.
    pub fn delay_after(&self, policy: RetryPolicy, attempts: u32) -> Option<Duration> {
        let index = attempts.checked_sub(1)? as usize;
        let base = match policy {
            RetryPolicy::None => return None,
            RetryPolicy::Exponential => *self.delays.get(index)?,
            RetryPolicy::Linear => {
                if index >= self.delays.len() {
                    return None;
                }
                self.delays.iter().sum::<Duration>() / self.delays.len() as u32
            }
        };
        Some(self.jittered(base))
    }

    /// ±20 % so that a burst of failures does not come back as one burst.
    fn jittered(&self, base: Duration) -> Duration {
        if !self.jitter || base.is_zero() {
            return base;
        }
        let factor = rand::thread_rng().gen_range(0.8..=1.2);
        base.mul_f64(factor)
    }
}

/// Parses a `Retry-After` value in seconds (HTTP dates are read as "no hint").
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_with_jitter_bounds() {
        let s = RetrySchedule::default();
        for (i, secs) in DEFAULT_SCHEDULE_SECS.iter().enumerate() {
            let d = s
                .delay_after(RetryPolicy::Exponential, i as u32 + 1)
                .unwrap()
                .as_secs_f64();
            let base = *secs as f64;
            assert!(d >= base * 0.8 - 1e-9 && d <= base * 1.2 + 1e-9, "{i}: {d}");
        }
        assert_eq!(s.delay_after(RetryPolicy::Exponential, 8), None);
        assert_eq!(s.delay_after(RetryPolicy::None, 1), None);
    }

    #[test]
    fn overrides_and_linear() {
        let s = RetrySchedule::new([1, 2, 3].map(Duration::from_secs).to_vec()).without_jitter();
        assert_eq!(s.delay_after(RetryPolicy::Exponential, 2), Some(Duration::from_secs(2)));
        assert_eq!(s.delay_after(RetryPolicy::Linear, 1), Some(Duration::from_secs(2)));
        assert_eq!(s.delay_after(RetryPolicy::Linear, 3), Some(Duration::from_secs(2)));
        assert_eq!(s.delay_after(RetryPolicy::Linear, 4), None);
        assert!(RetrySchedule::new(Vec::new()).is_empty());
    }

    #[test]
    fn retry_after_is_bounded() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
