//! JSON objects whose fields already use Sigma names.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use contraband_event::{
    text_hash, ContainerContext, Event, Fields, KeyCache, LogSource, SharedContainer, Timestamp,
    ValueRef,
};
use serde_json::Value;

use crate::json::{time_of, EventsOut};
use crate::object_scan::read_fields;
use crate::Ctx;

pub(crate) fn decode(
    v: Value,
    _text: &str,
    ctx: &Ctx,
    out: &mut EventsOut<'_>,
) -> Result<(), String> {
    let Value::Object(fields) = v else {
        return Err("a generic JSON record must be an object".into());
    };
    let mut fields = Fields::from(fields);
    let logsource = fields.shift_remove("logsource");
    let container: Option<ContainerContext> = match fields.shift_remove("container") {
        Some(v @ Value::Object(_)) => {
            Some(serde_json::from_value(v).map_err(|e| format!("invalid container: {e}"))?)
        }
        Some(Value::Null) | None => None,
        Some(_) => return Err("container must be an object".into()),
    };
    let (time, host) = time_and_host(&fields, ctx);
    let host = host.map(Arc::from);
    let container = container.map(SharedContainer::new);
    decode_parts(fields, logsource, container, (time, host), ctx, out)
}

/// The record's time and host: the first of the mapping's candidates that
/// the record has (and that reads as a time, or as text).
fn time_and_host<'f>(fields: &'f Fields, ctx: &Ctx) -> (Timestamp, Option<&'f str>) {
    let mapping = &ctx.mapping;
    first_time_and_host(
        mapping
            .time_fields()
            .iter()
            .filter_map(|k| fields.get_ref(k)),
        mapping
            .host_fields()
            .iter()
            .filter_map(|k| fields.get_ref(k)),
    )
}

/// The first of `times` that reads as a time, and the first of `hosts`
/// that is text: the choice both ways of finding the candidates share.
fn first_time_and_host<'f>(
    mut times: impl Iterator<Item = ValueRef<'f>>,
    mut hosts: impl Iterator<Item = ValueRef<'f>>,
) -> (Timestamp, Option<&'f str>) {
    let time = times.find_map(time_of).unwrap_or(Timestamp(0));
    (time, hosts.find_map(ValueRef::as_str))
}

/// Where the mapping's time and host candidates are among the fields of
/// records of one shape ([`KeyCache::record_read`]): a stream's records mostly
/// share a few lists of names (with and without a container, say), and
/// trying each candidate by name was seven lookups a record, most for
/// names the stream never has. Positions hold for one decoder's mapping,
/// which is fixed for its life, as this cache's (both live in the decoder).
#[derive(Default)]
struct Candidates {
    /// Kept shapes, replaced in turn.
    kept: [KeptCandidates; CANDIDATE_SHAPES],
    next: usize,
    hosts: Hosts,
}

/// Shapes [`Candidates`] keeps.
const CANDIDATE_SHAPES: usize = 4;

#[derive(Default)]
struct KeptCandidates {
    /// The shape these positions are for.
    shape: Option<u64>,
    /// Positions of the candidates the shape has, in the mapping's order.
    time: Vec<usize>,
    host: Vec<usize>,
}

impl Candidates {
    /// [`time_and_host`], from positions found once per shape, with the
    /// host shared.
    fn time_and_host(
        &mut self,
        fields: &Fields,
        shape: Option<u64>,
        ctx: &Ctx,
    ) -> (Timestamp, Option<Arc<str>>) {
        let (time, host) = match shape {
            Some(shape) => self.by_shape(fields, shape, ctx),
            None => time_and_host(fields, ctx),
        };
        (time, host.map(|h| self.hosts.share(h)))
    }

    fn by_shape<'f>(
        &mut self,
        fields: &'f Fields,
        shape: u64,
        ctx: &Ctx,
    ) -> (Timestamp, Option<&'f str>) {
        let kept = match self.kept.iter().position(|k| k.shape == Some(shape)) {
            Some(i) => &self.kept[i],
            None => {
                let k = &mut self.kept[self.next];
                self.next = (self.next + 1) % CANDIDATE_SHAPES;
                let positions = |names: &[String], out: &mut Vec<usize>| {
                    out.clear();
                    out.extend(names.iter().filter_map(|k| fields.position_of(k)));
                };
                positions(ctx.mapping.time_fields(), &mut k.time);
                positions(ctx.mapping.host_fields(), &mut k.host);
                k.shape = Some(shape);
                k
            }
        };
        first_time_and_host(
            kept.time.iter().filter_map(|&i| fields.value_at(i)),
            kept.host.iter().filter_map(|&i| fields.value_at(i)),
        )
    }
}

/// Hosts met lately, handed to the next event from one of them instead
/// of a copy of its name; replaced in turn.
#[derive(Default)]
struct Hosts {
    kept: [Option<Arc<str>>; KEPT_HOSTS],
    next: usize,
}

/// Hosts [`Hosts`] keeps: a fleet's events interleave a few dozen.
const KEPT_HOSTS: usize = 32;

impl Hosts {
    fn share(&mut self, host: &str) -> Arc<str> {
        if let Some(kept) = self.kept.iter().flatten().find(|h| ***h == *host) {
            return Arc::clone(kept);
        }
        let new = Arc::clone(self.kept[self.next].insert(Arc::from(host)));
        self.next = (self.next + 1) % KEPT_HOSTS;
        new
    }
}

/// A generic record parsed straight from its text: the fields without
/// `logsource` and `container`, the `container` object found in the
/// stream's cache by its text or else deserialized directly into the
/// context (no intermediate JSON tree). `None` when the text is anything
/// else (not an object, a non-object container, a container that does not
/// deserialize, bad JSON): the caller then takes the general path, which
/// reports the error as before.
pub(crate) fn parse_fast(text: &Arc<str>, seen: &mut Seen) -> Option<Parts> {
    let (mut logsource, mut container) = (None, None);
    let containers = &mut seen.containers;
    let (fields, shape) = read_fields(text, &mut seen.keys, |name, scan| {
        match name {
            "container" => {
                container = match containers.known(scan.rest()) {
                    Some((len, context)) => {
                        scan.skip_value(len);
                        Some(context)
                    }
                    None => containers.parse(scan.value_text()?).ok()?,
                };
            }
            "logsource" => logsource = Some(scan.value()?),
            _ => return Some(false),
        }
        Some(true)
    })?;
    Some(Parts {
        fields,
        shape,
        logsource,
        container,
    })
}

pub(crate) struct Parts {
    pub fields: Fields,
    /// The id of the record's shape ([`KeyCache::record_read`]).
    pub shape: Option<u64>,
    pub logsource: Option<Value>,
    pub container: Option<SharedContainer>,
}

/// What a stream's records repeat, kept so the next record can share it.
#[derive(Default)]
pub(crate) struct Seen {
    /// Field names by position (see [`read_fields`]).
    pub(crate) keys: KeyCache,
    containers: ContainerCache,
    candidates: Candidates,
}

/// Container objects this stream has parsed, found by how their text
/// starts: a stream's events come from a few hundred containers, and
/// reading the same object again (even just to find where it ends) costs
/// more than the rest of the record.
#[derive(Default)]
struct ContainerCache {
    /// Texts with their contexts, by a hash of their first
    /// [`CONTAINER_PREFIX`] bytes; texts that share those sit side by side.
    ///
    /// Hashed with foldhash, seeded per process: the keys are hashes of
    /// text from the input, and SipHash cost more than the rest of a lookup.
    by_prefix: foldhash::HashMap<u64, SharedPrefix>,
    entries: usize,
}

/// A container object's text and the context parsed from it.
type KeptContainer = (Box<str>, SharedContainer);

/// The texts kept under one prefix: the first in the map's own entry (a
/// prefix is mostly one container's), not behind a list's pointer, one
/// cache miss fewer a lookup.
struct SharedPrefix {
    first: KeptContainer,
    more: Vec<KeptContainer>,
}

impl SharedPrefix {
    fn iter(&self) -> impl Iterator<Item = &KeptContainer> {
        std::iter::once(&self.first).chain(&self.more)
    }

    fn len(&self) -> usize {
        1 + self.more.len()
    }
}

/// Entries kept (then the cache starts over), texts kept per prefix, and
/// the longest text kept: bounded memory and lookups whatever the input.
const CONTAINER_CACHE_ENTRIES: usize = 1024;
const CONTAINER_CACHE_SHARED_PREFIX: usize = 8;
const CONTAINER_CACHE_TEXT: usize = 4096;
/// Bytes of a text that key it: `{"id":"` and 17 digits of a container id.
/// Shorter texts are not kept (they are cheap to parse).
const CONTAINER_PREFIX: usize = 24;

impl ContainerCache {
    /// The container whose object begins `rest` (a record from the
    /// container's value on) and the length of its text, if this stream
    /// parsed it before. Sound because a kept text is a whole JSON object
    /// serde_json accepted, and an object's text ends at its own closing
    /// brace: input that starts with it holds exactly that object.
    fn known(&self, rest: &str) -> Option<(usize, SharedContainer)> {
        let key = text_hash(rest.as_bytes().get(..CONTAINER_PREFIX)?);
        let shared = self.by_prefix.get(&key)?;
        let (text, context) = shared.iter().find(|(t, _)| rest.starts_with(&**t))?;
        Some((text.len(), context.clone()))
    }

    /// Parses a container's value (its whole text) and keeps it.
    fn parse(&mut self, text: &str) -> serde_json::Result<Option<SharedContainer>> {
        let Some(context) = serde_json::from_str::<Option<ContainerContext>>(text)? else {
            return Ok(None);
        };
        let context = SharedContainer::new(context);
        if text.starts_with('{') && (CONTAINER_PREFIX..=CONTAINER_CACHE_TEXT).contains(&text.len())
        {
            if self.entries >= CONTAINER_CACHE_ENTRIES {
                self.by_prefix.clear();
                self.entries = 0;
            }
            let key = text_hash(&text.as_bytes()[..CONTAINER_PREFIX]);
            // Copied only when kept: a full prefix keeps nothing more.
            let kept = || (Box::from(text), context.clone());
            match self.by_prefix.entry(key) {
                Entry::Vacant(place) => {
                    place.insert(SharedPrefix {
                        first: kept(),
                        more: Vec::new(),
                    });
                    self.entries += 1;
                }
                Entry::Occupied(mut shared) => {
                    if shared.get().len() < CONTAINER_CACHE_SHARED_PREFIX {
                        shared.get_mut().more.push(kept());
                        self.entries += 1;
                    }
                }
            }
        }
        Ok(Some(context))
    }
}

/// [`decode`] from a record already split by [`parse_fast`].
pub(crate) fn decode_fast(
    parts: Parts,
    seen: &mut Seen,
    ctx: &Ctx,
    out: &mut EventsOut<'_>,
) -> Result<(), String> {
    let time_host = seen
        .candidates
        .time_and_host(&parts.fields, parts.shape, ctx);
    decode_parts(
        parts.fields,
        parts.logsource,
        parts.container,
        time_host,
        ctx,
        out,
    )
}

fn decode_parts(
    mut fields: Fields,
    logsource: Option<Value>,
    container: Option<SharedContainer>,
    (time, host): (Timestamp, Option<Arc<str>>),
    ctx: &Ctx,
    out: &mut EventsOut<'_>,
) -> Result<(), String> {
    let stated: Option<LogSource> = match logsource {
        Some(v @ Value::Object(_)) => {
            Some(serde_json::from_value(v).map_err(|e| format!("invalid logsource: {e}"))?)
        }
        Some(Value::Null) | None => None,
        Some(_) => return Err("logsource must be an object".into()),
    };
    let given = stated.is_some() || ctx.opts.logsource.is_some();
    let base = stated
        .or_else(|| ctx.opts.logsource.clone())
        .unwrap_or_default();
    // A stated logsource wins; the mapping still copies and renames.
    let ls = ctx.mapping.apply_with(&mut fields, base, !given);
    let mut ev = Event::new(ls, time, fields);
    ev.host = host;
    if let Some(c) = container.filter(|c| !c.is_empty()) {
        ev.share_container(&c);
    }
    out.push(ev);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::json::decoded;

    #[test]
    fn records_from_one_container_share_its_context() {
        let mut seen = Seen::default();
        let a = r#"{"Image":"/bin/sh","container":{"id":"abc","image":"alpine:3"}}"#;
        let b = r#"{"Image":"/bin/ls","container":{"id":"abc","image":"alpine:3"}}"#;
        let c = r#"{"Image":"/bin/ls","container":{"id":"abd","image":"alpine:3"}}"#;
        let mut context = |text| {
            let shared = parse_fast(&Arc::from(text), &mut seen)
                .unwrap()
                .container
                .unwrap();
            Arc::clone(shared.context())
        };
        let (first, second, other) = (context(a), context(b), context(c));
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(first.image.as_deref(), Some("alpine:3"));
        assert_eq!(other.id.as_deref(), Some("abd"));
        assert!(!Arc::ptr_eq(&first, &other));
        // null, and a container that does not deserialize (left to the
        // general path, which reports it), are never cached as contexts.
        let none = r#"{"Image":"/bin/sh","container":null}"#;
        assert!(parse_fast(&Arc::from(none), &mut seen)
            .unwrap()
            .container
            .is_none());
        let bad = r#"{"Image":"/bin/sh","container":{"privileged":"yes"}}"#;
        assert!(parse_fast(&Arc::from(bad), &mut seen).is_none());
        assert!(
            parse_fast(&Arc::from(bad), &mut seen).is_none(),
            "and not on a retry"
        );
    }

    #[test]
    fn the_container_cache_stays_bounded() {
        let mut cache = ContainerCache::default();
        let kept = |cache: &ContainerCache| {
            cache
                .by_prefix
                .values()
                .map(SharedPrefix::len)
                .sum::<usize>()
        };
        for i in 0..CONTAINER_CACHE_ENTRIES * 3 {
            let text = format!(r#"{{"id":"{i:064x}"}}"#);
            let context = cache.parse(&text).unwrap().unwrap();
            assert_eq!(context.context().id.as_deref(), Some(&*format!("{i:064x}")));
            assert!(kept(&cache) <= CONTAINER_CACHE_ENTRIES);
            assert_eq!(kept(&cache), cache.entries);
        }
        // Texts alike in their first bytes: a few kept, the rest parsed.
        let mut cache = ContainerCache::default();
        for i in 0..CONTAINER_CACHE_SHARED_PREFIX * 2 {
            let text = format!(r#"{{"name":"same prefix here","id":"{i}"}}"#);
            cache.parse(&text).unwrap();
            let found = cache.known(&format!("{text},\"more\":1}}"));
            assert_eq!(found.is_some(), i < CONTAINER_CACHE_SHARED_PREFIX, "{i}");
        }
        let long = format!(r#"{{"id":"{}"}}"#, "a".repeat(CONTAINER_CACHE_TEXT));
        cache.parse(&long).unwrap();
        assert!(cache.known(&long).is_none(), "too long to keep");
    }

    #[test]
    fn a_kept_container_is_known_only_by_its_whole_text() {
        let mut cache = ContainerCache::default();
        let text = r#"{"id":"0123456789abcdef0123","image":"alpine:3"}"#;
        let parsed = cache.parse(text).unwrap().unwrap();
        let (len, known) = cache
            .known(&format!("{text} ,\"Image\":\"/bin/sh\"}}"))
            .unwrap();
        assert_eq!(len, text.len());
        assert!(Arc::ptr_eq(parsed.context(), known.context()));
        // Same first bytes, different object: not this one.
        let other = r#"{"id":"0123456789abcdef0123","image":"alpine:4"}"#;
        assert!(cache.known(other).is_none());
        let cut = &text[..text.len() - 1];
        assert!(cache.known(cut).is_none());
        // Records around a known container read as if it were parsed.
        let mut seen = Seen::default();
        let record = format!(r#"{{"a":1,"container":{text} , "b":"x"}}"#);
        for _ in 0..2 {
            let parts = parse_fast(&Arc::from(record.as_str()), &mut seen).unwrap();
            let container = parts.container.unwrap();
            assert_eq!(container.context().image.as_deref(), Some("alpine:3"));
            assert_eq!(parts.fields.keys().collect::<Vec<_>>(), ["a", "b"]);
        }
        let broken = format!(r#"{{"a":1,"container":{text}"b":"x"}}"#);
        assert!(parse_fast(&Arc::from(broken.as_str()), &mut seen).is_none());
    }

    #[test]
    fn time_and_host_found_by_shape_are_those_found_by_name() {
        let ctx =
            crate::Decoder::new(crate::Format::GenericJson, "t", &crate::Options::default()).ctx;
        let t1 = "2026-01-01T00:00:00Z";
        let t2 = "2026-01-02T00:00:00Z";
        let records = [
            format!(r#"{{"UtcTime":"{t1}","Computer":"a","x":1}}"#),
            format!(r#"{{"UtcTime":"{t2}","Computer":"b","x":2}}"#),
            // An earlier candidate that is not a time, or not text: the
            // next one is taken.
            format!(r#"{{"time":"soon","UtcTime":"{t1}","host":5,"Computer":"c"}}"#),
            format!(r#"{{"time":"{t2}","UtcTime":"{t1}","host":"d","Computer":"c"}}"#),
            format!(r#"{{"time":"soon","UtcTime":"{t2}","host":6,"Computer":"e"}}"#),
            // The first names of the record before: a shape of its own.
            format!(r#"{{"time":"soon","UtcTime":"{t2}"}}"#),
            format!(r#"{{"time":"{t1}","UtcTime":"{t2}"}}"#),
            // A container is not a field: positions after it move up.
            format!(r#"{{"time":"soon","container":{{"id":"abc"}},"UtcTime":"{t1}","host":"f"}}"#),
            format!(r#"{{"time":"soon","container":null,"UtcTime":"{t2}","host":"g"}}"#),
            format!(r#"{{"time":"soon","UtcTime":"{t2}","host":"h"}}"#),
            // A repeated name keeps its first place and its last value.
            format!(r#"{{"UtcTime":"soon","Computer":"i","UtcTime":"{t1}"}}"#),
            format!(r#"{{"UtcTime":"soon","Computer":"j","UtcTime":"{t2}"}}"#),
            format!(r#"{{"UtcTime":"{t1}","Computer":"k","x":1}}"#),
            // A kept name replaced: `b` where `UtcTime` was is a new shape,
            // whose `b` is no time.
            format!(r#"{{"a":1,"UtcTime":"{t1}"}}"#),
            format!(r#"{{"UtcTime":"{t1}","b":"{t2}"}}"#),
            format!(r#"{{"a":1,"b":"{t2}"}}"#),
        ];
        let mut seen = Seen::default();
        let mut shaped = 0;
        for text in records.iter().chain(&records) {
            let parts = parse_fast(&Arc::from(text.as_str()), &mut seen).unwrap();
            shaped += usize::from(parts.shape.is_some());
            let (fast, result) = decoded(|out| decode_fast(parts, &mut seen, &ctx, out));
            result.unwrap();
            let (general, result) =
                decoded(|out| decode(serde_json::from_str(text).unwrap(), text, &ctx, out));
            result.unwrap();
            assert_eq!(fast[0].time, general[0].time, "{text}");
            assert_eq!(fast[0].host, general[0].host, "{text}");
        }
        // Without shapes the comparisons above would test nothing new.
        assert!(shaped > records.len() / 3, "read by shape: {shaped}");
        // Records from one host share its name.
        let mut host = |text: &str| {
            let parts = parse_fast(&Arc::from(text), &mut seen).unwrap();
            let (mut out, result) = decoded(|out| decode_fast(parts, &mut seen, &ctx, out));
            result.unwrap();
            out.pop().unwrap().host.unwrap()
        };
        let a = host(r#"{"host":"web-1","x":1}"#);
        host(r#"{"host":"web-2","x":1}"#);
        let b = host(r#"{"host":"web-1","x":2}"#);
        assert!(Arc::ptr_eq(&a, &b));
    }
}
