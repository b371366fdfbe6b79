//! Two nodes on one PostgreSQL database: what one changes the other sees, and work is
//! done once.

use serde_json::json;

use crate::support::TestServer;
use crate::support::inbound::{connect_posh, post_posh, purchase, server_with, wait_for};

#[test]
fn a_token_revoked_at_one_node_is_refused_at_the_other_on_the_next_request() {
    let one = TestServer::start();
    let two = one.join();
    one.create_tenant("acme");
    for round in 0..10 {
        let created = one.admin().post(
            "/api/v1/tenants/acme/tokens",
            &json!({"name": format!("robot {round}"), "scopes": ["connections:read"]}),
        );
        assert_eq!(created.status, 201, "{}", created.text);
        let (id, token) = (
            created.json["id"].as_str().unwrap().to_owned(),
            created.json["token"].as_str().unwrap().to_owned(),
        );
        let at_two = two.with_token(&token);
        for _ in 0..3 {
            assert_eq!(at_two.get("/api/v1/tenants/acme/connections").status, 200);
        }
        assert_eq!(
            one.admin().delete(&format!("/api/v1/tenants/acme/tokens/{id}")).status,
            204
        );
        let after = at_two.get("/api/v1/tenants/acme/connections");
        assert_eq!(after.status, 401, "round {round}: {}", after.text);
    }
}

#[test]
fn a_tenant_renamed_at_one_node_answers_by_its_new_slug_at_the_other() {
    let one = TestServer::start();
    let two = one.join();
    one.create_tenant("acme");
    assert_eq!(two.admin().get("/api/v1/tenants/acme").status, 200);
    let renamed = one.admin().patch("/api/v1/tenants/acme", &json!({"slug": "acme-two"}));
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    // The rename is announced at its commit; the other node drops its cached tenant
    // within moments, far inside the cache's own 30 s lifetime.
    let started = std::time::Instant::now();
    wait_for("the old slug to be gone at node two", || {
        (two.admin().get("/api/v1/tenants/acme").status == 404).then_some(())
    });
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(two.admin().get("/api/v1/tenants/acme-two").status, 200);
}

#[test]
fn deliveries_received_at_both_nodes_are_each_processed_once() {
    let one = server_with(None);
    let two = one.join();
    one.create_tenant("brand");
    connect_posh(&one, "brand", "posh-secret");
    const EACH: usize = 40;
    for i in 0..EACH * 2 {
        let node = if i % 2 == 0 { &one } else { &two };
        let body = purchase("purchase.created", &format!("p{i}"), &format!("buyer{i}@example.com"));
        let resp = post_posh(node, "brand", "posh-secret", &body);
        assert_eq!(resp.status, 200, "{}", resp.text);
    }
    let db = one.db();
    wait_for("every event processed", || {
        let left: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM inbound_events WHERE status = 'received'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (left == 0).then_some(())
    });
    let signups: i64 = db.query_row("SELECT COUNT(*) FROM signups", [], |r| r.get(0)).unwrap();
    assert_eq!(signups, (EACH * 2) as i64);
    // Claimed by one node at a time: no processing job ran twice.
    let runs: Vec<(String, i64)> = db
        .query(
            "SELECT status, attempts FROM jobs WHERE kind = 'inbound.process'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(runs.len(), EACH * 2);
    assert!(
        runs.iter()
            .all(|(status, attempts)| status == "succeeded" && *attempts == 1),
        "{runs:?}"
    );
}

#[test]
fn sigkill_of_one_of_two_nodes_under_load_loses_nothing_and_does_everything_once() {
    crate::inbound_crash::crash_under_load(2);
}
