//! The group-commit writer: one thread owns a connection and commits many small writes
//! together, so durability (`synchronous=FULL`) costs one fsync per batch, not one per
//! request. Callers wait until the batch holding their write has committed.
//!
//! Each write runs inside its own SAVEPOINT: one failing write rolls back alone and the
//! rest of the batch still commits.
//!
//! Two lanes: writes someone is waiting on over HTTP (`write`) come first; background
//! writes (`write_blocking`, the job queue) fill the rest of a batch and always get at
//! least [`BACKGROUND_SHARE`] places, so a flood of deliveries delays processing but
//! never stops it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{Store, StoreError};

/// Foreground writes per transaction at most.
pub const MAX_BATCH: usize = 128;
/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Background writes a batch always takes when they are waiting.
pub const BACKGROUND_SHARE: usize = 16;

type Finisher = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// Runs a write inside the open batch (or, given `None`, skips it because the batch could
/// not start) and returns what answers its caller once the batch's fate is known.
type Work = Box<dyn FnOnce(Option<&Connection>) -> Finisher + Send>;

#[derive(Default)]
struct Queues {
    foreground: VecDeque<Work>,
    background: VecDeque<Work>,
    closed: bool,
}

#[derive(Default)]
struct Lanes {
    queues: Mutex<Queues>,
    /// Signals the writer: work arrived (or the lanes closed).
    ready: Condvar,
    /// Signals the checkpointer: the lanes closed.
    closing: Condvar,
}

impl Lanes {
    fn push(&self, work: Work, foreground: bool) -> Result<(), StoreError> {
        let mut q = self
            .queues
            .lock()
            .map_err(|_| StoreError::Task("the group-commit writer has stopped".into()))?;
        if q.closed {
            return Err(StoreError::Task("the group-commit writer has stopped".into()));
        }
        if foreground {
            q.foreground.push_back(work);
        } else {
            q.background.push_back(work);
        }
        drop(q);
        self.ready.notify_one();
        Ok(())
    }

    /// Waits for work; `None` once closed and drained.
    fn next_batch(&self) -> Option<Vec<Work>> {
        let mut q = self.queues.lock().ok()?;
        while q.foreground.is_empty() && q.background.is_empty() {
            if q.closed {
                return None;
            }
            q = self.ready.wait(q).ok()?;
        }
        let take = q.foreground.len().min(MAX_BATCH);
        let mut batch: Vec<Work> = q.foreground.drain(..take).collect();
        let room = MAX_BATCH.saturating_sub(batch.len()).max(BACKGROUND_SHARE);
        let take = q.background.len().min(room);
        batch.extend(q.background.drain(..take));
        Some(batch)
    }
}

/// Closes the lanes when the last handle goes, so the writer thread ends.
struct Handle {
    lanes: Arc<Lanes>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Handle {
    fn close(&self) {
        if let Ok(mut q) = self.lanes.queues.lock() {
            q.closed = true;
        }
        self.lanes.ready.notify_all();
        self.lanes.closing.notify_all();
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.close();
    }
}

/// Handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupCommit")
    }
}

impl GroupCommit {
    /// Starts the writer thread on a connection of its own from `store`'s pool.
    pub fn start(store: &Store) -> Result<GroupCommit, StoreError> {
        let conn = store.conn()?;
        // Checkpoints would otherwise run inside a commit that callers are waiting on;
        // a separate thread moves WAL pages into the database file instead.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        let lanes = Arc::new(Lanes::default());
        let checkpointer = store.conn()?;
        let watched = lanes.clone();
        let checkpoints = std::thread::Builder::new()
            .name("tessera-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpointer, &watched))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let for_thread = lanes.clone();
        let commits = std::thread::Builder::new()
            .name("tessera-group-commit".into())
            .spawn(move || {
                while let Some(batch) = for_thread.next_batch() {
                    commit_batch(&conn, batch);
                }
            })
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(GroupCommit {
            handle: Arc::new(Handle {
                lanes,
                threads: Mutex::new(vec![commits, checkpoints]),
            }),
        })
    }

    /// Refuses new writes, commits what is queued and joins the writer's threads. Blocking.
    pub fn close(&self) {
        self.handle.close();
        let threads = std::mem::take(&mut *self.handle.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for thread in threads {
            let _ = thread.join();
        }
    }

    /// Runs `f` in the next batch and resolves once that batch is durably committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(f, true)?
            .await
            .map_err(|_| StoreError::Task("the group-commit writer dropped a write".into()))?
    }

    /// The same from a blocking thread (job workers): waits for the batch's commit.
    /// Callers' own errors travel inside `Ok(Err(..))` so they keep their type.
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        // The closure's own error must roll back its savepoint, so it is carried out as
        // a store error and handed back intact.
        let slot: std::sync::Arc<std::sync::Mutex<Option<E>>> = Default::default();
        let inner = slot.clone();
        let result = self
            .submit(
                move |conn| {
                    f(conn).map_err(|e| {
                        if let Ok(mut s) = inner.lock() {
                            *s = Some(e);
                        }
                        StoreError::Task("write refused".into())
                    })
                },
                false,
            )?
            .blocking_recv()
            .map_err(|_| StoreError::Task("the group-commit writer dropped a write".into()))?;
        match result {
            Ok(value) => Ok(value),
            Err(store_error) => match slot.lock().ok().and_then(|mut s| s.take()) {
                Some(own) => Err(own),
                None => Err(store_error.into()),
            },
        }
    }

    fn submit<T, F>(&self, f: F, foreground: bool) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<Result<T, StoreError>>();
        let work: Work = Box::new(move |conn: Option<&Connection>| {
            let outcome = match conn {
                Some(conn) => run_in_savepoint(conn, f),
                None => Err(StoreError::Task("could not start a write transaction".into())),
            };
            Box::new(move |committed: Result<(), StoreError>| {
                let result = match (outcome, committed) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(e),
                };
                let _ = done_tx.send(result);
            })
        });
        self.handle.lanes.push(work, foreground)?;
        Ok(done_rx)
    }
}

fn run_in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.prepare_cached("SAVEPOINT gc_item")?.execute([])?;
    match f(conn) {
        Ok(value) => {
            conn.prepare_cached("RELEASE gc_item")?.execute([])?;
            Ok(value)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO gc_item; RELEASE gc_item")?;
            Err(e)
        }
    }
}

/// Every second, a PASSIVE checkpoint (never blocks writers); ends with the writer.
fn checkpoint_loop(conn: &Connection, lanes: &Lanes) {
    loop {
        {
            let Ok(q) = lanes.queues.lock() else { return };
            let Ok((q, _)) = lanes.closing.wait_timeout_while(q, CHECKPOINT_EVERY, |q| !q.closed) else {
                return;
            };
            if q.closed {
                return;
            }
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

fn commit_batch(conn: &Connection, batch: Vec<Work>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "group commit could not begin a transaction");
        for work in batch {
            work(None)(Err(StoreError::Task(format!("could not begin: {e}"))));
        }
        return;
    }
    let finishers: Vec<Finisher> = batch.into_iter().map(|work| work(Some(conn))).collect();
    let committed = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
    if committed.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for finish in finishers {
        finish(
            committed
                .clone()
                .map_err(|e| StoreError::Task(format!("batch commit failed: {e}"))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_commit_and_failures_stay_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let writer = GroupCommit::start(&store).unwrap();
        let mut tasks = Vec::new();
        for n in 0..200i64 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                writer
                    .write(move |conn| {
                        if n % 50 == 7 {
                            conn.execute("INSERT INTO health_probe (id, at) VALUES (?1, 'x')", [1_000 + n])?;
                            return Err(StoreError::Task("refused".into()));
                        }
                        conn.execute("INSERT INTO health_probe (id, at) VALUES (?1, 'x')", [1_000 + n])?;
                        Ok(n)
                    })
                    .await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            if task.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 196);
        let count: i64 = store
            .conn()
            .unwrap()
            .query_row("SELECT COUNT(*) FROM health_probe", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 196, "failed writes rolled back alone");
    }
}
