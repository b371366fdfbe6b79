//! The public webhook receiver under attack: junk tenant paths, encodings of one tenant,
//! floods of bad signatures, and what strangers can learn from the answers.
//!
//! Settings are applied by name (`Config::apply`), the way the file and environment
//! set them.

use serde_json::{Value, json};
use tessera::inbound::signature::sign;

use crate::support::binary::ServeProcess;
use crate::support::inbound::*;
use crate::support::raw::{KeepAlive, rss_kib};
use crate::support::{Client, TestServer};

fn server(settings: &[(&str, &str)]) -> TestServer {
    let settings: Vec<(String, String)> = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    TestServer::start_with(move |config| {
        for (name, value) in &settings {
            assert!(config.apply(name, value).unwrap(), "unknown setting {name}");
        }
    })
}

fn bad_delivery(client: &Client, tenant_path: &str, n: usize) -> u16 {
    let body = purchase("purchase.created", &format!("bad{n}"), "x@example.com").to_string();
    post_raw(
        client,
        "poshvip",
        tenant_path,
        body.as_bytes(),
        &[("x-posh-signature", "not-a-signature")],
    )
    .status
}

fn rejected_rows(server: &TestServer, tenant: &str) -> usize {
    items(
        &server
            .admin()
            .get(&format!("/api/v1/tenants/{tenant}/events?status=rejected&limit=500")),
    )
    .len()
}

#[test]
fn every_spelling_of_a_tenant_shares_one_failure_budget_and_verified_deliveries_pass() {
    let server = server(&[("webhook_failure_limit", "5")]);
    let id = server.create_tenant("acme");
    connect_posh(&server, "acme", "posh-secret");
    let anon = server.anonymous();
    // The slug, the id and percent-encodings of the slug name one tenant.
    let spellings = ["acme", id.as_str(), "%61cme", "ac%6De", "%61%63%6d%65"];
    let mut statuses = Vec::new();
    for (i, spelling) in spellings.iter().enumerate() {
        for n in 0..8 {
            statuses.push(bad_delivery(&anon, spelling, i * 100 + n));
        }
    }
    let refused_as_bad = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    // One budget of 5 per minute (twice that if the minute turned during the burst).
    assert!(
        refused_as_bad <= 10,
        "{refused_as_bad} bad signatures answered 401: {statuses:?}"
    );
    assert_eq!(refused_as_bad + limited, statuses.len(), "{statuses:?}");
    assert!(
        rejected_rows(&server, "acme") <= 10,
        "each refused flood row was stored"
    );

    // The provider's own, verified deliveries are not refused: a flash sale's burst from
    // the same address right after the flood.
    for n in 0..300 {
        let resp = post_posh(
            &server,
            "acme",
            "posh-secret",
            &purchase("purchase.created", &format!("sale{n}"), &format!("b{n}@example.com")),
        );
        assert_eq!(resp.status, 200, "verified delivery {n}: {}", resp.text);
    }
    let metrics = server.admin().get("/metrics").text;
    assert!(
        metrics.contains("tessera_rate_limited_total{kind=\"webhook_failures\"}"),
        "{metrics}"
    );
}

#[test]
fn unknown_tenants_share_one_budget_per_client_address() {
    let server = server(&[("webhook_failure_limit", "5")]);
    let anon = server.anonymous();
    let statuses: Vec<u16> = (0..20).map(|n| bad_delivery(&anon, &format!("junk-{n}"), n)).collect();
    let not_found = statuses.iter().filter(|s| **s == 404).count();
    assert!(not_found <= 10, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 404 || *s == 429), "{statuses:?}");
}

#[test]
fn strangers_cannot_tell_a_missing_tenant_from_a_missing_connection() {
    let server = server(&[]);
    server.create_tenant("brand-a");
    let anon = server.anonymous();
    let body = b"{}";
    let no_tenant = post_raw(&anon, "poshvip", "no-such-brand", body, &[]);
    let no_connection = post_raw(&anon, "poshvip", "brand-a", body, &[]);
    let no_provider = post_raw(&anon, "nosuchprovider", "brand-a", body, &[]);
    let no_webhooks = post_raw(&anon, "openai", "brand-a", body, &[]);
    for resp in [&no_tenant, &no_connection, &no_provider, &no_webhooks] {
        assert_eq!(resp.status, 404, "{}", resp.text);
    }
    assert_eq!(no_tenant.json, no_connection.json, "the answers differ");
    assert_eq!(no_tenant.json, no_provider.json);
    assert_eq!(no_tenant.json, no_webhooks.json);
    assert!(!no_connection.text.contains("poshvip") && !no_connection.text.contains("brand-a"));
}

#[test]
fn rejected_deliveries_beyond_the_bound_are_summarised_not_stored() {
    let server = server(&[("webhook_failure_limit", "1000"), ("rejected_events_max", "3")]);
    server.create_tenant("acme");
    connect_posh(&server, "acme", "posh-secret");
    let anon = server.anonymous();
    for n in 0..10 {
        assert_eq!(bad_delivery(&anon, "acme", n), 401);
    }
    assert_eq!(rejected_rows(&server, "acme"), 3);
    let summary = server.admin().get("/api/v1/tenants/acme/events/rejections");
    assert_eq!(summary.status, 200, "{}", summary.text);
    assert_eq!(summary.json["stored"], 3, "{}", summary.text);
    assert_eq!(summary.json["max_stored"], 3);
    let summarised: u64 = summary.json["summarised"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    assert_eq!(summarised, 7, "{}", summary.text);
    let first = &summary.json["summarised"][0];
    assert_eq!(first["provider"], "poshvip");
    assert_eq!(first["reason"], "malformed_signature");
    // The hourly chart still counts every rejection.
    let stats = server.admin().get("/api/v1/tenants/acme/events/stats?hours=1");
    assert_eq!(stats.json["buckets"][0]["rejected"], 10, "{}", stats.text);
    // And so do the metrics.
    let metrics = server.admin().get("/metrics").text;
    assert!(
        metrics.contains("tessera_webhooks_rejected_total{recorded=\"event\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tessera_webhooks_rejected_total{recorded=\"summary\"} 7"),
        "{metrics}"
    );
    // Another tenant's summary is its own.
    server.create_tenant("globex");
    let other = server.admin().get("/api/v1/tenants/globex/events/rejections");
    assert_eq!(other.json["stored"], 0);
    assert_eq!(other.json["summarised"], json!([]));
}

/// 50,000 requests to distinct junk tenant paths (1 KiB each) must not grow the server's
/// memory with them: the answer is cheap, shared per address, and bounded.
#[test]
fn memory_stays_bounded_under_junk_tenant_paths() {
    let dir = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(&dir.path().join("data"), &[("TESSERA_LOG", "warn")]);
    let pid = serve.child.id();
    let padding = "j".repeat(1024);
    let flood = |from: usize, count: usize| {
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let base = serve.base.clone();
                let padding = padding.clone();
                std::thread::spawn(move || {
                    let mut conn = KeepAlive::connect(&base);
                    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
                    for n in (from + t..from + count).step_by(8) {
                        let path = format!("/webhooks/poshvip/{padding}-{n}");
                        let status = match conn.request("POST", &path, &[("content-type", "application/json")], b"{}") {
                            Some((status, _)) => status,
                            None => {
                                conn = KeepAlive::connect(&base);
                                0
                            }
                        };
                        *statuses.entry(status).or_default() += 1;
                    }
                    statuses
                })
            })
            .collect();
        let mut all = std::collections::BTreeMap::<u16, usize>::new();
        for t in threads {
            for (status, n) in t.join().unwrap() {
                *all.entry(status).or_default() += n;
            }
        }
        all
    };
    flood(0, 2_000);
    let before = rss_kib(pid);
    let statuses = flood(2_000, 50_000);
    let after = rss_kib(pid);
    assert!(
        statuses.keys().all(|s| *s == 404 || *s == 429),
        "unexpected answers: {statuses:?}"
    );
    let grown_mib = after.saturating_sub(before) / 1024;
    eprintln!("RSS {before} → {after} KiB over 50,000 junk paths: {statuses:?}");
    assert!(
        grown_mib < 8,
        "RSS grew by {grown_mib} MiB ({before} → {after} KiB) over 50,000 junk paths"
    );
    // The server still answers real requests.
    let health: Value = ureq::get(&format!("{}/healthz", serve.base))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[test]
fn signed_deliveries_still_use_the_tenants_secret_after_the_change() {
    // The receiver resolves the tenant through the cache: a secret change applies at once.
    let server = server(&[]);
    server.create_tenant("acme");
    connect_posh(&server, "acme", "first-secret");
    let body = purchase("purchase.created", "p1", "ana@example.com");
    assert_eq!(post_posh(&server, "acme", "first-secret", &body).status, 200);
    connect_posh(&server, "acme", "second-secret");
    let body = purchase("purchase.created", "p2", "ana@example.com");
    assert_eq!(post_posh(&server, "acme", "first-secret", &body).status, 401);
    let bytes = body.to_string().into_bytes();
    let sig = sign::hmac_hex("second-secret", &bytes);
    let resp = post_raw(
        &server.anonymous(),
        "poshvip",
        "acme",
        &bytes,
        &[("x-posh-signature", &sig)],
    );
    assert_eq!(resp.status, 200, "{}", resp.text);
}
