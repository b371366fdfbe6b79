//! Paused mode: every outside effect held. A restored copy started for a check (or a
//! server an operator wants quiet) must not retry jobs, deliver webhooks, send emails or
//! rotate refresh tokens until someone says so.
//!
//! [`Pause`] is the one primitive: every background worker that acts on the outside world
//! (job workers, the outbound delivery engine, the OAuth refresher, the demo emitter)
//! consults it before taking work, and registers a wake-up for when it is released.
//! Requests people make themselves (verify, proxy, `/token`) are not held.
//!
//! The state lives in the database (`platform_pause`), so a pause survives a restart
//! until an operator resumes, and the CLI can pause or resume a running server: the
//! server applies a change made behind its back within [`WATCH_EVERY`].

pub mod routes;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::sql::{Db, params};
use serde::Serialize;
use tokio::sync::watch;

use crate::store::{OptionalRow, Store, StoreError};
use crate::time::Clock;

/// How often a running server looks for a change made by the CLI.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

type Waker = Box<dyn Fn() + Send + Sync>;

struct Shared {
    /// `(paused, version)`: the version of the stored state last applied.
    state: watch::Sender<(bool, i64)>,
    on_resume: Mutex<Vec<Waker>>,
}

/// Whether outside effects are held right now. Cheap to clone; every clone is the same
/// switch.
#[derive(Clone)]
pub struct Pause {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pause").field("paused", &self.is_paused()).finish()
    }
}

impl Default for Pause {
    fn default() -> Self {
        Pause::new(false)
    }
}

impl Pause {
    pub fn new(paused: bool) -> Pause {
        Pause {
            shared: Arc::new(Shared {
                state: watch::channel((paused, 0)).0,
                on_resume: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Workers ask this before they take work that reaches outside.
    pub fn is_paused(&self) -> bool {
        self.shared.state.borrow().0
    }

    /// Calls `wake` whenever the hold is released, so a worker idling because of it
    /// does not wait for its next poll.
    pub fn on_resume(&self, wake: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut wakers) = self.shared.on_resume.lock() {
            wakers.push(Box::new(wake));
        }
    }

    /// Resolves once not paused (at once when not paused now).
    pub async fn resumed(&self) {
        let mut state = self.shared.state.subscribe();
        let _ = state.wait_for(|(paused, _)| !*paused).await;
    }

    /// Applies the stored state at `version` unless a newer one is already applied.
    pub(crate) fn apply(&self, paused: bool, version: i64) {
        let mut released = false;
        self.shared.state.send_if_modified(|state| {
            if version < state.1 || *state == (paused, version) {
                return false;
            }
            released = state.0 && !paused;
            *state = (paused, version);
            true
        });
        if released {
            tracing::info!("outside effects resumed");
            if let Ok(wakers) = self.shared.on_resume.lock() {
                for wake in wakers.iter() {
                    wake();
                }
            }
        }
    }

    fn version(&self) -> i64 {
        self.shared.state.borrow().1
    }
}

/// The stored pause state, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PauseState {
    pub paused: bool,
    /// When it last changed and who changed it (`serve --paused`, `cli`, `token:…`, `user:…`).
    pub changed_at: Option<String>,
    pub changed_by: Option<String>,
    pub reason: Option<String>,
    #[serde(skip)]
    pub version: i64,
}

/// What a pause holds, for the API and the UI.
pub const HELD: &[&str] = &[
    "job workers (processing, emails, list sync, imports)",
    "outbound webhook deliveries",
    "background OAuth token refreshes",
    "the demo's webhook emitter",
];

pub fn read_state(conn: &Db<'_>) -> Result<PauseState, StoreError> {
    let row = conn
        .query_row(
            "SELECT paused, version, changed_at, changed_by, reason FROM platform_pause WHERE id = 1",
            [],
            |r| {
                Ok(PauseState {
                    paused: r.get(0)?,
                    version: r.get(1)?,
                    changed_at: r.get(2)?,
                    changed_by: r.get(3)?,
                    reason: r.get(4)?,
                })
            },
        )
        .optional_row()?;
    Ok(row.unwrap_or(PauseState {
        paused: false,
        changed_at: None,
        changed_by: None,
        reason: None,
        version: 0,
    }))
}

/// Stores a new state (a new version) and returns it.
pub fn write_state(
    conn: &Db<'_>,
    paused: bool,
    by: &str,
    reason: Option<&str>,
    now: &str,
) -> Result<PauseState, StoreError> {
    conn.execute(
        "INSERT INTO platform_pause (id, paused, version, changed_at, changed_by, reason)
         VALUES (1, ?1, 1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET paused = excluded.paused, version = platform_pause.version + 1,
             changed_at = excluded.changed_at, changed_by = excluded.changed_by, reason = excluded.reason",
        params![paused, now, by, reason],
    )?;
    read_state(conn)
}

/// Pausing and resuming, kept in the database and applied to the [`Pause`] every worker
/// consults. Cheap to clone.
#[derive(Clone)]
pub struct PauseControl {
    store: Store,
    clock: Clock,
    pause: Pause,
}

impl PauseControl {
    /// Reads the stored state; `start_paused` (`serve --paused`, the `paused` setting)
    /// pauses first. Blocking; called before any worker starts.
    pub fn open(store: Store, clock: Clock, start_paused: bool) -> Result<PauseControl, StoreError> {
        let state = if start_paused {
            let now = crate::time::format_rfc3339(clock.now());
            store.write(|tx| write_state(tx, true, "serve --paused", Some("started paused"), &now))?
        } else {
            store.read(read_state)?
        };
        if state.paused {
            tracing::warn!(
                "outside effects are held (paused mode); resume with `tessera resume` or POST /api/v1/platform/resume"
            );
        }
        let pause = Pause::new(state.paused);
        pause.apply(state.paused, state.version);
        Ok(PauseControl { store, clock, pause })
    }

    /// The switch the workers consult.
    pub fn pause(&self) -> &Pause {
        &self.pause
    }

    pub async fn state(&self) -> Result<PauseState, StoreError> {
        self.store.read_async(read_state).await
    }

    /// Pauses (`true`) or resumes, recorded as done by `by`, with the audit entry in the
    /// same transaction.
    pub async fn set(
        &self,
        paused: bool,
        by: String,
        reason: Option<String>,
        audit: crate::audit::AuditEntry,
    ) -> Result<PauseState, StoreError> {
        let now = crate::time::format_rfc3339(self.clock.now());
        let state = self
            .store
            .write_async(move |tx| {
                let state = write_state(tx, paused, &by, reason.as_deref(), &now)?;
                crate::audit::record(tx, &audit)?;
                Ok::<_, StoreError>(state)
            })
            .await?;
        self.pause.apply(state.paused, state.version);
        Ok(state)
    }

    /// Applies a change the CLI made to the stored state while the server runs (one pass,
    /// run every [`WATCH_EVERY`]).
    pub async fn apply_stored(&self) {
        match self.state().await {
            Ok(state) if state.version > self.pause.version() => self.pause.apply(state.paused, state.version),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading the pause state failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn releasing_wakes_the_workers_once_and_stale_versions_are_ignored() {
        let pause = Pause::new(true);
        let woken = Arc::new(AtomicUsize::new(0));
        let counter = woken.clone();
        pause.on_resume(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        pause.apply(true, 1);
        assert!(pause.is_paused());
        assert_eq!(woken.load(Ordering::SeqCst), 0);
        pause.apply(false, 2);
        assert!(!pause.is_paused());
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        // A read of the older state that arrives late changes nothing.
        pause.apply(true, 1);
        assert!(!pause.is_paused());
        pause.apply(false, 2);
        assert_eq!(woken.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_state_is_stored_with_a_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let pooled = store.conn().unwrap();
        let conn = crate::store::sql::Db::sqlite(&pooled);
        assert!(!read_state(&conn).unwrap().paused);
        let paused = write_state(&conn, true, "cli", Some("restore drill"), "2030-01-01T00:00:00Z").unwrap();
        assert_eq!((paused.paused, paused.version), (true, 1));
        assert_eq!(paused.reason.as_deref(), Some("restore drill"));
        let resumed = write_state(&conn, false, "cli", None, "2030-01-01T00:01:00Z").unwrap();
        assert_eq!((resumed.paused, resumed.version), (false, 2));
    }
}
