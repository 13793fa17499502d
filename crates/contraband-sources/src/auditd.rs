//! Raw auditd logs: records (`type=T msg=audit(SECS.MS:SERIAL): k=v ...`)
//! assembled into events by serial, with hex values decoded and split
//! EXECVE arguments joined.

use std::collections::BTreeMap;
use std::sync::Arc;

use contraband_event::{ContainerContext, Event, Fields, LogSource, Origin, Timestamp};
use serde_json::Value;

use crate::error::ErrorKind;
use crate::input::Record;
use crate::{Ctx, FormatDecoder, Out};

/// Events older than this many serials behind the newest are complete.
const SERIAL_WINDOW: u64 = 64;
/// ... or older than this many nanoseconds behind the newest record.
const TIME_WINDOW: i64 = 3_000_000_000;
/// Records one event may hold before further ones are refused.
const MAX_RECORDS: usize = 4096;

#[derive(Debug)]
enum Val {
    /// `"quoted"`: text as written.
    Quoted(String),
    /// `'single quoted'`: a nested list of key=value pairs (`msg='...'`).
    Nested(String),
    /// Bare: a number, a word, or hex-encoded text.
    Bare(String),
}

#[derive(Debug)]
struct Rec {
    rtype: String,
    fields: Vec<(String, Val)>,
    /// Fields after the 0x1d separator: values auditd already interpreted.
    enriched: Vec<(String, Val)>,
}

struct Header<'a> {
    node: Option<String>,
    rtype: String,
    time: Timestamp,
    serial: u64,
    body: &'a str,
}

fn parse_header(line: &str) -> Result<Header<'_>, String> {
    let at = line
        .find("msg=audit(")
        .ok_or("not an auditd record: no msg=audit(")?;
    let prefix = &line[..at];
    let mut node = None;
    let mut rtype = None;
    for tok in prefix.split_ascii_whitespace() {
        if let Some(n) = tok.strip_prefix("node=") {
            node = Some(n.to_string());
        } else if let Some(t) = tok.strip_prefix("type=") {
            rtype = Some(t.to_string());
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

/// Split `k=v k2="v 2" msg='a=b'` into pairs; stops the normal part at 0x1d.
type Pairs = Vec<(String, Val)>;

fn parse_kv(body: &str) -> (Pairs, Pairs) {
    let mut normal = Vec::new();
    let mut enriched = Vec::new();
    let mut in_enriched = false;
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1d {
            in_enriched = true;
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
        let key = body[key_start..i].to_string();
        i += 1;
        let val = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let start = i + 1;
                let end = body[start..].find(q as char).map_or(b.len(), |e| start + e);
                i = (end + 1).min(b.len());
                let s = body[start..end].to_string();
                if q == b'"' {
                    Val::Quoted(s)
                } else {
                    Val::Nested(s)
                }
            }
            Some(b'{') => {
                // SADDR={ fam=inet laddr=... }: keep the braces' text.
                let start = i;
                let end = body[start..].find('}').map_or(b.len(), |e| start + e + 1);
                i = end;
                Val::Quoted(body[start..end].to_string())
            }
            _ => {
                let start = i;
                while i < b.len() && b[i] != b' ' && b[i] != 0x1d {
                    i += 1;
                }
                Val::Bare(body[start..i].to_string())
            }
        };
        if in_enriched {
            enriched.push((key, val));
        } else {
            normal.push((key, val));
        }
    }
    (normal, enriched)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() & 1 == 1 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn is_arg_key(key: &str) -> bool {
    let digits = key.strip_prefix('a').unwrap_or("");
    let digits = digits.split('[').next().unwrap_or("");
    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
}

/// The text of a value, hex-decoded when the field is one auditd encodes.
fn text(rtype: &str, key: &str, val: &Val, encoded: &dyn Fn(&str) -> bool) -> String {
    match val {
        Val::Quoted(s) | Val::Nested(s) => s.clone(),
        Val::Bare(s) => {
            if (rtype == "EXECVE" && is_arg_key(key)) || encoded(key) {
                if let Some(bytes) = unhex(s) {
                    let mut t = String::from_utf8_lossy(&bytes).into_owned();
                    if key == "proctitle" {
                        t = t.trim_end_matches('\0').replace('\0', " ");
                    }
                    return t;
                }
            }
            s.clone()
        }
    }
}

struct Pending {
    seq: u64,
    node: Option<String>,
    serial: u64,
    time: Timestamp,
    line: Option<u64>,
    offset: Option<u64>,
    records: Vec<Rec>,
    raw: String,
    overflow: bool,
}

type Key = (Option<String>, u64, i64);

pub(crate) struct AuditdDecoder {
    pending: BTreeMap<Key, Pending>,
    max_pending: usize,
    seq: u64,
    newest_serial: u64,
    newest_time: i64,
}

impl AuditdDecoder {
    pub fn new(max_pending: usize) -> AuditdDecoder {
        AuditdDecoder {
            pending: BTreeMap::new(),
            max_pending: max_pending.max(1),
            seq: 0,
            newest_serial: 0,
            newest_time: 0,
        }
    }

    fn complete(&mut self, key: &Key, ctx: &Ctx, out: &mut Out) {
        if let Some(p) = self.pending.remove(key) {
            out.push_back(Ok(build(p, ctx)));
        }
    }

    /// Complete every pending event the stream has moved past, oldest first.
    fn sweep(&mut self, except: &Key, ctx: &Ctx, out: &mut Out) {
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
        let key: Key = (header.node.clone(), header.serial, header.time.0);
        self.newest_serial = self.newest_serial.max(header.serial);
        self.newest_time = self.newest_time.max(header.time.0);
        if header.rtype == "EOE" {
            if let Some(p) = self.pending.get_mut(&key) {
                // Kept only within the record cap, like every other record.
                if p.raw.len() + 1 + line.len() <= ctx.opts.max_record_size {
                    p.raw.push('\n');
                    p.raw.push_str(line);
                }
            }
            self.complete(&key, ctx, out);
            self.sweep(&key, ctx, out);
            return;
        }
        let (fields, enriched) = parse_kv(header.body);
        let record = Rec {
            rtype: header.rtype,
            fields,
            enriched,
        };
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
                    node: header.node,
                    serial: header.serial,
                    time: header.time,
                    line: rec.line,
                    offset: rec.offset,
                    records: Vec::new(),
                    raw: String::new(),
                    overflow: false,
                },
            );
        }
        let p = self.pending.get_mut(&key).expect("inserted above");
        // The event's raw text (records joined by `\n`) stays within the cap.
        let sep = usize::from(!p.raw.is_empty());
        if p.records.len() >= MAX_RECORDS
            || p.raw.len() + sep + line.len() > ctx.opts.max_record_size
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
            if !p.raw.is_empty() {
                p.raw.push('\n');
            }
            p.raw.push_str(line);
            p.records.push(record);
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
    const PATTERNS: &[(&str, &str)] = &[
        ("/docker/", "docker"),
        ("docker-", "docker"),
        ("libpod-", "podman"),
        ("cri-containerd-", "containerd"),
        ("crio-", "cri-o"),
    ];
    let bytes = text.as_bytes();
    for (pat, runtime) in PATTERNS {
        for at in memchr::memmem::find_iter(bytes, pat.as_bytes()) {
            let start = at + pat.len();
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

fn build(p: Pending, ctx: &Ctx) -> Event {
    let mapping = &ctx.mapping;
    // Resolved once per event, not once per field.
    let encoded_fields = mapping
        .tables
        .get("encoded_fields")
        .and_then(Value::as_object);
    let encoded = |k: &str| encoded_fields.is_some_and(|t| t.contains_key(k));
    let mut fields = Fields::new();
    let types: Vec<&str> = p.records.iter().map(|r| r.rtype.as_str()).collect();
    let primary = types
        .iter()
        .find(|t| !auxiliary(t))
        .or_else(|| types.iter().find(|t| **t == "SYSCALL"))
        .or(types.first())
        .copied()
        .unwrap_or("EOE");
    fields.insert("type", primary.into());
    fields.insert("records", types.iter().map(|t| Value::from(*t)).collect());
    let has_execve = types.contains(&"EXECVE");
    // SYSCALL first so its pid/uid/exe win over other records'.
    let mut order: Vec<&Rec> = p.records.iter().filter(|r| r.rtype == "SYSCALL").collect();
    order.extend(p.records.iter().filter(|r| r.rtype != "SYSCALL"));
    let mut args: BTreeMap<u64, String> = BTreeMap::new();
    let mut parts: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut names = Vec::new();
    let mut nametypes = Vec::new();
    let mut contid = None;
    for r in order {
        for (k, v) in &r.fields {
            let value = text(&r.rtype, k, v, &encoded);
            match (r.rtype.as_str(), k.as_str()) {
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
                ("PATH", "name") => names.push(Value::from(value)),
                ("PATH", "nametype") => nametypes.push(Value::from(value)),
                ("PATH", _) => {}
                (_, "msg") if matches!(v, Val::Nested(_)) => {
                    let (inner, inner_enriched) = parse_kv(&value);
                    for (ik, iv) in inner.iter().chain(inner_enriched.iter()) {
                        let t = text(&r.rtype, ik, iv, &encoded);
                        fields.insert_if_absent(ik, t.into());
                    }
                }
                (_, "contid") => contid = Some(value),
                (_, "syscall") => {
                    let arch = r
                        .fields
                        .iter()
                        .find(|(k, _)| k == "arch")
                        .and_then(|(_, v)| {
                            if let Val::Bare(a) = v {
                                Some(a.as_str())
                            } else {
                                None
                            }
                        })
                        .and_then(|a| mapping.lookup("arches", a))
                        .unwrap_or("x86_64");
                    let name = mapping
                        .lookup(&format!("syscalls_{arch}"), &value)
                        .map(str::to_string)
                        .or_else(|| {
                            r.enriched
                                .iter()
                                .find(|(k, _)| k == "SYSCALL")
                                .map(|(_, v)| text("", "SYSCALL", v, &encoded))
                        })
                        .unwrap_or(value);
                    fields.insert_if_absent("syscall", name.into());
                }
                _ if value == "(null)" => {}
                _ => {
                    fields.insert_if_absent(k, value.into());
                }
            }
        }
        if r.rtype == "PATH" {
            continue; // OUID/OGID of the paths are not the process's
        }
        for (k, v) in &r.enriched {
            let t = text("", k, v, &encoded);
            fields.insert_if_absent(k, t.into());
        }
    }
    for ((n, _), piece) in parts {
        args.entry(n).or_default().push_str(&piece);
    }
    if !names.is_empty() {
        fields.insert("name", Value::Array(names));
        fields.insert("nametype", Value::Array(nametypes));
    }
    if has_execve {
        let argv: Vec<String> = args.values().cloned().collect();
        for (n, a) in &args {
            fields.insert(format!("a{n}"), a.clone().into());
        }
        fields.insert("CommandLine", argv.join(" ").into());
        if fields
            .get("exe")
            .and_then(Value::as_str)
            .is_none_or(|e| e.is_empty() || e == "(null)")
        {
            if let Some(a0) = args.get(&0) {
                let image = if a0.starts_with('/') {
                    a0.clone()
                } else if let (true, Some(cwd)) =
                    (a0.contains('/'), fields.get("cwd").and_then(Value::as_str))
                {
                    format!(
                        "{}/{}",
                        cwd.trim_end_matches('/'),
                        a0.trim_start_matches("./")
                    )
                } else {
                    a0.clone()
                };
                fields.insert("Image", image.into());
            }
        }
    }
    let ls = mapping.apply(&mut fields, LogSource::default());
    let mut ev = Event::new(ls, p.time, fields);
    ev.host = p.node.as_deref().map(Arc::from);
    ev.origin = Origin {
        source: ctx.file.clone(),
        line: p.line,
        offset: p.offset,
        index: None,
    };
    let found = container_in(&p.raw);
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
    ev.raw = Some(Arc::from(p.raw));
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
        assert_eq!(h.node.as_deref(), Some("h"));
        assert_eq!(h.rtype, "EXECVE");
        assert_eq!(h.serial, 15558);
        assert_eq!(h.time.0, 1_615_114_232_375_000_000);
        let (kv, en) =
            parse_kv("a=1 b=\"x y\" msg='unit=foo res=success' key=(null)\x1dUID=\"root\"");
        assert_eq!(kv.len(), 4);
        assert_eq!(en.len(), 1);
        assert!(matches!(&kv[2].1, Val::Nested(s) if s == "unit=foo res=success"));
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
