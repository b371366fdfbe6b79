//! Who a client is behind a proxy, sign-in limits that no one address can turn into a
//! lockout of everyone, tokens that cannot outlive their creator, and errors that never
//! repeat what was sent.

use serde_json::{Value, json};

use crate::support::ui::create_user;
use crate::support::{Client, TestServer};

const PASSWORD: &str = "correct horse battery staple";

fn server(settings: &[(&str, &str)]) -> TestServer {
    let settings: Vec<(String, String)> = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    TestServer::start_with(move |config| {
        for (name, value) in &settings {
            assert!(config.apply(name, value).unwrap(), "unknown setting {name}");
        }
    })
}

fn sign_in_from(
    client: &Client,
    from: &str,
    email: &str,
    password: &str,
    cookie: Option<&str>,
) -> crate::support::Response {
    let body = json!({"email": email, "password": password}).to_string().into_bytes();
    let mut headers = vec![("content-type", "application/json"), ("x-forwarded-for", from)];
    if let Some(cookie) = cookie {
        headers.push(("cookie", cookie));
    }
    client.send("POST", "/api/v1/session", Some(body), &headers)
}

fn cookie_named(resp: &crate::support::Response, name: &str) -> Option<String> {
    resp.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap_or("").to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")))
}

#[test]
fn behind_a_trusted_proxy_one_guessing_address_locks_out_only_itself() {
    let server = server(&[
        ("trusted_proxies", "127.0.0.1/32"),
        ("login_max_failures_per_ip", "3"),
        ("login_max_failures", "100"),
    ]);
    server.create_tenant("acme");
    create_user(&server, "bob@acme.test", PASSWORD, Some("acme"));
    let anon = server.anonymous();
    for n in 0..5 {
        let resp = sign_in_from(
            &anon,
            "203.0.113.7",
            &format!("guess{n}@acme.test"),
            "wrong wrong",
            None,
        );
        assert!(resp.status == 401 || resp.status == 429, "{}", resp.text);
    }
    let attacker = sign_in_from(&anon, "203.0.113.7", "bob@acme.test", PASSWORD, None);
    assert_eq!(
        attacker.status, 429,
        "the guessing address is limited: {}",
        attacker.text
    );
    // Everyone else behind the same proxy still signs in.
    let bob = sign_in_from(&anon, "198.51.100.2", "bob@acme.test", PASSWORD, None);
    assert_eq!(bob.status, 201, "{}", bob.text);
    // The audit log names the real client, not the proxy.
    let audit = server.admin().get("/api/v1/tenants/acme/audit");
    let created = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "session.created")
        .cloned()
        .expect("a session.created entry");
    assert_eq!(created["ip"], "198.51.100.2", "{created}");
}

#[test]
fn forwarded_headers_from_anyone_else_are_not_believed() {
    let server = server(&[("login_max_failures_per_ip", "3"), ("login_max_failures", "100")]);
    let anon = server.anonymous();
    // A new made-up X-Forwarded-For each time does not buy new attempts.
    let statuses: Vec<u16> = (0..6)
        .map(|n| {
            sign_in_from(
                &anon,
                &format!("192.0.2.{n}"),
                &format!("g{n}@x.test"),
                "wrong wrong",
                None,
            )
            .status
        })
        .collect();
    assert_eq!(statuses[3..], [429, 429, 429], "{statuses:?}");
}

#[test]
fn anonymous_limits_count_the_real_client_behind_a_trusted_proxy() {
    let server = server(&[("trusted_proxies", "127.0.0.1"), ("rate_limit_anonymous", "2")]);
    let anon = server.anonymous();
    let get = |from: &str| anon.send("GET", "/api/v1/tenants", None, &[("x-forwarded-for", from)]);
    let first: Vec<u16> = (0..4).map(|_| get("203.0.113.50").status).collect();
    assert!(first.contains(&429), "{first:?}");
    // Another client behind the same proxy has its own budget (unless the minute turned
    // and gave the first one a new one too: either way not 429 here).
    assert_eq!(get("198.51.100.60").status, 401);
}

#[test]
fn a_locked_account_still_opens_from_a_browser_that_signed_in_before() {
    let server = server(&[("login_max_failures", "3"), ("login_max_failures_per_ip", "1000")]);
    server.create_tenant("acme");
    create_user(&server, "ada@acme.test", PASSWORD, Some("acme"));
    let anon = server.anonymous();
    let first = sign_in_from(&anon, "ignored", "ada@acme.test", PASSWORD, None);
    assert_eq!(first.status, 201, "{}", first.text);
    let device = cookie_named(&first, "tessera_device").expect("a device cookie on success");
    let set = first
        .headers
        .iter()
        .find(|(n, v)| n.eq_ignore_ascii_case("set-cookie") && v.starts_with("tessera_device="))
        .map(|(_, v)| v.clone())
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/api/v1/session"] {
        assert!(set.contains(flag), "{set} lacks {flag}");
    }
    // Someone else locks the account with wrong passwords.
    for _ in 0..4 {
        sign_in_from(&anon, "ignored", "ada@acme.test", "not her password", None);
    }
    let locked = sign_in_from(&anon, "ignored", "ada@acme.test", PASSWORD, None);
    assert_eq!(locked.status, 429, "{}", locked.text);
    // Ada's own browser is not locked out.
    let ada = sign_in_from(&anon, "ignored", "ada@acme.test", PASSWORD, Some(&device));
    assert_eq!(ada.status, 201, "{}", ada.text);
    // A device cookie opens only its own account, and a forged one counts for nothing.
    create_user(&server, "eve@acme.test", PASSWORD, Some("acme"));
    for _ in 0..4 {
        sign_in_from(&anon, "ignored", "eve@acme.test", "nope nope nope", None);
    }
    let other = sign_in_from(&anon, "ignored", "eve@acme.test", PASSWORD, Some(&device));
    assert_eq!(other.status, 429, "{}", other.text);
    let forged = sign_in_from(
        &anon,
        "ignored",
        "eve@acme.test",
        PASSWORD,
        Some("tessera_device=tsd_forged"),
    );
    assert_eq!(forged.status, 429);
    // Guessing with the device cookie is limited too.
    let device = cookie_named(&ada, "tessera_device").unwrap_or(device);
    let guesses: Vec<u16> = (0..5)
        .map(|_| sign_in_from(&anon, "ignored", "ada@acme.test", "guess guess", Some(&device)).status)
        .collect();
    assert_eq!(guesses[3..], [429, 429], "{guesses:?}");
}

#[test]
fn a_token_cannot_outlive_the_token_that_created_it() {
    let server = server(&[]);
    server.create_tenant("acme");
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let parent = server.admin().post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "short", "scopes": ["tokens:write", "connections:read"], "expires_at": soon}),
    );
    assert_eq!(parent.status, 201, "{}", parent.text);
    let parent = server.with_token(parent.json["token"].as_str().unwrap());
    // No expiry asked for: the child inherits its creator's.
    let child = parent.post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "child", "scopes": ["connections:read"]}),
    );
    assert_eq!(child.status, 201, "{}", child.text);
    let child_expiry = child.json["expires_at"].as_str().expect("the child expires");
    assert!(
        time::OffsetDateTime::parse(child_expiry, &time::format_description::well_known::Rfc3339).unwrap()
            <= time::OffsetDateTime::parse(&soon, &time::format_description::well_known::Rfc3339).unwrap()
    );
    // A later expiry is refused, naming the field.
    let later = (time::OffsetDateTime::now_utc() + time::Duration::days(365))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let refused = parent.post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "forever", "scopes": ["connections:read"], "expires_at": later}),
    );
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.json["errors"][0]["field"], "expires_at");
    // A token without an expiry (the operator's) may still create long-lived ones.
    let free = server.admin().post(
        "/api/v1/tenants/acme/tokens",
        &json!({"name": "ci", "scopes": ["connections:read"], "expires_at": later}),
    );
    assert_eq!(free.status, 201, "{}", free.text);
}

const CANARY: &str = "sk_live_CANARY_d41d8cd98f00b204";

fn assert_no_echo(resp: &crate::support::Response, what: &str) {
    assert!(resp.status >= 400, "{what}: {}", resp.text);
    assert!(!resp.text.contains(CANARY), "{what} echoed the value: {}", resp.text);
    assert!(
        !resp.text.contains("d41d8cd9"),
        "{what} echoed part of the value: {}",
        resp.text
    );
}

#[test]
fn errors_name_the_field_and_the_problem_never_the_value() {
    let server = server(&[]);
    server.create_tenant("acme");
    let admin = server.admin();
    // A secret sent where a list, a number, a boolean or an enum belongs.
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "POST",
            "/api/v1/tenants/acme/tokens",
            json!({"name": "x", "scopes": CANARY}),
            "scopes",
        ),
        (
            "POST",
            "/api/v1/tenants/acme/tokens",
            json!({"name": "x", "scopes": [CANARY]}),
            "scopes",
        ),
        (
            "PUT",
            "/api/v1/tenants/acme/connections/stripe",
            json!({"credentials": CANARY}),
            "credentials",
        ),
        (
            "PUT",
            "/api/v1/tenants/acme/connections/stripe",
            json!({"credentials": {"secret_key": 5}, "auth_mode": CANARY}),
            "auth_mode",
        ),
        ("PATCH", "/api/v1/tenants/acme", json!({"tier": CANARY}), "tier"),
        (
            "POST",
            "/api/v1/tenants/acme/webhook-endpoints",
            json!({"url": "https://example.com/h", "events": ["*"], "active": CANARY}),
            "active",
        ),
        (
            "POST",
            "/api/v1/session",
            json!({"email": "a@b.test", "password": 5, CANARY: 1}),
            "",
        ),
        ("POST", "/api/v1/tenants", json!({"name": "n", "tier": CANARY}), "tier"),
        // Routes whose body is optional parse it the same way.
        (
            "POST",
            "/api/v1/tenants/acme/connections/github/authorize",
            json!({"scopes": CANARY}),
            "scopes",
        ),
        (
            "POST",
            "/api/v1/tenants/acme/bindings/poshvip/sync",
            json!({"since": [CANARY]}),
            "since",
        ),
    ];
    for (method, path, body, field) in cases {
        let resp = admin.send(
            method,
            path,
            Some(body.to_string().into_bytes()),
            &[("content-type", "application/json")],
        );
        assert_no_echo(&resp, &format!("{method} {path} {body}"));
        assert_eq!(resp.status, 400, "{method} {path}: {}", resp.text);
        if !field.is_empty() {
            let named = resp.json["errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .any(|e| e["field"].as_str().unwrap_or("").starts_with(field))
                })
                .unwrap_or(false);
            assert!(named, "{method} {path} does not name `{field}`: {}", resp.text);
        }
    }
    // Malformed JSON around a secret, and a query value of the wrong type.
    let broken = admin.send(
        "PUT",
        "/api/v1/tenants/acme/connections/stripe",
        Some(format!("{{\"credentials\": {{\"secret_key\": \"{CANARY}\"").into_bytes()),
        &[("content-type", "application/json")],
    );
    assert_no_echo(&broken, "truncated JSON");
    let query = admin.get(&format!("/api/v1/tenants/acme/events?limit={CANARY}"));
    assert_no_echo(&query, "query");
    let stats = admin.get(&format!("/api/v1/tenants/acme/events/stats?hours={CANARY}"));
    assert_no_echo(&stats, "query number");
}
