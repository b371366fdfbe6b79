//! The one writer: a thread that owns a connection and commits many small writes
//! together, so a durable commit costs one fsync per batch, not one per write. Callers
//! wait until the transaction holding their write has committed.
//!
//! Each write says how it must survive ([`Durability`]): `Durable` commits are fsync'd
//! (`synchronous = FULL`) — anything acknowledged to an outside party; `Relaxed` commits
//! skip the fsync (`synchronous = NORMAL`: WAL keeps them through a crash of tessera, a
//! power cut may lose the newest) — read-audit entries and state that can be derived
//! again. A batch commits its relaxed writes first, in one transaction, and then its
//! durable ones in another, so a relaxed write never waits for a disk flush. WAL is
//! append-only, so a durable commit also makes every relaxed one before it durable.
//!
//! A write runs inside its own SAVEPOINT unless it says it needs none
//! ([`Durability::without_savepoint`]): a failing write then rolls back alone and the
//! rest of its batch commits.
//!
//! Two lanes: writes someone is waiting on over HTTP ([`Writer::write`]) come first;
//! background writes ([`Writer::write_blocking`]: job queue, processing, delivery engine)
//! fill the rest of a batch and always get at least [`BACKGROUND_SHARE`] places, so a
//! flood of deliveries delays processing but never stops it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::sql::Db;
use super::{Store, StoreError};

/// Foreground writes per transaction at most.
pub const MAX_BATCH: usize = 256;
/// How often the WAL is checkpointed into the database file while writes keep coming.
const CHECKPOINT_BUSY: std::time::Duration = std::time::Duration::from_millis(100);
/// How long the checkpointer sleeps after a pass that found nothing to copy.
const CHECKPOINT_IDLE: std::time::Duration = std::time::Duration::from_secs(1);
/// WAL frames past which the log should start again from its beginning. SQLite restarts
/// the log only when every frame has been copied back, which a checkpoint running beside
/// a busy writer never sees: left alone, the file grows for as long as the load lasts
/// (gigabytes per minute), and every append to new blocks costs the kernel a zeroing.
const RESTART_FRAMES: i64 = 4096;
/// Frames left uncopied that the writer copies itself, between two batches, so the log
/// restarts: small enough to cost it about one fsync.
const FINISH_FRAMES: i64 = 512;
/// Background writes a batch always takes when they are waiting.
pub const BACKGROUND_SHARE: usize = 16;

/// How a write must survive once its caller hears it committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk (fsync'd) before the caller is answered: what outside parties are told
    /// was accepted — webhooks, credentials, tokens, state changes through the API.
    Durable,
    /// Committed and visible, surviving a crash of tessera but perhaps not a power cut:
    /// read-audit entries and derivable state (delivery attempts, usage counts).
    Relaxed,
}

impl Durability {
    /// The same durability without a savepoint of its own: for writes whose failure
    /// leaves no change behind — a single statement (SQLite undoes a failed statement by
    /// itself), or reads and checks before one final change.
    pub const fn without_savepoint(self) -> Write {
        Write {
            durability: self,
            savepoint: false,
        }
    }
}

/// How one write is committed: its durability and whether it runs in a savepoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write {
    pub durability: Durability,
    pub savepoint: bool,
}

impl From<Durability> for Write {
    fn from(durability: Durability) -> Write {
        Write {
            durability,
            savepoint: true,
        }
    }
}

/// What a store backend offers for writes: run a unit of work in a transaction that
/// commits with the durability asked for, answering once it has. SQLite implements it
/// with one writer thread and group commits ([`Writer`]); a server database (PostgreSQL)
/// runs each unit on a pooled connection in its own transaction, with
/// `synchronous_commit = off` for [`Durability::Relaxed`], and needs no thread of its own.
pub trait Transactions: Clone + Send + Sync + 'static {
    /// Runs `f` in a transaction from a blocking thread and waits for its commit.
    fn transact<T, E, F>(&self, how: Write, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static;
}

type Finisher = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// Runs a write inside the open transaction (or, given `None`, skips it because the
/// transaction could not start) and returns what answers its caller once the
/// transaction's fate is known.
type Run = Box<dyn FnOnce(Option<&Db<'_>>) -> Finisher + Send>;

struct Work {
    durability: Durability,
    run: Run,
}

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
    /// Set by the checkpointer when little is left to copy in a long log: the writer
    /// copies the rest between two batches, and its next transaction restarts the log.
    finish_checkpoint: std::sync::atomic::AtomicBool,
}

fn stopped() -> StoreError {
    StoreError::Task("the writer has stopped".into())
}

impl Lanes {
    fn push(&self, work: Work, foreground: bool) -> Result<(), StoreError> {
        let mut q = self.queues.lock().map_err(|_| stopped())?;
        if q.closed {
            return Err(stopped());
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

/// Handle to the writer. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    /// SQLite: one thread commits every write, in group commits.
    Thread(Arc<Handle>),
    /// PostgreSQL: the server orders concurrent transactions itself; each write runs in a
    /// transaction of its own on the pool, on the caller's blocking thread.
    Pool {
        pg: super::postgres::PgStore,
        closed: Arc<std::sync::atomic::AtomicBool>,
    },
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Starts the writer: on SQLite a thread on a connection of its own from `store`'s
    /// pool; on PostgreSQL nothing to start.
    pub fn start(store: &Store) -> Result<Writer, StoreError> {
        if let Some(pg) = store.postgres() {
            return Ok(Writer {
                inner: Inner::Pool {
                    pg: pg.clone(),
                    closed: Arc::default(),
                },
            });
        }
        let conn = store.conn()?;
        // Checkpoints would otherwise run inside a commit that callers are waiting on;
        // a separate thread moves WAL pages into the database file instead.
        // The log file keeps its size after a restart (overwriting is cheaper than growing),
        // down to 64 MiB once a burst is over.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864")?;
        let lanes = Arc::new(Lanes::default());
        let checkpointer = store.conn()?;
        let watched = lanes.clone();
        let checkpoints = std::thread::Builder::new()
            .name("tessera-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpointer, &watched))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let for_thread = lanes.clone();
        let commits = std::thread::Builder::new()
            .name("tessera-writer".into())
            .spawn(move || {
                let mut committer = Committer {
                    conn: &conn,
                    sync: None,
                };
                while let Some(batch) = for_thread.next_batch() {
                    committer.commit(batch);
                    if for_thread
                        .finish_checkpoint
                        .swap(false, std::sync::atomic::Ordering::AcqRel)
                    {
                        committer.finish_checkpoint();
                    }
                }
            })
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(Writer {
            inner: Inner::Thread(Arc::new(Handle {
                lanes,
                threads: Mutex::new(vec![commits, checkpoints]),
            })),
        })
    }

    /// Refuses new writes, commits what is queued and joins the writer's threads. Blocking.
    pub fn close(&self) {
        match &self.inner {
            Inner::Thread(handle) => {
                handle.close();
                let threads = std::mem::take(&mut *handle.threads.lock().unwrap_or_else(|e| e.into_inner()));
                for thread in threads {
                    let _ = thread.join();
                }
            }
            Inner::Pool { closed, .. } => closed.store(true, std::sync::atomic::Ordering::Release),
        }
    }

    /// Runs `f` durably, in its own savepoint, in the next batch; resolves once committed.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static,
    {
        self.write_with(Durability::Durable, f).await
    }

    /// [`Writer::write`] with the durability (and savepoint) given.
    pub async fn write_with<T, E, F>(&self, how: impl Into<Write>, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static,
    {
        if let Inner::Pool { .. } = &self.inner {
            let writer = self.clone();
            let how = how.into();
            return tokio::task::spawn_blocking(move || writer.write_blocking_with(how, f))
                .await
                .map_err(|e| E::from(StoreError::Task(e.to_string())))?;
        }
        self.submit(how.into(), f, true)?
            .await
            .map_err(|_| E::from(StoreError::Task("the writer dropped a write".into())))?
    }

    /// From a blocking thread (job workers, the delivery engine): runs `f` durably in the
    /// background lane and waits for the commit.
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static,
    {
        self.write_blocking_with(Durability::Durable, f)
    }

    /// [`Writer::write_blocking`] with the durability (and savepoint) given.
    pub fn write_blocking_with<T, E, F>(&self, how: impl Into<Write>, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static,
    {
        if let Inner::Pool { pg, closed } = &self.inner {
            if closed.load(std::sync::atomic::Ordering::Acquire) {
                return Err(E::from(stopped()));
            }
            let how = how.into();
            return pg.write(|db| {
                if how.durability == Durability::Relaxed {
                    // The commit returns before the WAL reaches the disk; a crash of the
                    // database server can lose it, as SQLite's NORMAL can on a power cut.
                    db.execute_batch("SET LOCAL synchronous_commit = off")?;
                }
                f(db)
            });
        }
        self.submit(how.into(), f, false)?
            .blocking_recv()
            .map_err(|_| E::from(StoreError::Task("the writer dropped a write".into())))?
    }

    fn submit<T, E, F>(&self, how: Write, f: F, foreground: bool) -> Result<oneshot::Receiver<Result<T, E>>, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<Result<T, E>>();
        let run: Run = Box::new(move |db: Option<&Db<'_>>| {
            let outcome = match db {
                Some(db) if how.savepoint => db.savepoint(f),
                Some(db) => f(db),
                None => Err(E::from(StoreError::Task("could not start a write transaction".into()))),
            };
            Box::new(move |committed: Result<(), StoreError>| {
                let result = match (outcome, committed) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(E::from(e)),
                };
                let _ = done_tx.send(result);
            })
        });
        let work = Work {
            durability: how.durability,
            run,
        };
        match &self.inner {
            Inner::Thread(handle) => handle.lanes.push(work, foreground)?,
            Inner::Pool { .. } => return Err(E::from(StoreError::Task("no writer thread on PostgreSQL".into()))),
        }
        Ok(done_rx)
    }
}

impl Transactions for Writer {
    fn transact<T, E, F>(&self, how: Write, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<T, E> + Send + 'static,
    {
        self.write_blocking_with(how, f)
    }
}

/// PASSIVE checkpoints (they never block the writer): every [`CHECKPOINT_BUSY`] while
/// there is something to copy, else every [`CHECKPOINT_IDLE`]. Once the log is long and
/// nearly all copied, asks the writer to copy the rest so the log restarts. Ends with the
/// writer.
fn checkpoint_loop(conn: &Connection, lanes: &Lanes) {
    let mut pause = CHECKPOINT_IDLE;
    loop {
        {
            let Ok(q) = lanes.queues.lock() else { return };
            let Ok((q, _)) = lanes.closing.wait_timeout_while(q, pause, |q| !q.closed) else {
                return;
            };
            if q.closed {
                return;
            }
        }
        match passive_checkpoint(conn) {
            Ok(progress) => {
                let left = progress.log_frames - progress.copied_frames;
                if progress.log_frames >= RESTART_FRAMES && left <= FINISH_FRAMES {
                    lanes
                        .finish_checkpoint
                        .store(true, std::sync::atomic::Ordering::Release);
                }
                pause = if left > 0 || progress.log_frames >= RESTART_FRAMES {
                    CHECKPOINT_BUSY
                } else {
                    CHECKPOINT_IDLE
                };
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

/// How far a checkpoint got: frames in the log, and how many of them are now copied
/// into the database file.
struct CheckpointProgress {
    log_frames: i64,
    copied_frames: i64,
}

fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<CheckpointProgress> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(CheckpointProgress {
            log_frames: row.get(1)?,
            copied_frames: row.get(2)?,
        })
    })
}

/// The writer thread's connection and the `synchronous` mode it is in.
struct Committer<'a> {
    conn: &'a Connection,
    sync: Option<Durability>,
}

impl Committer<'_> {
    /// Copies what the checkpointer left in the log; with nothing left, the next commit
    /// writes the log from its beginning again (a reader still on old frames defers that
    /// to a later round).
    fn finish_checkpoint(&self) {
        if let Err(e) = passive_checkpoint(self.conn) {
            tracing::warn!(error = %e, "WAL checkpoint by the writer failed");
        }
    }

    /// Commits the relaxed writes of `batch`, then its durable ones.
    fn commit(&mut self, batch: Vec<Work>) {
        let (relaxed, durable): (Vec<Work>, Vec<Work>) =
            batch.into_iter().partition(|w| w.durability == Durability::Relaxed);
        for (durability, part) in [(Durability::Relaxed, relaxed), (Durability::Durable, durable)] {
            if !part.is_empty() {
                self.commit_one(durability, part);
            }
        }
    }

    fn commit_one(&mut self, durability: Durability, batch: Vec<Work>) {
        if self.sync != Some(durability) {
            let pragma = match durability {
                Durability::Durable => "PRAGMA synchronous = FULL",
                Durability::Relaxed => "PRAGMA synchronous = NORMAL",
            };
            match self.conn.execute_batch(pragma) {
                Ok(()) => self.sync = Some(durability),
                Err(e) => {
                    // Committing a relaxed write durably is safe; the reverse is not.
                    tracing::error!(error = %e, "the writer could not set its commit mode");
                    self.sync = None;
                    if durability == Durability::Durable {
                        fail_all(batch, &format!("could not set the commit mode: {e}"));
                        return;
                    }
                }
            }
        }
        if let Err(e) = self
            .conn
            .prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut s| s.execute([]))
        {
            tracing::error!(error = %e, "the writer could not begin a transaction");
            fail_all(batch, &format!("could not begin: {e}"));
            return;
        }
        let db = Db::sqlite(self.conn);
        let finishers: Vec<Finisher> = batch.into_iter().map(|work| (work.run)(Some(&db))).collect();
        let committed = self
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
            .map(|_| ())
            .map_err(|e| e.to_string());
        if committed.is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        for finish in finishers {
            finish(
                committed
                    .clone()
                    .map_err(|e| StoreError::Task(format!("batch commit failed: {e}"))),
            );
        }
    }
}

fn fail_all(batch: Vec<Work>, why: &str) {
    for work in batch {
        (work.run)(None)(Err(StoreError::Task(why.to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(conn: &Db<'_>, id: i64) -> Result<usize, StoreError> {
        conn.execute("INSERT INTO health_probe (id, at) VALUES (?1, 'x')", [id])
    }

    fn count(store: &Store) -> i64 {
        store
            .conn()
            .unwrap()
            .query_row("SELECT COUNT(*) FROM health_probe", [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_commit_and_failures_stay_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let writer = Writer::start(&store).unwrap();
        let mut tasks = Vec::new();
        for n in 0..200i64 {
            let writer = writer.clone();
            let durability = if n % 2 == 0 {
                Durability::Durable
            } else {
                Durability::Relaxed
            };
            tasks.push(tokio::spawn(async move {
                writer
                    .write_with(durability, move |conn| {
                        probe(conn, 1_000 + n)?;
                        if n % 50 == 7 {
                            return Err(StoreError::Task("refused".into()));
                        }
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
        assert_eq!(count(&store), 196, "failed writes rolled back alone");
        writer.close();
        assert!(writer.write(|conn| probe(conn, 1)).await.is_err(), "closed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_without_savepoint_fails_alone_when_its_statement_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let writer = Writer::start(&store).unwrap();
        let how = Durability::Durable.without_savepoint();
        writer.write_with(how, |conn| probe(conn, 1)).await.unwrap();
        let (again, other) = tokio::join!(
            writer.write_with(how, |conn| probe(conn, 1)),
            writer.write_with(how, |conn| probe(conn, 2)),
        );
        assert!(again.is_err(), "a duplicate key fails its own statement");
        assert_eq!(other.unwrap(), 1);
        assert_eq!(count(&store), 2);
    }

    #[test]
    fn the_log_starts_over_while_writes_keep_coming() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Store::open(&path).unwrap();
        let writer = Writer::start(&store).unwrap();
        let wal = dir.path().join("t.db-wal");
        let blob = vec![7u8; 64 * 1024];
        let (mut written, mut id) = (0u64, 0i64);
        // Without restarts the log holds every byte written; with them it stays a fraction.
        loop {
            let (chunk, first) = (blob.clone(), id);
            writer
                .write_blocking(move |conn| -> Result<(), StoreError> {
                    for n in 0..4 {
                        conn.execute(
                            "INSERT INTO health_probe (id, at) VALUES (?1, ?2)",
                            crate::store::sql::params![first + n, chunk],
                        )?;
                    }
                    conn.execute("DELETE FROM health_probe WHERE id < ?1", [first - 64])?;
                    Ok(())
                })
                .unwrap();
            id += 4;
            written += 4 * blob.len() as u64;
            let log = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
            if written > 64 << 20 && log < written / 2 {
                break;
            }
            assert!(written < 1 << 30, "the log grew with every write: {log} bytes");
        }
        writer.close();
    }

    #[test]
    fn typed_errors_come_back_from_blocking_writes() {
        #[derive(Debug, PartialEq)]
        enum Own {
            Refused,
            Store,
        }
        impl From<StoreError> for Own {
            fn from(_: StoreError) -> Own {
                Own::Store
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let writer = Writer::start(&store).unwrap();
        let refused = writer.write_blocking(|conn| {
            probe(conn, 5).map_err(Own::from)?;
            Err::<(), _>(Own::Refused)
        });
        assert_eq!(refused, Err(Own::Refused));
        assert_eq!(count(&store), 0);
        let relaxed = writer.transact(Durability::Relaxed.into(), |conn| probe(conn, 6).map_err(Own::from));
        assert_eq!(relaxed, Ok(1));
    }
}
