//! Raw auditd logs: records (`type=T msg=audit(SECS.MS:SERIAL): k=v ...`)
//! assembled into events by serial, with hex values decoded and split
//! EXECVE arguments joined.
//!
//! A record's pairs are kept as places in its event's raw text (its
//! records joined by `\n`, which the event keeps anyway), and a value
//! auditd wrote as it is stays a place in the event's fields
//! ([`Fields::set_text`]): an execve event has ~60 pairs, and two strings
//! made and freed for each were most of the cost of decoding it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use contraband_event::{
    ContainerContext, Event, FieldName, Fields, KeyCache, LogSource, Origin, Timestamp, ValueRef,
};
use memchr::memmem::Finder;
use serde_json::Value;

use crate::error::ErrorKind;
use crate::input::Record;
use crate::mapping::Mapping;
use crate::{Ctx, FormatDecoder, Out};

/// Events older than this many serials behind the newest are complete.
const SERIAL_WINDOW: u64 = 64;
/// ... or older than this many nanoseconds behind the newest record.
const TIME_WINDOW: i64 = 3_000_000_000;
/// Records one event may hold before further ones are refused.
const MAX_RECORDS: usize = 4096;

/// How a value was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `"quoted"` or `{ braced }`: text as written.
    Quoted,
    /// `'single quoted'`: a nested list of key=value pairs (`msg='...'`).
    Nested,
    /// Bare: a number, a word, or hex-encoded text.
    Bare,
}

/// A byte range of the text pairs are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn of(self, text: &str) -> &str {
        &text[self.start..self.end]
    }

    fn range(self) -> Range<usize> {
        self.start..self.end
    }
}

/// A `key=value` pair, as places in the text it was read from.
#[derive(Clone, Copy, Debug)]
struct Pair {
    key: Span,
    value: Span,
    kind: Kind,
}

/// A record of a pending event: places in its raw text and its pairs.
#[derive(Debug)]
struct Rec {
    rtype: Span,
    /// Its pairs in [`Pending::pairs`]: ...
    pairs: Range<usize>,
    /// ... those from here on came after the 0x1d separator: values
    /// auditd already interpreted.
    enriched: usize,
}

struct Header<'a> {
    node: Option<&'a str>,
    rtype: &'a str,
    time: Timestamp,
    serial: u64,
    body: &'a str,
}

/// What a record's header is found by: searched for in every line, so
/// the searcher is built once.
static MSG_AUDIT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("msg=audit("));

fn parse_header(line: &str) -> Result<Header<'_>, String> {
    let at = MSG_AUDIT
        .find(line.as_bytes())
        .ok_or("not an auditd record: no msg=audit(")?;
    let prefix = &line[..at];
    let mut node = None;
    let mut rtype = None;
    for tok in prefix.split_ascii_whitespace() {
        if let Some(n) = tok.strip_prefix("node=") {
            node = Some(n);
        } else if let Some(t) = tok.strip_prefix("type=") {
            rtype = Some(t);
        }
    }
    let rtype = rtype.ok_or("auditd record without type=")?;
    let rest = &line[at + "msg=audit(".len()..];
    let close = rest.find(')').ok_or("unterminated msg=audit(...)")?;
    let stamp = &rest[..close];
    let (time, serial) = stamp
        .split_once(':')
        .ok_or("msg=audit(...) without :serial")?;
    let serial: u64 = serial
        .parse()
        .map_err(|_| format!("bad serial {serial:?}"))?;
    let (secs, frac) = time.split_once('.').unwrap_or((time, "0"));
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.is_empty() {
        return Err(format!("bad time {time:?}"));
    }
    let secs: i64 = secs.parse().map_err(|_| format!("bad time {time:?}"))?;
    let frac_digits = &frac[..frac.len().min(9)];
    let mut nanos: i64 = frac_digits
        .parse()
        .map_err(|_| format!("bad time {time:?}"))?;
    for _ in frac_digits.len()..9 {
        nanos *= 10;
    }
    let body = rest[close + 1..].trim_start_matches(':');
    Ok(Header {
        node,
        rtype,
        time: Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos)),
        serial,
        body,
    })
}

/// Where `inner`, a slice of `outer`, starts in it.
fn offset_in(outer: &str, inner: &str) -> usize {
    let at = inner.as_ptr() as usize - outer.as_ptr() as usize;
    debug_assert!(at + inner.len() <= outer.len());
    at
}

/// Appends the pairs of `k=v k2="v 2" msg='a=b'` (`text`, which starts at
/// byte `base` of what the spans are to be places in) to `out`; returns
/// where in `out` the pairs after a 0x1d separator begin.
fn parse_kv(text: &str, base: usize, out: &mut Vec<Pair>) -> usize {
    let mut enriched = None;
    let b = text.as_bytes();
    let span = |start: usize, end: usize| Span {
        start: base + start,
        end: base + end,
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1d {
            enriched.get_or_insert(out.len());
            i += 1;
            continue;
        }
        if b[i] == b' ' || b[i] == b'\t' {
            i += 1;
            continue;
        }
        let key_start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' && b[i] != 0x1d {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue; // a bare word: not a field
        }
        let key = span(key_start, i);
        i += 1;
        let (value, kind) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let start = i + 1;
                let end = memchr::memchr(q, &b[start..]).map_or(b.len(), |e| start + e);
                i = (end + 1).min(b.len());
                let kind = if q == b'"' {
                    Kind::Quoted
                } else {
                    Kind::Nested
                };
                (span(start, end), kind)
            }
            Some(b'{') => {
                // SADDR={ fam=inet laddr=... }: keep the braces' text.
                let start = i;
                let end = memchr::memchr(b'}', &b[start..]).map_or(b.len(), |e| start + e + 1);
                i = end;
                (span(start, end), Kind::Quoted)
            }
            _ => {
                let start = i;
                while i < b.len() && b[i] != b' ' && b[i] != 0x1d {
                    i += 1;
                }
                (span(start, i), Kind::Bare)
            }
        };
        out.push(Pair { key, value, kind });
    }
    enriched.unwrap_or(out.len())
}

/// Is `s` hex-encoded text (an even number of hex digits)?
fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// The bytes of hex text ([`is_hex`]).
fn unhex(s: &str) -> Vec<u8> {
    let nibble = |c: u8| {
        if c.is_ascii_digit() {
            c - b'0'
        } else {
            (c | 0x20) - b'a' + 10
        }
    };
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1]))
        .collect()
}

fn is_arg_key(key: &str) -> bool {
    let digits = key.strip_prefix('a').unwrap_or("");
    let digits = digits.split('[').next().unwrap_or("");
    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
}

/// A value's text: a place in the event's raw text, or text made from it.
#[derive(Clone, Debug)]
enum Piece {
    At(Span),
    Made(String),
}

impl Piece {
    fn as_str<'a>(&'a self, raw: &'a str) -> &'a str {
        match self {
            Piece::At(span) => span.of(raw),
            Piece::Made(text) => text,
        }
    }

    /// The text, to append to.
    fn made(&mut self, raw: &str) -> &mut String {
        if let Piece::At(span) = *self {
            *self = Piece::Made(span.of(raw).to_owned());
        }
        match self {
            Piece::Made(text) => text,
            Piece::At(_) => unreachable!("made above"),
        }
    }
}

/// The names of the fields auditd hex-encodes (the mapping's table
/// `encoded_fields`), looked up for most fields of every event: kept in a
/// set of our own rather than asked of the mapping's map each time.
struct EncodedFields {
    names: foldhash::HashSet<Box<str>>,
}

impl EncodedFields {
    fn new(mapping: &Mapping) -> EncodedFields {
        let table = mapping
            .tables
            .get("encoded_fields")
            .and_then(Value::as_object);
        EncodedFields {
            names: table
                .into_iter()
                .flat_map(|t| t.keys())
                .map(|k| Box::from(k.as_str()))
                .collect(),
        }
    }

    fn contains(&self, key: &str) -> bool {
        self.names.contains(key)
    }
}

/// The text of a value (of a record of type `rtype`), hex-decoded when
/// the field is one auditd encodes.
fn piece(rtype: &str, key: &str, pair: &Pair, raw: &str, encoded: &EncodedFields) -> Piece {
    let value = pair.value.of(raw);
    // Most values are not hex: those are not looked up.
    if pair.kind == Kind::Bare
        && is_hex(value)
        && ((rtype == "EXECVE" && is_arg_key(key)) || encoded.contains(key))
    {
        let bytes = unhex(value);
        let text = String::from_utf8_lossy(&bytes);
        return Piece::Made(if key == "proctitle" {
            text.trim_end_matches('\0').replace('\0', " ")
        } else {
            text.into_owned()
        });
    }
    Piece::At(pair.value)
}

/// An event whose records are still coming; its node is its key's.
struct Pending {
    seq: u64,
    serial: u64,
    time: Timestamp,
    line: Option<u64>,
    offset: Option<u64>,
    lists: Lists,
    overflow: bool,
}

type Key = (Option<String>, u64, i64);

pub(crate) struct AuditdDecoder {
    pending: BTreeMap<Key, Pending>,
    max_pending: usize,
    seq: u64,
    newest_serial: u64,
    newest_time: i64,
    /// The names events' fields had: shared, not made per event.
    keys: KeyCache,
    /// Made from the mapping the decoder's context carries (both are made
    /// from the same options, see `decoder_for`).
    encoded: EncodedFields,
    /// Pairs of a nested value, read while an event is built.
    nested: Vec<Pair>,
    /// Lists of built events, for new pending ones: each event's grew a
    /// step at a time, and growing them was a tenth of decoding one.
    spare: Vec<Lists>,
    /// What the last sweep saw (the newest serial and time, and the event
    /// it spared): until one changes, nothing new can be due.
    swept: Option<(u64, i64, Key)>,
}

/// The growing parts of a [`Pending`] event.
#[derive(Default)]
struct Lists {
    records: Vec<Rec>,
    /// Every record's pairs, places in `raw`.
    pairs: Vec<Pair>,
    /// The records joined by `\n`.
    raw: String,
}

/// Spare lists kept at most (about as many events are pending at once)...
const SPARE_LISTS: usize = 128;
/// ... and only lists of ordinary events: a huge one's are let go.
const SPARE_RAW_ROOM: usize = 64 * 1024;

impl AuditdDecoder {
    pub fn new(max_pending: usize, mapping: &Mapping) -> AuditdDecoder {
        AuditdDecoder {
            pending: BTreeMap::new(),
            max_pending: max_pending.max(1),
            seq: 0,
            newest_serial: 0,
            newest_time: 0,
            keys: KeyCache::default(),
            encoded: EncodedFields::new(mapping),
            nested: Vec::new(),
            spare: Vec::new(),
            swept: None,
        }
    }

    fn complete(&mut self, key: &Key, ctx: &Ctx, out: &mut Out) {
        if let Some(((node, _, _), p)) = self.pending.remove_entry(key) {
            let (encoded, keys, nested) = (&self.encoded, &mut self.keys, &mut self.nested);
            out.push_back(Ok(build(&p, node, ctx, encoded, keys, nested)));
            let mut lists = p.lists;
            if self.spare.len() < SPARE_LISTS && lists.raw.capacity() <= SPARE_RAW_ROOM {
                lists.records.clear();
                lists.pairs.clear();
                lists.raw.clear();
                self.spare.push(lists);
            }
        }
    }

    /// Complete every pending event the stream has moved past, oldest first.
    fn sweep(&mut self, except: &Key, ctx: &Ctx, out: &mut Out) {
        // Records of one event come together: most sweeps would find
        // nothing. An event is due once the newest serial or time has moved
        // far enough past it, and only the one spared last time can have
        // been due then (one pending since has a record of its own later).
        let now = (self.newest_serial, self.newest_time);
        if self
            .swept
            .as_ref()
            .is_some_and(|(serial, time, spared)| (*serial, *time) == now && spared == except)
        {
            return;
        }
        self.swept = Some((now.0, now.1, except.clone()));
        let mut done: Vec<(u64, Key)> = self
            .pending
            .iter()
            .filter(|(k, p)| {
                *k != except
                    && (self.newest_serial.saturating_sub(p.serial) > SERIAL_WINDOW
                        || self.newest_time.saturating_sub(p.time.0) > TIME_WINDOW)
            })
            .map(|(k, p)| (p.seq, k.clone()))
            .collect();
        done.sort();
        for (_, k) in done {
            self.complete(&k, ctx, out);
        }
    }
}

impl FormatDecoder for AuditdDecoder {
    fn feed(&mut self, rec: Record, ctx: &Ctx, out: &mut Out) {
        let line = rec.text.trim_end();
        if line.trim_start().starts_with('#') {
            return; // comment lines (annotated test logs)
        }
        let header = match parse_header(line) {
            Ok(h) => h,
            Err(reason) => {
                out.push_back(Err(ctx.err(ErrorKind::Invalid(reason), &rec)));
                return;
            }
        };
        let key: Key = (header.node.map(str::to_owned), header.serial, header.time.0);
        self.newest_serial = self.newest_serial.max(header.serial);
        self.newest_time = self.newest_time.max(header.time.0);
        if header.rtype == "EOE" {
            if let Some(p) = self.pending.get_mut(&key) {
                // Kept only within the record cap, like every other record.
                let raw = &mut p.lists.raw;
                if raw.len() + 1 + line.len() <= ctx.opts.max_record_size {
                    raw.push('\n');
                    raw.push_str(line);
                }
            }
            self.complete(&key, ctx, out);
            self.sweep(&key, ctx, out);
            return;
        }
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= self.max_pending {
                if let Some((k, p)) = self
                    .pending
                    .iter()
                    .min_by_key(|(_, p)| p.seq)
                    .map(|(k, p)| (k.clone(), p.serial))
                {
                    out.push_back(Err(ctx.err(
                        ErrorKind::Invalid(format!(
                            "more than {} auditd events pending; emitting event {} before its last record",
                            self.max_pending, p
                        )),
                        &rec,
                    )));
                    self.complete(&k, ctx, out);
                }
            }
            self.seq += 1;
            self.pending.insert(
                key.clone(),
                Pending {
                    seq: self.seq,
                    serial: header.serial,
                    time: header.time,
                    line: rec.line,
                    offset: rec.offset,
                    lists: self.spare.pop().unwrap_or_default(),
                    overflow: false,
                },
            );
        }
        let p = self.pending.get_mut(&key).expect("inserted above");
        let lists = &mut p.lists;
        // The event's raw text (records joined by `\n`) stays within the cap.
        let sep = usize::from(!lists.raw.is_empty());
        if lists.records.len() >= MAX_RECORDS
            || lists.raw.len() + sep + line.len() > ctx.opts.max_record_size
        {
            if !p.overflow {
                p.overflow = true;
                out.push_back(Err(ctx.err(
                    ErrorKind::Invalid(format!(
                        "auditd event {} has too many records; the rest are dropped",
                        header.serial
                    )),
                    &rec,
                )));
            }
        } else {
            if sep == 1 {
                lists.raw.push('\n');
            }
            let base = lists.raw.len();
            lists.raw.push_str(line);
            let rtype_at = base + offset_in(line, header.rtype);
            let body_at = base + offset_in(line, header.body);
            let first = lists.pairs.len();
            let enriched = parse_kv(&lists.raw[body_at..], body_at, &mut lists.pairs);
            lists.records.push(Rec {
                rtype: Span {
                    start: rtype_at,
                    end: rtype_at + header.rtype.len(),
                },
                pairs: first..lists.pairs.len(),
                enriched,
            });
        }
        self.sweep(&key, ctx, out);
    }

    fn expire(&mut self, before: Timestamp, ctx: &Ctx, out: &mut Out) {
        let mut old: Vec<(u64, Key)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.time < before)
            .map(|(k, p)| (p.seq, k.clone()))
            .collect();
        old.sort();
        for (_, k) in old {
            self.complete(&k, ctx, out);
        }
    }

    fn flush(&mut self, ctx: &Ctx, out: &mut Out) {
        let mut all: Vec<(u64, Key)> = self
            .pending
            .iter()
            .map(|(k, p)| (p.seq, k.clone()))
            .collect();
        all.sort();
        for (_, k) in all {
            self.complete(&k, ctx, out);
        }
    }
}

/// The container a cgroup path or similar text names: (runtime, id).
/// Live sources use it on `/proc/PID/cgroup` to attribute a process.
pub fn container_in(text: &str) -> Option<(&'static str, String)> {
    /// Built once: every auditd event's text is searched for each.
    static PATTERNS: LazyLock<[(Finder<'static>, &str); 5]> = LazyLock::new(|| {
        [
            (Finder::new("/docker/"), "docker"),
            (Finder::new("docker-"), "docker"),
            (Finder::new("libpod-"), "podman"),
            (Finder::new("cri-containerd-"), "containerd"),
            (Finder::new("crio-"), "cri-o"),
        ]
    });
    let bytes = text.as_bytes();
    for (pat, runtime) in PATTERNS.iter() {
        for at in pat.find_iter(bytes) {
            let start = at + pat.needle().len();
            let Some(id) = bytes.get(start..start + 64) else {
                continue;
            };
            let after_ok = bytes.get(start + 64).is_none_or(|c| !c.is_ascii_hexdigit());
            if after_ok
                && id
                    .iter()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                return Some((runtime, String::from_utf8_lossy(id).into_owned()));
            }
        }
    }
    None
}

/// Record types that only add detail to the event's main record.
fn auxiliary(rtype: &str) -> bool {
    matches!(
        rtype,
        "SYSCALL"
            | "EXECVE"
            | "CWD"
            | "PATH"
            | "PROCTITLE"
            | "SOCKADDR"
            | "EOE"
            | "BPRM_FCAPS"
            | "CAPSET"
            | "MMAP"
            | "FD_PAIR"
            | "OBJ_PID"
            | "NETFILTER_CFG"
            | "CONTAINER_ID"
    ) || rtype.starts_with("UNKNOWN[")
}

/// An event's fields as they are assembled, named by the decoder's kept
/// names. (Not by shapes: the names of auditd events vary with their
/// records and arguments, and shapes kept from them were mostly new ones,
/// costing more than they saved.)
struct Assembly<'k> {
    fields: Fields,
    keys: &'k mut KeyCache,
}

impl Assembly<'_> {
    /// Sets `name` to `value`, replacing the value it has in its place.
    fn put(&mut self, name: &str, value: Piece) {
        let name = self.keys.name(self.fields.len(), name);
        let set = match value {
            Piece::At(span) => self.fields.set_text(FieldName::Own(&name), span.range()),
            Piece::Made(text) => self.fields.set_json(FieldName::Own(&name), text.into()),
        };
        // Places are within the raw text: a field is never dropped, but
        // say so if one were.
        debug_assert!(set.is_some(), "field {name} not set");
    }

    /// Sets `name` to `value` unless it has one.
    fn put_if_absent(&mut self, name: &str, value: Piece) {
        let name = self.keys.name(self.fields.len(), name);
        let set = match value {
            Piece::At(span) => self.fields.set_text_if_absent(&name, span.range()),
            Piece::Made(text) => Some(self.fields.set_json_if_absent(&name, text.into())),
        };
        debug_assert!(set.is_some(), "field {name} not set");
    }

    fn put_json(&mut self, name: &str, value: Value) {
        let name = self.keys.name(self.fields.len(), name);
        let set = self.fields.set_json(FieldName::Own(&name), value);
        debug_assert!(set.is_some(), "field {name} not set");
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.fields.get_ref(name).and_then(ValueRef::as_str)
    }
}

/// The event `p` (of node `node`) makes.
fn build(
    p: &Pending,
    node: Option<String>,
    ctx: &Ctx,
    encoded: &EncodedFields,
    keys: &mut KeyCache,
    nested: &mut Vec<Pair>,
) -> Event {
    let mapping = &ctx.mapping;
    let Lists {
        records,
        pairs: all_pairs,
        raw,
    } = &p.lists;
    let shared: Arc<str> = Arc::from(raw.as_str());
    let mut event = Assembly {
        fields: Fields::over_record(Arc::clone(&shared), all_pairs.len() + 8),
        keys,
    };
    let raw = &*shared;
    let rtype = |r: &Rec| r.rtype.of(raw);
    let primary = records
        .iter()
        .find(|r| !auxiliary(rtype(r)))
        .or_else(|| records.iter().find(|r| rtype(r) == "SYSCALL"))
        .or(records.first());
    event.put(
        "type",
        primary.map_or_else(|| Piece::Made("EOE".into()), |r| Piece::At(r.rtype)),
    );
    let types = records.iter().map(|r| Value::from(rtype(r))).collect();
    event.put_json("records", Value::Array(types));
    let has_execve = records.iter().any(|r| rtype(r) == "EXECVE");
    // SYSCALL first so its pid/uid/exe win over other records'.
    let order = (records.iter().filter(|r| rtype(r) == "SYSCALL"))
        .chain(records.iter().filter(|r| rtype(r) != "SYSCALL"));
    let mut args: BTreeMap<u64, Piece> = BTreeMap::new();
    let mut parts: BTreeMap<(u64, u64), Piece> = BTreeMap::new();
    let mut names = Vec::new();
    let mut nametypes = Vec::new();
    let mut contid = None;
    for r in order {
        let r_type = rtype(r);
        let pairs = &all_pairs[r.pairs.clone()];
        let (normal, enriched) = pairs.split_at(r.enriched - r.pairs.start);
        for pair in normal {
            let k = pair.key.of(raw);
            let value = piece(r_type, k, pair, raw, encoded);
            match (r_type, k) {
                ("SYSCALL", key) if has_execve && is_arg_key(key) => {}
                ("EXECVE", key) if is_arg_key(key) => {
                    let (n, part) = match key[1..].split_once('[') {
                        Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<u64>().ok()),
                        None => (&key[1..], None),
                    };
                    let Ok(n) = n.parse::<u64>() else { continue };
                    match part {
                        Some(i) => {
                            parts.insert((n, i), value);
                        }
                        None => {
                            args.insert(n, value);
                        }
                    }
                }
                ("EXECVE", key) if key.ends_with("_len") => {}
                ("PATH", "name") => names.push(Value::from(value.as_str(raw))),
                ("PATH", "nametype") => nametypes.push(Value::from(value.as_str(raw))),
                ("PATH", _) => {}
                (_, "msg") if pair.kind == Kind::Nested => {
                    // A nested value is never decoded: its place is its text.
                    nested.clear();
                    parse_kv(pair.value.of(raw), pair.value.start, nested);
                    for inner in nested.iter() {
                        let ik = inner.key.of(raw);
                        event.put_if_absent(ik, piece(r_type, ik, inner, raw, encoded));
                    }
                }
                (_, "contid") => contid = Some(value.as_str(raw).to_owned()),
                (_, "syscall") => {
                    let arch = pairs[..r.enriched - r.pairs.start]
                        .iter()
                        .find(|a| a.key.of(raw) == "arch")
                        .filter(|a| a.kind == Kind::Bare)
                        .and_then(|a| mapping.lookup("arches", a.value.of(raw)))
                        .unwrap_or("x86_64");
                    let name = mapping
                        .lookup(&format!("syscalls_{arch}"), value.as_str(raw))
                        .map(|name| Piece::Made(name.to_owned()))
                        .or_else(|| {
                            enriched
                                .iter()
                                .find(|e| e.key.of(raw) == "SYSCALL")
                                .map(|e| piece("", "SYSCALL", e, raw, encoded))
                        })
                        .unwrap_or(value);
                    event.put_if_absent("syscall", name);
                }
                _ if value.as_str(raw) == "(null)" => {}
                _ => event.put_if_absent(k, value),
            }
        }
        if r_type == "PATH" {
            continue; // OUID/OGID of the paths are not the process's
        }
        for pair in enriched {
            let k = pair.key.of(raw);
            event.put_if_absent(k, piece("", k, pair, raw, encoded));
        }
    }
    for ((n, _), part) in parts {
        let whole = args.entry(n).or_insert_with(|| Piece::Made(String::new()));
        whole.made(raw).push_str(part.as_str(raw));
    }
    if !names.is_empty() {
        event.put_json("name", Value::Array(names));
        event.put_json("nametype", Value::Array(nametypes));
    }
    if has_execve {
        let argv: Vec<&str> = args.values().map(|a| a.as_str(raw)).collect();
        let command_line = argv.join(" ");
        let mut name = String::new();
        for (n, a) in &args {
            name.clear();
            let _ = write!(name, "a{n}");
            event.put(&name, a.clone());
        }
        event.put("CommandLine", Piece::Made(command_line));
        if event
            .text("exe")
            .is_none_or(|e| e.is_empty() || e == "(null)")
        {
            if let Some(a0) = args.get(&0) {
                let text = a0.as_str(raw);
                let image = if text.starts_with('/') {
                    None
                } else if let (true, Some(cwd)) = (text.contains('/'), event.text("cwd")) {
                    Some(format!(
                        "{}/{}",
                        cwd.trim_end_matches('/'),
                        text.trim_start_matches("./")
                    ))
                } else {
                    None
                };
                event.put("Image", image.map_or_else(|| a0.clone(), Piece::Made));
            }
        }
    }
    let mut fields = event.fields;
    let ls = mapping.apply(&mut fields, LogSource::default());
    let mut ev = Event::new(ls, p.time, fields);
    ev.host = node.map(Arc::from);
    ev.origin = Origin {
        source: ctx.file.clone(),
        line: p.line,
        offset: p.offset,
        index: None,
    };
    let found = container_in(raw);
    if found.is_some() || contid.is_some() {
        let (runtime, id) = match found {
            Some((rt, id)) => (Some(rt.to_string()), Some(id)),
            None => (None, contid),
        };
        ev.set_container(ContainerContext {
            id,
            runtime,
            ..Default::default()
        });
    }
    ev.raw = Some(Arc::clone(&shared));
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_fields() {
        let h = parse_header(
            "node=h type=EXECVE msg=audit(1615114232.375:15558): argc=1 a0=\"whoami\"",
        )
        .unwrap();
        assert_eq!(h.node, Some("h"));
        assert_eq!(h.rtype, "EXECVE");
        assert_eq!(h.serial, 15558);
        assert_eq!(h.time.0, 1_615_114_232_375_000_000);
        let text = "a=1 b=\"x y\" msg='unit=foo res=success' key=(null)\x1dUID=\"root\"";
        // Places are counted from the given base, here 100.
        let mut pairs = vec![];
        let enriched = parse_kv(text, 100, &mut pairs);
        assert_eq!((pairs.len(), enriched), (5, 4));
        let shifted = format!("{}{text}", " ".repeat(100));
        let read: Vec<(&str, &str, Kind)> = pairs
            .iter()
            .map(|p| (p.key.of(&shifted), p.value.of(&shifted), p.kind))
            .collect();
        assert_eq!(
            read,
            [
                ("a", "1", Kind::Bare),
                ("b", "x y", Kind::Quoted),
                ("msg", "unit=foo res=success", Kind::Nested),
                ("key", "(null)", Kind::Bare),
                ("UID", "root", Kind::Quoted),
            ]
        );
    }

    #[test]
    fn hex_text_is_decoded_in_either_case() {
        for (text, hex) in [("", false), ("a", false), ("4a6B", true), ("4g", false)] {
            assert_eq!(is_hex(text), hex, "{text:?}");
        }
        assert_eq!(unhex("2F746d70"), b"/tmp");
        let all: String = (0..=255u8).map(|b| format!("{b:02x}{b:02X}")).collect();
        let twice: Vec<u8> = (0..=255u8).flat_map(|b| [b, b]).collect();
        assert_eq!(unhex(&all), twice);
    }

    #[test]
    fn a_nested_value_reads_as_pairs_in_place() {
        let text = "pid=5 msg='cwd=\"/home/u\" cmd=6C73 res=success'";
        let mut pairs = vec![];
        parse_kv(text, 0, &mut pairs);
        let msg = pairs[1].value;
        let mut nested = vec![];
        assert_eq!(parse_kv(msg.of(text), msg.start, &mut nested), 3);
        let keys: Vec<&str> = nested.iter().map(|p| p.key.of(text)).collect();
        assert_eq!(keys, ["cwd", "cmd", "res"]);
        assert_eq!(nested[0].value.of(text), "/home/u");
    }

    #[test]
    fn cgroup_container() {
        let id = "85f791fd8dfa740a3b1c177e8f68e8fdb4803a7c8fa0e957a5ec38460ce047ef";
        assert_eq!(
            container_in(&format!("cgroup=0::/system.slice/docker-{id}.scope")),
            Some(("docker", id.to_string()))
        );
        assert_eq!(
            container_in(&format!("/kubepods/cri-containerd-{id}"))
                .unwrap()
                .0,
            "containerd"
        );
        assert_eq!(container_in("/docker/overlay2/abc"), None);
    }
}
