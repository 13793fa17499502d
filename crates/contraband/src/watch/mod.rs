//! `contraband watch`: live sources in, alerts out, through the same
//! pipeline as `hunt`.
//!
//! Each source runs on its own thread and sends decoded events into one
//! bounded channel; this thread owns everything stateful (the container
//! cache, correlation, dedup, the resource detector, the sink) and judges
//! events in arrival order:
//!
//! ```text
//! docker ─┐ events + inspect results            ┌─ enrich from cache
//! podman ─┤ (inspect sent ahead of the event)   ├─ Engine::detect
//! auditd ─┼──────── bounded channel ──────────► ├─ correlation, dedup, --min-level
//! k8s    ─┤ (webhook: its own bounded queue)    ├─ resource detector (stats)
//! stats  ─┘                                     └─ sink, flushed per alert
//! ```
//!
//! A full channel blocks the sources (Docker's stream waits in the socket,
//! auditd's file waits on disk; the webhook answers 429), so memory stays
//! bounded whatever the input rate.

mod auditd;
mod cache;
mod engines;
mod http;
mod stats;
mod webhook;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use contraband_engine::load::load_engine;
use contraband_engine::resource::{ResourceConfig, ResourceDetector, ResourceSample};
use contraband_engine::{Alert, Engine, Hit, Scratch};
use contraband_event::{ContainerContext, Event};
use contraband_sources::{DecodeError, Options};

use crate::cli::WatchArgs;
use crate::pipeline::{load_mappings, Collector};
use cache::ContainerCache;
use engines::{now_nanos, EngineSource, Runtime};
use http::Endpoint;

/// What sources send to the pipeline.
pub enum Msg {
    Event(Box<Event>),
    /// A webhook request's events.
    Batch(Vec<Event>),
    /// An inspected container, for the cache (sent before its event).
    Container(Box<ContainerContext>),
    /// A resource sample of a running container.
    Stats(Box<ResourceSample>),
    DecodeError(DecodeError),
}

/// Messages waiting for the pipeline at most.
const CHANNEL: usize = 4096;
/// Destroyed containers stay in the cache this long for late process events.
const CACHE_GRACE: Duration = Duration::from_secs(120);
/// Latencies kept for the median (the most recent).
const LATENCIES: usize = 100_000;
/// Decode errors printed in full; later ones are counted, and one in 1000 printed.
const ERRORS_SHOWN: u64 = 100;

/// One line on standard error, named by source.
pub fn log(source: &str, message: &str) {
    eprintln!("contraband: {source}: {message}");
}

/// Reconnection delays: 250 ms doubling to 8 s.
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(8);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    pub fn next(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        d
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

fn secs(flag: &str, v: f64) -> Result<Duration> {
    if !(v.is_finite() && v > 0.0 && v < 86_400.0) {
        bail!("{flag} {v}: expected a number of seconds above 0");
    }
    Ok(Duration::from_secs_f64(v))
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

pub fn run(args: WatchArgs) -> Result<i32> {
    if args.docker.is_none()
        && args.podman.is_none()
        && args.auditd.is_none()
        && args.k8s_audit_webhook.is_none()
    {
        bail!("nothing to watch: give at least one of --docker, --podman, --auditd, --k8s-audit-webhook");
    }
    let started = Instant::now();
    let stats_interval = secs("--stats-interval", args.stats_interval)?;
    let window = secs("--resource-window", args.resource_window)?;
    if !(args.resource_cpu.is_finite() && args.resource_cpu > 0.0) {
        bail!(
            "--resource-cpu {}: expected cores above 0",
            args.resource_cpu
        );
    }
    let (engine, load) = load_engine(&args.rules.sources())?;
    let mut options = Options::default();
    if let Some(dir) = &args.mapping {
        options.mappings = load_mappings(dir)?;
    }
    let host = hostname();
    let (tx, rx) = mpsc::sync_channel::<Msg>(CHANNEL);
    let mut sources = Vec::new();

    for (runtime, url) in [
        (Runtime::Docker, &args.docker),
        (Runtime::Podman, &args.podman),
    ] {
        let Some(url) = url else { continue };
        let endpoint = Endpoint::parse(url).map_err(anyhow::Error::msg)?;
        let source = EngineSource {
            runtime,
            endpoint: endpoint.clone(),
            options: options.clone(),
            tx: tx.clone(),
        };
        let version = source
            .preflight()
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("--{} {url}", runtime.name()))?;
        sources.push(format!(
            "{} {}{}",
            runtime.name(),
            endpoint.url,
            version.map(|v| format!(" ({v})")).unwrap_or_default()
        ));
        std::thread::spawn(move || source.run());
        if runtime == Runtime::Docker && !args.no_stats {
            let stats = stats::StatsSource {
                endpoint,
                interval: stats_interval,
                tx: tx.clone(),
                host: host.clone(),
            };
            std::thread::spawn(move || stats.run());
        }
    }
    if let Some(path) = &args.auditd {
        let source = auditd::AuditdSource {
            path: path.clone(),
            from_start: args.auditd_from_start,
            options: options.clone(),
            tx: tx.clone(),
            proc_root: PathBuf::from("/proc"),
        };
        source.preflight().map_err(anyhow::Error::msg)?;
        sources.push(format!("auditd {}", path.display()));
        std::thread::spawn(move || source.run());
    }
    if let Some(addr) = &args.k8s_audit_webhook {
        let addr =
            webhook::parse_addr(addr, args.k8s_audit_allow_remote).map_err(anyhow::Error::msg)?;
        let token = webhook::load_token(args.token_file.as_deref()).map_err(anyhow::Error::msg)?;
        let bound = webhook::start(
            webhook::WebhookConfig {
                addr,
                token,
                max_body: args.k8s_audit_max_body,
                queue: args.k8s_audit_queue,
                options: options.clone(),
            },
            tx.clone(),
        )
        .map_err(anyhow::Error::msg)?;
        sources.push(format!("k8s-audit webhook http://{bound}/"));
    }
    drop(tx);

    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // a second signal ends the process at once, should the pipeline be stuck
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&shutdown))
            .context("cannot install signal handlers")?;
        signal_hook::flag::register(signal, Arc::clone(&shutdown))
            .context("cannot install signal handlers")?;
    }

    let resource = ResourceConfig {
        window_ns: window.as_nanos() as i64,
        cpu_floor: args.resource_cpu,
        memory_floor: args
            .resource_memory
            .checked_mul(1 << 20)
            .filter(|bytes| *bytes > 0),
        max_gap_ns: (stats_interval * 3).max(Duration::from_secs(15)).as_nanos() as i64,
        ..ResourceConfig::default()
    };
    let mut collector = Collector::new(&engine, &args.output)?;
    let mut state = State {
        engine: &engine,
        cache: ContainerCache::new(args.cache_size, CACHE_GRACE),
        detector: ResourceDetector::new(resource, engine.strategies()),
        scratch: Scratch::default(),
        hits: Vec::new(),
        host: host.as_deref().map(Arc::from),
        latencies: Vec::new(),
        latency_next: 0,
        events: 0,
        samples: 0,
        alerts: 0,
        decode_errors: 0,
    };
    eprintln!("contraband: watching {}", sources.join(", "));
    eprintln!("contraband: {}", load.describe());

    let mut last_expire = Instant::now();
    loop {
        if shutdown.load(Ordering::Relaxed) {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(msg) => state.handle(msg, &mut collector)?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_expire.elapsed() > Duration::from_secs(1) {
            state.cache.expire(Instant::now());
            last_expire = Instant::now();
        }
    }
    collector.finish()?;
    state.summary(&collector, started.elapsed());
    Ok(0)
}

struct State<'e> {
    engine: &'e Engine,
    cache: ContainerCache,
    detector: ResourceDetector,
    scratch: Scratch,
    hits: Vec<Hit>,
    host: Option<Arc<str>>,
    /// Event time → alert written, in ns; a ring of the most recent.
    latencies: Vec<i64>,
    latency_next: usize,
    events: u64,
    samples: u64,
    alerts: u64,
    decode_errors: u64,
}

impl State<'_> {
    fn handle(&mut self, msg: Msg, collector: &mut Collector<'_>) -> Result<()> {
        match msg {
            Msg::Event(mut event) => {
                // engines and auditd on this machine: the events happened here
                if event.host.is_none() {
                    event.host.clone_from(&self.host);
                }
                self.event(*event, collector)
            }
            // webhook batches come from an apiserver, wherever it runs
            Msg::Batch(events) => {
                for event in events {
                    self.event(event, collector)?;
                }
                Ok(())
            }
            Msg::Container(context) => {
                self.cache.insert(*context);
                Ok(())
            }
            Msg::Stats(mut sample) => {
                self.samples += 1;
                if let Some(id) = sample.container.id.clone() {
                    if let Some(cached) = self.cache.get(&id) {
                        sample.container.fill_from(cached);
                    }
                }
                let mut alerts = Vec::new();
                self.detector.feed(&sample, &mut alerts);
                for alert in alerts {
                    self.emit(alert, collector)?;
                }
                Ok(())
            }
            Msg::DecodeError(e) => {
                self.decode_errors += 1;
                if self.decode_errors <= ERRORS_SHOWN || self.decode_errors.is_multiple_of(1000) {
                    eprintln!("contraband: {e}");
                }
                Ok(())
            }
        }
    }

    fn event(&mut self, mut event: Event, collector: &mut Collector<'_>) -> Result<()> {
        self.events += 1;
        let id = event.container.as_ref().and_then(|c| c.id.clone());
        if let Some(id) = &id {
            if let Some(cached) = self.cache.get(id) {
                event.container_mut().fill_from(cached);
            }
        }
        self.engine
            .detect(&event, &mut self.scratch, &mut self.hits);
        let hits: Vec<Hit> = self.hits.drain(..).collect();
        for hit in hits {
            if self.engine.feeds_correlation(hit.rule) {
                for alert in collector.correlate(hit.rule, &event) {
                    self.emit(alert, collector)?;
                }
            }
            if let Some(alert) = hit.alert {
                self.emit(alert, collector)?;
            }
        }
        if let Some(id) = id {
            let destroyed = event
                .get_str("Type")
                .is_some_and(|t| t.eq_ignore_ascii_case("container"))
                && event.get_str("Action").is_some_and(|a| a == "destroy");
            if destroyed {
                self.cache.gone(&id, Instant::now());
                self.detector.forget(&id);
            }
        }
        Ok(())
    }

    fn emit(&mut self, alert: Alert, collector: &mut Collector<'_>) -> Result<()> {
        if !collector.admit(&alert) {
            return Ok(());
        }
        collector.write(&alert)?;
        collector.flush()?;
        self.alerts += 1;
        let latency = now_nanos() - alert.time.nanos();
        // only live events measure latency (a replayed or backdated one does not)
        if (0..600_000_000_000).contains(&latency) {
            if self.latencies.len() < LATENCIES {
                self.latencies.push(latency);
            } else {
                self.latencies[self.latency_next] = latency;
                self.latency_next = (self.latency_next + 1) % LATENCIES;
            }
        }
        Ok(())
    }

    fn summary(&self, collector: &Collector<'_>, elapsed: Duration) {
        eprintln!(
            "contraband: watched for {:.1}s: {} events, {} resource samples, {} decode errors, \
             {} alerts{}",
            elapsed.as_secs_f64(),
            self.events,
            self.samples,
            self.decode_errors,
            self.alerts,
            match collector.suppressed() {
                0 => String::new(),
                n => format!(", {n} repeats folded"),
            }
        );
        if let Some(l) = latency_summary(&self.latencies) {
            eprintln!("contraband: alert latency (event time to alert written): {l}");
        }
        eprintln!(
            "contraband: container cache: {} entries, {} evicted; {} containers tracked for resource use",
            self.cache.len(),
            self.cache.evicted(),
            self.detector.tracked()
        );
    }
}

fn latency_summary(latencies: &[i64]) -> Option<String> {
    if latencies.is_empty() {
        return None;
    }
    let mut v = latencies.to_vec();
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
    Some(format!(
        "median {:.1} ms, p95 {:.1} ms, max {:.1} ms over {} alerts",
        at(0.5),
        at(0.95),
        at(1.0),
        v.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        let mut b = Backoff::new();
        let got: Vec<u128> = (0..8).map(|_| b.next().as_millis()).collect();
        assert_eq!(got, vec![250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
        b.reset();
        assert_eq!(b.next().as_millis(), 250);
    }

    #[test]
    fn latency_median() {
        assert_eq!(latency_summary(&[]), None);
        let s = latency_summary(&[3_000_000, 1_000_000, 2_000_000]).unwrap();
        assert!(s.starts_with("median 2.0 ms"), "{s}");
    }
}
