//! Background work's lifetime: every task and thread the server starts is registered
//! here, told to stop by one signal, and joined before the server returns. Periodic work
//! runs through one helper, [`Background::every`].
//!
//! Stopping is cooperative: a task ends at its next await on [`Stopping::stopped`], a
//! thread when the stop hook it registered wakes it. A thread inside an outside call can
//! only end when the call does (its timeout); [`Background::stop`] waits for everything up
//! to a grace period and names what is still running after it, whose leases then return
//! its work to the queue.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// The stop signal as background work sees it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// A signal that never fires (work started outside a server: benchmarks, tests).
    pub fn never() -> Stopping {
        let (tx, rx) = watch::channel(false);
        // The sender must live, or `stopped` would resolve at once.
        std::mem::forget(tx);
        Stopping(rx)
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once stopping has begun (or the server that owned the signal is gone).
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

type StopHook = Box<dyn FnOnce() + Send>;

/// The registry of a server's background work.
pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<(String, tokio::task::JoinHandle<()>)>>,
    threads: Mutex<Vec<(String, std::thread::JoinHandle<()>)>>,
    hooks: Mutex<Vec<StopHook>>,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            stop: watch::channel(false).0,
            tasks: Mutex::default(),
            threads: Mutex::default(),
            hooks: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Background")
    }
}

impl Background {
    pub fn stopping(&self) -> Stopping {
        Stopping(self.stop.subscribe())
    }

    pub fn is_stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Runs `task` on the async executor until it returns; it should end once
    /// [`Stopping::stopped`] resolves. Needs a tokio runtime.
    pub fn spawn(&self, name: &str, task: impl Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        lock(&self.tasks).push((name.to_owned(), handle));
    }

    /// Starts a named thread; `on_stop` must make it return (wake it and let it see the
    /// stop). The hook runs once, when stopping begins.
    pub fn thread(
        &self,
        name: &str,
        body: impl FnOnce() + Send + 'static,
        on_stop: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<()> {
        let handle = std::thread::Builder::new().name(name.to_owned()).spawn(body)?;
        lock(&self.threads).push((name.to_owned(), handle));
        self.on_stop(on_stop);
        Ok(())
    }

    /// Runs `hook` when stopping begins (at once if it already has).
    pub fn on_stop(&self, hook: impl FnOnce() + Send + 'static) {
        let mut hooks = lock(&self.hooks);
        if self.is_stopping() {
            drop(hooks);
            hook();
        } else {
            hooks.push(Box::new(hook));
        }
    }

    /// Periodic work: see [`Every`].
    pub fn every(&self, name: &str, interval: Duration) -> Every<'_> {
        Every {
            background: self,
            name: name.to_owned(),
            interval,
            at_start: false,
            at_stop: false,
        }
    }

    /// Tells every worker to stop (runs the stop hooks) without waiting for them.
    pub fn stop_signal(&self) {
        let _ = self.stop.send(true);
        let hooks = std::mem::take(&mut *lock(&self.hooks));
        for hook in hooks {
            hook();
        }
    }

    /// Signals every worker to stop, then waits up to `grace` for all of them. Returns the
    /// names of those still running after it (left behind; their leases expire).
    pub async fn stop(&self, grace: Duration) -> Vec<String> {
        self.stop_signal();
        let deadline = Instant::now() + grace;
        let mut left = Vec::new();
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        for (name, task) in tasks {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(remaining, task).await.is_err() {
                left.push(name);
            }
        }
        let threads = std::mem::take(&mut *lock(&self.threads));
        for (name, thread) in threads {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if !join_within(thread, remaining).await {
                left.push(name);
            }
        }
        if !left.is_empty() {
            tracing::warn!(still_running = ?left, "background work did not stop within the grace period");
        }
        left
    }
}

/// Joins `thread` from async code, giving up (and leaving it running) after `within`.
async fn join_within(thread: std::thread::JoinHandle<()>, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while !thread.is_finished() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = thread.join();
    true
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A periodic pass: after each `interval` (and, if asked, at start and once more when
/// stopping) until the server stops. A pass that overruns delays the next one; passes
/// never overlap.
#[must_use = "call run or run_blocking to start it"]
pub struct Every<'a> {
    background: &'a Background,
    name: String,
    interval: Duration,
    at_start: bool,
    at_stop: bool,
}

impl Every<'_> {
    /// The first pass runs at once instead of after one interval.
    pub fn starting_now(mut self) -> Self {
        self.at_start = true;
        self
    }

    /// One more pass when stopping begins (flushing what is held in memory).
    pub fn and_at_stop(mut self) -> Self {
        self.at_stop = true;
        self
    }

    /// Runs `pass` (async) on every tick.
    pub fn run<F, Fut>(self, mut pass: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut stopping = self.background.stopping();
        let (interval, at_start, at_stop) = (self.interval, self.at_start, self.at_stop);
        self.background.spawn(&self.name, async move {
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + if at_start { Duration::ZERO } else { interval },
                interval.max(Duration::from_millis(1)),
            );
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    _ = stopping.stopped() => break,
                    _ = tick.tick() => pass().await,
                }
            }
            if at_stop {
                pass().await;
            }
        });
    }

    /// Runs `pass` on a blocking thread on every tick (database work, outside calls).
    pub fn run_blocking<F>(self, pass: F)
    where
        F: FnMut() + Send + 'static,
    {
        let pass = std::sync::Arc::new(Mutex::new(pass));
        let name = self.name.clone();
        self.run(move || {
            let (pass, name) = (pass.clone(), name.clone());
            async move {
                let ran = tokio::task::spawn_blocking(move || (lock(&pass))()).await;
                if let Err(e) = ran {
                    tracing::error!(worker = %name, error = %e, "a periodic pass panicked");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn periodic_passes_run_on_their_ticks_and_once_more_at_stop() {
        let background = Background::default();
        let passes = Arc::new(AtomicUsize::new(0));
        let counted = passes.clone();
        background
            .every("count", Duration::from_millis(20))
            .starting_now()
            .and_at_stop()
            .run_blocking(move || {
                counted.fetch_add(1, Ordering::SeqCst);
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while passes.load(Ordering::SeqCst) < 3 {
            assert!(Instant::now() < deadline, "three passes within 10 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let before = passes.load(Ordering::SeqCst);
        assert!(background.stop(Duration::from_secs(10)).await.is_empty());
        let after = passes.load(Ordering::SeqCst);
        assert!(after > before, "the pass at stop ran ({before} → {after})");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(passes.load(Ordering::SeqCst), after, "nothing runs after stop");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn threads_are_woken_by_their_hook_and_joined() {
        let background = Background::default();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let done = Arc::new(AtomicUsize::new(0));
        let finished = done.clone();
        background
            .thread(
                "waits",
                move || {
                    let _ = rx.recv();
                    finished.fetch_add(1, Ordering::SeqCst);
                },
                move || drop(tx),
            )
            .unwrap();
        assert!(background.stop(Duration::from_secs(10)).await.is_empty());
        assert_eq!(done.load(Ordering::SeqCst), 1, "joined after it returned");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_outlives_the_grace_period_is_named() {
        let background = Background::default();
        background
            .thread("stuck", || std::thread::sleep(Duration::from_millis(500)), || {})
            .unwrap();
        assert_eq!(background.stop(Duration::from_millis(20)).await, ["stuck"]);
    }
}
