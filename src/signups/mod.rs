//! Signups: the tenant's queue of people who bought, booked or registered somewhere,
//! one row per email, with the sources they came from.

pub mod repo;
pub mod routes;

use serde::Serialize;

pub use repo::{Contact, SourceRef, Upsert, find, list, mark_sources, set_status, upsert_from_source};

#[derive(Debug, Clone, Serialize)]
pub struct Signup {
    pub id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub status: String,
    pub sources: Vec<Source>,
    pub created_at: String,
    pub updated_at: String,
    pub invited_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub provider: String,
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    pub reference: String,
    pub status: String,
    pub created_at: String,
}

pub const STATUSES: &[&str] = &["pending", "approved", "rejected", "invited"];

/// A plausible email address, normalised (trimmed, lower-case), or `None`.
pub fn normalise_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == ';' || c == '<' || c == '>');
    ok.then_some(email)
}

#[cfg(test)]
mod tests {
    use super::normalise_email;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(normalise_email(" Ana@Example.COM ").as_deref(), Some("ana@example.com"));
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "a b@x.com",
            "a@x",
            "a@.com",
            "a@x.com,b@y.com",
        ] {
            assert_eq!(normalise_email(bad), None, "{bad}");
        }
    }
}
