//! Per-endpoint in-memory work queues, taken round-robin, first attempts before retries,
//! at most `cap` attempts in flight per endpoint.

use std::collections::{HashMap, VecDeque};

use super::outcome::WorkItem;

#[derive(Default)]
pub(super) struct EndpointQueue {
    fresh: VecDeque<WorkItem>,
    retries: VecDeque<WorkItem>,
    in_flight: usize,
    in_ready: bool,
}

impl EndpointQueue {
    fn queued(&self) -> usize {
        self.fresh.len() + self.retries.len()
    }
}

#[derive(Default)]
pub(super) struct Queues {
    by_endpoint: HashMap<String, EndpointQueue>,
    ready: VecDeque<String>,
}

impl Queues {
    pub(super) fn push(&mut self, item: WorkItem, cap: usize) -> bool {
        let id = item.target.endpoint_id.clone();
        let q = self.by_endpoint.entry(id.clone()).or_default();
        if item.attempt <= 1 {
            q.fresh.push_back(item);
        } else {
            q.retries.push_back(item);
        }
        if !q.in_ready && q.in_flight < cap {
            q.in_ready = true;
            self.ready.push_back(id);
            return true;
        }
        false
    }

    pub(super) fn pop(&mut self, cap: usize) -> Option<WorkItem> {
        while let Some(id) = self.ready.pop_front() {
            let Some(q) = self.by_endpoint.get_mut(&id) else {
                continue;
            };
            let item = q.fresh.pop_front().or_else(|| q.retries.pop_front());
            let Some(item) = item else {
                q.in_ready = false;
                continue;
            };
            q.in_flight += 1;
            if q.in_flight < cap && q.queued() > 0 {
                self.ready.push_back(id);
            } else {
                q.in_ready = false;
            }
            return Some(item);
        }
        None
    }

    /// A worker finished one of `id`'s items. Returns true if the endpoint became ready.
    pub(super) fn done(&mut self, id: &str, cap: usize) -> bool {
        let Some(q) = self.by_endpoint.get_mut(id) else {
            return false;
        };
        q.in_flight = q.in_flight.saturating_sub(1);
        if !q.in_ready && q.queued() > 0 && q.in_flight < cap {
            q.in_ready = true;
            self.ready.push_back(id.to_owned());
            return true;
        }
        if q.queued() == 0 && q.in_flight == 0 {
            self.by_endpoint.remove(id);
        }
        false
    }

    pub(super) fn saturated(&self, limit: usize) -> Vec<String> {
        self.by_endpoint
            .iter()
            .filter(|(_, q)| q.queued() + q.in_flight >= limit)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub(super) fn take_endpoint(&mut self, id: &str) -> Vec<WorkItem> {
        let Some(q) = self.by_endpoint.get_mut(id) else {
            return Vec::new();
        };
        let taken = q.fresh.drain(..).chain(q.retries.drain(..)).collect();
        if q.in_flight == 0 {
            self.by_endpoint.remove(id);
        }
        taken
    }
}
