use super::*;
use crate::store::Store;

fn setup() -> (tempfile::TempDir, Store, Vault) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("v.db")).unwrap();
    let vault = Vault::new(Keyring::generate());
    let pooled = store.conn().unwrap();
    let conn = crate::store::sql::Db::sqlite(&pooled);
    vault.check_and_register(&conn).unwrap();
    for id in ["t1", "t2"] {
        conn.execute(
            "INSERT INTO tenants (id, slug, name, tier, created_at, updated_at) VALUES (?1, ?1, ?1, 'free', 'x', 'x')",
            [id],
        )
        .unwrap();
        vault.create_data_key(&conn, &KeyScope::Tenant(id.into())).unwrap();
    }
    drop(pooled);
    (dir, store, vault)
}

fn loc<'a>(scope: &'a KeyScope, row: &'a str, field: &'a str) -> Location<'a> {
    Location {
        scope,
        table: "connections",
        row_id: row,
        field,
    }
}

#[test]
fn seals_and_opens_in_place() {
    let (_d, store, vault) = setup();
    let pooled = store.conn().unwrap();
    let conn = crate::store::sql::Db::sqlite(&pooled);
    let t1 = KeyScope::Tenant("t1".into());
    let blob = vault
        .seal(&conn, &loc(&t1, "row-a", "credentials"), b"sk_test_canary")
        .unwrap();
    assert!(!blob.windows(4).any(|w| w == b"sk_t"));
    let back = vault.open(&conn, &loc(&t1, "row-a", "credentials"), &blob).unwrap();
    assert_eq!(back.as_slice(), b"sk_test_canary");
    let again = vault
        .seal(&conn, &loc(&t1, "row-a", "credentials"), b"sk_test_canary")
        .unwrap();
    assert_ne!(blob, again, "a fresh nonce per write");
}

#[test]
fn moved_ciphertext_fails_to_open() {
    let (_d, store, vault) = setup();
    let pooled = store.conn().unwrap();
    let conn = crate::store::sql::Db::sqlite(&pooled);
    let t1 = KeyScope::Tenant("t1".into());
    let t2 = KeyScope::Tenant("t2".into());
    let blob = vault.seal(&conn, &loc(&t1, "row-a", "credentials"), b"secret").unwrap();
    // Another tenant's row, another row, another field, the platform scope.
    for bad in [
        loc(&t2, "row-a", "credentials"),
        loc(&t1, "row-b", "credentials"),
        loc(&t1, "row-a", "access_token"),
        loc(&KeyScope::Platform, "row-a", "credentials"),
    ] {
        assert!(
            matches!(vault.open(&conn, &bad, &blob), Err(VaultError::OpenFailed)),
            "{bad:?}"
        );
    }
    let other_table = Location {
        table: "platform_apps",
        ..loc(&t1, "row-a", "credentials")
    };
    assert!(vault.open(&conn, &other_table, &blob).is_err());
}

#[test]
fn tampering_and_truncation_are_errors() {
    let (_d, store, vault) = setup();
    let pooled = store.conn().unwrap();
    let conn = crate::store::sql::Db::sqlite(&pooled);
    let t1 = KeyScope::Tenant("t1".into());
    let place = loc(&t1, "r", "f");
    let blob = vault.seal(&conn, &place, b"secret").unwrap();
    let mut flipped = blob.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(vault.open(&conn, &place, &flipped).is_err());
    assert!(matches!(
        vault.open(&conn, &place, &blob[..10]),
        Err(VaultError::Malformed)
    ));
    assert!(vault.open(&conn, &place, b"").is_err());
    let mut wrong_version = blob.clone();
    wrong_version[4] = 9;
    assert!(vault.open(&conn, &place, &wrong_version).is_err());
}

#[test]
fn wrong_master_key_is_refused() {
    let (_d, store, _vault) = setup();
    let pooled = store.conn().unwrap();
    let conn = crate::store::sql::Db::sqlite(&pooled);
    let other = Vault::new(Keyring::generate());
    assert!(matches!(
        other.check_and_register(&conn),
        Err(VaultError::WrongMasterKey(1))
    ));
}

#[test]
fn deleted_data_key_makes_ciphertext_unreadable() {
    let (_d, store, vault) = setup();
    let pooled = store.conn().unwrap();
    let conn = crate::store::sql::Db::sqlite(&pooled);
    let t1 = KeyScope::Tenant("t1".into());
    let blob = vault.seal(&conn, &loc(&t1, "r", "f"), b"secret").unwrap();
    conn.execute("DELETE FROM tenants WHERE id = 't1'", []).unwrap();
    vault.forget(&t1);
    assert!(matches!(
        vault.open(&conn, &loc(&t1, "r", "f"), &blob),
        Err(VaultError::MissingDataKey(_))
    ));
}

#[test]
fn rewrap_moves_every_data_key_to_the_new_version() {
    let (dir, store, vault) = setup();
    let pooled = store.conn().unwrap();
    let conn = crate::store::sql::Db::sqlite(&pooled);
    let t1 = KeyScope::Tenant("t1".into());
    let blob = vault.seal(&conn, &loc(&t1, "r", "f"), b"secret").unwrap();
    let path = dir.path().join("k");
    vault.keyring().write_file(&path).unwrap();
    let mut ring = Keyring::read_file(&path).unwrap();
    ring.add_generated();
    let rotated = Vault::new(ring);
    rotated.check_and_register(&conn).unwrap();
    let n = rotated.rewrap_data_keys(&store, |_, _| {}).unwrap();
    assert_eq!(n, 3);
    let versions: Vec<u32> = conn
        .query("SELECT DISTINCT key_version FROM data_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(versions, vec![2]);
    assert_eq!(
        rotated.open(&conn, &loc(&t1, "r", "f"), &blob).unwrap().as_slice(),
        b"secret"
    );
}

#[test]
fn tokens_are_prefixed_random_and_hashed() {
    let a = random_token("tsr_");
    let b = random_token("tsr_");
    assert!(a.expose().starts_with("tsr_"));
    assert_eq!(a.expose().len(), 4 + 43);
    assert_ne!(a, b);
    assert_eq!(hash_token(a.expose()).len(), 64);
    assert!(!format!("{a:?}").contains("tsr_"));
}
