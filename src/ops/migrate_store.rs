//! `tessera migrate-store --to postgres://…`: copies every row of a SQLite deployment
//! into an empty PostgreSQL database, sealed values byte for byte (the same master key
//! opens them there).
//!
//! The copy reads one SQLite snapshot and writes one PostgreSQL transaction: it lands
//! whole or not at all, and a second run after a failure starts again from nothing.
//! Tables go parents first (by their foreign keys), so every reference finds its row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::store::StoreError;
use crate::store::postgres::{PgSettings, PgStore, describe_url};
use crate::store::sql::{Db, ToValue};

#[derive(Debug, thiserror::Error)]
pub enum MigrateStoreError {
    #[error("{0} is not initialised: there is no database to copy")]
    NoDatabase(std::path::PathBuf),
    #[error("only PostgreSQL is a target: give a postgres:// or postgresql:// URL")]
    NotPostgres,
    #[error("the target database already holds tessera data ({table} has rows); copy into an empty database")]
    TargetNotEmpty { table: String },
    #[error("the target has no table {0}: its schema is older or newer than this binary's")]
    MissingTable(String),
    #[error("after the copy {table} has {copied} rows in the target but {source_rows} in the source")]
    CountMismatch {
        table: String,
        copied: i64,
        source_rows: i64,
    },
    #[error("reading the SQLite database: {0}")]
    Source(#[from] rusqlite::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Serialize)]
pub struct MigrateStoreReport {
    /// The target, without its password.
    pub target: String,
    /// Rows copied, by table.
    pub tables: BTreeMap<String, i64>,
    pub rows: i64,
}

/// Copies the SQLite database at `database` into the PostgreSQL database `target`
/// (migrated first; it must hold no tessera rows).
pub fn migrate_store(database: &Path, target: &PgSettings) -> Result<MigrateStoreReport, MigrateStoreError> {
    if !(target.url.starts_with("postgres://") || target.url.starts_with("postgresql://")) {
        return Err(MigrateStoreError::NotPostgres);
    }
    if !database.exists() {
        return Err(MigrateStoreError::NoDatabase(database.to_owned()));
    }
    // Bring the source's schema up to this binary's first, so both sides match.
    drop(crate::store::Store::open(database)?);
    let mut source = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let snapshot = source.transaction()?;
    let tables = tables_parents_first(&snapshot)?;

    let pg = PgStore::open(target)?;
    let mut copied = BTreeMap::new();
    pg.write(|db| {
        for table in &tables {
            if db
                .query_opt(&format!("SELECT 1 FROM {table} LIMIT 1"), [], |_| Ok(()))?
                .is_some()
            {
                return Err(MigrateStoreError::TargetNotEmpty { table: table.clone() });
            }
        }
        for table in &tables {
            let rows = copy_table(&snapshot, db, table)?;
            let in_target: i64 = db
                .query_opt(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))?
                .unwrap_or_default();
            if in_target != rows {
                return Err(MigrateStoreError::CountMismatch {
                    table: table.clone(),
                    copied: in_target,
                    source_rows: rows,
                });
            }
            copied.insert(table.clone(), rows);
        }
        Ok::<_, MigrateStoreError>(())
    })
    .map_err(|e| match e {
        MigrateStoreError::Store(StoreError::Postgres(pg)) if is_undefined_table(&pg) => {
            MigrateStoreError::MissingTable(pg.as_db_error().map(|d| d.message().to_string()).unwrap_or_default())
        }
        other => other,
    })?;
    snapshot.finish()?;
    Ok(MigrateStoreReport {
        target: describe_url(&target.url),
        rows: copied.values().sum(),
        tables: copied,
    })
}

fn is_undefined_table(e: &::postgres::Error) -> bool {
    e.code() == Some(&::postgres::error::SqlState::UNDEFINED_TABLE)
}

/// The application's tables, each after every table it references.
fn tables_parents_first(conn: &Connection) -> Result<Vec<String>, rusqlite::Error> {
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name <> 'refinery_schema_history' ORDER BY name",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in &names {
        let referenced: BTreeSet<String> = conn
            .prepare("SELECT \"table\" FROM pragma_foreign_key_list(?1)")?
            .query_map([name], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        parents.insert(name.clone(), referenced.into_iter().filter(|p| p != name).collect());
    }
    let mut ordered = Vec::with_capacity(names.len());
    let mut placed = BTreeSet::new();
    while ordered.len() < names.len() {
        let ready: Vec<String> = names
            .iter()
            .filter(|n| !placed.contains(*n) && parents[*n].iter().all(|p| placed.contains(p)))
            .cloned()
            .collect();
        if ready.is_empty() {
            // A cycle (none in the schema): copy the rest in name order; the one
            // transaction still checks every reference at its statements.
            ordered.extend(names.iter().filter(|n| !placed.contains(*n)).cloned());
            break;
        }
        for name in ready {
            placed.insert(name.clone());
            ordered.push(name);
        }
    }
    Ok(ordered)
}

/// Rows per INSERT: PostgreSQL takes at most 65,535 parameters in one statement.
const PARAMETERS_PER_STATEMENT: usize = 30_000;

fn copy_table(source: &Connection, db: &Db<'_>, table: &str) -> Result<i64, MigrateStoreError> {
    let columns: Vec<String> = source
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
        .query_map([table], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let column_list = quoted.join(", ");
    let mut stmt = source.prepare(&format!("SELECT {column_list} FROM \"{table}\""))?;
    let mut rows = stmt.query([])?;
    let per_statement = (PARAMETERS_PER_STATEMENT / columns.len().max(1)).max(1);
    let mut batch: Vec<rusqlite::types::Value> = Vec::with_capacity(per_statement * columns.len());
    let mut copied = 0i64;
    let mut flush = |batch: &mut Vec<rusqlite::types::Value>| -> Result<(), MigrateStoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let row_count = batch.len() / columns.len();
        let mut sql = format!("INSERT INTO {table} ({column_list}) VALUES ");
        for r in 0..row_count {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..columns.len() {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("?{}", r * columns.len() + c + 1));
            }
            sql.push(')');
        }
        let params: Vec<&dyn ToValue> = batch.iter().map(|v| v as &dyn ToValue).collect();
        db.execute_uncached(&sql, params.as_slice())?;
        copied += row_count as i64;
        batch.clear();
        Ok(())
    };
    while let Some(row) = rows.next()? {
        for c in 0..columns.len() {
            batch.push(row.get::<_, rusqlite::types::Value>(c)?);
        }
        if batch.len() >= per_statement * columns.len() {
            flush(&mut batch)?;
        }
    }
    flush(&mut batch)?;
    Ok(copied)
}
