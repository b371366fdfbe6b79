//! API tokens: `tsr_` + 32 random bytes, stored only as SHA-256, shown once.

use crate::auth::TenantScope;
use crate::store::sql::{Db, Row, params};
use serde::Serialize;

use super::principal::Principal;
use super::scopes::{Scope, ScopeSet};
use crate::store::{OptionalRow, StoreError};
use crate::vault::{Secret, hash_token, random_token};

pub const TOKEN_PREFIX: &str = "tsr_";

#[derive(Debug, Clone, Serialize)]
pub struct TokenRecord {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub name: String,
    /// The first characters of the token, to recognise it without revealing it.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub active: bool,
    /// Whether the token works now: `active`, `expired`, `revoked` or `inactive`.
    pub status: TokenStatus,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

const COLUMNS: &str =
    "id, tenant_id, name, prefix, scopes, active, created_by, created_at, expires_at, revoked_at, last_used_at";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
    Inactive,
}

impl TokenRecord {
    /// Judges the status against `now` (the service's clock); rows are read with the
    /// system clock's.
    pub fn at(mut self, now: time::OffsetDateTime) -> Self {
        self.status = TokenStatus::of(self.active, self.expires_at.as_deref(), self.revoked_at.as_deref(), now);
        self
    }
}

impl TokenStatus {
    /// The most lasting reason wins: a revoked token never works again, and an expired
    /// one not even when it is re-activated.
    fn of(active: bool, expires_at: Option<&str>, revoked_at: Option<&str>, now: time::OffsetDateTime) -> Self {
        if revoked_at.is_some() {
            TokenStatus::Revoked
        } else if expires_at
            .and_then(crate::time::parse_rfc3339)
            .is_some_and(|at| at <= now)
        {
            TokenStatus::Expired
        } else if !active {
            TokenStatus::Inactive
        } else {
            TokenStatus::Active
        }
    }
}

fn from_row(row: &Row<'_>) -> Result<TokenRecord, StoreError> {
    let scopes: String = row.get(4)?;
    let active: bool = row.get(5)?;
    let expires_at: Option<String> = row.get(8)?;
    let revoked_at: Option<String> = row.get(9)?;
    Ok(TokenRecord {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        name: row.get(2)?,
        prefix: row.get(3)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        active,
        status: TokenStatus::of(active, expires_at.as_deref(), revoked_at.as_deref(), crate::time::now()),
        created_by: row.get(6)?,
        created_at: row.get(7)?,
        expires_at,
        revoked_at,
        last_used_at: row.get(10)?,
    })
}

pub struct NewToken<'a> {
    pub tenant_id: Option<&'a str>,
    pub name: &'a str,
    pub scopes: &'a ScopeSet,
    pub expires_at: Option<&'a str>,
    pub created_by: &'a str,
}

/// Inserts a token and returns its record and the plaintext, which is never stored.
pub fn insert_token(conn: &Db<'_>, new: &NewToken<'_>) -> Result<(TokenRecord, Secret), StoreError> {
    let plaintext = random_token(TOKEN_PREFIX);
    let id = crate::ids::new_id();
    let prefix: String = plaintext.expose().chars().take(TOKEN_PREFIX.len() + 6).collect();
    let scopes: Vec<Scope> = new.scopes.iter().copied().collect();
    let scopes_json = serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into());
    let now = crate::time::now_rfc3339();
    conn.execute(
        "INSERT INTO api_tokens (id, tenant_id, name, token_hash, prefix, scopes, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            new.tenant_id,
            new.name,
            hash_token(plaintext.expose()),
            prefix,
            scopes_json,
            new.created_by,
            now,
            new.expires_at
        ],
    )?;
    // Read back by the id this insert just made; no request-supplied tenant is involved.
    let record = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM api_tokens WHERE id = ?1"),
            params![id],
            from_row,
        )
        .optional_row()?
        .ok_or(StoreError::NoRows)?;
    Ok((record, plaintext))
}

/// A token of the scope's tenant by id.
pub fn find_token(conn: &Db<'_>, scope: &TenantScope, id: &str) -> Result<Option<TokenRecord>, StoreError> {
    let tenant_id = scope.id();
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM api_tokens WHERE id = ?1 AND tenant_id = ?2"),
        params![id, tenant_id],
        from_row,
    )
    .optional_row()
}

pub fn list_tokens(
    conn: &Db<'_>,
    scope: &TenantScope,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<TokenRecord>, StoreError> {
    let tenant_id = scope.id();
    let rows = conn.query(
        &format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE tenant_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
        ),
        params![tenant_id, after, limit + 1],
        from_row,
    )?;
    Ok(rows)
}

pub fn update_token(
    conn: &Db<'_>,
    scope: &TenantScope,
    id: &str,
    name: Option<&str>,
    active: Option<bool>,
) -> Result<bool, StoreError> {
    let tenant_id = scope.id();
    let n = conn.execute(
        "UPDATE api_tokens SET name = COALESCE(?3, name), active = COALESCE(?4, active)
         WHERE id = ?1 AND tenant_id = ?2 AND revoked_at IS NULL",
        params![id, tenant_id, name, active],
    )?;
    Ok(n > 0)
}

pub fn revoke_token(conn: &Db<'_>, scope: &TenantScope, id: &str) -> Result<bool, StoreError> {
    let tenant_id = scope.id();
    let n = conn.execute(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?3), active = 0 WHERE id = ?1 AND tenant_id = ?2",
        params![id, tenant_id, crate::time::now_rfc3339()],
    )?;
    Ok(n > 0)
}

/// Why a presented token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Unknown,
    Revoked,
    Inactive,
    Expired,
}

/// Looks a presented bearer token up by its hash and checks it is usable now.
/// A token that was accepted, and until when.
pub struct Accepted {
    pub principal: Principal,
    pub expires_at: Option<time::OffsetDateTime>,
}

pub fn authenticate(
    conn: &Db<'_>,
    presented: &str,
    now: time::OffsetDateTime,
) -> Result<Result<Accepted, Rejection>, StoreError> {
    if !presented.starts_with(TOKEN_PREFIX) {
        return Ok(Err(Rejection::Unknown));
    }
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM api_tokens WHERE token_hash = ?1"),
            [hash_token(presented)],
            from_row,
        )
        .optional_row()?;
    let Some(token) = row else {
        return Ok(Err(Rejection::Unknown));
    };
    if token.revoked_at.is_some() {
        return Ok(Err(Rejection::Revoked));
    }
    if !token.active {
        return Ok(Err(Rejection::Inactive));
    }
    let expires_at = token.expires_at.as_deref().and_then(crate::time::parse_rfc3339);
    if expires_at.is_some_and(|at| at <= now) {
        return Ok(Err(Rejection::Expired));
    }
    Ok(Ok(Accepted {
        principal: Principal {
            actor: format!("token:{}", token.id),
            token_id: Some(token.id),
            tenant_id: token.tenant_id,
            scopes: token.scopes.into_iter().collect(),
            expires_at,
        },
        expires_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Clock;

    #[test]
    fn a_token_expires_when_the_clock_passes_its_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db")).unwrap();
        let clock = Clock::manual(crate::time::parse_rfc3339("2030-01-01T00:00:00Z").unwrap());
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        let (_, plaintext) = insert_token(
            &conn,
            &NewToken {
                tenant_id: None,
                name: "short-lived",
                scopes: &ScopeSet::new(),
                expires_at: Some("2030-01-01T00:01:00Z"),
                created_by: "test",
            },
        )
        .unwrap();
        let accepted = authenticate(&conn, plaintext.expose(), clock.now()).unwrap();
        assert!(accepted.is_ok_and(|a| a.expires_at.is_some()));
        clock.advance(std::time::Duration::from_secs(60));
        let refused = authenticate(&conn, plaintext.expose(), clock.now()).unwrap();
        assert_eq!(refused.err(), Some(Rejection::Expired));
    }

    #[test]
    fn a_tenant_scope_reaches_only_its_own_tenants_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db")).unwrap();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        for id in ["ta", "tb"] {
            conn.execute(
                "INSERT INTO tenants (id, slug, name, tier, created_at, updated_at) VALUES (?1, ?1, ?1, 'free', 'x', 'x')",
                [id],
            )
            .unwrap();
        }
        let no_scopes = ScopeSet::new();
        let new = |tenant_id| NewToken {
            tenant_id: Some(tenant_id),
            name: "ci",
            scopes: &no_scopes,
            expires_at: None,
            created_by: "test",
        };
        let (of_a, _) = insert_token(&conn, &new("ta")).unwrap();
        let platform = crate::auth::PlatformScope::for_server_work();
        let (a, b) = (platform.narrow_to("ta"), platform.narrow_to("tb"));
        assert!(find_token(&conn, &a, &of_a.id).unwrap().is_some());
        assert!(find_token(&conn, &b, &of_a.id).unwrap().is_none());
        assert!(list_tokens(&conn, &b, None, 10).unwrap().is_empty());
        assert!(!update_token(&conn, &b, &of_a.id, Some("taken"), None).unwrap());
        assert!(!revoke_token(&conn, &b, &of_a.id).unwrap());
        assert_eq!(
            find_token(&conn, &a, &of_a.id).unwrap().map(|t| t.name),
            Some("ci".to_string())
        );
    }

    #[test]
    fn status_names_the_most_lasting_reason() {
        let now = crate::time::parse_rfc3339("2026-06-01T12:00:00Z").expect("a valid time");
        let past = Some("2026-06-01T12:00:00Z");
        let future = Some("2026-06-01T12:00:01Z");
        assert_eq!(TokenStatus::of(true, None, None, now), TokenStatus::Active);
        assert_eq!(TokenStatus::of(true, future, None, now), TokenStatus::Active);
        assert_eq!(TokenStatus::of(true, past, None, now), TokenStatus::Expired);
        assert_eq!(TokenStatus::of(false, future, None, now), TokenStatus::Inactive);
        assert_eq!(TokenStatus::of(false, past, None, now), TokenStatus::Expired);
        assert_eq!(
            TokenStatus::of(false, past, Some("2026-01-01T00:00:00Z"), now),
            TokenStatus::Revoked
        );
    }
}
