//! The background refresher: renews tokens before they expire (margin
//! `oauth_refresh_margin`), re-acquires client-credentials tokens, and re-checks tokens
//! that came without an expiry once a day.

use crate::store::sql::params;
use serde_json::json;
use time::OffsetDateTime;

use super::service::{Renew, renew_under_lock};
use super::store as tokens;
use super::{OAuth, OAuthError};
use crate::audit::AuditEntry;
use crate::connections::{ConnectionRow, find_connection};
use crate::time::parse_rfc3339;

struct Candidate {
    tenant_id: String,
    provider: String,
    expires_at: Option<OffsetDateTime>,
    check_after: Option<OffsetDateTime>,
    retry_at: Option<OffsetDateTime>,
    has_refresh_token: bool,
}

/// One pass on the OAuth service's clock (run every `refresh_interval`), logging failures.
pub fn pass(oauth: &OAuth) {
    if let Err(e) = run_once(oauth, oauth.clock.now()) {
        tracing::warn!(error = %e, "token refresher pass failed");
    }
}

/// One pass: renews what is due. Returns how many connections it renewed or re-checked.
pub fn run_once(app: &OAuth, now: OffsetDateTime) -> Result<usize, OAuthError> {
    let candidates: Vec<Candidate> = app.store.read(|conn| {
        let rows = conn.query(
            "SELECT t.tenant_id, c.provider, t.expires_at, t.check_after, t.retry_at, t.refresh_token IS NOT NULL
             FROM oauth_tokens t JOIN connections c ON c.id = t.connection_id AND c.tenant_id = t.tenant_id
             WHERE c.status = 'active' AND c.auth_mode IN ('oauth2', 'client_credentials')",
            params![],
            |r| {
                let text = |v: Option<String>| v.as_deref().and_then(parse_rfc3339);
                Ok(Candidate {
                    tenant_id: r.get(0)?,
                    provider: r.get(1)?,
                    expires_at: text(r.get(2)?),
                    check_after: text(r.get(3)?),
                    retry_at: text(r.get(4)?),
                    has_refresh_token: r.get(5)?,
                })
            },
        )?;
        Ok::<_, OAuthError>(rows)
    })?;
    let margin = app.settings.refresh_margin;
    let mut done = 0;
    for candidate in candidates {
        if candidate.retry_at.is_some_and(|at| at > now) {
            continue;
        }
        let due = match candidate.expires_at {
            Some(at) => at - now <= margin,
            None => candidate.check_after.is_some_and(|at| at <= now),
        };
        if !due {
            continue;
        }
        let Some(provider) = app.catalogs.provider(&candidate.tenant_id, &candidate.provider) else {
            continue;
        };
        let provider = &*provider;
        let Some(row) = app.store.read(|conn| {
            find_connection(
                conn,
                &crate::auth::PlatformScope::for_server_work().narrow_to(&candidate.tenant_id),
                &candidate.provider,
            )
        })?
        else {
            continue;
        };
        let result = if candidate.expires_at.is_none() {
            recheck_non_expiring(app, provider, &row, candidate.has_refresh_token, now)
        } else {
            renew_under_lock(
                app,
                provider,
                &row,
                Renew::IfExpiring {
                    margin,
                    force_since: None,
                },
            )
            .map(|_| ())
        };
        match result {
            Ok(()) => done += 1,
            Err(e) => {
                tracing::warn!(provider = %row.provider, tenant = %row.tenant_id, error = %e, "background renewal failed")
            }
        }
    }
    Ok(done)
}

/// A token without expiry is re-verified daily: refreshed when a refresh token exists,
/// else checked with the provider's verify request.
fn recheck_non_expiring(
    app: &OAuth,
    provider: &crate::catalog::Provider,
    row: &ConnectionRow,
    has_refresh_token: bool,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    if has_refresh_token {
        renew_under_lock(
            app,
            provider,
            row,
            Renew::IfExpiring {
                margin: std::time::Duration::ZERO,
                force_since: Some(now),
            },
        )?;
    } else if provider.verify.is_some() {
        let token = tokens_access(app, row)?;
        let entry = AuditEntry::new(
            Some(&row.tenant_id),
            "oauth:refresher",
            "connection.verified",
            Some(&row.provider),
            &Default::default(),
        )
        .with_detail(json!({"reason": "daily check of a non-expiring token"}));
        app.connections.verify(
            &crate::auth::PlatformScope::for_server_work().narrow_to(&row.tenant_id),
            &row.provider,
            token,
            entry,
        )?;
    }
    app.store.write(|tx| tokens::recheck_later(tx, &row.id, now))
}

fn tokens_access(app: &OAuth, row: &ConnectionRow) -> Result<Option<crate::vault::Secret>, OAuthError> {
    Ok(app
        .store
        .read(|conn| tokens::load(conn, &app.vault, &row.tenant_id, &row.id))?
        .map(|t| t.access_token))
}
