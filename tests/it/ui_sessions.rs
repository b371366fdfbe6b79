//! Sign-in sessions over HTTP: cookie flags, CSRF, expiry, rate limits, roles.

use serde_json::json;

use crate::support::TestServer;
use crate::support::ui::{create_user, sign_in, user_cli};

const PASSWORD: &str = "correct horse battery staple";

fn db(server: &TestServer) -> crate::support::ServerDb {
    server.db()
}

#[test]
fn tenant_admin_signs_in_with_a_strict_http_only_cookie_stored_hashed() {
    let server = TestServer::start();
    server.create_tenant("acme");
    server.create_tenant("globex");
    let user = create_user(&server, "Ada@Acme.test", PASSWORD, Some("acme"));
    assert_eq!(user["role"], "tenant_admin");

    let anon = server.anonymous().post(
        "/api/v1/session",
        &json!({"email": "ada@acme.test", "password": PASSWORD}),
    );
    assert_eq!(anon.status, 201, "{}", anon.text);
    let cookie = anon.header("set-cookie").expect("cookie");
    for flag in ["tessera_session=tss_", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Secure"), "plain-http public URL: no Secure flag");
    assert!(!anon.text.contains("tss_"), "the session id is only in the cookie");

    let session = sign_in(&server, "ada@acme.test", PASSWORD).expect("sign in");
    let me = session.get("/api/v1/session");
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["user"]["email"], "ada@acme.test");
    assert_eq!(me.json["role"], "tenant_admin");
    assert_eq!(me.json["tenant"]["slug"], "acme");
    assert_eq!(me.json["csrf_token"], session.csrf.as_str());
    assert!(me.json["user"].get("password_hash").is_none());

    // The cookie works on the tenant's API, and only there.
    assert_eq!(session.get("/api/v1/tenants/acme/connections").status, 200);
    let other = session.get("/api/v1/tenants/globex/connections");
    assert_eq!((other.status, other.code()), (403, "tenant_mismatch"));
    assert_eq!(session.post("/api/v1/tenants", &json!({"name": "x"})).status, 403);

    // Neither the session id nor the password is in the database.
    let secret = session.cookie.trim_start_matches("tessera_session=").to_owned();
    let (hash_count, password_hash): (i64, String) = db(&server)
        .query_row(
            "SELECT (SELECT count(*) FROM sessions WHERE session_hash = ?1), password_hash FROM users",
            [tessera::vault::hash_token(&secret)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert_eq!(hash_count, 1);
    assert!(password_hash.starts_with("$argon2id$"));
    drop(server.admin().get("/healthz"));
    for file in &server.stored_bytes() {
        let text = String::from_utf8_lossy(file);
        assert!(!text.contains(&secret) && !text.contains(PASSWORD));
    }

    // Sign-ins are audited.
    let audit = session.get("/api/v1/tenants/acme/audit");
    assert!(audit.text.contains("session.created"), "{}", audit.text);
}

#[test]
fn state_changes_need_the_csrf_header() {
    let server = TestServer::start();
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));
    let session = sign_in(&server, "ada@acme.test", PASSWORD).expect("sign in");
    let body = json!({"name": "ci", "scopes": ["connections:read"]});

    let missing = session.send("POST", "/api/v1/tenants/acme/tokens", Some(&body), false);
    assert_eq!(missing.status, 403, "{}", missing.text);
    assert!(missing.json["detail"].as_str().unwrap_or("").contains("X-CSRF-Token"));
    let mut wrong = sign_in(&server, "ada@acme.test", PASSWORD).expect("another session");
    wrong.csrf = "0".repeat(64);
    assert_eq!(wrong.post("/api/v1/tenants/acme/tokens", &body).status, 403);
    let mut forged = sign_in(&server, "ada@acme.test", PASSWORD).expect("second session");
    forged.csrf = session.csrf.clone(); // another session's token does not fit
    assert_eq!(forged.post("/api/v1/tenants/acme/tokens", &body).status, 403);
    for (method, path) in [
        ("PUT", "/api/v1/tenants/acme/connections/stripe"),
        ("PATCH", "/api/v1/tenants/acme"),
        ("DELETE", "/api/v1/tenants/acme/connections/stripe"),
    ] {
        let resp = session.send(method, path, Some(&json!({})), false);
        assert_eq!(resp.status, 403, "{method}: {}", resp.text);
    }

    let ok = session.post("/api/v1/tenants/acme/tokens", &body);
    assert_eq!(ok.status, 201, "{}", ok.text);
    assert!(ok.json["token"].as_str().unwrap_or("").starts_with("tsr_"));
    // Nothing was created by the refused requests.
    assert_eq!(
        session.get("/api/v1/tenants/acme/tokens").json["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn expired_and_idle_sessions_answer_401() {
    let server = TestServer::start();
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));

    let absolute = sign_in(&server, "ada@acme.test", PASSWORD).expect("sign in");
    assert_eq!(absolute.get("/api/v1/session").status, 200);
    let secret = absolute.cookie.trim_start_matches("tessera_session=").to_owned();
    db(&server)
        .execute(
            "UPDATE sessions SET expires_at = '2020-01-01T00:00:00Z' WHERE session_hash = ?1",
            [tessera::vault::hash_token(&secret)],
        )
        .expect("expire");
    let resp = absolute.get("/api/v1/session");
    assert_eq!((resp.status, resp.code()), (401, "unauthorized"));
    assert!(
        resp.json["detail"].as_str().unwrap_or("").contains("expired"),
        "{}",
        resp.text
    );
    assert_eq!(absolute.get("/api/v1/tenants/acme/connections").status, 401);

    let idle = sign_in(&server, "ada@acme.test", PASSWORD).expect("sign in");
    let secret = idle.cookie.trim_start_matches("tessera_session=").to_owned();
    db(&server)
        .execute(
            "UPDATE sessions SET last_seen_at = '2020-01-01T00:00:00Z' WHERE session_hash = ?1",
            [tessera::vault::hash_token(&secret)],
        )
        .expect("idle");
    assert_eq!(idle.get("/api/v1/tenants/acme/connections").status, 401);
    assert_eq!(idle.get("/api/v1/session").status, 401, "an idle session stays refused");
    // The absolutely expired session was removed when its owner signed in again; the idle
    // one goes at the next sign-in after its absolute expiry.
    let left: i64 = db(&server)
        .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .expect("count");
    assert_eq!(left, 1);
}

#[test]
fn wrong_passwords_are_rate_limited_per_account_and_audited() {
    let server = TestServer::start_with(|config| {
        config.login_max_failures = 3;
    });
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));
    let anon = server.anonymous();
    let wrong = json!({"email": "ada@acme.test", "password": "not the password"});
    for _ in 0..3 {
        let resp = anon.post("/api/v1/session", &wrong);
        assert_eq!((resp.status, resp.code()), (401, "unauthorized"), "{}", resp.text);
        assert_eq!(resp.json["detail"], "wrong email or password");
    }
    let limited = anon.post("/api/v1/session", &wrong);
    assert_eq!(
        (limited.status, limited.code()),
        (429, "rate_limited"),
        "{}",
        limited.text
    );
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(retry > 0 && retry <= 900);
    // Even the right password waits: the guesser learns nothing.
    let right = anon.post(
        "/api/v1/session",
        &json!({"email": "ada@acme.test", "password": PASSWORD}),
    );
    assert_eq!(right.status, 429);
    // An unknown email answers exactly like a wrong password.
    let unknown = anon.post(
        "/api/v1/session",
        &json!({"email": "nobody@acme.test", "password": PASSWORD}),
    );
    assert_eq!(
        (unknown.status, unknown.json["detail"].as_str()),
        (401, Some("wrong email or password"))
    );

    let audit = server.admin().get("/api/v1/tenants/acme/audit");
    let failures = audit.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == "session.login_failed")
        .count();
    assert_eq!(failures, 3);
    assert!(!audit.text.contains("not the password"));
}

#[test]
fn sign_out_needs_csrf_and_ends_the_session() {
    let server = TestServer::start();
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));
    let session = sign_in(&server, "ada@acme.test", PASSWORD).expect("sign in");
    assert_eq!(session.send("DELETE", "/api/v1/session", None, false).status, 403);
    let out = session.send("DELETE", "/api/v1/session", None, true);
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(session.get("/api/v1/session").status, 401);
    assert_eq!(session.get("/api/v1/tenants/acme/connections").status, 401);
}

#[test]
fn platform_admin_acts_on_every_tenant_and_cookies_are_secure_behind_https() {
    let server = TestServer::start_with(|config| {
        config.public_url = Some("https://hub.example.test".into());
    });
    server.create_tenant("acme");
    create_user(&server, "root@example.test", PASSWORD, None);
    let raw = server.anonymous().post(
        "/api/v1/session",
        &json!({"email": "root@example.test", "password": PASSWORD}),
    );
    assert!(raw.header("set-cookie").is_some_and(|c| c.contains("; Secure")));
    let admin = sign_in(&server, "root@example.test", PASSWORD).expect("sign in");
    assert_eq!(admin.session["role"], "platform_admin");
    assert!(admin.session["tenant"].is_null());
    let created = admin.post("/api/v1/tenants", &json!({"name": "Globex", "tier": "pro"}));
    assert_eq!(created.status, 201, "{}", created.text);
    let all = admin.get("/api/v1/tenants");
    assert_eq!(all.json["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(admin.get("/api/v1/tenants/acme/connections").status, 200);
}

#[test]
fn user_create_refuses_bad_input() {
    let server = TestServer::start();
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));
    let run = |email: &str, password: &str, tenant: Option<&str>| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            create_user(&server, email, password, tenant)
        }))
        .is_err()
    };
    assert!(run("ada@acme.test", PASSWORD, Some("acme")), "duplicate email");
    assert!(run("ADA@acme.test", PASSWORD, None), "duplicate email, any case");
    assert!(run("bob@acme.test", "short", Some("acme")), "short password");
    assert!(run("bob@acme.test", PASSWORD, Some("nope")), "unknown tenant");
    assert!(run("not-an-email", PASSWORD, None), "bad email");
}

#[test]
fn one_client_guessing_across_accounts_is_limited_per_ip() {
    let server = TestServer::start_with(|config| {
        config.login_max_failures_per_ip = 2;
    });
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));
    let anon = server.anonymous();
    for email in ["a@acme.test", "b@acme.test"] {
        let resp = anon.post(
            "/api/v1/session",
            &json!({"email": email, "password": "guess guess guess"}),
        );
        assert_eq!(resp.status, 401);
    }
    let limited = anon.post(
        "/api/v1/session",
        &json!({"email": "ada@acme.test", "password": PASSWORD}),
    );
    assert_eq!(
        (limited.status, limited.code()),
        (429, "rate_limited"),
        "{}",
        limited.text
    );
    assert!(limited.header("retry-after").is_some());
}

#[test]
fn sign_in_rejects_malformed_bodies_clearly() {
    let server = TestServer::start();
    let anon = server.anonymous();
    let unknown = anon.post(
        "/api/v1/session",
        &json!({"email": "a@b.test", "password": "x", "remember": true}),
    );
    assert_eq!(
        (unknown.status, unknown.code()),
        (400, "invalid_input"),
        "{}",
        unknown.text
    );
    let missing = anon.post("/api/v1/session", &json!({"email": "a@b.test"}));
    assert_eq!(missing.status, 400);
    let empty = anon.post("/api/v1/session", &json!({"email": "a@b.test", "password": ""}));
    assert_eq!(empty.status, 400);
    assert!(empty.text.contains("password"));
    let raw = anon.send(
        "POST",
        "/api/v1/session",
        Some(b"{not json".to_vec()),
        &[("content-type", "application/json")],
    );
    assert_eq!(raw.status, 400);
    // Not signed in: GET answers 401 and DELETE just clears the cookie.
    assert_eq!(anon.get("/api/v1/session").status, 401);
    assert_eq!(anon.delete("/api/v1/session").status, 204);
}

#[test]
fn a_new_password_or_a_deleted_user_ends_the_sessions() {
    let server = TestServer::start();
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));
    let before = sign_in(&server, "ada@acme.test", PASSWORD).expect("sign in");
    let new_password = "a brand new passphrase";
    let out = user_cli(
        &server,
        &["set-password", "--email", "ADA@acme.test", "--password-stdin"],
        new_password,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 session(s) ended"));
    assert_eq!(before.get("/api/v1/session").status, 401);
    assert!(sign_in(&server, "ada@acme.test", PASSWORD).is_err());
    let after = sign_in(&server, "ada@acme.test", new_password).expect("new password works");

    let short = user_cli(
        &server,
        &["set-password", "--email", "ada@acme.test", "--password-stdin"],
        "short",
    );
    assert!(!short.status.success());
    let nobody = user_cli(&server, &["delete", "--email", "nobody@acme.test"], "");
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no user with this email"));

    assert!(
        user_cli(&server, &["delete", "--email", "ada@acme.test"], "")
            .status
            .success()
    );
    assert_eq!(after.get("/api/v1/tenants/acme/connections").status, 401);
    assert!(sign_in(&server, "ada@acme.test", new_password).is_err());
}
