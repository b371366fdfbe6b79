//! SQL for signups and their sources; every query takes the tenant id first.

use crate::auth::TenantScope;
use crate::store::sql::{Db, Row, params};

use super::{Signup, Source};
use crate::store::{OptionalRow, StoreError};

/// A person as read from a provider's payload.
#[derive(Debug, Clone, Default)]
pub struct Contact {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Where a contact came from.
#[derive(Debug, Clone)]
pub struct SourceRef {
    pub provider: String,
    /// The provider's purchase / order / booking id (or the event id when there is none).
    pub reference: String,
    /// The inbound event (or import) that brought it.
    pub event_id: Option<String>,
    pub event_name: Option<String>,
}

pub struct Upsert {
    pub signup_id: String,
    pub created: bool,
    pub new_source: bool,
}

/// Adds the contact to the pending queue (one row per email per tenant) and records the
/// source. Idempotent: a replay adds nothing twice.
pub fn upsert_from_source(
    conn: &Db<'_>,
    scope: &TenantScope,
    contact: &Contact,
    source: &SourceRef,
) -> Result<Upsert, StoreError> {
    let tenant_id = scope.id();
    let now = crate::time::now_rfc3339();
    let existing: Option<String> = conn
        .query_row(
            "SELECT id FROM signups WHERE tenant_id = ?1 AND email = ?2",
            params![tenant_id, contact.email],
            |r| r.get(0),
        )
        .optional_row()?;
    let (signup_id, created) = match existing {
        Some(id) => {
            // Fill in names we did not know yet; never overwrite what is there.
            conn.execute(
                "UPDATE signups SET first_name = COALESCE(first_name, ?3), last_name = COALESCE(last_name, ?4), updated_at = ?5
                 WHERE tenant_id = ?1 AND id = ?2",
                params![tenant_id, id, contact.first_name, contact.last_name, now],
            )?;
            (id, false)
        }
        None => {
            let id = crate::ids::new_id();
            conn.execute(
                "INSERT INTO signups (id, tenant_id, email, first_name, last_name, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
                params![id, tenant_id, contact.email, contact.first_name, contact.last_name, now],
            )?;
            (id, true)
        }
    };
    let added = conn.execute(
        "INSERT INTO signup_sources (id, tenant_id, signup_id, provider, reference, event_id, event_name, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8, ?8)
         ON CONFLICT DO NOTHING",
        params![
            crate::ids::new_id(),
            tenant_id,
            signup_id,
            source.provider,
            source.reference,
            source.event_id,
            source.event_name,
            now
        ],
    )?;
    Ok(Upsert {
        signup_id,
        created,
        new_source: added > 0,
    })
}

/// Marks every source with this provider reference (refunded, attended, ...). Returns how
/// many there were.
pub fn mark_sources(
    conn: &Db<'_>,
    scope: &TenantScope,
    provider: &str,
    reference: &str,
    status: &str,
) -> Result<usize, StoreError> {
    let tenant_id = scope.id();
    conn.execute(
        "UPDATE signup_sources SET status = ?4, updated_at = ?5 WHERE tenant_id = ?1 AND provider = ?2 AND reference = ?3",
        params![tenant_id, provider, reference, status, crate::time::now_rfc3339()],
    )
}

/// The status of the signup with this (normalised) email, if there is one.
pub fn status_by_email(conn: &Db<'_>, scope: &TenantScope, email: &str) -> Result<Option<String>, StoreError> {
    let tenant_id = scope.id();
    conn.query_row(
        "SELECT status FROM signups WHERE tenant_id = ?1 AND email = ?2",
        params![tenant_id, email],
        |r| r.get(0),
    )
    .optional_row()
}

/// The signup an inbound event (or import) brought, if any.
pub fn signup_for_event(conn: &Db<'_>, scope: &TenantScope, event_id: &str) -> Result<Option<String>, StoreError> {
    let tenant_id = scope.id();
    conn.query_row(
        "SELECT signup_id FROM signup_sources WHERE tenant_id = ?1 AND event_id = ?2 ORDER BY created_at LIMIT 1",
        params![tenant_id, event_id],
        |r| r.get(0),
    )
    .optional_row()
}

fn signup_row(row: &Row<'_>) -> Result<Signup, StoreError> {
    Ok(Signup {
        id: row.get(0)?,
        email: row.get(1)?,
        first_name: row.get(2)?,
        last_name: row.get(3)?,
        status: row.get(4)?,
        sources: Vec::new(),
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        invited_at: row.get(7)?,
    })
}

const COLUMNS: &str = "id, email, first_name, last_name, status, created_at, updated_at, invited_at";

fn sources_of(conn: &Db<'_>, tenant_id: &str, signup_id: &str) -> Result<Vec<Source>, StoreError> {
    let rows = conn.query(
        "SELECT provider, event_id, event_name, reference, status, created_at FROM signup_sources
         WHERE tenant_id = ?1 AND signup_id = ?2 ORDER BY created_at, id",
        params![tenant_id, signup_id],
        |r| {
            Ok(Source {
                provider: r.get(0)?,
                event_id: r.get(1)?,
                event_name: r.get(2)?,
                reference: r.get(3)?,
                status: r.get(4)?,
                created_at: r.get(5)?,
            })
        },
    )?;
    Ok(rows)
}

pub fn find(conn: &Db<'_>, scope: &TenantScope, id: &str) -> Result<Option<Signup>, StoreError> {
    let tenant_id = scope.id();
    let signup = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM signups WHERE tenant_id = ?1 AND id = ?2"),
            params![tenant_id, id],
            signup_row,
        )
        .optional_row()?;
    match signup {
        Some(mut s) => {
            s.sources = sources_of(conn, tenant_id, &s.id)?;
            Ok(Some(s))
        }
        None => Ok(None),
    }
}

#[derive(Debug, Default, Clone)]
pub struct SignupFilter {
    pub status: Option<String>,
    pub provider: Option<String>,
    pub email: Option<String>,
    pub before: Option<String>,
}

/// Newest first.
pub fn list(conn: &Db<'_>, scope: &TenantScope, filter: &SignupFilter, limit: u32) -> Result<Vec<Signup>, StoreError> {
    let tenant_id = scope.id();
    let mut rows = conn.query(
        &format!(
            "SELECT {COLUMNS} FROM signups s WHERE tenant_id = ?1 AND (?2 IS NULL OR status = ?2)
         AND (?3 IS NULL OR email LIKE '%' || ?3 || '%')
         AND (?4 IS NULL OR EXISTS (SELECT 1 FROM signup_sources x WHERE x.signup_id = s.id AND x.provider = ?4))
         AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6"
        ),
        params![
            tenant_id,
            filter.status,
            filter.email,
            filter.provider,
            filter.before,
            limit + 1
        ],
        signup_row,
    )?;
    for signup in &mut rows {
        signup.sources = sources_of(conn, tenant_id, &signup.id)?;
    }
    Ok(rows)
}

pub fn set_status(conn: &Db<'_>, scope: &TenantScope, id: &str, status: &str) -> Result<bool, StoreError> {
    let tenant_id = scope.id();
    let now = crate::time::now_rfc3339();
    Ok(conn.execute(
        "UPDATE signups SET status = ?3, updated_at = ?4,
                invited_at = CASE WHEN ?3 = 'invited' THEN ?4 ELSE invited_at END
         WHERE tenant_id = ?1 AND id = ?2",
        params![tenant_id, id, status, now],
    )? > 0)
}
