//! Verifying a connection with a cheap, real, authenticated call to the provider.

use crate::auth::TenantScope;
use serde::Serialize;
use serde_json::json;

use super::request::{RequestError, api_base_url, auth_headers, join_url};
use super::service::open_credentials;
use super::{ConnectionError, Connections, Status, repo};
use crate::audit::{self, AuditEntry};
use crate::vault::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyResult {
    Ok,
    InvalidCredentials,
    Unreachable,
    NotSupported,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyOutcome {
    pub ok: bool,
    pub result: VerifyResult,
    pub detail: String,
    pub checked_at: String,
}

/// What the provider's answer means for the credentials.
fn classify(status: u16) -> (VerifyResult, String) {
    match status {
        200..=299 => (VerifyResult::Ok, format!("provider answered {status}")),
        401 | 403 => (
            VerifyResult::InvalidCredentials,
            format!("provider rejected the credentials ({status})"),
        ),
        _ => (VerifyResult::Unreachable, format!("provider answered {status}")),
    }
}

impl Connections {
    /// Calls the provider's verify request with the tenant's credentials (and, in token
    /// modes, `access_token`) and records the outcome on the connection. Blocking: run it
    /// on a blocking thread.
    pub fn verify(
        &self,
        scope: &TenantScope,
        provider_key: &str,
        access_token: Option<Secret>,
        audit_entry: AuditEntry,
    ) -> Result<VerifyOutcome, ConnectionError> {
        verify_connection(self, scope, provider_key, access_token, audit_entry)
    }

    /// Records a verification that ended before the provider's API was called: in token
    /// modes, the token endpoint refused (`invalid_credentials`) or could not be reached.
    /// The connection keeps the status the refusal gave it (`invalid`, `needs_reauth`).
    pub fn record_token_failure(
        &self,
        scope: &TenantScope,
        provider_key: &str,
        result: VerifyResult,
        detail: String,
        audit_entry: AuditEntry,
    ) -> Result<VerifyOutcome, ConnectionError> {
        let row = self
            .store
            .read(|conn| repo::find_connection(conn, scope, provider_key))?
            .ok_or_else(|| ConnectionError::NotFound(provider_key.to_owned()))?;
        // Read after the refusal was recorded, so the status it gave is the one kept.
        record(
            self,
            scope,
            provider_key,
            &row,
            result,
            detail,
            audit_entry,
            Some(row.status),
        )
    }
}

fn verify_connection(
    app: &Connections,
    scope: &TenantScope,
    provider_key: &str,
    access_token: Option<Secret>,
    audit_entry: AuditEntry,
) -> Result<VerifyOutcome, ConnectionError> {
    let tenant_id = scope.id();
    let (store, vault) = (&app.store, &app.vault);
    let provider = app
        .catalogs
        .provider(tenant_id, provider_key)
        .ok_or_else(|| ConnectionError::UnknownProvider(provider_key.to_owned()))?;
    let provider = &*provider;
    let (row, credentials) = store.read(|conn| {
        let row = repo::find_connection(conn, scope, provider_key)?
            .ok_or_else(|| ConnectionError::NotFound(provider_key.to_owned()))?;
        let credentials = open_credentials(conn, vault, &row)?;
        Ok::<_, ConnectionError>((row, credentials))
    })?;

    let (result, detail) = match &provider.verify {
        None => (
            VerifyResult::NotSupported,
            format!("{} offers no verification request", provider.name),
        ),
        Some(verify) => {
            let prepared = api_base_url(provider, &row.config).and_then(|base| {
                let headers = auth_headers(provider, row.auth_mode, &credentials, access_token.as_ref())?;
                Ok((join_url(&base, &verify.path), headers))
            });
            match prepared {
                Err(RequestError::NoAccessToken) => {
                    (VerifyResult::NotSupported, RequestError::NoAccessToken.to_string())
                }
                Err(e) => (VerifyResult::NotSupported, e.to_string()),
                Ok((url, headers)) => {
                    let mut request = ureq::http::Request::builder().method(verify.method.as_str()).uri(&url);
                    for (name, value) in &headers {
                        request = request.header(name.as_str(), value.expose());
                    }
                    match request.body(()) {
                        Err(_) => (
                            VerifyResult::NotSupported,
                            "the catalog's verify request is malformed".into(),
                        ),
                        Ok(request) => match app.agents.for_template(provider.api_base_url.as_deref()).run(request) {
                            Ok(response) => classify(response.status().as_u16()),
                            Err(e) => (VerifyResult::Unreachable, crate::net::describe_transport_error(&e)),
                        },
                    }
                }
            }
        }
    };

    record(app, scope, provider_key, &row, result, detail, audit_entry, None)
}

/// Stores a verification's outcome on the connection, audited and announced; `keep`
/// overrides the status the result would give.
#[allow(clippy::too_many_arguments)]
fn record(
    app: &Connections,
    scope: &TenantScope,
    provider_key: &str,
    row: &repo::ConnectionRow,
    result: VerifyResult,
    detail: String,
    audit_entry: AuditEntry,
    keep: Option<Status>,
) -> Result<VerifyOutcome, ConnectionError> {
    let tenant_id = scope.id();
    let checked_at = crate::time::now_rfc3339();
    app.store.write(|tx| {
        let (status, error) = match result {
            VerifyResult::Ok => (Status::Active, None),
            VerifyResult::InvalidCredentials => (Status::Invalid, Some(detail.as_str())),
            VerifyResult::Unreachable | VerifyResult::NotSupported => (row.status, Some(detail.as_str())),
        };
        let status = keep.unwrap_or(status);
        let verified_at = (result != VerifyResult::NotSupported).then_some(checked_at.as_str());
        repo::set_status(tx, scope, &row.id, status, error, verified_at)?;
        audit::record(tx, &audit_entry.with_detail(json!({"result": result})))?;
        crate::outbox::emit(
            tx,
            tenant_id,
            "connection.verified",
            json!({"provider": provider_key, "ok": result == VerifyResult::Ok, "result": result}),
        )?;
        Ok::<_, ConnectionError>(())
    })?;
    Ok(VerifyOutcome {
        ok: result == VerifyResult::Ok,
        result,
        detail,
        checked_at,
    })
}
