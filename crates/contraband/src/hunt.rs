//! `contraband hunt`: files in, alerts out, using every core.
//!
//! Workers each take whole files (decode → detect) and send alerts and
//! decode errors to the collector on this thread, which applies the
//! stateful stages (correlation, dedup, level filters) and writes the sink.
//! Memory stays flat: events are dropped as soon as they are matched.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use contraband_engine::{Alert, ContainerIndex, Deduper, Level, ProcessAttributor, Scratch};
use contraband_event::Event;
use contraband_event::{parse_time, Timestamp};
use contraband_sinks::TableOptions;
use contraband_sources::{DecodeError, Format, Options};

use crate::cli::HuntArgs;
use crate::progress::Progress;
use crate::summary::Summary;
use contraband_engine::load::load_engine;

/// Repeats of one finding within this much event time are folded.
const DEDUP_WINDOW_NS: i64 = 3_600 * 1_000_000_000;
/// Dedup keys remembered at most (bounded memory on endless input).
const DEDUP_CAPACITY: usize = 100_000;
/// Process ids tracked per input for container attribution.
const PIDS_PER_INPUT: usize = 65_536;

enum Message {
    Alert(Box<Alert>),
    /// A match that a correlation rule counts; correlation needs one ordered view.
    Correlate {
        rule: usize,
        event: Box<Event>,
    },
    DecodeError(DecodeError),
    FileDone {
        events: u64,
    },
}

/// Exit status of a hunt: 0 clean, 1 `--fail-on` met.
pub fn run(args: HuntArgs) -> Result<i32> {
    let started = Instant::now();
    let min_level: Level = args.min_level.parse().map_err(anyhow::Error::msg)?;
    let fail_on: Option<Level> = args
        .fail_on
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let from = parse_bound("--from", args.from.as_deref())?;
    let to = parse_bound("--to", args.to.as_deref())?;
    let options = source_options(&args)?;

    let files = collect_inputs(&args.paths)?;
    let (engine, load) = load_engine(&args.rules.sources())?;
    let engine = Arc::new(engine);
    let containers = Arc::new(index_containers(&files, &options));

    let stdout_is_tty = std::io::stdout().is_terminal() && args.output.is_none();
    let format = match args.format.as_deref() {
        Some(f) => f
            .parse::<contraband_sinks::Format>()
            .map_err(anyhow::Error::msg)?,
        None if stdout_is_tty => contraband_sinks::Format::Table,
        None => contraband_sinks::Format::Jsonl,
    };
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create output file {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let table = TableOptions {
        color: stdout_is_tty && std::env::var_os("NO_COLOR").is_none(),
        width: terminal_width(),
    };
    let mut sink = contraband_sinks::sink(format, out, table);

    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, files.len().max(1));
    let progress = Progress::new(
        files.len() as u64,
        !args.no_progress && std::io::stderr().is_terminal(),
    );

    let queue = Arc::new(Mutex::new(files.clone().into_iter()));
    let (tx, rx) = mpsc::sync_channel::<Message>(4096);
    let strict = args.strict;
    let mut workers = Vec::new();
    let events_total = Arc::new(AtomicU64::new(0));
    for _ in 0..threads {
        let queue = Arc::clone(&queue);
        let engine = Arc::clone(&engine);
        let tx = tx.clone();
        let options = options.clone();
        let events_total = Arc::clone(&events_total);
        let containers = Arc::clone(&containers);
        workers.push(std::thread::spawn(move || {
            let mut scratch = Scratch::default();
            let mut hits = Vec::new();
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some(path) = next else { break };
                let mut events = 0u64;
                let mut attributor =
                    ProcessAttributor::new(Arc::clone(&containers), PIDS_PER_INPUT);
                for item in contraband_sources::open(&path, &options) {
                    match item {
                        Ok(mut event) => {
                            events += 1;
                            if from.is_some_and(|f| event.time < f)
                                || to.is_some_and(|t| event.time > t)
                            {
                                continue;
                            }
                            attributor.enrich(&mut event);
                            engine.detect(&event, &mut scratch, &mut hits);
                            for hit in hits.drain(..) {
                                if engine.feeds_correlation(hit.rule) {
                                    let event = Box::new(event.clone());
                                    if tx
                                        .send(Message::Correlate {
                                            rule: hit.rule,
                                            event,
                                        })
                                        .is_err()
                                    {
                                        return;
                                    }
                                }
                                if let Some(alert) = hit.alert {
                                    if tx.send(Message::Alert(Box::new(alert))).is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            let fatal = strict;
                            if tx.send(Message::DecodeError(e)).is_err() || fatal {
                                return;
                            }
                        }
                    }
                }
                events_total.fetch_add(events, Ordering::Relaxed);
                if tx.send(Message::FileDone { events }).is_err() {
                    return;
                }
            }
        }));
    }
    drop(tx);

    let mut summary = Summary::new(files.len(), load);
    let mut dedup = (!args.no_dedup).then(|| Deduper::new(DEDUP_WINDOW_NS, DEDUP_CAPACITY));
    let mut failed_on = false;
    let mut strict_error = None;
    let mut correlator = engine.correlator();
    let mut correlated = Vec::new();
    for message in rx {
        let alerts: Vec<Alert> = match message {
            Message::Alert(alert) => vec![*alert],
            Message::Correlate { rule, event } => {
                correlator.feed(rule, &event, &mut correlated);
                std::mem::take(&mut correlated)
            }
            Message::DecodeError(e) => {
                summary.decode_errors += 1;
                progress.suspend(|| eprintln!("contraband: {e}"));
                if strict {
                    strict_error = Some(e);
                    break;
                }
                continue;
            }
            Message::FileDone { events } => {
                summary.events += events;
                progress.file_done(events);
                continue;
            }
        };
        for alert in alerts {
            {
                if alert.rule.level < min_level {
                    continue;
                }
                if let Some(d) = dedup.as_mut() {
                    if !d.admit(&alert.dedup_key, alert.time) {
                        continue;
                    }
                }
                if fail_on.is_some_and(|f| alert.rule.level >= f) {
                    failed_on = true;
                }
                summary.count_alert(alert.rule.level);
                progress
                    .suspend(|| sink.write(&alert))
                    .context("cannot write alert")?;
            }
        }
    }
    sink.finish().context("cannot finish output")?;
    progress.finish();
    for w in workers {
        let _ = w.join();
    }
    summary.suppressed = dedup.as_ref().map_or(0, Deduper::suppressed);
    summary.elapsed = started.elapsed();
    summary.print();
    if let Some(e) = strict_error {
        bail!("stopping at the first decode error (--strict): {e}");
    }
    Ok(if failed_on { 1 } else { 0 })
}

/// The enrich stage's knowledge: every container described by an inspect
/// result among the inputs, read before the hunt so that process events in
/// any file can be tied to the container they ran in.
fn index_containers(files: &[PathBuf], options: &Options) -> ContainerIndex {
    let mut index = ContainerIndex::new();
    for path in files.iter().filter(|p| p.as_os_str() != "-") {
        let events = contraband_sources::open(path, options);
        if events.format() != Some(Format::DockerInspect) {
            continue;
        }
        // Decode errors are reported by the main pass; here they are skipped.
        for event in events.flatten() {
            index.learn(&event);
        }
    }
    index
}

fn parse_bound(flag: &str, value: Option<&str>) -> Result<Option<Timestamp>> {
    value
        .map(|v| parse_time(v).with_context(|| format!("{flag} {v:?}")))
        .transpose()
}

fn source_options(args: &HuntArgs) -> Result<Options> {
    let mut options = Options::default();
    if let Some(f) = &args.input_format {
        options.format = Some(f.parse().map_err(anyhow::Error::msg)?);
    }
    if let Some(spec) = &args.logsource {
        options.logsource = Some(
            contraband_sources::parse_logsource(spec)
                .map_err(anyhow::Error::msg)
                .context("--logsource")?,
        );
    }
    if let Some(dir) = &args.mapping {
        let mappings = contraband_sources::Mappings::load_dir(dir)
            .with_context(|| format!("cannot load mappings from {}", dir.display()))?;
        options.mappings = Arc::new(mappings);
    }
    Ok(options)
}

/// Expand directories (recursively, sorted, hidden entries skipped) into files.
fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            files.push(path.clone());
            continue;
        }
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read input {}", path.display()))?;
        if !meta.is_dir() {
            files.push(path.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(path)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.path()))
        {
            let entry = entry.with_context(|| format!("cannot walk {}", path.display()))?;
            if entry.file_type().is_file() {
                files.push(entry.into_path());
            }
        }
    }
    Ok(files)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(160)
}
