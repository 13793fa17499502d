//! Windows events rendered as JSON (`{"Event":{"System":{..},"EventData":{..}}}`),
//! the shape of SigmaHQ's regression data and of EVTX-to-JSON tools.

use std::sync::Arc;

use contraband_event::{Event, Fields, LogSource, Timestamp};
use serde_json::{Map, Value};

use crate::json::{str_at, time_of, EventsOut};
use crate::Ctx;

fn scalar(v: &Value) -> Value {
    match v {
        // `{"#text": 4688, "#attributes": {"Qualifiers": ...}}`
        Value::Object(o) if o.contains_key("#text") => o["#text"].clone(),
        other => other.clone(),
    }
}

/// Copy a data section's fields to bare names. Handles both the map shape
/// (`{"Image": ..}`) and the list shape (`{"Data": [{"#attributes":{"Name":..},"#text":..}]}`).
fn lift(section: &Value, fields: &mut Map<String, Value>) {
    let Value::Object(o) = section else { return };
    for (k, v) in o {
        if k == "#attributes" {
            continue;
        }
        if k == "Data" {
            if let Value::Array(items) = v {
                for item in items {
                    if let Some(name) = str_at(item, &["#attributes", "Name"]) {
                        let value = item.get("#text").cloned().unwrap_or(Value::Null);
                        insert_field(fields, &name, value);
                    }
                }
                continue;
            }
        }
        insert_field(fields, k, scalar(v));
    }
}

/// Insert a data field by its name, and by the name without spaces as well:
/// Defender writes `Threat Name`, Sigma rules say `ThreatName`.
fn insert_field(fields: &mut Map<String, Value>, name: &str, value: Value) {
    if name.contains(' ') {
        fields
            .entry(name.replace(' ', ""))
            .or_insert_with(|| value.clone());
    }
    fields.entry(name.to_string()).or_insert(value);
}

pub(crate) fn decode(
    v: Value,
    _text: &str,
    ctx: &Ctx,
    out: &mut EventsOut<'_>,
) -> Result<(), String> {
    let event = v
        .get("Event")
        .ok_or("not a Windows event: no Event object")?;
    let system = event
        .get("System")
        .ok_or("not a Windows event: no Event.System")?;
    let mut fields = Map::new();
    if let Some(id) = system.get("EventID") {
        let id = scalar(id);
        // Numbers stay numbers; numeric text becomes a number too.
        let id = match &id {
            Value::String(s) => s.parse::<u64>().map(Value::from).unwrap_or(id),
            _ => id,
        };
        fields.insert("EventID".into(), id);
    }
    for (name, path) in [
        ("Channel", &["Channel"][..]),
        ("Computer", &["Computer"][..]),
        ("Provider_Name", &["Provider", "#attributes", "Name"][..]),
    ] {
        if let Some(s) = str_at(system, path) {
            fields.insert(name.into(), s.into());
        }
    }
    if let Some(data) = event.get("EventData") {
        lift(data, &mut fields);
    }
    if let Some(Value::Object(user)) = event.get("UserData") {
        for inner in user.values() {
            lift(inner, &mut fields);
        }
    }
    let time = system
        .get("TimeCreated")
        .and_then(|t| t.get("#attributes"))
        .and_then(|a| a.get("SystemTime"))
        .and_then(time_of)
        .unwrap_or(Timestamp(0));
    let host = str_at(system, &["Computer"]);
    let channel = str_at(system, &["Channel"]);
    let provider = str_at(system, &["Provider", "#attributes", "Name"]);
    let Value::Object(top) = v else {
        unreachable!()
    };
    for (k, v) in top {
        fields.entry(k).or_insert(v);
    }
    let mut fields = Fields::from(fields);
    let mut ls = ctx.mapping.apply(&mut fields, LogSource::default());
    if ls.service.is_none() {
        let service = channel
            .as_deref()
            .and_then(|c| ctx.mapping.lookup_nocase("services", c))
            .or_else(|| {
                provider
                    .as_deref()
                    .and_then(|p| ctx.mapping.lookup_nocase("services", p))
            });
        if let Some(s) = service {
            ls.service = Some(Arc::from(s));
        }
    }
    let mut ev = Event::new(ls, time, fields);
    ev.host = host.map(Arc::from);
    out.push(ev);
    Ok(())
}
