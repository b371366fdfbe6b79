//! Group commit for the audit entries of hot reads (`/token`, the proxy): entries queue to
//! one writer thread that commits everything waiting in one transaction, and each caller
//! is answered only after its entry is committed. Same durability as a write per request,
//! one fsync per batch instead of one per request.

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
                while let Ok(first) = incoming.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match incoming.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    let committed = store
                        .write(|tx| {
                            for (entry, _) in &batch {
                                audit::record(tx, entry)?;
                            }
                            Ok::<_, StoreError>(())
                        })
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
