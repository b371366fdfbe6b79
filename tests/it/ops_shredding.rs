//! Deleting a tenant destroys its data key: ciphertext of that tenant copied out of the
//! live database before the deletion can no longer be opened, and the sealed key itself
//! is gone from the file (secure_delete).

use serde_json::json;
use tessera::vault::{KeyScope, Keyring, Location, Vault};

use crate::support::TestServer;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_deleted_tenants_ciphertext_can_no_longer_be_opened() {
    let server = TestServer::start();
    let acme = server.create_tenant("acme");
    server.create_tenant("globex");
    for (slug, key) in [
        ("acme", "re_acme_shred_me_123456"),
        ("globex", "re_globex_keep_me_12345"),
    ] {
        let put = server.admin().put(
            &format!("/api/v1/tenants/{slug}/connections/resend"),
            &json!({"credentials": {"api_key": key}}),
        );
        assert_eq!(put.status, 201, "{}", put.text);
    }

    // Copy the tenant's sealed credentials and sealed data key out of the live database.
    let store = server.store();
    let (row_id, blob): (String, Vec<u8>) = store
        .read(|db| {
            db.query_row(
                "SELECT id, credentials FROM connections WHERE tenant_id = ?1",
                [&acme],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .unwrap();
    let sealed_key: Vec<u8> = store
        .read(|db| {
            db.query_row("SELECT sealed_key FROM data_keys WHERE scope = ?1", [&acme], |r| {
                r.get(0)
            })
        })
        .unwrap();
    let keyring = || Keyring::read_file(&server.data_dir().join("master.key")).unwrap();
    let scope = KeyScope::Tenant(acme.clone());
    let location = Location {
        scope: &scope,
        table: "connections",
        row_id: &row_id,
        field: "credentials",
    };
    // The copy is a real, openable ciphertext while the tenant exists.
    let before = Vault::new(keyring());
    let plain = store.read(|db| before.open(db, &location, &blob)).unwrap();
    assert!(String::from_utf8_lossy(&plain).contains("re_acme_shred_me_123456"));

    assert_eq!(server.admin().delete("/api/v1/tenants/acme").status, 204);

    // Same master key, fresh process state: the data key is gone, so nothing opens.
    let after = Vault::new(keyring());
    let err = store.read(|db| after.open(db, &location, &blob)).unwrap_err();
    assert!(err.to_string().contains("no data key"), "{err}");
    let left: i64 = store
        .read(|db| {
            db.query_row(
                "SELECT (SELECT COUNT(*) FROM data_keys WHERE scope = ?1) + (SELECT COUNT(*) FROM connections WHERE tenant_id = ?1)",
                [&acme],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert_eq!(left, 0);
    // Another tenant's key does not open it either (the ciphertext is bound to its tenant).
    let globex_scope = KeyScope::Tenant(
        server.admin().get("/api/v1/tenants/globex").json["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let moved = Location {
        scope: &globex_scope,
        ..location
    };
    assert!(store.read(|db| after.open(db, &moved, &blob)).is_err());
    drop(store);

    // Once the server stops (checkpointing the WAL), neither the sealed key nor the
    // ciphertext remains anywhere in the database files.
    let data_dir = server.data_dir().to_owned();
    let admin_token = server.admin_token.clone();
    let server = server.restart();
    // (SQLite's secure_delete overwrites deleted rows; PostgreSQL's files belong to its
    // server, where only the data key's loss is ours to prove, above.)
    let on_sqlite = server.config.database_url.is_none();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("tessera.db") {
            files.push(std::fs::read(&path).unwrap());
        }
    }
    assert!(!on_sqlite || !files.is_empty());
    for bytes in &files {
        assert!(
            !contains(bytes, &sealed_key),
            "the deleted tenant's sealed key is still in a database file"
        );
        assert!(
            !contains(bytes, &blob),
            "the deleted tenant's ciphertext is still in a database file"
        );
    }
    // The other tenant is untouched.
    let shown = server
        .with_token(&admin_token)
        .get("/api/v1/tenants/globex/connections/resend/credentials");
    assert_eq!(shown.json["credentials"]["api_key"], "re_globex_keep_me_12345");
}
