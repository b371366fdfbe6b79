//! Calls to other services made by inbound processing: fetching an order (Eventbrite),
//! emailing through the tenant's Resend, upserting into the tenant's Brevo list. Each
//! runs inside a job, with the tenant's own credentials, and is safe to repeat.

use crate::auth::TenantScope;
use crate::store::sql::Db;
use serde_json::{Value, json};

use std::sync::Arc;

use super::{JOB_BREVO_UPSERT, JOB_INVITE_EMAIL, JOB_NOTIFY_EMAIL};
use crate::catalog::Catalogs;
use crate::connections::request::{api_base_url, auth_headers, join_url};
use crate::connections::{find_connection, open_credentials};
use crate::jobs::{self, Job, JobFailure};
use crate::net::Agents;
use crate::oauth::OAuth;
use crate::store::{Store, StoreError};
use crate::tenants::find_tenant;
use crate::vault::{Secret, Vault};

/// Calls to a tenant's providers with the tenant's own credentials (blocking: run them in
/// a job or on a blocking thread). Cheap to clone.
#[derive(Clone)]
pub struct ProviderCalls {
    store: Store,
    vault: Arc<Vault>,
    /// Every tenant's providers (built-ins, providers file, its plugins).
    catalogs: Arc<Catalogs>,
    agents: Agents,
    /// Hands out fresh access tokens for token-mode connections.
    oauth: OAuth,
}

/// Resend's shared test sender, used when the connection names no `from_address`.
const DEFAULT_FROM: &str = "onboarding@resend.dev";

pub fn brevo_list_id(config: &serde_json::Map<String, Value>) -> Option<i64> {
    match config.get("list_id")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Queues the follow-ups of a new signup that the tenant's connections call for.
pub fn queue_signup_jobs(
    tx: &Db<'_>,
    jobs: &jobs::Queue,
    scope: &TenantScope,
    signup_id: &str,
) -> Result<bool, StoreError> {
    let tenant_id = scope.id();
    let mut queued = false;
    let payload = json!({ "signup_id": signup_id });
    let wants_email = find_tenant(tx, tenant_id)?.is_some_and(|t| !t.notification_emails.is_empty());
    if wants_email && find_connection(tx, scope, "resend")?.is_some() {
        jobs.enqueue(tx, Some(tenant_id), JOB_NOTIFY_EMAIL, &payload)?;
        queued = true;
    }
    if find_connection(tx, scope, "brevo")?.is_some_and(|c| brevo_list_id(&c.config).is_some()) {
        jobs.enqueue(tx, Some(tenant_id), JOB_BREVO_UPSERT, &payload)?;
        queued = true;
    }
    Ok(queued)
}

/// A provider's JSON answer and the connection's config.
pub type Answer = (Value, serde_json::Map<String, Value>);

/// Where a call goes: a path under the provider's API base, or a full URL that must be
/// on that base.
pub enum Target<'a> {
    Path(&'a str),
    Url(&'a str),
}

impl ProviderCalls {
    pub fn new(
        store: Store,
        vault: Arc<Vault>,
        catalogs: Arc<Catalogs>,
        agents: Agents,
        oauth: OAuth,
    ) -> ProviderCalls {
        ProviderCalls {
            store,
            vault,
            catalogs,
            agents,
            oauth,
        }
    }

    /// Calls the tenant's `provider` with its credentials. `Ok(None)` when the tenant has
    /// no such connection (the work no longer applies).
    /// Adds or updates a contact in one of the tenant's Brevo lists (`updateEnabled` makes
    /// it repeatable); `false` when the tenant has no Brevo connection.
    pub fn add_to_brevo_list(
        &self,
        scope: &TenantScope,
        email: &str,
        first_name: Option<&str>,
        last_name: Option<&str>,
        list_id: i64,
    ) -> Result<bool, JobFailure> {
        let mut attributes = serde_json::Map::new();
        if let Some(first) = first_name {
            attributes.insert("FIRSTNAME".into(), json!(first));
        }
        if let Some(last) = last_name {
            attributes.insert("LASTNAME".into(), json!(last));
        }
        let body = json!({
            "email": email,
            "attributes": attributes,
            "listIds": [list_id],
            "updateEnabled": true,
        });
        let answered = self.call(scope, "brevo", "POST", Target::Path("/v3/contacts"), Some(&body), &[])?;
        Ok(answered.is_some())
    }

    pub fn call(
        &self,
        scope: &TenantScope,
        provider_key: &str,
        method: &str,
        target: Target<'_>,
        body: Option<&Value>,
        extra: &[(&str, String)],
    ) -> Result<Option<Answer>, JobFailure> {
        call(self, scope, provider_key, method, target, body, extra)
    }

    /// A config value of the tenant's connection to `provider_key`, else the catalog's
    /// default for that field; `Ok(None)` without a connection or either value.
    pub fn config_or_default(
        &self,
        scope: &TenantScope,
        provider_key: &str,
        field: &str,
    ) -> Result<Option<String>, JobFailure> {
        let tenant_id = scope.id();
        let Some(row) = self.store.read(|conn| find_connection(conn, scope, provider_key))? else {
            return Ok(None);
        };
        let configured = match row.config.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Ok(configured.or_else(|| {
            self.catalogs
                .provider(tenant_id, provider_key)
                .and_then(|p| p.config_field(field).and_then(|f| f.default.clone()))
        }))
    }

    /// Fetches a document the webhook pointed at (Eventbrite's `api_url`).
    pub fn fetch_from_provider(&self, scope: &TenantScope, provider: &str, url: &str) -> Result<Value, JobFailure> {
        self.call(scope, provider, "GET", Target::Url(url), None, &[])?
            .map(|(doc, _)| doc)
            .ok_or_else(|| JobFailure::Permanent(format!("this tenant has no `{provider}` connection")))
    }
}

fn call(
    state: &ProviderCalls,
    scope: &TenantScope,
    provider_key: &str,
    method: &str,
    target: Target<'_>,
    body: Option<&Value>,
    extra: &[(&str, String)],
) -> Result<Option<Answer>, JobFailure> {
    let tenant_id = scope.id();
    let provider = state
        .catalogs
        .provider(tenant_id, provider_key)
        .ok_or_else(|| JobFailure::Permanent(format!("provider `{provider_key}` is not in the catalog")))?;
    let provider = &*provider;
    let found = state.store.read(|conn| -> Result<_, JobFailure> {
        let Some(row) = find_connection(conn, scope, provider_key)? else {
            return Ok(None);
        };
        let credentials = open_credentials(conn, &state.vault, &row)
            .map_err(|_| JobFailure::Permanent("the connection's credentials cannot be opened".into()))?;
        Ok(Some((row, credentials)))
    })?;
    let Some((row, credentials)) = found else {
        return Ok(None);
    };
    // Token modes: the OAuth token service hands out a fresh token (renewed when close to
    // expiry, under the connection's lock); key modes inject stored fields.
    let access_token: Option<Secret> = if row.auth_mode.uses_access_token() {
        let grant =
            crate::oauth::service::ensure_token(&state.oauth, scope, provider_key, false).map_err(|e| match e {
                crate::oauth::OAuthError::Upstream(_) | crate::oauth::OAuthError::Store(_) => {
                    JobFailure::Retry(e.to_string())
                }
                other => JobFailure::Permanent(other.to_string()),
            })?;
        Some(grant.access_token)
    } else {
        None
    };
    let headers = auth_headers(provider, row.auth_mode, &credentials, access_token.as_ref())
        .map_err(|e| JobFailure::Permanent(e.to_string()))?;
    let base = api_base_url(provider, &row.config).map_err(|e| JobFailure::Permanent(e.to_string()))?;
    let url = match target {
        Target::Path(path) => join_url(&base, path),
        Target::Url(url) => {
            if !super::signature::same_api_origin(url, &base) {
                return Err(JobFailure::Permanent(
                    "the URL is not on the provider's API host".into(),
                ));
            }
            url.to_owned()
        }
    };
    let mut request = axum::http::Request::builder().method(method).uri(&url);
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.expose());
    }
    for (name, value) in extra {
        request = request.header(*name, value.as_str());
    }
    request = request.header("accept", "application/json");
    // The shared agent (timeouts on, redirects off) keeps connections to providers warm;
    // a URL a tenant's config shapes goes through the SSRF-guarded one.
    let agent = state.agents.for_template(provider.api_base_url.as_deref());
    let result = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
            .map_err(|e| JobFailure::Permanent(e.to_string()))
            .map(|r| agent.run(r))?,
        None => request
            .body(())
            .map_err(|e| JobFailure::Permanent(e.to_string()))
            .map(|r| agent.run(r))?,
    };
    let mut response = result.map_err(|e| {
        JobFailure::Retry(format!(
            "{}: {}",
            provider.name,
            crate::net::describe_transport_error(&e)
        ))
    })?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(4 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    if !(200..300).contains(&status) {
        let snippet: String = text.chars().take(200).collect();
        let message = format!("{} answered {status}: {snippet}", provider.name);
        return Err(if status == 408 || status == 429 || status >= 500 {
            JobFailure::Retry(message)
        } else {
            JobFailure::Permanent(message)
        });
    }
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Some((value, row.config)))
}

fn signup_of(
    state: &ProviderCalls,
    scope: &TenantScope,
    job: &Job,
) -> Result<Option<crate::signups::Signup>, JobFailure> {
    let payload = jobs::payload_of(job);
    let id = payload["signup_id"]
        .as_str()
        .ok_or_else(|| JobFailure::Permanent("job has no signup_id".into()))?
        .to_owned();
    Ok(state.store.read(|conn| crate::signups::find(conn, scope, &id))?)
}

fn from_address(state: &ProviderCalls, scope: &TenantScope) -> Result<String, JobFailure> {
    let row = state.store.read(|conn| find_connection(conn, scope, "resend"))?;
    Ok(row
        .and_then(|r| r.config.get("from_address").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_FROM.to_owned()))
}

fn display_name(signup: &crate::signups::Signup) -> String {
    let name = [signup.first_name.as_deref(), signup.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        signup.email.clone()
    } else {
        format!("{name} <{}>", signup.email)
    }
}

/// Emails the tenant's `notification_emails` about a new signup through its Resend.
pub fn run_notify_email(state: &ProviderCalls, job: &Job) -> Result<(), JobFailure> {
    let scope = &jobs::scope_of(job)?;
    let tenant_id = scope.id();
    let Some(signup) = signup_of(state, scope, job)? else {
        return Ok(());
    };
    let Some(tenant) = state.store.read(|conn| find_tenant(conn, tenant_id))? else {
        return Ok(());
    };
    if tenant.notification_emails.is_empty() {
        return Ok(());
    }
    let sources = signup
        .sources
        .iter()
        .map(|s| format!("- {} {}", s.provider, s.event_name.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("\n");
    send_email(
        state,
        scope,
        job,
        json!(tenant.notification_emails),
        format!("New signup for {}: {}", tenant.name, signup.email),
        format!(
            "{} joined the pending signup queue.\n\nSources:\n{sources}\n",
            display_name(&signup)
        ),
    )
}

/// Sends one email through the tenant's own Resend connection.
fn send_email(
    state: &ProviderCalls,
    scope: &TenantScope,
    job: &Job,
    to: Value,
    subject: String,
    text: String,
) -> Result<(), JobFailure> {
    let body = json!({ "from": from_address(state, scope)?, "to": to, "subject": subject, "text": text });
    // Resend de-duplicates on the key, so a re-run after a crash sends one email.
    let key = [("idempotency-key", format!("tessera-{}", job.id))];
    state.call(scope, "resend", "POST", Target::Path("/emails"), Some(&body), &key)?;
    Ok(())
}

/// Sends an invitation to the signup's own address through the tenant's Resend.
pub fn run_invite_email(state: &ProviderCalls, job: &Job) -> Result<(), JobFailure> {
    let scope = &jobs::scope_of(job)?;
    let tenant_id = scope.id();
    let Some(signup) = signup_of(state, scope, job)? else {
        return Ok(());
    };
    let Some(tenant) = state.store.read(|conn| find_tenant(conn, tenant_id))? else {
        return Ok(());
    };
    let greeting = signup.first_name.clone().unwrap_or_else(|| "there".into());
    send_email(
        state,
        scope,
        job,
        json!([signup.email]),
        format!("You're invited to {}", tenant.name),
        format!("Hi {greeting},\n\nyou're invited to join {}.\n", tenant.name),
    )
}

/// Upserts the signup into the tenant's Brevo list (`updateEnabled` makes it repeatable).
pub fn run_brevo_upsert(state: &ProviderCalls, job: &Job) -> Result<(), JobFailure> {
    let scope = &jobs::scope_of(job)?;
    let Some(signup) = signup_of(state, scope, job)? else {
        return Ok(());
    };
    let row = state.store.read(|conn| find_connection(conn, scope, "brevo"))?;
    let Some(list_id) = row.as_ref().and_then(|r| brevo_list_id(&r.config)) else {
        return Ok(());
    };
    state.add_to_brevo_list(
        scope,
        &signup.email,
        signup.first_name.as_deref(),
        signup.last_name.as_deref(),
        list_id,
    )?;
    Ok(())
}

/// Queues an invitation email when the tenant has a Resend connection.
pub fn queue_invite(
    tx: &Db<'_>,
    jobs: &jobs::Queue,
    scope: &TenantScope,
    signup_id: &str,
) -> Result<Option<String>, StoreError> {
    let tenant_id = scope.id();
    if find_connection(tx, scope, "resend")?.is_none() {
        return Ok(None);
    }
    jobs.enqueue(
        tx,
        Some(tenant_id),
        JOB_INVITE_EMAIL,
        &json!({ "signup_id": signup_id }),
    )
    .map(Some)
}
