//! The authenticated proxy: `ANY /api/v1/tenants/{tenant}/proxy/{provider}/{*path}`
//! forwards to the provider's API base with the tenant's credentials injected the
//! catalog's way. The caller's own `Authorization`, cookies and hop-by-hop headers never
//! leave; redirects are not followed; bodies are size-limited both ways.

use crate::auth::TenantScope;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::service::access_token_for;
use super::{OAuth, OAuthError};
use crate::app::AppState;
use crate::audit::AuditEntry;
use crate::auth::TenantAccess;
use crate::connections::request::{api_base_url, auth_headers, join_url};
use crate::connections::{find_connection, open_credentials};
use crate::error::{ApiError, ApiResult};

/// Largest provider response relayed.
const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Request headers a caller may pass through (everything else is dropped).
const FORWARD_REQUEST: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "content-language",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "idempotency-key",
    "prefer",
    "range",
    "x-request-id",
];

/// Response headers relayed back.
const FORWARD_RESPONSE: &[&str] = &[
    "content-type",
    "content-language",
    "content-disposition",
    "cache-control",
    "etag",
    "last-modified",
    "location",
    "retry-after",
    "link",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// Methods forwarded; anything else (TRACE, CONNECT, WebDAV verbs) is refused, so the
/// tenant's credentials are never attached to a request the API does not document.
const FORWARD_METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// The part of the request path after `/proxy/{provider}`, kept raw (still encoded), with
/// every segment a server might read as a step out of the API base path refused.
fn upstream_path(uri_path: &str, provider: &str) -> Result<String, ApiError> {
    let marker = format!("/proxy/{provider}/");
    let start = uri_path
        .find(&marker)
        .map(|i| i + marker.len())
        .ok_or_else(|| ApiError::invalid_input("malformed proxy path"))?;
    let rest = &uri_path[start..];
    if !rest.split('/').all(is_plain_segment) {
        return Err(ApiError::invalid_input(
            "the proxied path may not contain `.` or `..` segments (with or without `;` parameters), \
             encoded slashes or backslashes, double encoding or control characters",
        ));
    }
    Ok(rest.to_owned())
}

/// Whether one raw path segment is free of traversal tricks: after one percent-decoding
/// it holds no `/`, `\`, control character or further escape (`%252e` is `%2e` to a server
/// that decodes twice), and its part before any `;` (path parameters: Tomcat reads `..;x`
/// as `..`) is not `.` or `..`.
fn is_plain_segment(raw: &str) -> bool {
    let Some(decoded) = percent_decode(raw) else {
        return false;
    };
    if decoded
        .iter()
        .any(|b| matches!(b, b'/' | b'\\') || b.is_ascii_control())
    {
        return false;
    }
    if raw.contains('%') && percent_decode(&String::from_utf8_lossy(&decoded)).is_some_and(|again| again != decoded) {
        return false;
    }
    let stem = decoded.split(|b| *b == b';').next().unwrap_or_default();
    stem != b"." && stem != b".."
}

/// `%XX` escapes decoded once; `None` for a malformed escape.
fn percent_decode(raw: &str) -> Option<Vec<u8>> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

pub async fn proxy(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, provider, _)): Path<(String, String, String)>,
    OriginalUri(uri): OriginalUri,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    if !FORWARD_METHODS.contains(&method) {
        let mut refusal = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
            "the proxy forwards GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS only",
        )
        .into_response();
        refusal.headers_mut().insert(
            axum::http::header::ALLOW,
            HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        );
        return Ok(refusal);
    }
    let body = body.map_err(ApiError::from)?;
    let path = upstream_path(uri.path(), &provider)?;
    let query = uri.query().map(str::to_owned);
    let entry = access.audit("proxy.request", Some(&provider));
    let scope = access.scope.clone();
    let forwarded: Vec<(HeaderName, HeaderValue)> = headers
        .iter()
        .filter(|(name, _)| FORWARD_REQUEST.contains(&name.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let app = state.oauth.clone();
    let (method_name, audited_path) = (method.to_string(), path.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        forward(
            &app,
            &scope,
            &provider,
            &method,
            &path,
            query.as_deref(),
            forwarded,
            body,
        )
    })
    .await
    .map_err(|e| ApiError::internal("proxy task failed", &e))?;
    let status = match &outcome {
        Ok(response) => response.status().as_u16(),
        Err(e) => e.status.as_u16(),
    };
    let entry: AuditEntry = entry.with_detail(json!({"method": method_name, "path": audited_path, "status": status}));
    state.oauth.audit_read(entry).await?;
    outcome
}

#[allow(clippy::too_many_arguments)]
fn forward(
    app: &OAuth,
    scope: &TenantScope,
    provider_key: &str,
    method: &Method,
    path: &str,
    query: Option<&str>,
    forwarded: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
) -> ApiResult<Response> {
    let tenant_id = scope.id();
    let provider = app
        .catalogs
        .provider(tenant_id, provider_key)
        .ok_or_else(|| ApiError::not_found("no such provider in the catalog"))?;
    let provider = &*provider;
    let (row, credentials) = app.store.read(|conn| {
        let row =
            find_connection(conn, scope, provider_key)?.ok_or_else(|| OAuthError::NotFound(provider_key.to_owned()))?;
        let credentials = open_credentials(conn, &app.vault, &row)?;
        Ok::<_, OAuthError>((row, credentials))
    })?;
    let token = access_token_for(app, scope, provider_key)?;
    let base = api_base_url(provider, &row.config).map_err(|e| ApiError::invalid_input(e.to_string()))?;
    let injected = auth_headers(provider, row.auth_mode, &credentials, token.as_ref())
        .map_err(|e| ApiError::invalid_input(e.to_string()))?;
    let mut url = join_url(&base, path);
    if let Some(query) = query {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(query);
    }
    let mut request = ureq::http::Request::builder().method(method.clone()).uri(&url);
    for (name, value) in forwarded {
        if !injected.iter().any(|(n, _)| n.eq_ignore_ascii_case(name.as_str())) {
            request = request.header(name, value);
        }
    }
    for (name, value) in &injected {
        request = request.header(name.as_str(), value.expose());
    }
    let request = request
        .body(body.to_vec())
        .map_err(|_| ApiError::invalid_input("the proxied request is not valid"))?;
    let response = app
        .agents
        .for_template(provider.api_base_url.as_deref())
        .run(request)
        .map_err(|e| {
            ApiError::bad_gateway(format!(
                "{}: {}",
                provider.name,
                crate::net::describe_transport_error(&e)
            ))
        })?;
    let (parts, mut upstream_body) = response.into_parts();
    let bytes = upstream_body
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(|e| {
            ApiError::bad_gateway(format!(
                "{}: {}",
                provider.name,
                crate::net::describe_transport_error(&e)
            ))
        })?;
    let mut out = Response::new(Body::from(bytes));
    *out.status_mut() = StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    for (name, value) in &parts.headers {
        if FORWARD_RESPONSE.contains(&name.as_str()) {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_spellings_are_refused_and_ordinary_segments_pass() {
        for bad in [
            "..",
            ".",
            "%2e%2e",
            "%2E.",
            "..;",
            "..;jsessionid=1",
            ".;x",
            "%2e%2e;",
            "%5c..%5c",
            "a%5cb",
            "a\\b",
            "a%2fb",
            "%252e%252e",
            "%00",
            "a%0d%0ab",
            "%zz",
            "%2",
        ] {
            assert!(!is_plain_segment(bad), "{bad}");
        }
        for ok in [
            "v1",
            "balance",
            "customers",
            "cus_123",
            "a.b",
            "...",
            "..a",
            "x;y=1",
            "50%25off",
            "%41",
            "",
        ] {
            assert!(is_plain_segment(ok), "{ok}");
        }
        assert!(upstream_path("/api/v1/tenants/a/proxy/stripe/v1/balance", "stripe").is_ok());
        assert!(upstream_path("/api/v1/tenants/a/proxy/stripe/v1/..;/admin", "stripe").is_err());
    }
}
