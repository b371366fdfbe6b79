//! A real OAuth 2.0 authorization server for the tests: `oidc-provider` (npm), run by
//! node from `tests/oidc/server.mjs`, plus a browser imitation that follows its redirects
//! (with cookies) through login and consent.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const CLIENT_ID: &str = "tessera-test-client";
pub const CLIENT_SECRET: &str = "oidc-client-secret-CANARY-5d1f0b";
/// The public URL the test servers advertise (the redirect URI is derived from it).
pub const PUBLIC_URL: &str = "https://tessera.example";
pub const RETURN_ORIGIN: &str = "https://app.example";

pub struct OidcServer {
    pub issuer: String,
    child: Child,
}

fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

impl OidcServer {
    /// Starts oidc-provider with access tokens living `access_ttl` seconds.
    pub fn start(access_ttl: u64) -> OidcServer {
        let dir = oidc_dir();
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed: run `bash .ci/install-deps` (npm ci in tests/oidc)"
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", format!("{PUBLIC_URL}/oauth/callback"))
            .env("ACCESS_TTL", access_ttl.to_string())
            .env("NODE_ENV", "test")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node (is node installed?)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read oidc server line");
        let info: Value = serde_json::from_str(line.trim()).unwrap_or_else(|_| panic!("oidc server said {line:?}"));
        OidcServer {
            issuer: info["issuer"].as_str().expect("issuer").to_owned(),
            child,
        }
    }

    /// The providers-file table pointing provider `key` at this server.
    pub fn provider_toml(&self, key: &str) -> String {
        let issuer = &self.issuer;
        format!(
            r#"
[providers.{key}]
name = "Acme"
category = "crm"
auth_modes = ["oauth2"]
authorization_url = "{issuer}/auth"
token_url = "{issuer}/token"
revocation_url = "{issuer}/token/revocation"
api_base_url = "{issuer}"
issuer = "{issuer}"
scopes = ["openid", "offline_access", "api:read"]
fields = [
  {{ name = "client_id", label = "Client id", secret = false, required = false, help = "" }},
  {{ name = "client_secret", label = "Client secret", secret = true, required = false, help = "" }},
]
[providers.{key}.verify]
method = "GET"
path = "/me"
"#
        )
    }

    pub fn counts(&self) -> Value {
        super::Client::new(&self.issuer, None).get("/test/counts").json
    }

    pub fn post(&self, path: &str) -> Value {
        super::Client::new(&self.issuer, None)
            .post(path, &serde_json::json!({}))
            .json
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Follows the authorization server's redirects like a browser (keeping its cookies)
/// until it redirects to tessera's callback; returns that callback's path and query.
pub fn drive_authorization(authorization_url: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(15)))
        .build()
        .into();
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    let mut url = authorization_url.to_owned();
    for _ in 0..12 {
        let callback = format!("{PUBLIC_URL}/oauth/callback");
        if let Some(rest) = url.strip_prefix(&callback) {
            return format!("/oauth/callback{rest}");
        }
        let cookie_header = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = agent.get(&url);
        if !cookie_header.is_empty() {
            request = request.header("cookie", &cookie_header);
        }
        let response = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap_or("");
            if let Some((pair, _)) = text.split_once(';').or(Some((text, "")))
                && let Some((name, value)) = pair.split_once('=')
            {
                if value.is_empty() {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().to_owned(), value.to_owned());
                }
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match (status, location) {
            (300..=399, Some(next)) => {
                url = if next.starts_with("http") {
                    next
                } else {
                    let base = url::Url::parse(&url).expect("url");
                    base.join(&next).expect("join").to_string()
                };
            }
            (status, _) => {
                let body = response.into_body().read_to_string().unwrap_or_default();
                panic!("authorization stopped at {url} with {status}: {body}");
            }
        }
    }
    panic!("too many redirects while authorizing");
}

/// Splits an absolute URL's query into pairs.
pub fn query_of(url: &str) -> BTreeMap<String, String> {
    url::Url::parse(url)
        .expect("absolute url")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
