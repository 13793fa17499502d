//! The run summary printed on standard error after every hunt.

use std::collections::BTreeMap;
use std::time::Duration;

use contraband_engine::Level;

use contraband_engine::load::RuleLoad;

pub struct Summary {
    pub files: usize,
    pub events: u64,
    pub decode_errors: u64,
    pub suppressed: u64,
    pub elapsed: Duration,
    alerts: BTreeMap<Level, u64>,
    load: RuleLoad,
}

impl Summary {
    pub fn new(files: usize, load: RuleLoad) -> Summary {
        Summary {
            files,
            events: 0,
            decode_errors: 0,
            suppressed: 0,
            elapsed: Duration::ZERO,
            alerts: BTreeMap::new(),
            load,
        }
    }

    pub fn count_alert(&mut self, level: Level) {
        *self.alerts.entry(level).or_default() += 1;
    }

    pub fn print(&self) {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.events as f64 / secs
        } else {
            0.0
        };
        eprintln!(
            "contraband: {} files, {} events, {} decode errors in {:.2}s ({:.0} events/s)",
            self.files, self.events, self.decode_errors, secs, rate
        );
        eprintln!("contraband: {}", self.load.describe());
        let total: u64 = self.alerts.values().sum();
        let by_level: Vec<String> = self
            .alerts
            .iter()
            .rev()
            .map(|(level, n)| format!("{n} {level}"))
            .collect();
        eprintln!(
            "contraband: {total} alerts{}{}",
            if by_level.is_empty() {
                String::new()
            } else {
                format!(" ({})", by_level.join(", "))
            },
            if self.suppressed > 0 {
                format!(", {} repeats folded", self.suppressed)
            } else {
                String::new()
            },
        );
    }
}
