//! Folding repeats of the same finding.
//!
//! One behaviour often shows up several times: a privileged container is
//! seen on `create`, on `start` and again in `inspect` output. Those alerts
//! share a dedup key; within the window only the first is raised.

use std::collections::{HashMap, VecDeque};

use contraband_event::Timestamp;

/// Remembers dedup keys by event time, with a hard cap on memory.
#[derive(Debug)]
pub struct Deduper {
    window_ns: i64,
    capacity: usize,
    last_seen: HashMap<String, i64>,
    /// Keys in first-insertion order, for eviction when over capacity.
    order: VecDeque<String>,
    suppressed: u64,
}

impl Deduper {
    /// `window`: how long (in event time) a key suppresses repeats.
    /// `capacity`: how many keys are remembered at most.
    pub fn new(window_ns: i64, capacity: usize) -> Deduper {
        Deduper {
            window_ns,
            capacity: capacity.max(1),
            last_seen: HashMap::new(),
            order: VecDeque::new(),
            suppressed: 0,
        }
    }

    /// True when an alert with `key` at `time` should be raised; false when
    /// it repeats one raised within the window.
    pub fn admit(&mut self, key: &str, time: Timestamp) -> bool {
        let t = time.nanos();
        if let Some(first) = self.last_seen.get(key) {
            if (t - first).abs() <= self.window_ns {
                self.suppressed += 1;
                return false;
            }
            self.last_seen.insert(key.to_string(), t);
            return true;
        }
        while self.last_seen.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.last_seen.remove(&old);
                }
                None => break,
            }
        }
        self.last_seen.insert(key.to_string(), t);
        self.order.push_back(key.to_string());
        true
    }

    /// How many alerts were folded into an earlier one.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn folds_within_window_and_raises_after() {
        let mut d = Deduper::new(10 * MIN, 100);
        assert!(d.admit("k", Timestamp(0)));
        assert!(!d.admit("k", Timestamp(5 * MIN)));
        assert!(d.admit("other", Timestamp(5 * MIN)));
        assert!(d.admit("k", Timestamp(11 * MIN)));
        assert_eq!(d.suppressed(), 1);
    }

    #[test]
    fn memory_is_capped() {
        let mut d = Deduper::new(10 * MIN, 3);
        for i in 0..1000 {
            assert!(d.admit(&format!("k{i}"), Timestamp(0)));
        }
        assert!(d.last_seen.len() <= 3 && d.order.len() <= 3);
        // The oldest keys were evicted, so they raise again.
        assert!(d.admit("k0", Timestamp(0)));
    }
}
