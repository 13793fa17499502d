//! Pieces every generator shares: options, planting positions, clock, output.

use std::io::Write;

use anyhow::Result;
use serde_json::Value;

use crate::rng::Rng;

pub struct Opts {
    pub events: u64,
    pub attacks: u64,
    pub seed: u64,
}

/// Sorted, distinct event indices that carry a planted attack.
pub fn attack_positions(rng: &mut Rng, events: u64, attacks: u64) -> Vec<u64> {
    let attacks = attacks.min(events);
    let mut set = std::collections::BTreeSet::new();
    while (set.len() as u64) < attacks {
        set.insert(rng.below(events));
    }
    set.into_iter().collect()
}

/// Walks forward in time by a random step averaging `mean_ns` from a fixed start.
pub struct Clock {
    pub ns: i128,
    mean_ns: u64,
}

impl Clock {
    pub fn new(mean_ns: u64) -> Self {
        // 2026-11-20T00:00:00Z
        Clock {
            ns: 1_795_132_800_000_000_000,
            mean_ns,
        }
    }

    pub fn tick(&mut self, rng: &mut Rng) -> jiff::Timestamp {
        self.ns += rng.below(self.mean_ns * 2 + 1) as i128;
        jiff::Timestamp::from_nanosecond(self.ns).expect("time in range")
    }

    /// RFC 3339 with microseconds, like most collectors write.
    pub fn rfc3339_micros(ts: jiff::Timestamp) -> String {
        format!("{:.6}", ts)
    }
}

/// Writes one JSON object per line.
pub fn write_line(out: &mut impl Write, v: &Value) -> Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// One line of the planted-attacks manifest (`OUT.planted.jsonl`).
pub fn write_planted(out: &mut impl Write, line: u64, id: &str, tags: &[&str]) -> Result<()> {
    let v = serde_json::json!({"line": line, "id": id, "tags": tags});
    write_line(out, &v)
}
