//! The delivery engine's database access.

use std::time::Duration;

use super::OutboundError;
use crate::store::Store;

/// The engine's own database connection. Its commits skip the fsync (`synchronous =
/// NORMAL`; WAL keeps the file consistent): everything the engine writes can be re-derived
/// after a power cut — a lost fan-out leaves its outbox row undispatched, a lost result
/// leaves the delivery leased until it is due again — so the worst case is a repeated
/// delivery with the same `webhook-id`. Sharing the pool's FULL-sync connections would
/// put an fsync in every round and, under a busy disk, make writers queue behind it.
pub(super) struct EngineDb {
    own: Option<rusqlite::Connection>,
    store: Store,
}

impl EngineDb {
    pub(super) fn open(store: &Store, path: Option<&std::path::Path>) -> EngineDb {
        let own = path.and_then(|p| match Self::connect(p) {
            Ok(conn) => Some(conn),
            Err(e) => {
                tracing::warn!(error = %e, "webhook engine uses the shared pool");
                None
            }
        });
        EngineDb {
            own,
            store: store.clone(),
        }
    }

    fn connect(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(path)?;
        // Short, even waits for the write lock instead of SQLite's growing back-off (up to
        // 100 ms a step), which would show as tail latency behind a request's commit.
        conn.busy_handler(Some(|attempt: i32| {
            std::thread::sleep(Duration::from_micros(250));
            attempt < 40_000
        }))?;
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;",
        )?;
        Ok(conn)
    }

    pub(super) fn read<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, OutboundError>,
    ) -> Result<T, OutboundError> {
        match &self.own {
            Some(conn) => f(conn),
            None => self.store.read(f),
        }
    }

    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, OutboundError>,
    ) -> Result<T, OutboundError> {
        match &mut self.own {
            Some(conn) => {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let value = f(&tx)?;
                tx.commit()?;
                Ok(value)
            }
            None => self.store.write(f),
        }
    }
}
