//! Resource sampling of running containers (`/containers/{id}/stats`), for
//! the resource-hijacking detector. One thread per engine socket: every
//! interval it lists the running containers and takes one stats snapshot
//! of each (`one-shot`, so a request costs no daemon-side wait); CPU is the
//! usage between two of our own snapshots of the same container.

use std::collections::HashMap;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use contraband_engine::resource::ResourceSample;
use contraband_event::{parse_time, ContainerContext, Timestamp};
use serde_json::Value;

use super::http::{self, Endpoint, HttpError};
use super::{log, Msg};

const TIMEOUT: Duration = Duration::from_secs(10);
/// Containers sampled per round at most (bounded cost and memory).
const MAX_CONTAINERS: usize = 512;

pub struct StatsSource {
    pub endpoint: Endpoint,
    pub interval: Duration,
    pub tx: SyncSender<Msg>,
    pub host: Option<String>,
}

/// The previous snapshot of one container: (cpu usage ns, read time ns).
type Prev = HashMap<String, (u64, i64)>;

impl StatsSource {
    pub fn run(self) {
        let mut prev: Prev = HashMap::new();
        let mut failing = false;
        loop {
            let started = Instant::now();
            match self.round(&mut prev) {
                Ok(true) => {
                    if failing {
                        log("docker-stats", "sampling again");
                    }
                    failing = false;
                }
                Ok(false) => return, // the pipeline is gone
                Err(e) => {
                    if !failing {
                        log(
                            "docker-stats",
                            &format!(
                                "cannot sample {}: {e}; retrying every interval",
                                self.endpoint.url
                            ),
                        );
                    }
                    failing = true;
                }
            }
            std::thread::sleep(self.interval.saturating_sub(started.elapsed()));
        }
    }

    /// One round; `Ok(false)` when the pipeline has stopped.
    fn round(&self, prev: &mut Prev) -> Result<bool, HttpError> {
        let list = http::get_json(&self.endpoint, "/containers/json", TIMEOUT)?;
        let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut alive = Vec::new();
        for item in items.iter().take(MAX_CONTAINERS) {
            let Some(id) = item.get("Id").and_then(Value::as_str) else {
                continue;
            };
            if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
            alive.push(id.to_string());
            let stats = match http::get_json(
                &self.endpoint,
                &format!("/containers/{id}/stats?stream=false&one-shot=true"),
                TIMEOUT,
            ) {
                Ok(s) => s,
                Err(HttpError::Status(..)) => continue, // stopped meanwhile
                Err(e) => return Err(e),
            };
            let Some(sample) = self.sample(id, item, &stats, prev) else {
                continue;
            };
            if self.tx.send(Msg::Stats(Box::new(sample))).is_err() {
                return Ok(false);
            }
        }
        prev.retain(|id, _| alive.contains(id));
        Ok(true)
    }

    fn sample(
        &self,
        id: &str,
        listed: &Value,
        stats: &Value,
        prev: &mut Prev,
    ) -> Option<ResourceSample> {
        let (usage, read) = cpu_snapshot(stats)?;
        let before = prev.insert(id.to_string(), (usage, read));
        let (usage0, read0) = before?;
        if read <= read0 || usage < usage0 {
            return None; // restarted container or clock step: start over
        }
        let cpu = (usage - usage0) as f64 / (read - read0) as f64;
        let name = listed
            .get("Names")
            .and_then(|n| n.get(0))
            .and_then(Value::as_str)
            .map(|n| n.trim_start_matches('/').to_string());
        Some(ResourceSample {
            time: Timestamp(read),
            container: ContainerContext {
                id: Some(id.to_string()),
                name,
                image: listed
                    .get("Image")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                ..Default::default()
            },
            command: listed
                .get("Command")
                .and_then(Value::as_str)
                .map(str::to_string),
            cpu,
            memory: memory_in_use(stats),
            source: format!("docker-stats:{}", self.endpoint.url),
            host: self.host.clone(),
        })
    }
}

/// Total CPU time used (ns) and when it was read (ns since the epoch).
fn cpu_snapshot(stats: &Value) -> Option<(u64, i64)> {
    let usage = stats
        .get("cpu_stats")?
        .get("cpu_usage")?
        .get("total_usage")?
        .as_u64()?;
    let read = parse_time(stats.get("read")?.as_str()?).ok()?.nanos();
    (read > 0).then_some((usage, read))
}

/// Memory in use as `docker stats` shows it: usage less the page cache.
fn memory_in_use(stats: &Value) -> u64 {
    let m = stats.get("memory_stats");
    let usage = m
        .and_then(|m| m.get("usage"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let inner = m.and_then(|m| m.get("stats"));
    let cache = ["total_inactive_file", "inactive_file", "cache"]
        .iter()
        .find_map(|k| inner.and_then(|s| s.get(*k)).and_then(Value::as_u64))
        .unwrap_or(0);
    usage.saturating_sub(cache)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cpu_is_the_delta_between_our_snapshots() {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let s = StatsSource {
            endpoint: Endpoint::parse("unix:///nonexistent").unwrap(),
            interval: Duration::from_secs(5),
            tx,
            host: None,
        };
        drop(rx);
        let listed = json!({"Id": "abc", "Names": ["/cb-x"], "Image": "hashcat:6", "Command": "hashcat -m 0"});
        let snap = |usage: u64, read: &str| {
            json!({"read": read, "cpu_stats": {"cpu_usage": {"total_usage": usage}},
                   "memory_stats": {"usage": 300, "stats": {"total_inactive_file": 100}}})
        };
        let mut prev = Prev::new();
        assert!(s
            .sample(
                "abc",
                &listed,
                &snap(1_000_000_000, "2026-01-01T00:00:00Z"),
                &mut prev
            )
            .is_none());
        let x = s
            .sample(
                "abc",
                &listed,
                &snap(5_500_000_000, "2026-01-01T00:00:05Z"),
                &mut prev,
            )
            .unwrap();
        assert!((x.cpu - 0.9).abs() < 1e-9);
        assert_eq!(x.memory, 200);
        assert_eq!(x.container.name.as_deref(), Some("cb-x"));
        assert_eq!(x.command.as_deref(), Some("hashcat -m 0"));
    }
}
