//! Shared plumbing for the JSON formats: parse a record, fan out arrays,
//! fill origin and raw text, detect the format from a first document.

use std::sync::Arc;

use contraband_event::{parse_time, Event, Timestamp, ValueRef};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::ErrorKind;
use crate::input::Record;
use crate::{Ctx, Format, FormatDecoder, Out};

/// Decodes one JSON value (with its text in the input) into zero or more
/// events (pushing them to `out`), or says why the value is not of the
/// format.
pub(crate) type DecodeFn = fn(Value, &str, &Ctx, &mut EventsOut<'_>) -> Result<(), String>;

/// Where a JSON decoder puts a record's events: the end of the stream's
/// queue, where [`JsonDecoder`] finishes them (origin, raw text) once the
/// record is decoded. Not a list of the decoder's own: an event is a few
/// hundred bytes, and moving each across was two copies.
pub(crate) struct EventsOut<'o>(pub(crate) &'o mut Out);

impl EventsOut<'_> {
    pub(crate) fn push(&mut self, ev: Event) {
        self.0.push_back(Ok(ev));
    }
}

/// The events a decoding call puts out, with its result (for tests).
#[cfg(test)]
pub(crate) fn decoded(
    decode: impl FnOnce(&mut EventsOut<'_>) -> Result<(), String>,
) -> (Vec<Event>, Result<(), String>) {
    let mut out = Out::new();
    let result = decode(&mut EventsOut(&mut out));
    (out.into_iter().filter_map(Result::ok).collect(), result)
}

pub(crate) struct JsonDecoder {
    decode: DecodeFn,
    /// What this stream's records repeat (generic JSON, k8s audit).
    seen: crate::generic::Seen,
}

impl JsonDecoder {
    pub(crate) fn new(decode: DecodeFn) -> JsonDecoder {
        JsonDecoder {
            decode,
            seen: Default::default(),
        }
    }

    fn one(&mut self, value: Value, raw: Arc<str>, rec: &Record, ctx: &Ctx, out: &mut Out) {
        let first = out.len();
        let result = (self.decode)(value, &raw, ctx, &mut EventsOut(out));
        finish(result, first, raw, rec, ctx, out);
    }
}

/// Finishes the events a record's decoding put in `out` from `first` on,
/// then says why the record failed, if it did.
fn finish(
    result: Result<(), String>,
    first: usize,
    raw: Arc<str>,
    rec: &Record,
    ctx: &Ctx,
    out: &mut Out,
) {
    // A decoder that fans a record out (a Kubernetes EventList) may fail
    // on some parts: the parts it did decode are still events.
    for ev in out.range_mut(first..).flatten() {
        if ev.origin.source.is_empty() {
            let index = ev.origin.index;
            ev.origin = ctx.origin(rec);
            // A decoder that fans a record out sets the index.
            ev.origin.index = index.or(rec.index);
        }
        if ev.raw.is_none() {
            ev.raw = Some(raw.clone());
        }
    }
    if let Err(reason) = result {
        out.push_back(Err(ctx.err(ErrorKind::Invalid(reason), rec)));
    }
}

impl FormatDecoder for JsonDecoder {
    fn feed(&mut self, rec: Record, ctx: &Ctx, out: &mut Out) {
        // Formats read straight from the text when it is plain enough;
        // anything else goes through serde_json below.
        let first = out.len();
        let fast = match ctx.format {
            Format::GenericJson => {
                crate::generic::parse_fast(&rec.text, &mut self.seen).map(|parts| {
                    crate::generic::decode_fast(parts, &mut self.seen, ctx, &mut EventsOut(out))
                })
            }
            Format::K8sAudit => crate::k8s::parse_fast(&rec.text, &mut self.seen.keys)
                .map(|fields| crate::k8s::decode_fast(fields, ctx, &mut EventsOut(out))),
            _ => None,
        };
        if let Some(result) = fast {
            finish(result, first, rec.text.clone(), &rec, ctx, out);
            return;
        }
        let value: Value = match serde_json::from_str(&rec.text) {
            Ok(v) => v,
            Err(e) => {
                out.push_back(Err(ctx.err(ErrorKind::Json(e.to_string()), &rec)));
                return;
            }
        };
        match value {
            Value::Array(items) => {
                // A whole array on one line: one record per element. Each
                // element's raw text is its own slice of the line, not a
                // re-serialization (which differs from the input and can
                // outgrow the record cap: `1e15` → `1000000000000000.0`).
                let texts: Vec<&RawValue> = serde_json::from_str(&rec.text).unwrap_or_default();
                for (i, item) in items.into_iter().enumerate() {
                    let sub = Record {
                        text: Arc::from(""),
                        line: rec.line,
                        offset: rec.offset,
                        index: Some(i as u64),
                    };
                    let raw: Arc<str> = match texts.get(i) {
                        Some(text) => Arc::from(text.get()),
                        None => Arc::from(item.to_string()),
                    };
                    self.one(item, raw, &sub, ctx, out);
                }
            }
            other => {
                let raw = rec.text.clone();
                self.one(other, raw, &rec, ctx, out);
            }
        }
    }
}

pub(crate) fn obj<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key)?.as_object()
}

/// `v.a.b.c` as text (numbers and booleans rendered), if it is non-empty
/// text.
pub(crate) fn str_at<'a>(v: impl Into<ValueRef<'a>>, path: &[&str]) -> Option<String> {
    let mut at = v.into();
    for key in path {
        at = at.get(key)?;
    }
    at.to_text().filter(|t| !t.is_empty()).map(String::from)
}

/// A time from a JSON value: RFC 3339 text or epoch number.
pub(crate) fn time_of<'a>(v: impl Into<ValueRef<'a>>) -> Option<Timestamp> {
    let v = v.into();
    if let Some(s) = v.as_str() {
        return parse_time(s).ok();
    }
    match v.as_json()? {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                parse_time(&i.to_string()).ok()
            } else {
                n.as_f64().map(Timestamp::from_secs_f64)
            }
        }
        _ => None,
    }
}

const TETRAGON_KEYS: &[&str] = &[
    "process_exec",
    "process_exit",
    "process_kprobe",
    "process_tracepoint",
    "process_uprobe",
    "process_loader",
    "process_lsm",
    "process_throttle",
    "process_connect",
    "process_close",
    "process_listen",
];

/// Which format a (first) JSON document belongs to.
pub(crate) fn detect_value(v: &Value) -> Format {
    let o = match v {
        Value::Array(items) => match items.first() {
            Some(first) => return detect_value(first),
            None => return Format::GenericJson,
        },
        Value::Object(o) => o,
        _ => return Format::GenericJson,
    };
    if o.get("Event").and_then(|e| e.get("System")).is_some() {
        return Format::WindowsJson;
    }
    if TETRAGON_KEYS
        .iter()
        .any(|k| o.get(*k).is_some_and(Value::is_object))
    {
        return Format::Tetragon;
    }
    let kind = o.get("kind").and_then(Value::as_str);
    let api = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if api.starts_with("audit.k8s.io")
        || (matches!(kind, Some("Event")) && o.contains_key("auditID"))
    {
        return Format::K8sAudit;
    }
    if o.contains_key("HostConfig") || (o.contains_key("Id") && o.contains_key("Config")) {
        return Format::DockerInspect;
    }
    if o.get("Actor").is_some_and(Value::is_object)
        || (o.contains_key("status") && o.contains_key("id") && o.contains_key("from"))
    {
        return Format::DockerEvents;
    }
    // Podman writes capitalised Status/Type (and no Action); its first
    // event is often a bare `{"Status":"refresh","Time":..,"Type":"system"}`.
    if o.contains_key("Status") && o.contains_key("Type") && !o.contains_key("Action") {
        return Format::PodmanEvents;
    }
    Format::GenericJson
}

/// Format guess from text when the first document is too large to parse
/// from the prefix.
pub(crate) fn detect_text(prefix: &[u8]) -> Format {
    let has = |s: &str| memchr::memmem::find(prefix, s.as_bytes()).is_some();
    if has("\"EventData\"") || (has("\"System\"") && has("\"Event\"")) {
        Format::WindowsJson
    } else if has("audit.k8s.io") {
        Format::K8sAudit
    } else if has("\"HostConfig\"") {
        Format::DockerInspect
    } else if TETRAGON_KEYS.iter().any(|k| has(&format!("\"{k}\""))) {
        Format::Tetragon
    } else if has("\"Actor\"") {
        Format::DockerEvents
    } else {
        Format::GenericJson
    }
}
