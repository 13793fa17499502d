//! The inspected containers, by id: what every event about a container (and
//! every process event attributed to one) is enriched with.
//!
//! Bounded: at most `capacity` entries, the least recently used evicted
//! first. A destroyed container is kept for a grace period, because process
//! events about it (auditd writes with a delay) may still be on their way.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use contraband_event::ContainerContext;

pub struct ContainerCache {
    entries: HashMap<String, Entry>,
    capacity: usize,
    grace: Duration,
    tick: u64,
    evicted: u64,
}

struct Entry {
    context: ContainerContext,
    used: u64,
    gone_at: Option<Instant>,
}

impl ContainerCache {
    pub fn new(capacity: usize, grace: Duration) -> ContainerCache {
        ContainerCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            grace,
            tick: 0,
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries dropped because the cache was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Remember (or refresh) an inspected container.
    pub fn insert(&mut self, context: ContainerContext) {
        let Some(id) = context.id.clone() else {
            return;
        };
        self.tick += 1;
        if !self.entries.contains_key(&id) && self.entries.len() >= self.capacity {
            // gone ones first, then the least recently used
            let victim = self
                .entries
                .iter()
                .min_by_key(|(_, e)| (e.gone_at.is_none(), e.used))
                .map(|(k, _)| k.clone());
            if let Some(v) = victim {
                self.entries.remove(&v);
                self.evicted += 1;
            }
        }
        self.entries.insert(
            id,
            Entry {
                context,
                used: self.tick,
                gone_at: None,
            },
        );
    }

    /// The cached context of container `id`: the full 64-hex id, or a
    /// unique prefix of at least 12 characters (the short form engines print).
    pub fn get(&mut self, id: &str) -> Option<&ContainerContext> {
        self.tick += 1;
        let tick = self.tick;
        let key = if self.entries.contains_key(id) {
            Some(id.to_string())
        } else if id.len() >= 12 {
            let mut found = self.entries.keys().filter(|k| k.starts_with(id));
            match (found.next(), found.next()) {
                (Some(k), None) => Some(k.clone()),
                _ => None,
            }
        } else {
            None
        };
        let entry = self.entries.get_mut(&key?)?;
        entry.used = tick;
        Some(&entry.context)
    }

    /// The container was destroyed: forget it after the grace period.
    pub fn gone(&mut self, id: &str, now: Instant) {
        if let Some(e) = self.entries.get_mut(id) {
            e.gone_at.get_or_insert(now);
        }
    }

    /// Drop destroyed containers whose grace period is over.
    pub fn expire(&mut self, now: Instant) {
        let grace = self.grace;
        self.entries
            .retain(|_, e| e.gone_at.is_none_or(|t| now.duration_since(t) < grace));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(id: &str) -> ContainerContext {
        ContainerContext {
            id: Some(id.into()),
            privileged: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn bounded_lru_and_grace() {
        let mut c = ContainerCache::new(2, Duration::from_secs(10));
        c.insert(ctx("a".repeat(64).as_str()));
        c.insert(ctx("b".repeat(64).as_str()));
        assert!(c.get(&"a".repeat(12)).is_some(), "unique prefix");
        c.insert(ctx("c".repeat(64).as_str())); // evicts b, the least recently used
        assert!(c.get(&"b".repeat(64)).is_none());
        assert!(c.get(&"a".repeat(64)).is_some());
        assert_eq!((c.len(), c.evicted()), (2, 1));
        let t0 = Instant::now();
        c.gone(&"a".repeat(64), t0);
        c.expire(t0 + Duration::from_secs(5));
        assert!(c.get(&"a".repeat(64)).is_some(), "kept during grace");
        c.expire(t0 + Duration::from_secs(11));
        assert!(c.get(&"a".repeat(64)).is_none());
        assert!(c.get("short").is_none());
    }
}
