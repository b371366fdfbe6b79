//! Group commit for the audit entries of hot reads (`/token`, the proxy): entries queue to
//! one writer thread that commits everything waiting in one transaction, and each caller
//! is answered only after its entry is committed.
//!
//! The writer's connection commits without an fsync (`Store::open_fast_commit_connection`):
//! an entry survives a crash of tessera, but a power cut may lose the last moments of
//! read-audit entries. Waiting for an fsync per batch capped cached `/token` reads at the
//! disk's fsync rate; writes of credentials themselves stay fully synchronous.

use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::audit::{self, AuditEntry};
use crate::error::ApiError;
use crate::store::{Store, StoreError};

const MAX_BATCH: usize = 512;

type Pending = (AuditEntry, oneshot::Sender<bool>);

pub struct AuditBatcher {
    queue: mpsc::Sender<Pending>,
}

impl AuditBatcher {
    /// Starts the writer thread; it ends when the batcher is dropped.
    pub fn start(store: Store) -> std::io::Result<AuditBatcher> {
        let (queue, incoming) = mpsc::channel::<Pending>();
        std::thread::Builder::new()
            .name("tessera-audit-batch".into())
            .spawn(move || {
                let mut own = store
                    .open_fast_commit_connection()
                    .inspect_err(|e| tracing::warn!(error = %e, "audit batches use the shared pool"))
                    .ok();
                while let Ok(first) = incoming.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match incoming.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    let write_all = |tx: &rusqlite::Transaction<'_>| {
                        for (entry, _) in &batch {
                            audit::record(tx, entry)?;
                        }
                        Ok::<_, StoreError>(())
                    };
                    let committed = match own.as_mut() {
                        Some(conn) => conn
                            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                            .map_err(StoreError::from)
                            .and_then(|tx| {
                                write_all(&tx)?;
                                tx.commit().map_err(StoreError::from)
                            }),
                        None => store.write(write_all),
                    }
                    .inspect_err(|e| tracing::error!(error = %e, "audit batch failed"))
                    .is_ok();
                    for (_, reply) in batch {
                        let _ = reply.send(committed);
                    }
                }
            })?;
        Ok(AuditBatcher { queue })
    }

    /// Records `entry`, returning once it is committed.
    pub async fn record(&self, entry: AuditEntry) -> Result<(), ApiError> {
        let (reply, committed) = oneshot::channel();
        self.queue
            .send((entry, reply))
            .map_err(|_| ApiError::unavailable("the audit writer has stopped"))?;
        match committed.await {
            Ok(true) => Ok(()),
            _ => Err(ApiError::unavailable("the audit log could not be written; try again")),
        }
    }
}
