//! Per-partition in-memory queues, taken round-robin, first attempts before retries, at
//! most `cap` tasks in flight per partition — so a slow partition (an endpoint that
//! hangs) holds only its own slots.

use std::collections::{HashMap, VecDeque};

use super::Task;

struct PartitionQueue<T> {
    fresh: VecDeque<T>,
    retries: VecDeque<T>,
    in_flight: usize,
    in_ready: bool,
}

impl<T> Default for PartitionQueue<T> {
    fn default() -> Self {
        PartitionQueue {
            fresh: VecDeque::new(),
            retries: VecDeque::new(),
            in_flight: 0,
            in_ready: false,
        }
    }
}

impl<T> PartitionQueue<T> {
    fn queued(&self) -> usize {
        self.fresh.len() + self.retries.len()
    }
}

pub(super) struct Fair<T> {
    by_partition: HashMap<String, PartitionQueue<T>>,
    ready: VecDeque<String>,
    /// Tasks queued or in flight, over every partition.
    held: usize,
}

impl<T> Default for Fair<T> {
    fn default() -> Self {
        Fair {
            by_partition: HashMap::new(),
            ready: VecDeque::new(),
            held: 0,
        }
    }
}

impl<T: Task> Fair<T> {
    pub(super) fn held(&self) -> usize {
        self.held
    }

    /// Queues `task`. Returns true if its partition became ready.
    pub(super) fn push(&mut self, task: T, cap: usize) -> bool {
        let id = task.partition().to_owned();
        self.held += 1;
        let q = self.by_partition.entry(id.clone()).or_default();
        if task.is_retry() {
            q.retries.push_back(task);
        } else {
            q.fresh.push_back(task);
        }
        if !q.in_ready && q.in_flight < cap {
            q.in_ready = true;
            self.ready.push_back(id);
            return true;
        }
        false
    }

    pub(super) fn pop(&mut self, cap: usize) -> Option<T> {
        while let Some(id) = self.ready.pop_front() {
            let Some(q) = self.by_partition.get_mut(&id) else {
                continue;
            };
            let Some(task) = q.fresh.pop_front().or_else(|| q.retries.pop_front()) else {
                q.in_ready = false;
                continue;
            };
            q.in_flight += 1;
            if q.in_flight < cap && q.queued() > 0 {
                self.ready.push_back(id);
            } else {
                q.in_ready = false;
            }
            return Some(task);
        }
        None
    }

    /// A worker finished one of `id`'s tasks. Returns true if the partition became ready.
    pub(super) fn done(&mut self, id: &str, cap: usize) -> bool {
        self.held = self.held.saturating_sub(1);
        let Some(q) = self.by_partition.get_mut(id) else {
            return false;
        };
        q.in_flight = q.in_flight.saturating_sub(1);
        if !q.in_ready && q.queued() > 0 && q.in_flight < cap {
            q.in_ready = true;
            self.ready.push_back(id.to_owned());
            return true;
        }
        if q.queued() == 0 && q.in_flight == 0 {
            self.by_partition.remove(id);
        }
        false
    }

    /// Partitions holding `limit` tasks or more (queued and in flight).
    pub(super) fn full(&self, limit: usize) -> Vec<String> {
        self.by_partition
            .iter()
            .filter(|(_, q)| q.queued() + q.in_flight >= limit)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Takes the queued (not in-flight) tasks of one partition out.
    pub(super) fn take_partition(&mut self, id: &str) -> Vec<T> {
        let Some(q) = self.by_partition.get_mut(id) else {
            return Vec::new();
        };
        let taken: Vec<T> = q.fresh.drain(..).chain(q.retries.drain(..)).collect();
        self.held = self.held.saturating_sub(taken.len());
        if q.in_flight == 0 {
            self.by_partition.remove(id);
        }
        taken
    }

    /// Takes every queued task out (stopping).
    pub(super) fn take_all(&mut self) -> Vec<T> {
        let ids: Vec<String> = self.by_partition.keys().cloned().collect();
        ids.iter().flat_map(|id| self.take_partition(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct T(&'static str, bool);

    impl Task for T {
        fn partition(&self) -> &str {
            self.0
        }
        fn is_retry(&self) -> bool {
            self.1
        }
        fn may_start(&self) -> bool {
            true
        }
    }

    #[test]
    fn partitions_take_turns_within_their_caps_and_fresh_work_goes_first() {
        let mut fair = Fair::default();
        for task in [T("a", true), T("a", false), T("a", false), T("b", false)] {
            fair.push(task, 2);
        }
        let order: Vec<(&str, bool)> = std::iter::from_fn(|| fair.pop(2)).map(|t| (t.0, t.1)).collect();
        assert_eq!(
            order,
            [("a", false), ("b", false), ("a", false)],
            "a holds two slots at most"
        );
        assert_eq!(fair.full(3), ["a"]);
        assert!(fair.done("a", 2), "a has room again");
        assert_eq!(
            fair.pop(2).map(|t| (t.0, t.1)),
            Some(("a", true)),
            "the retry comes last"
        );
        assert_eq!(fair.held(), 3);
        assert!(fair.take_all().is_empty(), "nothing is queued, three in flight");
    }
}
