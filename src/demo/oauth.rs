//! The sandbox's OAuth 2.0 authorization server: authorization code with PKCE (S256 only),
//! refresh tokens, and a protected `/sandbox/api/me`. State lives in memory: a demo.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{CLIENT_ID, CLIENT_SECRET};
use crate::app::AppState;
use crate::vault::constant_time_eq;

const CODE_TTL: Duration = Duration::from_secs(600);
const ACCESS_TTL_SECS: u64 = 3600;

struct Grant {
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    issued: Instant,
}

#[derive(Default)]
pub struct AuthServer {
    codes: Mutex<HashMap<String, Grant>>,
    access: Mutex<HashMap<String, (String, Instant)>>,
    refresh: Mutex<HashMap<String, String>>,
}

fn random(prefix: &str) -> String {
    crate::vault::random_token(prefix).expose().to_owned()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(CACHE_CONTROL, "no-store")],
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// PKCE S256: BASE64URL(SHA256(verifier)) == challenge.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// Checks an authorization request; on success returns the fields to carry to approval.
fn check_request(params: &HashMap<String, String>) -> Result<(), String> {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    if get("response_type") != "code" {
        return Err("response_type must be `code`".into());
    }
    if get("client_id") != CLIENT_ID {
        return Err(format!("unknown client_id; the sandbox app is `{CLIENT_ID}`"));
    }
    let redirect =
        url::Url::parse(get("redirect_uri")).map_err(|_| "redirect_uri must be an absolute URL".to_owned())?;
    if !matches!(redirect.scheme(), "http" | "https") {
        return Err("redirect_uri must be http or https".into());
    }
    if get("code_challenge").len() < 43 || get("code_challenge_method") != "S256" {
        return Err("PKCE is required: code_challenge with code_challenge_method=S256".into());
    }
    Ok(())
}

/// `GET /sandbox/oauth/authorize`: the consent page.
pub async fn authorize_page(Query(params): Query<HashMap<String, String>>) -> Response {
    if let Err(problem) = check_request(&params) {
        return (
            StatusCode::BAD_REQUEST,
            Html(format!("<h1>Invalid request</h1><p>{}</p>", escape(&problem))),
        )
            .into_response();
    }
    let hidden: String = [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "code_challenge",
        "code_challenge_method",
        "scope",
    ]
    .iter()
    .map(|k| {
        format!(
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            escape(params.get(*k).map(String::as_str).unwrap_or(""))
        )
    })
    .collect();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sandbox — authorize</title>\
         <style>body{{font-family:system-ui;max-width:32rem;margin:4rem auto}}button{{padding:.5rem 1rem}}</style></head>\
         <body><h1>Sandbox Inc.</h1><p><b>tessera demo</b> asks to access your Sandbox account \
         (scopes: <code>{}</code>).</p><form method=\"post\" action=\"/sandbox/oauth/authorize\">{hidden}\
         <button name=\"decision\" value=\"approve\">Approve</button> \
         <button name=\"decision\" value=\"deny\">Deny</button></form></body></html>",
        escape(params.get("scope").map(String::as_str).unwrap_or(""))
    ))
    .into_response()
}

/// `POST /sandbox/oauth/authorize`: the visitor's decision → 303 back to the client.
pub async fn authorize_decision(State(state): State<AppState>, body: Bytes) -> Response {
    let params = form(&body);
    if let Err(problem) = check_request(&params) {
        return (
            StatusCode::BAD_REQUEST,
            Html(format!("<h1>Invalid request</h1><p>{}</p>", escape(&problem))),
        )
            .into_response();
    }
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let Ok(mut target) = url::Url::parse(&get("redirect_uri")) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if get("decision") == "approve" {
        let code = random("sbc_");
        if let Ok(mut codes) = state.demo.sandbox().auth.codes.lock() {
            codes.retain(|_, g| g.issued.elapsed() < CODE_TTL);
            codes.insert(
                code.clone(),
                Grant {
                    redirect_uri: get("redirect_uri"),
                    code_challenge: get("code_challenge"),
                    scope: get("scope"),
                    issued: Instant::now(),
                },
            );
        }
        target.query_pairs_mut().append_pair("code", &code);
    } else {
        target.query_pairs_mut().append_pair("error", "access_denied");
    }
    if let Some(s) = params.get("state") {
        target.query_pairs_mut().append_pair("state", s);
    }
    (StatusCode::SEE_OTHER, [(LOCATION, target.to_string())]).into_response()
}

/// Client authentication: HTTP Basic or `client_id`/`client_secret` in the form.
fn client_authenticated(headers: &HeaderMap, params: &HashMap<String, String>) -> bool {
    let (id, secret) = match headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(value) if value.starts_with("Basic ") => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value[6..].trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            let (id, secret) = decoded.split_once(':').unwrap_or(("", ""));
            let unescape = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (unescape(id), unescape(secret))
        }
        _ => (
            params.get("client_id").cloned().unwrap_or_default(),
            params.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    id == CLIENT_ID && constant_time_eq(secret.as_bytes(), CLIENT_SECRET.as_bytes())
}

fn issue_tokens(server: &AuthServer, scope: &str) -> Response {
    let access = random("sba_");
    let refresh = random("sbr_");
    if let Ok(mut map) = server.access.lock() {
        map.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(ACCESS_TTL_SECS));
        map.insert(access.clone(), (scope.to_owned(), Instant::now()));
    }
    if let Ok(mut map) = server.refresh.lock() {
        map.insert(refresh.clone(), scope.to_owned());
    }
    (
        [(CACHE_CONTROL, "no-store")],
        axum::Json(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ACCESS_TTL_SECS,
            "refresh_token": refresh,
            "scope": scope,
        })),
    )
        .into_response()
}

/// `POST /sandbox/oauth/token`: `authorization_code` (with PKCE) and `refresh_token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let params = form(&body);
    if !client_authenticated(&headers, &params) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let server = &state.demo.sandbox().auth;
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = params.get("code").cloned().unwrap_or_default();
            // Single use: the code is removed whatever happens next.
            let grant = server.codes.lock().ok().and_then(|mut c| c.remove(&code));
            let Some(grant) = grant.filter(|g| g.issued.elapsed() < CODE_TTL) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown, expired or used code",
                );
            };
            if params.get("redirect_uri") != Some(&grant.redirect_uri) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri does not match");
            }
            let verifier = params.get("code_verifier").map(String::as_str).unwrap_or("");
            if !pkce_matches(verifier, &grant.code_challenge) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "code_verifier does not match");
            }
            issue_tokens(server, &grant.scope)
        }
        Some("refresh_token") => {
            let presented = params.get("refresh_token").cloned().unwrap_or_default();
            // Rotating refresh tokens: the old one stops working.
            let scope = server.refresh.lock().ok().and_then(|mut r| r.remove(&presented));
            match scope {
                Some(scope) => issue_tokens(server, &scope),
                None => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown refresh token"),
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "use authorization_code or refresh_token",
        ),
    }
}

/// `GET /sandbox/api/me`: the sandbox account behind an access token (the verify call).
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let valid = state
        .demo
        .sandbox()
        .auth
        .access
        .lock()
        .ok()
        .and_then(|m| m.get(token).map(|(scope, at)| (scope.clone(), at.elapsed())))
        .filter(|(_, age)| *age < Duration::from_secs(ACCESS_TTL_SECS));
    match valid {
        Some((scope, _)) => axum::Json(
            json!({"id": "acct_sandbox", "name": "Sandbox Inc.", "email": "owner@sandbox.test", "scope": scope}),
        )
        .into_response(),
        None => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "missing, unknown or expired access token",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 appendix B.
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches("other", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }
}
