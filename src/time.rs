//! Timestamps: RFC 3339 UTC strings in the database and the API.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Current time as RFC 3339 with second precision, e.g. `2026-11-24T03:02:12Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(now())
}

pub fn format_rfc3339(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

pub fn parse_rfc3339(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339).ok()
}
