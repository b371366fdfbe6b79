//! `tessera migrate-store --to postgres://…` from a data dir in use into a real,
//! throw-away PostgreSQL cluster.

use serde_json::{Value, json};

use crate::cli::tessera;
use crate::support::TestServer;

const CANARY: &str = "re_migrate_canary_plaintext_0042";

fn pg_database() -> String {
    tessera::store::postgres::cluster::fresh_database().expect("throw-away PostgreSQL cluster")
}

fn migrate(server: &TestServer, url: &str) -> std::process::Output {
    tessera()
        .arg("--data-dir")
        .arg(server.data_dir())
        .args(["migrate-store", "--to", url])
        .output()
        .unwrap()
}

fn sqlite_count(server: &TestServer, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(server.config.database_path()).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))
        .unwrap()
}

#[test]
fn every_row_moves_to_postgres_with_sealed_values_byte_for_byte_and_a_second_copy_is_refused() {
    let server = TestServer::start();
    for slug in ["brand-a", "brand-b"] {
        server.create_tenant(slug);
        let put = server.admin().put(
            &format!("/api/v1/tenants/{slug}/connections/resend"),
            &json!({"credentials": {"api_key": CANARY}}),
        );
        assert_eq!(put.status, 201, "{}", put.text);
        server.tenant_token(slug, &["connections:read"]);
        let endpoint = server.admin().post(
            &format!("/api/v1/tenants/{slug}/webhook-endpoints"),
            &json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]}),
        );
        assert_eq!(endpoint.status, 201, "{}", endpoint.text);
    }

    let url = pg_database();
    let out = migrate(&server, &url);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables = report["tables"].as_object().unwrap();
    for table in [
        "tenants",
        "connections",
        "api_tokens",
        "webhook_endpoints",
        "data_keys",
        "audit_log",
    ] {
        let rows = sqlite_count(&server, table);
        assert!(rows > 0, "{table} is empty in the source");
        assert_eq!(tables[table], json!(rows), "{table}");
    }

    let mut pg = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for table in tables.keys() {
        let in_pg: i64 = pg
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0);
        assert_eq!(json!(in_pg), tables[table], "{table}");
    }
    // Sealed credentials arrive exactly as they were: the same master key opens them.
    let conn = rusqlite::Connection::open(server.config.database_path()).unwrap();
    let mut sealed: Vec<(String, Vec<u8>)> = conn
        .prepare("SELECT id, credentials FROM connections ORDER BY id")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let moved: Vec<(String, Vec<u8>)> = pg
        .query("SELECT id, credentials FROM connections ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(moved, sealed);
    sealed.iter_mut().for_each(|(_, bytes)| {
        assert!(
            !String::from_utf8_lossy(bytes).contains(CANARY),
            "a credential is in plaintext"
        );
    });

    // The target now holds data: a second copy is refused and changes nothing.
    let again = migrate(&server, &url);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds tessera data"), "{stderr}");
    let tenants: i64 = pg.query_one("SELECT count(*) FROM tenants", &[]).unwrap().get(0);
    assert_eq!(json!(tenants), tables["tenants"]);
}

#[test]
fn a_wrong_target_is_a_clear_error_that_never_shows_the_password() {
    let server = TestServer::start();
    let not_pg = migrate(&server, "mysql://root@127.0.0.1/x");
    assert!(!not_pg.status.success());
    assert!(String::from_utf8_lossy(&not_pg.stderr).contains("postgres://"));

    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = migrate(
        &server,
        &format!("postgres://tessera:pw_canary_77@127.0.0.1:{closed_port}/x"),
    );
    assert!(!unreachable.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&unreachable.stdout),
        String::from_utf8_lossy(&unreachable.stderr)
    );
    assert!(!all.contains("pw_canary_77"), "{all}");
    assert!(
        all.to_lowercase().contains("connect") || all.contains("refused"),
        "{all}"
    );

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("pw");
    std::fs::write(&empty, "\n").unwrap();
    let out = tessera()
        .arg("--data-dir")
        .arg(server.data_dir())
        .args(["migrate-store", "--to", &pg_database(), "--password-file"])
        .arg(&empty)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is empty"));
}
