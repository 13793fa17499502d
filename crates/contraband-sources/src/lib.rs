//! Decoders that turn telemetry files and streams into normalized
//! [`contraband_event::Event`]s.
//!
//! - [`open`] a path (`-` is stdin) or [`read`] any reader: the format is
//!   detected from the first bytes (after gunzip when the input is gzip) unless
//!   [`Options::format`] says otherwise, and the result is an iterator of
//!   `Result<Event, DecodeError>` that keeps going after bad records.
//! - [`Decoder`] is the same decoding fed one record (line or JSON document)
//!   at a time, for live sources.
//! - Field names and logsource tables are data: [`Mappings`] (see
//!   `docs/mappings.md`).
//!
//! Field names each format produces are the contract in `docs/fields.md`.

mod auditd;
mod docker;
mod error;
mod generic;
mod input;
mod json;
mod k8s;
mod mapping;
mod object_scan;
mod tetragon;
mod windows;

use std::collections::VecDeque;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use contraband_event::{Event, LogSource};

pub use auditd::container_in;
pub use docker::{container_context_from_inspect, parse_image_ref, ImageRef};
pub use error::{DecodeError, ErrorKind, MappingError};
pub use input::Record;
pub use mapping::{mapping_file, LogSpec, Mapping, Mappings, Rule};

/// Default cap on one record (line or JSON document): 16 MiB.
pub const DEFAULT_MAX_RECORD: usize = 16 * 1024 * 1024;

/// The input formats contraband decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `docker events --format '{{json .}}'`.
    DockerEvents,
    /// `docker inspect` / `podman inspect` output (an array of containers).
    DockerInspect,
    /// `podman events --format json`.
    PodmanEvents,
    /// Kubernetes audit log (audit.k8s.io v1/v1beta1), JSON lines or EventList.
    K8sAudit,
    /// Raw auditd log (`type=... msg=audit(...)` records).
    Auditd,
    /// Tetragon JSON export (JSON lines or pretty-printed).
    Tetragon,
    /// Windows events rendered as JSON (`{"Event":{"System":..,"EventData":..}}`).
    WindowsJson,
    /// JSON objects already in Sigma field names.
    GenericJson,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::DockerEvents,
        Format::DockerInspect,
        Format::PodmanEvents,
        Format::K8sAudit,
        Format::Auditd,
        Format::Tetragon,
        Format::WindowsJson,
        Format::GenericJson,
    ];

    /// The name used on the command line (`--format docker-events`).
    pub fn name(self) -> &'static str {
        match self {
            Format::DockerEvents => "docker-events",
            Format::DockerInspect => "docker-inspect",
            Format::PodmanEvents => "podman-events",
            Format::K8sAudit => "k8s-audit",
            Format::Auditd => "auditd",
            Format::Tetragon => "tetragon",
            Format::WindowsJson => "windows-json",
            Format::GenericJson => "json",
        }
    }

    /// True for formats whose records are JSON.
    pub fn is_json(self) -> bool {
        self != Format::Auditd
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let alias = match norm.as_str() {
            "docker" => Some(Format::DockerEvents),
            "inspect" | "podman-inspect" => Some(Format::DockerInspect),
            "podman" => Some(Format::PodmanEvents),
            "k8s" | "kubernetes" | "k8s-audit" | "kubernetes-audit" => Some(Format::K8sAudit),
            "windows" | "evtx-json" => Some(Format::WindowsJson),
            "generic" | "jsonl" | "generic-json" => Some(Format::GenericJson),
            _ => None,
        };
        alias
            .or_else(|| Format::ALL.into_iter().find(|f| f.name() == norm))
            .ok_or_else(|| {
                format!(
                    "unknown format {s:?}; expected one of {}",
                    Format::ALL.map(Format::name).join(", ")
                )
            })
    }
}

/// How to decode.
#[derive(Clone, Debug)]
pub struct Options {
    /// Use this format instead of detecting it.
    pub format: Option<Format>,
    /// Logsource for generic JSON records that carry none.
    pub logsource: Option<LogSource>,
    /// Field mappings (built-in unless loaded from a directory).
    pub mappings: Arc<Mappings>,
    /// Longest accepted record (line or JSON document) in bytes.
    pub max_record_size: usize,
    /// auditd: most events kept waiting for their last record at once.
    pub auditd_max_pending: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            format: None,
            logsource: None,
            mappings: Arc::new(Mappings::builtin()),
            max_record_size: DEFAULT_MAX_RECORD,
            auditd_max_pending: 4096,
        }
    }
}

/// Parse a `--logsource` value: `product=linux,category=process_creation,service=x`.
pub fn parse_logsource(spec: &str) -> Result<LogSource, String> {
    let mut ls = LogSource::default();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("expected key=value in {part:?}"))?;
        let v = Some(Arc::from(v.trim()));
        match k.trim() {
            "product" => ls.product = v,
            "category" => ls.category = v,
            "service" => ls.service = v,
            other => {
                return Err(format!(
                    "unknown logsource key {other:?} (product, category, service)"
                ))
            }
        }
    }
    Ok(ls)
}

/// Guess the format from the first bytes of (decompressed) input. `None`
/// when it is neither JSON nor auditd text.
pub fn detect(prefix: &[u8]) -> Option<Format> {
    let start = prefix.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &prefix[start..];
    let rest = rest
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(rest);
    match rest.first() {
        Some(b'{') | Some(b'[') => {
            let mut stream =
                serde_json::Deserializer::from_slice(rest).into_iter::<serde_json::Value>();
            match stream.next() {
                Some(Ok(v)) => Some(json::detect_value(&v)),
                _ => Some(json::detect_text(rest)),
            }
        }
        _ => {
            let head = &rest[..rest.len().min(4096)];
            memchr::memmem::find(head, b"msg=audit(").map(|_| Format::Auditd)
        }
    }
}

/// Shared state for one input's decoding.
pub(crate) struct Ctx {
    pub file: Arc<str>,
    pub format: Format,
    pub mapping: Arc<Mapping>,
    pub opts: Options,
}

impl Ctx {
    pub fn err(&self, kind: ErrorKind, rec: &Record) -> DecodeError {
        DecodeError::new(&self.file, kind).at(rec.line, rec.offset, rec.index)
    }

    pub fn origin(&self, rec: &Record) -> contraband_event::Origin {
        contraband_event::Origin {
            source: self.file.clone(),
            line: rec.line,
            offset: rec.offset,
            index: rec.index,
        }
    }
}

pub(crate) type Out = VecDeque<Result<Event, DecodeError>>;

pub(crate) trait FormatDecoder: Send {
    fn feed(&mut self, rec: Record, ctx: &Ctx, out: &mut Out);
    fn flush(&mut self, _ctx: &Ctx, _out: &mut Out) {}
    /// Emit pending events that started before `before` (live sources on idle).
    fn expire(&mut self, _before: contraband_event::Timestamp, _ctx: &Ctx, _out: &mut Out) {}
}

fn decoder_for(format: Format, opts: &Options) -> Box<dyn FormatDecoder> {
    match format {
        Format::Auditd => Box::new(auditd::AuditdDecoder::new(
            opts.auditd_max_pending,
            &opts.mappings.get(format),
        )),
        Format::DockerEvents => Box::new(json::JsonDecoder::new(docker::decode_docker_event)),
        Format::DockerInspect => Box::new(json::JsonDecoder::new(docker::decode_inspect)),
        Format::PodmanEvents => Box::new(json::JsonDecoder::new(docker::decode_podman_event)),
        Format::K8sAudit => Box::new(json::JsonDecoder::new(k8s::decode)),
        Format::Tetragon => Box::new(json::JsonDecoder::new(tetragon::decode)),
        Format::WindowsJson => Box::new(json::JsonDecoder::new(windows::decode)),
        Format::GenericJson => Box::new(json::JsonDecoder::new(generic::decode)),
    }
}

/// Record-level decoding for one input, for live sources: feed lines (or
/// whole JSON documents), get events. auditd keeps multi-record events
/// pending until complete; call [`Decoder::flush`] at the end (or on idle)
/// to emit what is still pending.
pub struct Decoder {
    ctx: Ctx,
    inner: Box<dyn FormatDecoder>,
    out: Out,
}

impl Decoder {
    /// A decoder for `format`; `source` names the input in origins and errors.
    pub fn new(format: Format, source: &str, opts: &Options) -> Decoder {
        let mut opts = opts.clone();
        // Every event clones the given logsource: with the `Arc`s shared by
        // every worker's decoder, their counts were cache lines all workers
        // wrote for every event.
        opts.logsource = opts.logsource.map(|ls| {
            LogSource::new(
                ls.product.as_deref(),
                ls.category.as_deref(),
                ls.service.as_deref(),
            )
        });
        Decoder {
            inner: decoder_for(format, &opts),
            ctx: Ctx {
                file: Arc::from(source),
                format,
                mapping: opts.mappings.get(format),
                opts,
            },
            out: VecDeque::new(),
        }
    }

    pub fn format(&self) -> Format {
        self.ctx.format
    }

    /// Decode one record (a line, or one JSON document). `line`/`offset`
    /// are recorded in the events' origin.
    pub fn feed(
        &mut self,
        text: &str,
        line: Option<u64>,
        offset: Option<u64>,
    ) -> Vec<Result<Event, DecodeError>> {
        self.feed_record(Record {
            text: Arc::from(text),
            line,
            offset,
            index: None,
        });
        self.out.drain(..).collect()
    }

    /// Decode one record cut by [`SplitInput`], appending its events (and
    /// errors) to `out`. Same checks as the sequential path. The decoder
    /// writes into `out` itself: a queue between them would move each
    /// event once more.
    pub fn decode_into(&mut self, rec: Record, out: &mut VecDeque<Result<Event, DecodeError>>) {
        feed_record(&mut *self.inner, &self.ctx, rec, out);
    }

    /// Emit every event still waiting for records (auditd).
    pub fn flush(&mut self) -> Vec<Result<Event, DecodeError>> {
        self.inner.flush(&self.ctx, &mut self.out);
        self.out.drain(..).collect()
    }

    /// Emit the events still pending (auditd) whose time is before `before`,
    /// for live sources whose stream has gone quiet: call it on idle with
    /// "now minus a few seconds" so an event whose last record never comes
    /// (auditd without EOE records) is not held forever.
    pub fn flush_before(
        &mut self,
        before: contraband_event::Timestamp,
    ) -> Vec<Result<Event, DecodeError>> {
        self.inner.expire(before, &self.ctx, &mut self.out);
        self.out.drain(..).collect()
    }

    fn feed_record(&mut self, rec: Record) {
        feed_record(&mut *self.inner, &self.ctx, rec, &mut self.out);
    }
}

/// Feeds `rec` to `inner`, unless it is past the record size limit.
fn feed_record(inner: &mut dyn FormatDecoder, ctx: &Ctx, rec: Record, out: &mut Out) {
    if rec.text.len() > ctx.opts.max_record_size {
        let limit = ctx.opts.max_record_size;
        out.push_back(Err(ctx.err(ErrorKind::TooLong { limit }, &rec)));
        return;
    }
    inner.feed(rec, ctx, out);
}

type RecordIter = Box<dyn Iterator<Item = Result<Record, DecodeError>> + Send>;

/// The events of one input, in order (auditd events in completion order).
/// Errors are items too; after a fatal one ([`DecodeError::is_fatal`]) the
/// iterator ends.
pub struct Events {
    file: Arc<str>,
    format: Option<Format>,
    records: Option<RecordIter>,
    decoder: Option<Decoder>,
    queue: Out,
    /// `queue` holds what [`Events::next_batch`] gave last.
    given: bool,
    finished: bool,
    /// Records are lines of a JSON format whose decoder keeps no state
    /// between records, so they may be decoded anywhere, in any order.
    splittable: bool,
}

/// The records of a line-oriented JSON input, to be cut into chunks and
/// decoded on several threads (each with its own [`Decoder`]).
pub struct SplitInput {
    pub format: Format,
    pub source: Arc<str>,
    /// Lines in order; read errors are items; iteration ends after a fatal one.
    pub records: Box<dyn Iterator<Item = Result<Record, DecodeError>> + Send>,
}

/// How an opened input is to be read: [`Events::into_split`]'s answer.
pub enum ReadPlan {
    /// Record by record, decoded on any thread.
    Split(SplitInput),
    /// As one ordered stream of events.
    InOrder(Box<Events>),
}

impl Events {
    /// The input's records when they can be decoded independently of each
    /// other (JSON lines: one record per line, no decoder state between
    /// records); otherwise the events iterator back, to be read in order
    /// (auditd, whose events span lines; pretty-printed JSON; failed opens).
    pub fn into_split(self) -> ReadPlan {
        if !self.splittable || !self.queue.is_empty() || self.finished {
            return ReadPlan::InOrder(Box::new(self));
        }
        match (self.records, self.format) {
            (Some(records), Some(format)) => ReadPlan::Split(SplitInput {
                format,
                source: self.file,
                records,
            }),
            (records, format) => ReadPlan::InOrder(Box::new(Events {
                records,
                format,
                ..self
            })),
        }
    }

    /// The format being decoded (detected or given); `None` if it could
    /// not be detected (the first item is then an error) or the input is empty.
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    fn failed(file: Arc<str>, e: DecodeError) -> Events {
        let mut queue = VecDeque::new();
        queue.push_back(Err(e));
        Events {
            file,
            format: None,
            records: None,
            decoder: None,
            queue,
            given: false,
            finished: true,
            splittable: false,
        }
    }

    /// The name of the input.
    pub fn source(&self) -> &str {
        &self.file
    }
}

impl Events {
    /// The items of the next record that gave any, in order, left in the
    /// stream's queue: read in place there, an event (a few hundred bytes)
    /// is not moved again. The items the last call gave are dropped first.
    /// `None` at the end.
    pub fn next_batch(&mut self) -> Option<&mut VecDeque<Result<Event, DecodeError>>> {
        self.drop_given();
        self.fill();
        self.given = !self.queue.is_empty();
        self.given.then_some(&mut self.queue)
    }

    /// Drops the items [`Events::next_batch`] gave last.
    fn drop_given(&mut self) {
        if std::mem::take(&mut self.given) {
            self.queue.clear();
        }
    }

    /// Decodes records until the queue holds an item or the input ends.
    fn fill(&mut self) {
        while self.queue.is_empty() {
            if self.finished {
                return;
            }
            let (Some(records), Some(decoder)) = (self.records.as_mut(), self.decoder.as_mut())
            else {
                self.finished = true;
                continue;
            };
            match records.next() {
                Some(Ok(rec)) => {
                    decoder.feed_record(rec);
                    take_all(&mut self.queue, &mut decoder.out);
                }
                Some(Err(e)) => {
                    let fatal = e.is_fatal();
                    self.queue.push_back(Err(e));
                    if fatal {
                        decoder.inner.flush(&decoder.ctx, &mut decoder.out);
                        take_all(&mut self.queue, &mut decoder.out);
                        self.finished = true;
                    }
                }
                None => {
                    decoder.inner.flush(&decoder.ctx, &mut decoder.out);
                    take_all(&mut self.queue, &mut decoder.out);
                    self.finished = true;
                }
            }
        }
    }
}

impl Iterator for Events {
    type Item = Result<Event, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.drop_given();
        self.fill();
        self.queue.pop_front()
    }
}

/// Moves everything in `from` to the end of `queue`. Into an empty queue
/// (as it is whenever a record is fed) the two swap places: no item is
/// copied, and an event is a few hundred bytes.
fn take_all(queue: &mut Out, from: &mut Out) {
    if queue.is_empty() {
        std::mem::swap(queue, from);
    } else {
        queue.append(from);
    }
}

/// Open a file (gzip or plain; `-` is stdin) and decode it.
pub fn open(path: impl AsRef<Path>, opts: &Options) -> Events {
    let path = path.as_ref();
    let name: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    if path.as_os_str() == "-" {
        return read(&name, Box::new(std::io::stdin()), opts);
    }
    match std::fs::File::open(path) {
        Ok(f) => read(&name, Box::new(f), opts),
        Err(e) => Events::failed(name.clone(), DecodeError::new(&name, ErrorKind::Io(e))),
    }
}

/// Decode any reader; `name` identifies it in origins and errors.
pub fn read(name: &str, reader: Box<dyn Read + Send>, opts: &Options) -> Events {
    let file: Arc<str> = Arc::from(name);
    let fail = |e: std::io::Error| {
        Events::failed(
            file.clone(),
            DecodeError::new(&file, ErrorKind::Io(e)).at(None, Some(0), None),
        )
    };
    let (prefix, reader) = match input::peek(reader) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let (prefix, reader) = if input::is_gzip(&prefix) {
        match input::peek(input::gunzip(reader)) {
            Ok(p) => p,
            Err(e) => return fail(e),
        }
    } else {
        (prefix, reader)
    };
    if prefix.iter().all(|b| b.is_ascii_whitespace()) {
        return Events {
            file,
            format: opts.format,
            records: None,
            decoder: None,
            queue: VecDeque::new(),
            given: false,
            finished: true,
            splittable: false,
        };
    }
    let format =
        match opts.format.or_else(|| detect(&prefix)) {
            Some(f) => f,
            None => return Events::failed(
                file.clone(),
                DecodeError::new(
                    &file,
                    ErrorKind::Invalid(
                        "cannot detect the format (neither JSON nor auditd); give it with --format"
                            .into(),
                    ),
                )
                .at(Some(1), Some(0), None),
            ),
        };
    let max = opts.max_record_size;
    let json_lines = format.is_json() && input::looks_like_json_lines(&prefix);
    let records: RecordIter = if format.is_json() && !json_lines {
        Box::new(input::JsonSplitter::new(reader, file.clone(), max))
    } else {
        Box::new(input::LineReader::new(reader, file.clone(), max))
    };
    Events {
        file: file.clone(),
        format: Some(format),
        records: Some(records),
        decoder: Some(Decoder::new(format, &file, opts)),
        queue: VecDeque::new(),
        given: false,
        finished: false,
        splittable: json_lines,
    }
}
