//! `contraband hunt`: files in, alerts out, using every core.
//!
//! Workers each take whole files (decode → detect) and send alerts and
//! decode errors to the collector on this thread, which applies the
//! stateful stages (correlation, dedup, level filters) and writes the sink.
//! Memory stays flat: events are dropped as soon as they are matched.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use contraband_engine::{Alert, ContainerIndex, Engine, Hit, Level, ProcessAttributor, Scratch};
use contraband_event::Event;
use contraband_event::{parse_time, Timestamp};
use contraband_sources::{DecodeError, Decoder, Format, Options, ReadPlan, Record, SplitInput};

use crate::cli::HuntArgs;
use crate::input_order::{InputOrder, Place};
use crate::outbox::{Closed, Outbox, BATCH_MESSAGES, CHUNK_END_MESSAGES};
use crate::pipeline::Collector;
use crate::progress::Progress;
use crate::summary::Summary;
use contraband_engine::load::load_engine;

/// Process ids tracked per input for container attribution.
const PIDS_PER_INPUT: usize = 65_536;

enum Message {
    Alert(Box<Alert>),
    /// A match that a correlation rule counts; correlation needs one ordered view.
    Correlate {
        rule: usize,
        event: Box<Event>,
    },
    /// A decode error, as the user is shown it.
    DecodeError(String),
    /// A chunk (or a whole file read in order) is finished.
    ChunkDone {
        events: u64,
        /// The file's last chunk.
        last: bool,
    },
}

/// (input file index, chunk sequence number within the file).
type Tag = (usize, u64);
type Tagged = (Tag, Message);

/// Lines per chunk of a split file. A chunk's events are decoded, then
/// enriched, then judged, so they should still be in cache when judged: at
/// 1,024 lines (about 3 MB of decoded events) two workers spent 1.8x the
/// CPU time of one on the same input, at 256 about 1.25x (1M linux events,
/// 122 rules: 11.2-12.8 s user against 6.3-6.6 s; 7.9-8.7 s at 256).
/// Fewer lines did no better.
const CHUNK_LINES: usize = 256;

/// The work the pool shares: whole files read in order (auditd, pretty
/// JSON) or chunks of lines of a line-oriented JSON file.
struct Jobs {
    state: Mutex<JobState>,
    options: Options,
    containers: Arc<ContainerIndex>,
    /// Cut files into chunks (more than one worker). One worker reads
    /// files whole: holding a chunk of decoded events costs glibc malloc
    /// ~10% more instructions than decoding one event at a time.
    split: bool,
}

struct JobState {
    files: std::iter::Enumerate<std::vec::IntoIter<PathBuf>>,
    current: Option<Splitting>,
}

/// The file being cut into chunks.
struct Splitting {
    file: usize,
    next_seq: u64,
    input: SplitInput,
    shared: Arc<FileShared>,
}

/// Per split file: the enrich stage's state, passed from chunk to chunk in
/// input order.
struct FileShared {
    state: Mutex<Turn>,
    turn: Condvar,
}

struct Turn {
    next_seq: u64,
    attributor: ProcessAttributor,
}

enum Job {
    Whole {
        file: usize,
        events: Box<contraband_sources::Events>,
    },
    Chunk {
        file: usize,
        seq: u64,
        last: bool,
        format: Format,
        source: Arc<str>,
        records: Vec<Result<Record, DecodeError>>,
        shared: Arc<FileShared>,
    },
}

impl Jobs {
    fn next(&self) -> Option<Job> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(cur) = st.current.as_mut() {
                let mut records = Vec::with_capacity(CHUNK_LINES);
                let mut last = false;
                while records.len() < CHUNK_LINES {
                    match cur.input.records.next() {
                        Some(r) => {
                            let fatal = r.as_ref().err().is_some_and(DecodeError::is_fatal);
                            records.push(r);
                            if fatal {
                                last = true;
                                break;
                            }
                        }
                        None => {
                            last = true;
                            break;
                        }
                    }
                }
                let job = Job::Chunk {
                    file: cur.file,
                    seq: cur.next_seq,
                    last,
                    format: cur.input.format,
                    source: Arc::clone(&cur.input.source),
                    records,
                    shared: Arc::clone(&cur.shared),
                };
                cur.next_seq += 1;
                if last {
                    st.current = None;
                }
                return Some(job);
            }
            let (file, path) = st.files.next()?;
            let events = contraband_sources::open(&path, &self.options);
            let events = if self.split {
                events.into_split()
            } else {
                ReadPlan::InOrder(Box::new(events))
            };
            match events {
                ReadPlan::Split(input) => {
                    st.current = Some(Splitting {
                        file,
                        next_seq: 0,
                        input,
                        shared: Arc::new(FileShared {
                            state: Mutex::new(Turn {
                                next_seq: 0,
                                attributor: ProcessAttributor::new(
                                    Arc::clone(&self.containers),
                                    PIDS_PER_INPUT,
                                ),
                            }),
                            turn: Condvar::new(),
                        }),
                    });
                }
                ReadPlan::InOrder(events) => return Some(Job::Whole { file, events }),
            }
        }
    }
}

impl Message {
    fn place(&self) -> Place {
        match self {
            Message::ChunkDone { last: true, .. } => Place::FileEnd,
            Message::ChunkDone { last: false, .. } => Place::ChunkEnd,
            _ => Place::Within,
        }
    }
}

/// One worker's detect stage.
struct Worker<'a> {
    engine: &'a Engine,
    out: Outbox<'a, Tagged>,
    scratch: Scratch,
    hits: Vec<Hit>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    strict: bool,
}

impl Worker<'_> {
    fn send(&mut self, tag: Tag, m: Message) -> Result<(), Closed> {
        self.out.send((tag, m))
    }

    /// Counts a finished chunk (or whole file) and tells the collector,
    /// handing the batch over at the end of a file, or of a chunk when it
    /// holds [`CHUNK_END_MESSAGES`] or more (see [`crate::outbox`]); false
    /// when the hunt is over.
    fn chunk_done(&mut self, tag: Tag, events: u64, last: bool, total: &AtomicU64) -> bool {
        total.fetch_add(events, Ordering::Relaxed);
        let at_least = if last { 1 } else { CHUNK_END_MESSAGES };
        self.send(tag, Message::ChunkDone { events, last }).is_ok()
            && self.out.flush_at(at_least).is_ok()
    }

    fn in_range(&self, event: &Event) -> bool {
        !(self.from.is_some_and(|f| event.time < f) || self.to.is_some_and(|t| event.time > t))
    }

    /// Enrich and judge one decoded item, in place; false when the hunt is
    /// over.
    fn handle(
        &mut self,
        tag: Tag,
        item: &mut Result<Event, DecodeError>,
        attributor: &mut ProcessAttributor,
    ) -> bool {
        if self.out.tick().is_err() {
            return false;
        }
        match item {
            Ok(event) => {
                if !self.in_range(event) {
                    return true;
                }
                attributor.enrich(event);
                self.detect(tag, event)
            }
            Err(e) => self.error(tag, e),
        }
    }

    /// Judge one item already enriched (events outside --from/--to skipped).
    fn handle_enriched(&mut self, tag: Tag, item: &Result<Event, DecodeError>) -> bool {
        if self.out.tick().is_err() {
            return false;
        }
        match item {
            Ok(event) => !self.in_range(event) || self.detect(tag, event),
            Err(e) => self.error(tag, e),
        }
    }

    fn error(&mut self, tag: Tag, e: &DecodeError) -> bool {
        self.send(tag, Message::DecodeError(e.to_string())).is_ok() && !self.strict
    }

    fn detect(&mut self, tag: Tag, event: &Event) -> bool {
        self.engine.detect(event, &mut self.scratch, &mut self.hits);
        for hit in self.hits.drain(..) {
            if self.engine.feeds_correlation(hit.rule) {
                let event = Box::new(event.clone());
                if self
                    .out
                    .send((
                        tag,
                        Message::Correlate {
                            rule: hit.rule,
                            event,
                        },
                    ))
                    .is_err()
                {
                    return false;
                }
            }
            if let Some(alert) = hit.alert {
                if self
                    .out
                    .send((tag, Message::Alert(Box::new(alert))))
                    .is_err()
                {
                    return false;
                }
            }
        }
        true
    }
}

/// Exit status of a hunt: 0 clean, 1 `--fail-on` met.
pub fn run(args: HuntArgs) -> Result<i32> {
    let started = Instant::now();
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
    let mut collector = Collector::new(&engine, &args.output)?;

    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let progress = Progress::new(
        files.len() as u64,
        !args.no_progress && std::io::stderr().is_terminal(),
    );

    let jobs = Arc::new(Jobs {
        state: Mutex::new(JobState {
            files: files.clone().into_iter().enumerate(),
            current: None,
        }),
        options: options.clone(),
        containers: Arc::clone(&containers),
        split: threads > 1,
    });
    // Batches of up to BATCH_MESSAGES: at most 4,096 messages wait.
    let (tx, rx) = mpsc::sync_channel::<Vec<Tagged>>(4096 / BATCH_MESSAGES);
    let strict = args.strict;
    let mut workers = Vec::new();
    let events_total = Arc::new(AtomicU64::new(0));
    for _ in 0..threads {
        let jobs = Arc::clone(&jobs);
        let engine = Arc::clone(&engine);
        let tx = tx.clone();
        let options = options.clone();
        let events_total = Arc::clone(&events_total);
        workers.push(std::thread::spawn(move || {
            let mut w = Worker {
                engine: &engine,
                out: Outbox::new(&tx),
                scratch: Scratch::default(),
                hits: Vec::new(),
                from,
                to,
                strict,
            };
            let mut decoded = std::collections::VecDeque::new();
            // The decoder of the file this worker last took a chunk of:
            // what it learnt of the file's records (field names, container
            // objects) serves the next chunk.
            let mut last_decoder: Option<(usize, Decoder)> = None;
            while let Some(job) = jobs.next() {
                match job {
                    Job::Whole { file, mut events } => {
                        let tag = (file, 0);
                        let mut attributor =
                            ProcessAttributor::new(Arc::clone(&jobs.containers), PIDS_PER_INPUT);
                        let mut count = 0u64;
                        while let Some(batch) = events.next_batch() {
                            for item in batch {
                                count += u64::from(item.is_ok());
                                if !w.handle(tag, item, &mut attributor) {
                                    return;
                                }
                            }
                        }
                        if !w.chunk_done(tag, count, true, &events_total) {
                            return;
                        }
                    }
                    Job::Chunk {
                        file,
                        seq,
                        last,
                        format,
                        source,
                        records,
                        shared,
                    } => {
                        let tag = (file, seq);
                        // Decode in parallel with the other workers.
                        let decoder = match &mut last_decoder {
                            Some((f, decoder)) if *f == file => decoder,
                            slot => {
                                let decoder = Decoder::new(format, &source, &options);
                                &mut slot.insert((file, decoder)).1
                            }
                        };
                        decoded.clear();
                        for rec in records {
                            match rec {
                                Ok(rec) => decoder.decode_into(rec, &mut decoded),
                                Err(e) => decoded.push_back(Err(e)),
                            }
                        }
                        // Enrich in input order: process ancestry is state
                        // that runs through the whole file.
                        let mut count = 0u64;
                        {
                            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                            while st.next_seq != seq {
                                st = shared.turn.wait(st).unwrap_or_else(|e| e.into_inner());
                            }
                            for ev in decoded.iter_mut().flatten() {
                                count += 1;
                                if !w.in_range(ev) {
                                    continue;
                                }
                                st.attributor.enrich(ev);
                            }
                            st.next_seq += 1;
                            shared.turn.notify_all();
                        }
                        // Detect in parallel, in place.
                        for item in &decoded {
                            if !w.handle_enriched(tag, item) {
                                return;
                            }
                        }
                        if !w.chunk_done(tag, count, last, &events_total) {
                            return;
                        }
                    }
                }
            }
        }));
    }
    drop(tx);

    let mut summary = Summary::new(files.len(), load);
    let mut failed_on = false;
    let mut strict_error = None;
    // Files and chunks finish in any order; their messages are put back in
    // input order so output, dedup and correlation see what a sequential
    // pass would, whatever the timing.
    let mut order = InputOrder::new();
    let mut ready: Vec<Message> = Vec::new();
    'collect: for ((file, seq), message) in rx.into_iter().flatten() {
        order.push(file, seq, message, Message::place, &mut ready);
        for message in ready.drain(..) {
            let alerts: Vec<Alert> = match message {
                Message::Alert(alert) => vec![*alert],
                Message::Correlate { rule, event } => collector.correlate(rule, &event),
                Message::DecodeError(e) => {
                    summary.decode_errors += 1;
                    progress.suspend(|| eprintln!("contraband: {e}"));
                    if strict {
                        strict_error = Some(e);
                        break 'collect;
                    }
                    continue;
                }
                Message::ChunkDone { events, last } => {
                    summary.events += events;
                    if last {
                        progress.file_done(events);
                    }
                    continue;
                }
            };
            for alert in alerts {
                if !collector.admit(&alert) {
                    continue;
                }
                if fail_on.is_some_and(|f| alert.rule.level >= f) {
                    failed_on = true;
                }
                summary.count_alert(alert.rule.level);
                progress.suspend(|| collector.write(&alert))?;
            }
        }
    }
    collector.finish()?;
    progress.finish();
    for w in workers {
        let _ = w.join();
    }
    summary.suppressed = collector.suppressed();
    drop(collector);
    // The process ends next: freeing a rule set of thousands of rules one
    // allocation at a time would only delay the exit (~20 ms for SigmaHQ's).
    std::mem::forget(engine);
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
        options.mappings = crate::pipeline::load_mappings(dir)?;
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
