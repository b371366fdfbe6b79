//! Signups: the tenant's queue of people who bought, booked or registered somewhere,
//! one row per email, with the sources they came from.

pub mod repo;
pub mod routes;

use crate::auth::TenantScope;
use serde::Serialize;

use crate::audit::AuditEntry;
use crate::jobs::Queue;
use crate::store::{Store, StoreError};

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

/// A tenant's signup queue: status changes and the invitations they send. Cheap to clone.
#[derive(Clone)]
pub struct Signups {
    store: Store,
    /// Invitations are emailed by a job.
    jobs: Queue,
}

/// What a status change did.
pub enum StatusChange {
    /// No such signup for this tenant.
    Missing,
    /// The signup as it is now, and the invitation job when one was queued.
    Done(Box<Signup>, Option<String>),
}

impl Signups {
    pub fn new(store: Store, jobs: Queue) -> Signups {
        Signups { store, jobs }
    }

    /// Sets a signup's status, audited; `invited` also queues the invitation email when
    /// the tenant has a Resend connection.
    pub async fn set_status(
        &self,
        scope: &TenantScope,
        id: &str,
        status: &'static str,
        entry: AuditEntry,
    ) -> Result<StatusChange, StoreError> {
        let (scope, id, jobs) = (scope.clone(), id.to_owned(), self.jobs.clone());
        let change = self
            .store
            .write_async(move |tx| -> Result<StatusChange, StoreError> {
                if !repo::set_status(tx, &scope, &id, status)? {
                    return Ok(StatusChange::Missing);
                }
                let job = if status == "invited" {
                    crate::inbound::outside::queue_invite(tx, &jobs, &scope, &id)?
                } else {
                    None
                };
                crate::audit::record(tx, &entry)?;
                let signup = repo::find(tx, &scope, &id)?.ok_or(StoreError::Task("signup vanished".into()))?;
                Ok(StatusChange::Done(Box::new(signup), job))
            })
            .await?;
        if let StatusChange::Done(_, Some(_)) = &change {
            self.jobs.wake();
        }
        Ok(change)
    }
}

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
