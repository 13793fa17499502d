//! JSON objects whose fields already use Sigma names.

use std::sync::Arc;

use contraband_event::{ContainerContext, Event, Fields, KeyCache, LogSource, Timestamp};
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
    decode_parts(fields, logsource, container, ctx, out)
}

/// A generic record parsed straight from its text: the fields without
/// `logsource` and `container`, the `container` object deserialized
/// directly into the context (no intermediate JSON tree). `None` when the
/// text is anything else (not an object, a non-object container, a
/// container that does not deserialize, bad JSON): the caller then takes
/// the general path, which reports the error as before.
pub(crate) fn parse_fast(text: &str, keys: &mut KeyCache) -> Option<Parts> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let parts = TopLevel(keys).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(parts)
}

pub(crate) struct Parts {
    pub fields: Fields,
    pub logsource: Option<Value>,
    pub container: Option<ContainerContext>,
}

struct TopLevel<'k>(&'k mut KeyCache);

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
        while let Some(key) = m.next_key_seed(Name(self.0, position))? {
            position += 1;
            match &*key {
                "container" => {
                    parts.container = m.next_value::<Option<ContainerContext>>()?;
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
    container: Option<ContainerContext>,
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
        ev.set_container(c);
    }
    out.push(ev);
    Ok(())
}
