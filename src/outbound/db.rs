//! The delivery engine's database access.

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
    /// `path` is `None` only where the engine must share the pool (no file of its own).
    pub(super) fn open(store: &Store, path: Option<&std::path::Path>) -> EngineDb {
        let own = path.and_then(|_| match store.open_fast_commit_connection() {
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
