//! Time: one clock for the whole process, and the two forms time is stored in — RFC 3339
//! UTC strings (second precision) and unix milliseconds (scheduling columns).
//!
//! Code where expiry matters (token and session lifetimes, job scheduling) reads the time
//! from a [`Clock`] it was given, so a test can hold a [`Clock::manual`] and move it
//! forward instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The current time from the system clock.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Current time as RFC 3339 with second precision, e.g. `2026-11-24T03:02:12Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(now())
}

/// Milliseconds since the Unix epoch from the system clock.
pub fn now_ms() -> i64 {
    to_ms(now())
}

pub fn format_rfc3339(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

pub fn parse_rfc3339(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339).ok()
}

/// Unix milliseconds of `at`.
pub fn to_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The instant `ms` unix milliseconds name (the epoch for values out of range).
pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 for a unix-milliseconds value.
pub fn ms_to_rfc3339(ms: i64) -> String {
    format_rfc3339(from_ms(ms))
}

/// Unix milliseconds for an RFC 3339 string, if it is one.
pub fn rfc3339_to_ms(value: &str) -> Option<i64> {
    parse_rfc3339(value).map(to_ms)
}

/// Where a service reads the time. Cheap to clone; clones share a manual clock's hands.
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: a manual clock at these unix nanoseconds.
    manual: Option<Arc<AtomicI64>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::system"),
            Some(_) => write!(f, "Clock::manual({})", format_rfc3339(self.now())),
        }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that stands at `at` until [`Clock::advance`] or [`Clock::set`] moves it.
    pub fn manual(at: OffsetDateTime) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(nanos(at)))),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        match &self.manual {
            None => now(),
            Some(at) => OffsetDateTime::from_unix_timestamp_nanos(at.load(Ordering::SeqCst).into())
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        }
    }

    pub fn now_ms(&self) -> i64 {
        to_ms(self.now())
    }

    pub fn now_rfc3339(&self) -> String {
        format_rfc3339(self.now())
    }

    /// Moves a manual clock forward (the system clock cannot be moved: a no-op there).
    pub fn advance(&self, by: std::time::Duration) {
        if let Some(at) = &self.manual {
            at.fetch_add(i64::try_from(by.as_nanos()).unwrap_or(i64::MAX), Ordering::SeqCst);
        }
    }

    /// Sets a manual clock to `at` (a no-op on the system clock).
    pub fn set(&self, to: OffsetDateTime) {
        if let Some(at) = &self.manual {
            at.store(nanos(to), Ordering::SeqCst);
        }
    }
}

fn nanos(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_and_rfc3339_round_trip() {
        let at = parse_rfc3339("2026-11-24T03:02:12Z").unwrap();
        let ms = to_ms(at);
        assert_eq!(ms, 1_795_489_332_000);
        assert_eq!(ms_to_rfc3339(ms), "2026-11-24T03:02:12Z");
        assert_eq!(rfc3339_to_ms("2026-11-24T03:02:12Z"), Some(ms));
        assert_eq!(rfc3339_to_ms("yesterday"), None);
        assert_eq!(ms_to_rfc3339(ms + 999), "2026-11-24T03:02:12Z", "second precision");
    }

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let start = parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
        let clock = Clock::manual(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        shared.advance(std::time::Duration::from_millis(1500));
        assert_eq!(clock.now_ms(), to_ms(start) + 1500);
        clock.set(start);
        assert_eq!(shared.now_rfc3339(), "2030-01-01T00:00:00Z");
        let system = Clock::system();
        system.advance(std::time::Duration::from_secs(3600));
        assert!((system.now() - now()).abs() < time::Duration::minutes(1));
    }
}
