//! Two nodes on one PostgreSQL database renew a connection's token once between them:
//! a rotated refresh token is spent once, a client-credentials token acquired once.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::json;

use crate::oauth_client_credentials::{ZOOM_SECRET, fake_zoom, token_posts, zoom_server};
use crate::oauth_flow::{SCOPES, connect, oauth_server, register_platform_app};
use crate::support::oauth::OidcServer;
use crate::support::{Client, Response};

/// `path` read at the same moment by `each` callers at every node.
fn read_together(clients: &[Client], each: usize, path: &'static str) -> Vec<Response> {
    let start = Arc::new(Barrier::new(clients.len() * each));
    let readers: Vec<_> = clients
        .iter()
        .flat_map(|client| std::iter::repeat_n(client, each))
        .map(|client| {
            let (client, start) = (client.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                client.get(path)
            })
        })
        .collect();
    readers.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn an_expiring_token_read_at_both_nodes_is_refreshed_once() {
    // oidc-provider rotates refresh tokens and treats a second use of one as replay,
    // revoking the whole grant: two nodes refreshing at once would lose the connection.
    let oidc = OidcServer::start(8);
    let one = oauth_server(
        &oidc,
        &[("oauth_read_margin_secs", "4"), ("oauth_refresh_interval_secs", "600")],
    );
    let two = one.join();
    register_platform_app(&one);
    one.create_tenant("t1");
    let token = one.tenant_token("t1", SCOPES);
    let (at_one, at_two) = (one.with_token(&token), two.with_token(&token));
    connect(&one, &at_one, "t1");
    let path = "/api/v1/tenants/t1/connections/acme/token";
    let first = at_two.get(path);
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(at_one.get(path).json["access_token"], first.json["access_token"]);
    assert_eq!(oidc.counts()["refreshGrants"], 0);

    for round in 1..=2 {
        // Within the read margin of expiry: every reader wants a refresh.
        std::thread::sleep(Duration::from_millis(4500));
        let answers = read_together(&[at_one.clone(), at_two.clone()], 6, path);
        let renewed = answers[0].json["access_token"].clone();
        for answer in &answers {
            assert_eq!(answer.status, 200, "round {round}: {}", answer.text);
            assert_eq!(answer.json["access_token"], renewed, "round {round}: one token for all");
        }
        assert_eq!(
            oidc.counts()["refreshGrants"],
            round,
            "round {round}: one refresh across both nodes"
        );
        for node in [&at_one, &at_two] {
            let view = node.get("/api/v1/tenants/t1/connections/acme");
            assert_eq!(view.json["status"], "active", "round {round}: {}", view.text);
        }
    }
    // The rotated refresh token was kept: a forced refresh at the other node works.
    let forced = at_two.post("/api/v1/tenants/t1/connections/acme/refresh", &json!({}));
    assert_eq!(forced.status, 200, "{}", forced.text);
    assert_eq!(oidc.counts()["refreshGrants"], 3);
    // And the node that did not renew drops the token it held.
    let after = at_two.get(path).json["access_token"].clone();
    wait_until_same_token(&at_one, path, &after);
}

/// The renewal is announced at its commit: the other node serves the new token within
/// moments, long before the old one nears expiry (which would renew it anyway).
fn wait_until_same_token(client: &Client, path: &str, expected: &serde_json::Value) {
    let started = std::time::Instant::now();
    crate::support::inbound::wait_for("the other node to serve the renewed token", || {
        (client.get(path).json["access_token"] == *expected).then_some(())
    });
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_client_credentials_token_wanted_at_both_nodes_is_acquired_once() {
    let fake = fake_zoom();
    let one = zoom_server(&fake);
    let two = one.join();
    one.create_tenant("t1");
    let token = one.tenant_token(
        "t1",
        &["connections:write", "credentials:reveal", "connections:read", "proxy"],
    );
    let (at_one, at_two) = (one.with_token(&token), two.with_token(&token));
    let put = at_one.put(
        "/api/v1/tenants/t1/connections/zoom",
        &json!({"credentials": {"account_id": "acct-42", "client_id": "zoom-client", "client_secret": ZOOM_SECRET}}),
    );
    assert_eq!(put.status, 201, "{}", put.text);

    let answers = read_together(
        &[at_one.clone(), at_two.clone()],
        6,
        "/api/v1/tenants/t1/connections/zoom/token",
    );
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.json["access_token"], "zoom-access-token-1");
    }
    assert_eq!(
        token_posts(&fake),
        1,
        "twelve readers on two nodes, one upstream request"
    );

    // A forced renewal at node one replaces the token node two holds.
    let forced = at_one.post("/api/v1/tenants/t1/connections/zoom/refresh", &json!({}));
    assert_eq!(forced.status, 200, "{}", forced.text);
    assert_eq!(token_posts(&fake), 2);
    wait_until_same_token(
        &at_two,
        "/api/v1/tenants/t1/connections/zoom/token",
        &json!("zoom-access-token-2"),
    );
    assert_eq!(token_posts(&fake), 2);
}
