//! Tokens tessera holds for a connection, sealed per connection in `oauth_tokens`.

use crate::auth::TenantScope;
use crate::store::sql::{Db, params};
use time::{Duration, OffsetDateTime};

use super::OAuthError;
use crate::store::OptionalRow;
use crate::time::{format_rfc3339, parse_rfc3339};
use crate::vault::{KeyScope, Location, Secret, Vault};

/// Without `expires_in` a token is treated as non-expiring, but checked this often.
pub const RECHECK_NON_EXPIRING: Duration = Duration::days(1);

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub connection_id: String,
    pub tenant_id: String,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub token_type: String,
    pub scopes: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub obtained_at: OffsetDateTime,
    pub check_after: Option<OffsetDateTime>,
    pub failures: i64,
    pub retry_at: Option<OffsetDateTime>,
}

impl TokenRow {
    /// Whether the access token is still good at `now + margin`.
    pub fn fresh_for(&self, now: OffsetDateTime, margin: std::time::Duration) -> bool {
        match self.expires_at {
            Some(at) => at - now > margin,
            None => true,
        }
    }

    pub fn usable_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// What a token endpoint answered, ready to store.
#[derive(Debug)]
pub struct NewTokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub token_type: String,
    pub scopes: Option<String>,
    pub expires_in: Option<std::time::Duration>,
}

fn location<'a>(scope: &'a KeyScope, connection_id: &'a str, field: &'a str) -> Location<'a> {
    Location {
        scope,
        table: "oauth_tokens",
        row_id: connection_id,
        field,
    }
}

pub fn load(
    conn: &Db<'_>,
    vault: &Vault,
    tenant_id: &str,
    connection_id: &str,
) -> Result<Option<TokenRow>, OAuthError> {
    type Raw = (
        Vec<u8>,
        Option<Vec<u8>>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        Option<String>,
        String,
    );
    let raw: Option<Raw> = conn
        .query_row(
            "SELECT access_token, refresh_token, token_type, scopes, expires_at, check_after, failures, retry_at,
                    obtained_at
             FROM oauth_tokens WHERE connection_id = ?1 AND tenant_id = ?2",
            params![connection_id, tenant_id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )
        .optional_row()?;
    let Some((access, refresh, token_type, scopes, expires_at, check_after, failures, retry_at, obtained_at)) = raw
    else {
        return Ok(None);
    };
    let scope = KeyScope::Tenant(tenant_id.to_owned());
    let access_token = vault.open_string(conn, &location(&scope, connection_id, "access_token"), &access)?;
    let refresh_token = match refresh {
        Some(blob) => Some(vault.open_string(conn, &location(&scope, connection_id, "refresh_token"), &blob)?),
        None => None,
    };
    Ok(Some(TokenRow {
        connection_id: connection_id.to_owned(),
        tenant_id: tenant_id.to_owned(),
        access_token,
        refresh_token,
        token_type,
        scopes,
        expires_at: expires_at.as_deref().and_then(parse_rfc3339),
        obtained_at: parse_rfc3339(&obtained_at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        check_after: check_after.as_deref().and_then(parse_rfc3339),
        failures,
        retry_at: retry_at.as_deref().and_then(parse_rfc3339),
    }))
}

/// Stores freshly obtained tokens (replacing the old ones) and mirrors the expiry onto the
/// connection. A response without a new refresh token keeps the stored one (RFC 6749
/// §6: rotation is the server's choice). Call inside the transaction that also records
/// the connection's new status, so a rotated refresh token is committed before use.
pub fn save(
    conn: &Db<'_>,
    vault: &Vault,
    tenant_id: &str,
    connection_id: &str,
    tokens: &NewTokens,
    now: OffsetDateTime,
) -> Result<TokenRow, OAuthError> {
    let scope = KeyScope::Tenant(tenant_id.to_owned());
    let access = vault.seal(
        conn,
        &location(&scope, connection_id, "access_token"),
        tokens.access_token.expose().as_bytes(),
    )?;
    let previous = if tokens.refresh_token.is_none() {
        load(conn, vault, tenant_id, connection_id)?.and_then(|row| row.refresh_token)
    } else {
        None
    };
    let refresh_token = tokens.refresh_token.clone().or(previous);
    let refresh = match &refresh_token {
        Some(token) => Some(vault.seal(
            conn,
            &location(&scope, connection_id, "refresh_token"),
            token.expose().as_bytes(),
        )?),
        None => None,
    };
    let expires_at = tokens
        .expires_in
        .map(|d| now + Duration::seconds(d.as_secs().min(10 * 365 * 86_400) as i64));
    let check_after = expires_at.is_none().then(|| now + RECHECK_NON_EXPIRING);
    let now_text = format_rfc3339(now);
    // Sub-second precision: forced refreshes compare against it (see `service`).
    let obtained_text = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now_text.clone());
    let expires_text = expires_at.map(format_rfc3339);
    conn.execute(
        "INSERT INTO oauth_tokens (connection_id, tenant_id, access_token, refresh_token, token_type, scopes,
                                   expires_at, obtained_at, check_after, failures, retry_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?10, ?9, 0, NULL, ?8)
         ON CONFLICT(connection_id) DO UPDATE SET access_token = excluded.access_token,
             refresh_token = excluded.refresh_token, token_type = excluded.token_type,
             scopes = COALESCE(excluded.scopes, oauth_tokens.scopes), expires_at = excluded.expires_at,
             obtained_at = excluded.obtained_at, check_after = excluded.check_after, failures = 0,
             retry_at = NULL, updated_at = excluded.updated_at",
        params![
            connection_id,
            tenant_id,
            access,
            refresh,
            tokens.token_type,
            tokens.scopes,
            expires_text,
            now_text,
            check_after.map(format_rfc3339),
            obtained_text,
        ],
    )?;
    conn.execute(
        "UPDATE connections SET expires_at = ?3, updated_at = ?4 WHERE id = ?1 AND tenant_id = ?2",
        params![connection_id, tenant_id, expires_text, now_text],
    )?;
    Ok(TokenRow {
        connection_id: connection_id.to_owned(),
        tenant_id: tenant_id.to_owned(),
        access_token: tokens.access_token.clone(),
        refresh_token,
        token_type: tokens.token_type.clone(),
        scopes: tokens.scopes.clone(),
        expires_at,
        obtained_at: now,
        check_after,
        failures: 0,
        retry_at: None,
    })
}

/// Records a failed refresh that may succeed later (network, 5xx): back off.
pub fn record_failure(
    conn: &Db<'_>,
    connection_id: &str,
    failures: i64,
    retry_at: OffsetDateTime,
) -> Result<(), OAuthError> {
    conn.execute(
        "UPDATE oauth_tokens SET failures = ?2, retry_at = ?3 WHERE connection_id = ?1",
        params![connection_id, failures, format_rfc3339(retry_at)],
    )?;
    Ok(())
}

/// Pushes the next check of a non-expiring token a day ahead.
pub fn recheck_later(conn: &Db<'_>, connection_id: &str, now: OffsetDateTime) -> Result<(), OAuthError> {
    conn.execute(
        "UPDATE oauth_tokens SET check_after = ?2 WHERE connection_id = ?1",
        params![connection_id, format_rfc3339(now + RECHECK_NON_EXPIRING)],
    )?;
    Ok(())
}

/// Backoff after `failures` consecutive failures: 5 s, 10 s, 20 s ... capped at 10 min.
pub fn backoff(failures: i64) -> Duration {
    let exp = failures.clamp(1, 8) - 1;
    Duration::seconds((5i64 << exp).min(600))
}

/// Takes an OAuth token the tenant already holds as the connection's tokens (replacing
/// any it had: a refresh token of an earlier grant must not outlive it) and marks the
/// connection active. Call in the transaction that saved the connection.
pub fn adopt(
    conn: &Db<'_>,
    vault: &Vault,
    scope: &TenantScope,
    connection_id: &str,
    token: &crate::connections::provided_token::ProvidedToken,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    let tenant_id = scope.id();
    conn.execute(
        "DELETE FROM oauth_tokens WHERE connection_id = ?1 AND tenant_id = ?2",
        params![connection_id, tenant_id],
    )?;
    let expires_in = token
        .expires_at
        .map(|at| std::time::Duration::from_secs((at - now).whole_seconds().max(0) as u64));
    let tokens = NewTokens {
        access_token: token.access_token.clone(),
        refresh_token: token.refresh_token.clone(),
        token_type: "Bearer".into(),
        scopes: None,
        expires_in,
    };
    save(conn, vault, tenant_id, connection_id, &tokens, now)?;
    let verified = format_rfc3339(now);
    crate::connections::set_status(
        conn,
        scope,
        connection_id,
        crate::connections::Status::Active,
        None,
        Some(&verified),
    )?;
    Ok(())
}
