//! Locks held across nodes: PostgreSQL session-level advisory locks on a pooled
//! connection of their own, released when the guard drops (or when the node dies and its
//! session ends, so a crashed node never leaves one held).

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{PgConn, PgStore};
use crate::store::StoreError;

/// A held advisory lock; dropping it releases the lock and returns the connection.
pub struct NodeLock {
    conn: PgConn,
    key: i64,
}

impl std::fmt::Debug for NodeLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeLock")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The advisory-lock key of a name: the same on every node (a hash, not a counter).
pub fn key_of(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl PgStore {
    /// Waits (at most `wait`) until no other session holds the lock called `name`, then
    /// holds it until the guard drops. Blocking.
    pub fn lock(&self, name: &str, wait: Duration) -> Result<NodeLock, StoreError> {
        let mut conn = self.conn()?;
        let key = key_of(name);
        // SET LOCAL bounds this wait only; the session lock outlives the transaction.
        let mut tx = conn.transaction()?;
        tx.batch_execute(&format!("SET LOCAL lock_timeout = {}", wait.as_millis().max(1)))?;
        tx.execute("SELECT pg_advisory_lock($1)", &[&key])?;
        tx.commit()?;
        Ok(NodeLock { conn, key })
    }
}

impl Drop for NodeLock {
    fn drop(&mut self) {
        if let Err(e) = self.conn.execute("SELECT pg_advisory_unlock($1)", &[&self.key]) {
            tracing::warn!(error = %StoreError::from(e), "releasing an advisory lock failed");
        }
    }
}
