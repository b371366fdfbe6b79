//! Which process holds a lease. Every process on the database is a node with an id of
//! its own; on PostgreSQL each node's heartbeat says it is alive, so a node hands back
//! only the leases of a node that stopped answering — never a live node's. On SQLite one
//! process has the file: at start-up every lease left behind is a previous process's.

use std::time::Duration;

use super::{Store, StoreError};

/// How often a node says it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(3);
/// A node silent this long is gone: its leased work is handed to the living.
pub const SILENT_FOR: Duration = Duration::from_secs(15);
/// How often a node looks for work leased by nodes that are gone.
pub const RECLAIM_EVERY: Duration = Duration::from_secs(5);
/// Rows of nodes gone this long are deleted.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Whose leases are handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reclaim {
    /// Every lease (one process on the database, starting).
    Everything,
    /// Leases of nodes (or of no node) not heard from since this unix millisecond.
    SilentSince(i64),
}

impl Reclaim {
    /// SQL condition: the lease in `owner_column` belongs to a node that is gone; the
    /// cut-off is parameter `?{param}` (bind [`Reclaim::cutoff_ms`]). `None` for
    /// [`Reclaim::Everything`] (no condition, no parameter).
    pub fn owner_gone(&self, owner_column: &str, param: usize) -> Option<String> {
        match self {
            Reclaim::Everything => None,
            Reclaim::SilentSince(_) => Some(format!(
                "({owner_column} IS NULL OR {owner_column} NOT IN (SELECT id FROM nodes WHERE seen_at >= ?{param}))"
            )),
        }
    }

    pub fn cutoff_ms(&self) -> i64 {
        match self {
            Reclaim::Everything => i64::MAX,
            Reclaim::SilentSince(at) => *at,
        }
    }
}

fn now_ms() -> i64 {
    crate::time::now_ms()
}

impl Store {
    /// This process's id as a lease owner.
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Whose leases to hand back: at start-up (`at_start`) every lease on SQLite, where
    /// one process has the file, else those of silent nodes; while running, those of
    /// silent nodes on PostgreSQL and none on SQLite (nothing else holds a lease there).
    pub fn reclaim(&self, at_start: bool) -> Option<Reclaim> {
        match (self.postgres(), at_start) {
            (None, true) => Some(Reclaim::Everything),
            (None, false) => None,
            (Some(_), _) => Some(self.reclaim_now()),
        }
    }

    fn reclaim_now(&self) -> Reclaim {
        Reclaim::SilentSince(now_ms() - SILENT_FOR.as_millis() as i64)
    }

    /// Says this node is alive (and forgets nodes long gone). Only PostgreSQL has other
    /// nodes to tell; a no-op on SQLite. Blocking.
    pub fn heartbeat(&self) -> Result<(), StoreError> {
        if self.postgres().is_none() {
            return Ok(());
        }
        let now = now_ms();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO nodes (id, started_at, seen_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
                crate::store::sql::params![&*self.node, crate::time::now_rfc3339(), now],
            )?;
            tx.execute(
                "DELETE FROM nodes WHERE seen_at < ?1",
                [now - FORGET_AFTER.as_millis() as i64],
            )?;
            Ok(())
        })
    }

    /// Takes this node off the list at a graceful stop (what it held was handed back).
    pub fn leave(&self) {
        if self.postgres().is_none() {
            return;
        }
        if let Err(e) = self.write(|tx| tx.execute("DELETE FROM nodes WHERE id = ?1", [&*self.node])) {
            tracing::warn!(error = %e, "could not take this node off the list of nodes");
        }
    }
}
