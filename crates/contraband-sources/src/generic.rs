//! JSON objects whose fields already use Sigma names.

use std::collections::HashMap;
use std::sync::Arc;

use contraband_event::{ContainerContext, Event, Fields, KeyCache, LogSource, Timestamp};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::json::time_of;
use crate::Ctx;

pub(crate) fn decode(v: Value, _text: &str, ctx: &Ctx, out: &mut Vec<Event>) -> Result<(), String> {
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
    decode_parts(fields, logsource, container.map(Arc::new), ctx, out)
}

/// A generic record parsed straight from its text: the fields without
/// `logsource` and `container`, the `container` object deserialized
/// directly into the context (no intermediate JSON tree). `None` when the
/// text is anything else (not an object, a non-object container, a
/// container that does not deserialize, bad JSON): the caller then takes
/// the general path, which reports the error as before.
pub(crate) fn parse_fast(text: &str, seen: &mut Seen) -> Option<Parts> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let parts = TopLevel(seen).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(parts)
}

pub(crate) struct Parts {
    pub fields: Fields,
    pub logsource: Option<Value>,
    pub container: Option<Arc<ContainerContext>>,
}

/// What a stream's records repeat, kept so the next record can share it.
#[derive(Default)]
pub(crate) struct Seen {
    keys: KeyCache,
    containers: ContainerCache,
}

/// Container objects this stream has parsed, by their text: a stream's
/// events come from a few hundred containers, and parsing the same object
/// again costs five allocations and a field-name match per key.
#[derive(Default)]
struct ContainerCache {
    by_text: HashMap<u64, (Box<str>, Arc<ContainerContext>)>,
}

/// Entries kept (then the cache starts over), and the longest text kept:
/// bounded memory whatever the input holds.
const CONTAINER_CACHE_ENTRIES: usize = 1024;
const CONTAINER_CACHE_TEXT: usize = 4096;

impl ContainerCache {
    fn context(&mut self, text: &str) -> serde_json::Result<Option<Arc<ContainerContext>>> {
        let hash = text_hash(text.as_bytes());
        if let Some((known, context)) = self.by_text.get(&hash) {
            if **known == *text {
                return Ok(Some(Arc::clone(context)));
            }
        }
        let Some(context) = serde_json::from_str::<Option<ContainerContext>>(text)? else {
            return Ok(None);
        };
        let context = Arc::new(context);
        if text.len() <= CONTAINER_CACHE_TEXT {
            if self.by_text.len() >= CONTAINER_CACHE_ENTRIES {
                self.by_text.clear();
            }
            self.by_text
                .insert(hash, (Box::from(text), Arc::clone(&context)));
        }
        Ok(Some(context))
    }
}

/// A quick hash of a cache key's text, eight bytes a step. A collision
/// (even a crafted one) costs only a miss: a hit is confirmed by comparing
/// the text, so no keyed hash is needed here.
fn text_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    for &b in words.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
    }
    h
}

struct TopLevel<'k>(&'k mut Seen);

/// Room for this many fields is made at once: a process event has a dozen
/// or two, and growing the map step by step reallocates it four times.
const FIELDS_HINT: usize = 24;

impl<'de> serde::de::DeserializeSeed<'de> for TopLevel<'_> {
    type Value = Parts;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Parts, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TopLevel<'_> {
    type Value = Parts;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Parts, A::Error> {
        let mut parts = Parts {
            fields: Fields::with_capacity(m.size_hint().unwrap_or(0).max(FIELDS_HINT)),
            logsource: None,
            container: None,
        };
        let mut position = 0;
        while let Some(key) = m.next_key_seed(Name(&mut self.0.keys, position))? {
            position += 1;
            match &*key {
                "container" => {
                    let text: &RawValue = m.next_value()?;
                    parts.container = self
                        .0
                        .containers
                        .context(text.get())
                        .map_err(serde::de::Error::custom)?;
                }
                "logsource" => parts.logsource = Some(m.next_value()?),
                _ => {
                    let v: Value = m.next_value()?;
                    parts.fields.insert(key, v);
                }
            }
        }
        Ok(parts)
    }
}

/// A field name, shared through the stream's [`KeyCache`]; read without a
/// copy when it has no escapes.
struct Name<'k>(&'k mut KeyCache, usize);

impl<'de> serde::de::DeserializeSeed<'de> for Name<'_> {
    type Value = Arc<str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Arc<str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Name<'_> {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Arc<str>, E> {
        Ok(self.0.name(self.1, name))
    }
}

/// [`decode`] from a record already split by [`parse_fast`].
pub(crate) fn decode_fast(parts: Parts, ctx: &Ctx, out: &mut Vec<Event>) -> Result<(), String> {
    decode_parts(parts.fields, parts.logsource, parts.container, ctx, out)
}

fn decode_parts(
    mut fields: Fields,
    logsource: Option<Value>,
    container: Option<Arc<ContainerContext>>,
    ctx: &Ctx,
    out: &mut Vec<Event>,
) -> Result<(), String> {
    let stated: Option<LogSource> = match logsource {
        Some(v @ Value::Object(_)) => {
            Some(serde_json::from_value(v).map_err(|e| format!("invalid logsource: {e}"))?)
        }
        Some(Value::Null) | None => None,
        Some(_) => return Err("logsource must be an object".into()),
    };
    let time = ctx
        .mapping
        .time_fields()
        .iter()
        .find_map(|k| fields.get(k).and_then(time_of))
        .unwrap_or(Timestamp(0));
    let host = ctx
        .mapping
        .host_fields()
        .iter()
        .find_map(|k| fields.get(k).and_then(Value::as_str))
        .map(str::to_string);
    let given = stated.is_some() || ctx.opts.logsource.is_some();
    let base = stated
        .or_else(|| ctx.opts.logsource.clone())
        .unwrap_or_default();
    // A stated logsource wins; the mapping still copies and renames.
    let ls = ctx.mapping.apply_with(&mut fields, base, !given);
    let mut ev = Event::new(ls, time, fields);
    ev.host = host;
    if let Some(c) = container.filter(|c| !c.is_empty()) {
        ev.set_shared_container(c);
    }
    out.push(ev);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_from_one_container_share_its_context() {
        let mut seen = Seen::default();
        let a = r#"{"Image":"/bin/sh","container":{"id":"abc","image":"alpine:3"}}"#;
        let b = r#"{"Image":"/bin/ls","container":{"id":"abc","image":"alpine:3"}}"#;
        let c = r#"{"Image":"/bin/ls","container":{"id":"abd","image":"alpine:3"}}"#;
        let first = parse_fast(a, &mut seen).unwrap().container.unwrap();
        let second = parse_fast(b, &mut seen).unwrap().container.unwrap();
        let other = parse_fast(c, &mut seen).unwrap().container.unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(first.image.as_deref(), Some("alpine:3"));
        assert_eq!(other.id.as_deref(), Some("abd"));
        assert!(!Arc::ptr_eq(&first, &other));
        // null, and a container that does not deserialize (left to the
        // general path, which reports it), are never cached as contexts.
        let none = r#"{"Image":"/bin/sh","container":null}"#;
        assert!(parse_fast(none, &mut seen).unwrap().container.is_none());
        let bad = r#"{"Image":"/bin/sh","container":{"privileged":"yes"}}"#;
        assert!(parse_fast(bad, &mut seen).is_none());
        assert!(parse_fast(bad, &mut seen).is_none(), "and not on a retry");
    }

    #[test]
    fn the_container_cache_stays_bounded() {
        let mut cache = ContainerCache::default();
        for i in 0..CONTAINER_CACHE_ENTRIES * 3 {
            let text = format!(r#"{{"id":"{i:064x}"}}"#);
            let context = cache.context(&text).unwrap().unwrap();
            assert_eq!(context.id.as_deref(), Some(&*format!("{i:064x}")));
            assert!(cache.by_text.len() <= CONTAINER_CACHE_ENTRIES);
        }
        let long = format!(r#"{{"id":"{}"}}"#, "a".repeat(CONTAINER_CACHE_TEXT));
        cache.context(&long).unwrap();
        assert!(cache
            .by_text
            .values()
            .all(|(t, _)| t.len() <= CONTAINER_CACHE_TEXT));
    }

    #[test]
    fn text_hash_separates_lengths_and_bytes() {
        assert_ne!(text_hash(b""), text_hash(b"\0"));
        assert_ne!(text_hash(b"abcdefgh"), text_hash(b"abcdefgi"));
        assert_ne!(text_hash(b"abcdefghi"), text_hash(b"abcdefghj"));
        assert_eq!(text_hash(b"same text"), text_hash(b"same text"));
    }
}
