//! Authorization code + PKCE against a real authorization server (oidc-provider):
//! connect, refresh on read, rotation, forced refresh, verify, proxy, revoke on delete,
//! and the state's single use.

use std::time::Duration;

use serde_json::json;

use crate::support::oauth::{
    CLIENT_ID, CLIENT_SECRET, OidcServer, PUBLIC_URL, RETURN_ORIGIN, drive_authorization, query_of,
};
use crate::support::{Client, TestServer, providers_file};

pub const SCOPES: &[&str] = &[
    "connections:read",
    "connections:write",
    "credentials:reveal",
    "proxy",
    "audit:read",
];

pub fn oauth_server(oidc: &OidcServer, settings: &[(&str, &str)]) -> TestServer {
    let toml = oidc.provider_toml("acme");
    TestServer::start_with(|config| {
        config.providers_file = Some(providers_file(&config.data_dir.with_file_name("etc"), &toml));
        config.public_url = Some(PUBLIC_URL.into());
        config.apply("allowed_return_origins", RETURN_ORIGIN).unwrap();
        for (name, value) in settings {
            config.apply(name, value).unwrap();
        }
    })
}

pub fn register_platform_app(server: &TestServer) {
    let resp = server.admin().put(
        "/api/v1/platform/apps/acme",
        &json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
    );
    assert_eq!(resp.status, 201, "{}", resp.text);
    assert_eq!(resp.json["client_secret"], "****1f0b", "masked: {}", resp.text);
}

/// Runs the whole authorization for `tenant`; returns the callback's redirect target.
pub fn connect(server: &TestServer, client: &Client, tenant: &str) -> String {
    let resp = client.post(
        &format!("/api/v1/tenants/{tenant}/connections/acme/authorize"),
        &json!({"return_to": format!("{RETURN_ORIGIN}/done")}),
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
    let url = resp.json["authorization_url"].as_str().unwrap().to_owned();
    let callback = drive_authorization(&url);
    let resp = server.anonymous().get(&callback);
    assert_eq!(resp.status, 303, "{}", resp.text);
    resp.header("location").unwrap().to_owned()
}

fn db_bytes(server: &TestServer) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["tessera.db", "tessera.db-wal"] {
        if let Ok(b) = std::fs::read(server.data_dir().join(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn authorization_code_flow_end_to_end() {
    let oidc = OidcServer::start(8);
    let server = oauth_server(
        &oidc,
        &[("oauth_read_margin_secs", "4"), ("oauth_refresh_interval_secs", "600")],
    );
    register_platform_app(&server);
    let apps = server.admin().get("/api/v1/platform/apps");
    assert_eq!(apps.json["items"][0]["provider"], "acme");
    assert!(!apps.text.contains(CLIENT_SECRET));
    server.create_tenant("t1");
    let client = server.with_token(&server.tenant_token("t1", SCOPES));

    // authorize: S256 challenge, state, exact redirect URI, the catalog's scopes.
    let resp = client.post("/api/v1/tenants/t1/connections/acme/authorize", &json!({}));
    assert_eq!(resp.status, 200, "{}", resp.text);
    let query = query_of(resp.json["authorization_url"].as_str().unwrap());
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], format!("{PUBLIC_URL}/oauth/callback"));
    assert_eq!(query["client_id"], CLIENT_ID);
    assert!(query["state"].len() >= 43, "state carries at least 32 random bytes");
    assert!(query["scope"].contains("offline_access"));
    let pending = client.get("/api/v1/tenants/t1/connections/acme");
    assert_eq!(pending.json["status"], "pending");

    let landed = connect(&server, &client, "t1");
    assert_eq!(landed, format!("{RETURN_ORIGIN}/done?connected=acme"));
    let view = client.get("/api/v1/tenants/t1/connections/acme");
    assert_eq!(view.json["status"], "active", "{}", view.text);
    assert!(view.json["expires_at"].is_string());

    // /token: the stored token while fresh (no upstream call), a real one.
    let first = client.get("/api/v1/tenants/t1/connections/acme/token");
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["token_type"], "Bearer");
    let at1 = first.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        client.get("/api/v1/tenants/t1/connections/acme/token").json["access_token"],
        at1
    );
    assert_eq!(oidc.counts()["refreshGrants"], 0);
    let me = Client::new(&oidc.issuer, Some(&at1)).get("/me");
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["sub"], "test-user");

    // Within the read margin of expiry: /token refreshes first, once for ten concurrent
    // readers (with rotation, a second refresh with the same refresh token would be
    // treated as replay and revoke the grant).
    std::thread::sleep(Duration::from_millis(4500));
    let start = std::sync::Arc::new(std::sync::Barrier::new(10));
    let readers: Vec<_> = (0..10)
        .map(|_| {
            let (client, start) = (client.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                client.get("/api/v1/tenants/t1/connections/acme/token")
            })
        })
        .collect();
    let answers: Vec<_> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    let at2 = answers[0].json["access_token"].as_str().unwrap().to_owned();
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.json["access_token"], at2.as_str());
    }
    assert_ne!(at1, at2);
    assert_eq!(oidc.counts()["refreshGrants"], 1);

    // A forced refresh succeeds, so the rotated refresh token was stored.
    let forced = client.post("/api/v1/tenants/t1/connections/acme/refresh", &json!({}));
    assert_eq!(forced.status, 200, "{}", forced.text);
    assert!(!forced.text.contains(&at2));
    assert_eq!(oidc.counts()["refreshGrants"], 2);
    let at3 = client.get("/api/v1/tenants/t1/connections/acme/token").json["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(at3, at2);

    // verify and the proxy use the access token.
    let verified = client.post("/api/v1/tenants/t1/connections/acme/verify", &json!({}));
    assert_eq!(verified.json["result"], "ok", "{}", verified.text);
    let proxied = client.get("/api/v1/tenants/t1/proxy/acme/me");
    assert_eq!(proxied.status, 200, "{}", proxied.text);
    assert_eq!(proxied.json["sub"], "test-user");

    // Tokens and secrets never sit in the database file in plaintext.
    let bytes = db_bytes(&server);
    for secret in [&at1, &at2, &at3, CLIENT_SECRET] {
        assert!(!contains(&bytes, secret), "plaintext secret in the database file");
    }
    for resp in [&view, &forced, &verified] {
        assert!(!resp.text.contains(&at3) && !resp.text.contains(CLIENT_SECRET));
    }

    // Disconnect revokes at the provider (RFC 7009), then deletes.
    assert!(oidc.counts()["refresh_tokens"].as_u64().unwrap() >= 1);
    let deleted = client.delete("/api/v1/tenants/t1/connections/acme");
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let counts = oidc.counts();
    assert!(counts["revocations"].as_u64().unwrap() >= 1, "{counts}");
    assert_eq!(counts["refresh_tokens"], 0, "{counts}");
    assert_eq!(Client::new(&oidc.issuer, Some(&at3)).get("/me").status, 401);
    assert_eq!(client.get("/api/v1/tenants/t1/connections/acme/token").status, 404);

    let audit = client.get("/api/v1/tenants/t1/audit");
    for action in [
        "oauth.authorize",
        "oauth.connected",
        "token.read",
        "token.refreshed",
        "proxy.request",
    ] {
        assert!(audit.text.contains(action), "audit lacks {action}: {}", audit.text);
    }
}

#[test]
fn state_is_single_use_bound_and_expiring() {
    let oidc = OidcServer::start(60);
    let server = oauth_server(&oidc, &[]);
    register_platform_app(&server);
    server.create_tenant("t1");
    let client = server.with_token(&server.tenant_token("t1", SCOPES));
    let authorize = |body: serde_json::Value| client.post("/api/v1/tenants/t1/connections/acme/authorize", &body);

    // return_to must stay on tessera's or an allow-listed origin.
    let open_redirect = authorize(json!({"return_to": "https://evil.example/steal"}));
    assert_eq!(open_redirect.status, 400, "{}", open_redirect.text);
    assert_eq!(open_redirect.json["errors"][0]["field"], "return_to");

    // Forged or missing state.
    let forged = server
        .anonymous()
        .get("/oauth/callback?code=abc&state=forged-state-value");
    assert_eq!(forged.status, 400, "{}", forged.text);
    assert_eq!(server.anonymous().get("/oauth/callback?code=abc").status, 400);

    // Expired state: nothing stored, the connection stays pending.
    let resp = authorize(json!({}));
    let url = resp.json["authorization_url"].as_str().unwrap().to_owned();
    let db = server.db();
    db.execute("UPDATE oauth_states SET expires_at = '2000-01-01T00:00:00Z'", [])
        .unwrap();
    let callback = drive_authorization(&url);
    let expired = server.anonymous().get(&callback);
    assert_eq!(expired.status, 400, "{}", expired.text);
    assert_eq!(
        client.get("/api/v1/tenants/t1/connections/acme").json["status"],
        "pending"
    );
    let tokens: i64 = db
        .query_row("SELECT COUNT(*) FROM oauth_tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tokens, 0);

    // Success, then a replay of the same callback is refused.
    let resp = authorize(json!({"return_to": format!("{PUBLIC_URL}/ui/")}));
    let callback = drive_authorization(resp.json["authorization_url"].as_str().unwrap());
    let ok = server.anonymous().get(&callback);
    assert_eq!(ok.status, 303, "{}", ok.text);
    assert_eq!(
        ok.header("location").unwrap(),
        format!("{PUBLIC_URL}/ui/?connected=acme")
    );
    let replay = server.anonymous().get(&callback);
    assert_eq!(replay.status, 400, "{}", replay.text);
    let state = query_of(&format!("http://x{callback}"))["state"].clone();
    for stored in server.stored_bytes() {
        assert!(
            !stored.windows(state.len()).any(|w| w == state.as_bytes()),
            "raw state stored"
        );
    }

    // A provider error sends the browser back with ?error=.
    oidc.post("/test/deny-next");
    let resp = authorize(json!({"return_to": format!("{RETURN_ORIGIN}/back")}));
    let callback = drive_authorization(resp.json["authorization_url"].as_str().unwrap());
    let denied = server.anonymous().get(&callback);
    assert_eq!(denied.status, 303, "{}", denied.text);
    let location = denied.header("location").unwrap();
    assert!(location.starts_with(&format!("{RETURN_ORIGIN}/back?")), "{location}");
    assert_eq!(query_of(location)["error"], "access_denied");

    // A wrong issuer in the response (mix-up attack) is refused.
    let resp = authorize(json!({}));
    let callback = drive_authorization(resp.json["authorization_url"].as_str().unwrap());
    let tampered = callback.replace("iss=", "iss=https%3A%2F%2Fevil.example&was=");
    assert_eq!(server.anonymous().get(&tampered).status, 400);

    // Another tenant cannot start an authorization for t1.
    server.create_tenant("t2");
    let other = server.with_token(&server.tenant_token("t2", SCOPES));
    let resp = other.post("/api/v1/tenants/t1/connections/acme/authorize", &json!({}));
    assert_eq!(resp.status, 403);
    assert_eq!(resp.code(), "tenant_mismatch");
}

#[test]
fn background_refresh_and_invalid_grant() {
    let oidc = OidcServer::start(6);
    let server = oauth_server(
        &oidc,
        &[
            ("oauth_refresh_margin_secs", "4"),
            ("oauth_refresh_interval_secs", "0.5"),
            ("oauth_read_margin_secs", "1"),
        ],
    );
    register_platform_app(&server);
    server.create_tenant("t1");
    let client = server.with_token(&server.tenant_token("t1", SCOPES));
    connect(&server, &client, "t1");
    let at1 = client.get("/api/v1/tenants/t1/connections/acme/token").json["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Nobody asks; the refresher renews before expiry.
    let mut refreshed = false;
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(250));
        if oidc.counts()["refreshGrants"].as_u64().unwrap() >= 1 {
            refreshed = true;
            break;
        }
    }
    assert!(refreshed, "the background refresher did not refresh");
    std::thread::sleep(Duration::from_millis(300));
    let at2 = client.get("/api/v1/tenants/t1/connections/acme/token").json["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(at1, at2);

    // The provider forgets the grant: the next refresh gets invalid_grant.
    oidc.post("/test/revoke-refresh-tokens");
    let mut status = String::new();
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(250));
        status = client.get("/api/v1/tenants/t1/connections/acme").json["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status == "needs_reauth" {
            break;
        }
    }
    assert_eq!(status, "needs_reauth");
    let db = server.db();
    let events: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE event_type = 'connection.refresh_failed' AND payload LIKE '%acme%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 1);
    // Once the token has expired, /token says what to do instead of failing opaquely,
    // without asking the provider again (one event, not one per read).
    std::thread::sleep(Duration::from_millis(4500));
    let grants_before = oidc.counts()["refreshGrants"].clone();
    for _ in 0..3 {
        let resp = client.get("/api/v1/tenants/t1/connections/acme/token");
        assert_eq!(resp.status, 409, "{}", resp.text);
        assert_eq!(resp.code(), "conflict");
    }
    assert_eq!(oidc.counts()["refreshGrants"], grants_before);
    let events: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE event_type = 'connection.refresh_failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 1);
    let notes = client.get("/api/v1/tenants/t1/connections/acme");
    assert!(
        notes.json["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid_grant"),
        "{}",
        notes.text
    );
}

#[test]
fn the_tenants_own_app_wins_over_the_platform_app() {
    let oidc = OidcServer::start(60);
    let server = oauth_server(
        &oidc,
        &[
            ("app_acme_client_id", "env-client"),
            ("app_acme_client_secret", "env-secret-value-123"),
        ],
    );
    server.create_tenant("t1");
    server.create_tenant("t2");
    let t1 = server.with_token(&server.tenant_token("t1", SCOPES));
    let t2 = server.with_token(&server.tenant_token("t2", SCOPES));
    let client_id_of = |client: &Client, tenant: &str| {
        let resp = client.post(
            &format!("/api/v1/tenants/{tenant}/connections/acme/authorize"),
            &json!({}),
        );
        assert_eq!(resp.status, 200, "{}", resp.text);
        query_of(resp.json["authorization_url"].as_str().unwrap())["client_id"].clone()
    };

    // Environment app, listed masked.
    assert_eq!(client_id_of(&t1, "t1"), "env-client");
    let apps = server.admin().get("/api/v1/platform/apps");
    assert_eq!(apps.json["items"][0]["source"], "environment");
    assert!(!apps.text.contains("env-secret-value-123"));

    // Only the operator manages platform apps; bad input is named.
    let denied = t1.put(
        "/api/v1/platform/apps/acme",
        &json!({"client_id": "x", "client_secret": "y"}),
    );
    assert_eq!(denied.status, 403);
    let bad = server
        .admin()
        .put("/api/v1/platform/apps/acme", &json!({"client_id": "x"}));
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json["errors"][0]["field"], "client_secret");
    let unknown = server.admin().put(
        "/api/v1/platform/apps/nosuch",
        &json!({"client_id": "x", "client_secret": "y"}),
    );
    assert_eq!(unknown.status, 404);
    let keyed = server.admin().put(
        "/api/v1/platform/apps/stripe",
        &json!({"client_id": "x", "client_secret": "y"}),
    );
    assert_eq!(keyed.status, 400, "stripe has no OAuth: {}", keyed.text);

    // A stored platform app wins over the environment.
    register_platform_app(&server);
    assert_eq!(client_id_of(&t1, "t1"), CLIENT_ID);

    // A tenant's own app wins over both, for that tenant only.
    let put = t2.put(
        "/api/v1/tenants/t2/connections/acme",
        &json!({"auth_mode": "oauth2", "credentials": {"client_id": "tenant-own-client", "client_secret": "own-secret"}}),
    );
    assert!(put.status == 200 || put.status == 201, "{}", put.text);
    assert_eq!(client_id_of(&t2, "t2"), "tenant-own-client");
    assert_eq!(client_id_of(&t1, "t1"), CLIENT_ID);

    assert_eq!(server.admin().delete("/api/v1/platform/apps/acme").status, 204);
    assert_eq!(client_id_of(&t1, "t1"), "env-client");
    assert_eq!(server.admin().delete("/api/v1/platform/apps/acme").status, 404);
}
