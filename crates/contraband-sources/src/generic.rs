//! JSON objects whose fields already use Sigma names.

use contraband_event::{ContainerContext, Event, LogSource, Timestamp};
use serde_json::Value;

use crate::json::time_of;
use crate::Ctx;

pub(crate) fn decode(v: Value, _text: &str, ctx: &Ctx, out: &mut Vec<Event>) -> Result<(), String> {
    let Value::Object(mut fields) = v else {
        return Err("a generic JSON record must be an object".into());
    };
    let stated: Option<LogSource> = match fields.shift_remove("logsource") {
        Some(v @ Value::Object(_)) => {
            Some(serde_json::from_value(v).map_err(|e| format!("invalid logsource: {e}"))?)
        }
        Some(Value::Null) | None => None,
        Some(_) => return Err("logsource must be an object".into()),
    };
    let container: Option<ContainerContext> = match fields.shift_remove("container") {
        Some(v @ Value::Object(_)) => {
            Some(serde_json::from_value(v).map_err(|e| format!("invalid container: {e}"))?)
        }
        Some(Value::Null) | None => None,
        Some(_) => return Err("container must be an object".into()),
    };
    let time = ctx
        .mapping
        .tables
        .get("time_fields")
        .and_then(Value::as_object)
        .and_then(|t| t.keys().find_map(|k| fields.get(k).and_then(time_of)))
        .unwrap_or(Timestamp(0));
    let host = ctx
        .mapping
        .tables
        .get("host_fields")
        .and_then(Value::as_object)
        .and_then(|t| t.keys().find_map(|k| fields.get(k).and_then(Value::as_str)))
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
