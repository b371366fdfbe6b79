use super::*;
use crate::sql_params;

/// Runs `check` in a transaction on a fresh SQLite file and on a fresh PostgreSQL
/// database, each with the same scratch table.
fn on_both(check: impl Fn(&Db<'_>)) {
    const TABLE: &str = "CREATE TABLE scratch (
        id TEXT PRIMARY KEY, n BIGINT, r DOUBLE PRECISION, flag BIGINT, body BYTEA, note TEXT)";
    let dir = tempfile::tempdir().unwrap();
    let mut conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    conn.execute_batch(&TABLE.replace("BYTEA", "BLOB")).unwrap();
    let tx = conn.transaction().unwrap();
    check(&Db::sqlite(&tx));

    let mut client =
        postgres::Client::connect(&crate::store::postgres::cluster::test_database(), postgres::NoTls).unwrap();
    client.batch_execute(TABLE).unwrap();
    let mut tx = client.transaction().unwrap();
    check(&Db::postgres(&mut tx));
}

#[test]
fn values_of_every_kind_go_in_and_come_back_alike() {
    on_both(|db| {
        let changed = db
            .execute(
                "INSERT INTO scratch (id, n, r, flag, body, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                sql_params!["a", i64::MAX, 2.5f64, true, vec![0u8, 159, 255], None::<String>],
            )
            .unwrap();
        assert_eq!(changed, 1, "{:?}", db.dialect());
        let row = db
            .query_opt(
                "SELECT id, n, r, flag, body, note FROM scratch WHERE id = ?1",
                sql_params!["a"],
                |row| {
                    Ok((
                        row.get::<String>(0)?,
                        row.get::<i64>(1)?,
                        row.get::<f64>(2)?,
                        row.get::<bool>(3)?,
                        row.get::<Vec<u8>>(4)?,
                        row.get::<Option<String>>(5)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(row, Some(("a".into(), i64::MAX, 2.5, true, vec![0, 159, 255], None)));
    });
}

#[test]
fn an_optional_filter_a_limit_and_a_repeated_placeholder_read_the_same_on_both() {
    on_both(|db| {
        for (id, n) in [("a", 1i64), ("b", 2), ("c", 3)] {
            db.execute("INSERT INTO scratch (id, n) VALUES (?1, ?2)", sql_params![id, n])
                .unwrap();
        }
        let select = "SELECT id FROM scratch WHERE (?1 IS NULL OR id = ?1) AND n >= ?2 ORDER BY id LIMIT ?3";
        let ids = |filter: Option<&str>, limit: u32| -> Vec<String> {
            db.query(select, sql_params![filter, 1i64, limit], |row| row.get(0))
                .unwrap()
        };
        assert_eq!(ids(None, 2), vec!["a", "b"], "{:?}", db.dialect());
        assert_eq!(ids(Some("c"), 10), vec!["c"]);
        let none = db
            .query_opt(select, sql_params![Some("zz"), 1i64, 5u32], |row| row.get::<String>(0))
            .unwrap();
        assert!(none.is_none());
        // A question mark inside a literal is text, not a placeholder.
        let literal: String = db
            .query_opt("SELECT 'why?' || ?1", sql_params!["!"], |row| row.get(0))
            .unwrap()
            .unwrap();
        assert_eq!(literal, "why?!");
    });
}

#[test]
fn a_duplicate_key_is_a_unique_violation_on_both() {
    on_both(|db| {
        db.execute("INSERT INTO scratch (id) VALUES (?1)", sql_params!["dup"])
            .unwrap();
        // In a savepoint, so that on PostgreSQL the failed statement leaves the
        // transaction usable (it aborts a transaction otherwise; SQLite's does not).
        let err = db
            .savepoint(|db| db.execute("INSERT INTO scratch (id) VALUES (?1)", sql_params!["dup"]))
            .unwrap_err();
        assert!(err.is_unique_violation(), "{:?}: {err}", db.dialect());
        let other = db
            .savepoint(|db| db.execute("INSERT INTO nowhere (id) VALUES (?1)", sql_params!["x"]))
            .unwrap_err();
        assert!(!other.is_unique_violation());
        assert!(other.to_string().contains("nowhere"), "{other}");
        db.execute("INSERT INTO scratch (id) VALUES (?1)", sql_params!["after"])
            .unwrap();
    });
}

#[test]
fn a_column_of_the_wrong_kind_is_an_error_that_names_it() {
    on_both(|db| {
        db.execute("INSERT INTO scratch (id, n) VALUES (?1, ?2)", sql_params!["a", -1i64])
            .unwrap();
        let err = db
            .query_opt("SELECT n FROM scratch", sql_params![], |row| row.get::<u32>(0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("column 0") && err.contains("out of range"), "{err}");
        let err = db
            .query_opt("SELECT id FROM scratch", sql_params![], |row| row.get::<i64>(0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected an integer"), "{err}");
    });
}

#[test]
fn placeholders_are_renumbered_outside_literals_and_comments() {
    assert_eq!(postgres_placeholders("a = ?1 AND b = ?12"), "a = $1 AND b = $12");
    assert_eq!(
        postgres_placeholders("x = '?1' AND \"q?\" = ?2"),
        "x = '?1' AND \"q?\" = $2"
    );
    assert_eq!(
        postgres_placeholders("x = 'it''s ?' AND y = ?1"),
        "x = 'it''s ?' AND y = $1"
    );
    assert_eq!(postgres_placeholders("-- why?\nSELECT ?1"), "-- why?\nSELECT $1");
    assert_eq!(postgres_placeholders("VALUES (?, ?, ?5, ?)"), "VALUES ($1, $2, $5, $6)");
}

#[test]
fn a_statement_postgres_cannot_type_alone_does_not_abort_the_transaction_around_it() {
    let store = crate::store::postgres::PgStore::open(&crate::store::postgres::PgSettings {
        url: crate::store::postgres::cluster::test_database(),
        password: None,
        pool_size: 2,
        ca_file: None,
    })
    .unwrap();
    let count: i64 = store
        .write(|db| {
            db.execute(
                "INSERT INTO health_probe (id, at) VALUES (?1, ?2)",
                sql_params![7i64, "now"],
            )?;
            // `?1` appears only beside IS NULL: PostgreSQL cannot infer its type.
            let only_null_check = "SELECT count(*) FROM health_probe WHERE ?1 IS NULL";
            let n = db.query_opt(only_null_check, sql_params![None::<String>], |row| row.get::<i64>(0))?;
            db.execute(
                "UPDATE health_probe SET at = ?2 WHERE id = ?1",
                sql_params![7i64, "later"],
            )?;
            Ok::<_, StoreError>(n.unwrap_or_default())
        })
        .unwrap();
    assert_eq!(count, 1);
    let at: Option<String> = store
        .read(|db| {
            db.query_opt("SELECT at FROM health_probe WHERE id = 7", sql_params![], |row| {
                row.get(0)
            })
        })
        .unwrap();
    assert_eq!(at.as_deref(), Some("later"));
}

#[test]
fn sums_read_as_integers_on_both_and_a_savepoint_undoes_only_its_own_changes() {
    on_both(|db| {
        for (id, n) in [("a", 40_000i64), ("b", 2), ("c", -3)] {
            db.execute("INSERT INTO scratch (id, n) VALUES (?1, ?2)", sql_params![id, n])
                .unwrap();
        }
        // PostgreSQL's SUM over BIGINT is NUMERIC; it reads back as an integer.
        let sum: i64 = db
            .query_row("SELECT SUM(n) FROM scratch", [], |row| row.get(0))
            .unwrap();
        assert_eq!(sum, 39_999, "{:?}", db.dialect());
        let big: i64 = db
            .query_row("SELECT SUM(n) * 100000000 FROM scratch WHERE id = ?1", ["a"], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(big, 4_000_000_000_000);
        let none: Option<i64> = db
            .query_row("SELECT SUM(n) FROM scratch WHERE id = 'zz'", [], |row| row.get(0))
            .unwrap();
        assert_eq!(none, None);

        let refused: Result<(), StoreError> = db.savepoint(|db| {
            db.execute("DELETE FROM scratch WHERE id = ?1", ["a"])?;
            Err(StoreError::Task("changed my mind".into()))
        });
        assert!(refused.is_err());
        db.savepoint(|db| db.execute("DELETE FROM scratch WHERE id = ?1", ["b"]))
            .unwrap();
        let left: Vec<String> = db
            .query("SELECT id FROM scratch ORDER BY id", [], |row| row.get(0))
            .unwrap();
        assert_eq!(left, vec!["a", "c"]);
        let missing = db.query_row("SELECT id FROM scratch WHERE id = 'zz'", [], |row| row.get::<String>(0));
        assert!(matches!(missing, Err(StoreError::NoRows)));
    });
}
