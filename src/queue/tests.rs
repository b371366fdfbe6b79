//! The engine against an in-memory store: fairness, settling, and what a stop hands back.

use std::collections::VecDeque;
use std::time::Instant;

use super::*;

struct Item {
    id: u32,
    partition: &'static str,
}

impl Task for Item {
    fn partition(&self) -> &str {
        self.partition
    }
    fn is_retry(&self) -> bool {
        false
    }
    fn may_start(&self) -> bool {
        true
    }
}

#[derive(Default)]
struct Memory {
    due: Mutex<VecDeque<Item>>,
    done: Mutex<Vec<u32>>,
    handed_back: Mutex<Vec<u32>>,
    settles: AtomicUsize,
}

impl QueueStore for Memory {
    type Task = Item;
    type Done = ();

    fn recover(&self, _at_start: bool) -> anyhow::Result<usize> {
        Ok(0)
    }

    fn claim(&self, limit: usize, full: &[String]) -> anyhow::Result<Claimed<Item>> {
        let mut due = lock(&self.due);
        let mut tasks = Vec::new();
        let mut kept = VecDeque::new();
        while let Some(item) = due.pop_front() {
            if tasks.len() < limit && !full.iter().any(|f| f == item.partition) {
                tasks.push(item);
            } else {
                kept.push_back(item);
            }
        }
        *due = kept;
        Ok(Claimed { tasks, more: false })
    }

    fn settle(&self, finished: Vec<Finished<Item, ()>>) -> anyhow::Result<Settled> {
        self.settles.fetch_add(1, Ordering::SeqCst);
        for f in finished {
            match f {
                Finished::Ran(item, ()) => lock(&self.done).push(item.id),
                Finished::NotStarted(item) => lock(&self.handed_back).push(item.id),
            }
        }
        Ok(Settled::default())
    }

    fn next_due_in(&self) -> Option<Duration> {
        None
    }
}

fn settings() -> Settings {
    Settings {
        name: "test",
        workers: 4,
        per_partition: 2,
        held_per_partition: 8,
        max_held: 64,
        claim_batch: 16,
        settle_batch: 64,
        poll: None,
        renew_every: None,
        hold: Pause::default(),
    }
}

fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_partition_holds_only_its_slots_and_a_stop_hands_back_the_rest() {
    let store = Arc::new(Memory::default());
    {
        let mut due = lock(&store.due);
        for id in 0..10 {
            due.push_back(Item { id, partition: "stuck" });
        }
        for id in 100..150 {
            due.push_back(Item { id, partition: "fast" });
        }
    }
    let release = Arc::new((Mutex::new(false), Condvar::new()));
    let gate = release.clone();
    let running_stuck = Arc::new(AtomicUsize::new(0));
    let counter = running_stuck.clone();
    let run = move |item: &Item| {
        if item.partition == "stuck" {
            counter.fetch_add(1, Ordering::SeqCst);
            let (open, cv) = &*gate;
            let mut open = lock(open);
            while !*open {
                open = cv.wait(open).unwrap_or_else(|e| e.into_inner());
            }
        }
    };
    let background = Background::default();
    let handle = Handle::default();
    start(store.clone(), run, settings(), &handle, &background).unwrap();

    // The fast partition finishes although every stuck task blocks its worker.
    wait_until("the fast partition to finish", || lock(&store.done).len() == 50);
    assert_eq!(
        running_stuck.load(Ordering::SeqCst),
        2,
        "two slots for the stuck partition"
    );
    assert!(lock(&store.done).iter().all(|id| *id >= 100));
    assert!(
        store.settles.load(Ordering::SeqCst) < 50,
        "results are recorded in batches"
    );

    // Stopping: the two in flight finish and are recorded, the queued ones handed back.
    background.stop_signal();
    {
        let (open, cv) = &*release;
        *lock(open) = true;
        cv.notify_all();
    }
    assert!(background.stop(Duration::from_secs(20)).await.is_empty());
    assert_eq!(lock(&store.done).len(), 52);
    let mut back = lock(&store.handed_back).clone();
    back.sort_unstable();
    assert_eq!(back, (2..10).collect::<Vec<_>>(), "stuck tasks never started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_added_later_runs_after_a_wake_up() {
    let store = Arc::new(Memory::default());
    let background = Background::default();
    let handle = Handle::default();
    start(store.clone(), |_: &Item| (), settings(), &handle, &background).unwrap();
    for id in 0..3 {
        lock(&store.due).push_back(Item { id, partition: "p" });
    }
    handle.wake();
    wait_until("three tasks done", || lock(&store.done).len() == 3);
    assert!(background.stop(Duration::from_secs(20)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_engine_claims_nothing_until_released() {
    let store = Arc::new(Memory::default());
    lock(&store.due).push_back(Item { id: 1, partition: "p" });
    let hold = Pause::new(true);
    let background = Background::default();
    let handle = Handle::default();
    let settings = Settings {
        hold: hold.clone(),
        ..settings()
    };
    start(store.clone(), |_: &Item| (), settings, &handle, &background).unwrap();
    // Give a paused engine every chance to claim: it is woken and waits several rounds.
    for _ in 0..5 {
        handle.wake();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lock(&store.due).len(), 1, "still waiting in the store");
    hold.apply(false, 1);
    wait_until("the held task to run after the release", || {
        lock(&store.done).len() == 1
    });
    assert!(background.stop(Duration::from_secs(20)).await.is_empty());
}
