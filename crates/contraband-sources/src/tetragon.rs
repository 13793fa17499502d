//! Tetragon JSON export (`tetra getevents -o json`, export files).

use contraband_event::{image_registry, ContainerContext, Event, Fields, LogSource, Timestamp};
use serde_json::{Map, Value};

use crate::json::{str_at, time_of, EventsOut};
use crate::Ctx;

/// `binary arguments` as one command line.
fn command_line(process: &Value) -> Option<String> {
    let binary = str_at(process, &["binary"])?;
    Some(match str_at(process, &["arguments"]) {
        Some(args) if !args.is_empty() => format!("{binary} {args}"),
        _ => binary,
    })
}

pub(crate) fn decode(
    v: Value,
    _text: &str,
    ctx: &Ctx,
    out: &mut EventsOut<'_>,
) -> Result<(), String> {
    let Value::Object(o) = v else {
        return Err("a Tetragon event must be a JSON object".into());
    };
    let mut event_type = None;
    let mut fields = Map::new();
    for (k, v) in o {
        if event_type.is_none() && k.starts_with("process_") && v.is_object() {
            event_type = Some(k.clone());
            if let Value::Object(inner) = v {
                for (ik, iv) in inner {
                    fields.insert(ik, iv);
                }
            }
        } else {
            fields.insert(k, v);
        }
    }
    let event_type = event_type.ok_or("not a Tetragon event: no process_* object")?;
    fields.insert("event_type".into(), event_type.into());
    let whole = Value::Object(fields);
    // Export events carry `time`; some captures only the process start time.
    let time = whole
        .get("time")
        .and_then(time_of)
        .or_else(|| {
            whole
                .get("process")
                .and_then(|p| p.get("start_time"))
                .and_then(time_of)
        })
        .unwrap_or(Timestamp(0));
    let host = str_at(&whole, &["node_name"]);
    let process = whole.get("process").cloned().unwrap_or(Value::Null);
    let cmd = command_line(&process);
    let parent_cmd = whole.get("parent").and_then(command_line);
    let container = container_context(&process);
    let Value::Object(mut fields) = whole else {
        unreachable!()
    };
    if let Some(c) = cmd {
        fields.insert("CommandLine".into(), c.into());
    }
    if let Some(c) = parent_cmd {
        fields.insert("ParentCommandLine".into(), c.into());
    }
    let mut fields = Fields::from(fields);
    let ls = ctx.mapping.apply(&mut fields, LogSource::default());
    let mut ev = Event::new(ls, time, fields);
    ev.host = host.map(std::sync::Arc::from);
    if let Some(c) = container {
        ev.set_container(c);
    }
    out.push(ev);
    Ok(())
}

fn container_context(process: &Value) -> Option<ContainerContext> {
    let pod = process.get("pod")?;
    let cont = pod.get("container");
    let raw_id = cont.and_then(|c| str_at(c, &["id"]));
    let (runtime, id) = match raw_id.as_deref().and_then(|i| i.split_once("://")) {
        Some((rt, id)) => (Some(rt.to_string()), Some(id.to_string())),
        None => (None, raw_id.clone()),
    };
    let image = cont.and_then(|c| str_at(c, &["image", "name"]));
    let image_id = cont.and_then(|c| str_at(c, &["image", "id"]));
    let digest = image_id.and_then(|i| i.rfind("sha256:").map(|p| i[p..].to_string()));
    let labels = pod
        .get("pod_labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let c = ContainerContext {
        id,
        name: cont.and_then(|c| str_at(c, &["name"])),
        image_registry: image.as_deref().map(|i| image_registry(i).to_string()),
        image,
        image_digest: digest,
        runtime: runtime.map(|r| match r.as_str() {
            "docker" => "docker".to_string(),
            "containerd" => "containerd".to_string(),
            "cri-o" | "crio" => "cri-o".to_string(),
            other => other.to_string(),
        }),
        privileged: cont
            .and_then(|c| c.get("security_context"))
            .and_then(|s| s.get("privileged"))
            .and_then(Value::as_bool),
        labels,
        k8s_namespace: str_at(pod, &["namespace"]),
        k8s_pod: str_at(pod, &["name"]),
        ..Default::default()
    };
    (!c.is_empty()).then_some(c)
}
