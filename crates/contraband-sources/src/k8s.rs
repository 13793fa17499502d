//! Kubernetes audit events (audit.k8s.io v1 and v1beta1).

use std::sync::Arc;

use contraband_event::{
    image_registry, ContainerContext, Event, Fields, LogSource, Mount, Timestamp,
};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::json::{str_at, time_of};
use crate::Ctx;

pub(crate) fn decode(v: Value, text: &str, ctx: &Ctx, out: &mut Vec<Event>) -> Result<(), String> {
    let Value::Object(o) = v else {
        return Err("a Kubernetes audit event must be a JSON object".into());
    };
    match o.get("kind") {
        Some(Value::String(k)) if k == "EventList" => {
            let Some(Value::Array(items)) = o.get("items") else {
                return Err("EventList without an items array".into());
            };
            // Each item's raw text is its own slice of the input; without
            // one (duplicate `items` keys) the event keeps the whole record's.
            #[derive(serde::Deserialize)]
            struct Items<'a> {
                #[serde(borrow)]
                items: Vec<&'a RawValue>,
            }
            let texts = serde_json::from_str::<Items>(text)
                .map(|l| l.items)
                .unwrap_or_default();
            // A bad item is reported; the items around it are still events.
            let mut bad = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let Value::Object(item) = item else {
                    bad.push(format!("item {i} is not an object"));
                    continue;
                };
                match one(item.clone(), ctx) {
                    Ok(mut ev) => {
                        ev.raw = texts.get(i).map(|t| Arc::from(t.get()));
                        ev.origin.index = Some(i as u64);
                        out.push(ev);
                    }
                    Err(e) => bad.push(format!("item {i}: {e}")),
                }
            }
            match bad.len() {
                0 => Ok(()),
                n => Err(format!(
                    "EventList {}{}",
                    bad[..n.min(3)].join("; "),
                    if n > 3 {
                        format!(" (and {} more)", n - 3)
                    } else {
                        String::new()
                    }
                )),
            }
        }
        _ => {
            out.push(one(o, ctx)?);
            Ok(())
        }
    }
}

fn one(fields: Map<String, Value>, ctx: &Ctx) -> Result<Event, String> {
    match fields.get("kind") {
        Some(Value::String(k)) if k == "Event" => {}
        None if fields.contains_key("auditID") && fields.contains_key("verb") => {}
        Some(other) => return Err(format!("not a Kubernetes audit event: kind is {other}")),
        None => return Err("not a Kubernetes audit event: no kind".into()),
    }
    if !fields.get("verb").is_some_and(Value::is_string) {
        return Err("Kubernetes audit event without a verb".into());
    }
    let whole = Value::Object(fields);
    let time = ["stageTimestamp", "requestReceivedTimestamp", "timestamp"]
        .iter()
        .find_map(|k| whole.get(*k).and_then(time_of))
        .or_else(|| {
            whole
                .get("metadata")
                .and_then(|m| m.get("creationTimestamp"))
                .and_then(time_of)
        })
        .unwrap_or(Timestamp(0));
    let api_group = str_at(&whole, &["objectRef", "apiGroup"]);
    let request = whole.get("requestObject");
    let spec = request.and_then(pod_spec);
    let mut host_paths = Vec::new();
    let mut caps = Vec::new();
    let container = spec.map(|spec| pod_context(&whole, spec, &mut host_paths, &mut caps));
    let Value::Object(mut fields) = whole else {
        unreachable!()
    };
    if let Some(g) = api_group {
        fields.insert("apiGroup".into(), g.into());
    }
    if !host_paths.is_empty() {
        fields.insert(
            "hostPath".into(),
            host_paths.into_iter().map(Value::from).collect(),
        );
    }
    if !caps.is_empty() {
        fields.insert(
            "capabilities".into(),
            caps.into_iter().map(Value::from).collect(),
        );
    }
    let mut fields = Fields::from(fields);
    let ls = ctx.mapping.apply(&mut fields, LogSource::default());
    let mut ev = Event::new(ls, time, fields);
    if let Some(c) = container.filter(|c| !c.is_empty()) {
        ev.set_container(c);
    }
    Ok(ev)
}

/// The pod spec inside a request object: a Pod's `spec`, or a workload's
/// `spec.template.spec` (Deployment, DaemonSet, Job...), or a CronJob's
/// `spec.jobTemplate.spec.template.spec`.
fn pod_spec(obj: &Value) -> Option<&Value> {
    let spec = obj.get("spec")?;
    if spec.get("containers").is_some() {
        return Some(spec);
    }
    if let Some(s) = spec.get("template").and_then(|t| t.get("spec")) {
        return Some(s);
    }
    spec.get("jobTemplate")?
        .get("spec")?
        .get("template")?
        .get("spec")
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .filter_map(|k| spec.get(k).and_then(Value::as_array))
        .flatten()
}

fn pod_context(
    whole: &Value,
    spec: &Value,
    host_paths: &mut Vec<String>,
    caps: &mut Vec<String>,
) -> ContainerContext {
    let mut c = ContainerContext {
        runtime: Some("kubernetes".into()),
        ..Default::default()
    };
    for cont in containers(spec) {
        let sc = cont.get("securityContext");
        if let Some(p) = sc
            .and_then(|s| s.get("privileged"))
            .and_then(Value::as_bool)
        {
            c.privileged = Some(c.privileged.unwrap_or(false) || p);
        }
        if let Some(Value::Array(add)) = sc
            .and_then(|s| s.get("capabilities"))
            .and_then(|c| c.get("add"))
        {
            for cap in add.iter().filter_map(Value::as_str) {
                if !caps.iter().any(|x| x == cap) {
                    caps.push(cap.to_string());
                }
            }
        }
        if let Some(Value::Array(drop)) = sc
            .and_then(|s| s.get("capabilities"))
            .and_then(|c| c.get("drop"))
        {
            for cap in drop.iter().filter_map(Value::as_str) {
                if !c.cap_drop.iter().any(|x| x == cap) {
                    c.cap_drop.push(cap.to_string());
                }
            }
        }
    }
    c.cap_add = caps.clone();
    if let Some(Value::Array(volumes)) = spec.get("volumes") {
        for vol in volumes {
            let Some(path) = str_at(vol, &["hostPath", "path"]) else {
                continue;
            };
            let vname = str_at(vol, &["name"]);
            // Where the volume is mounted in the first container using it.
            let mount = containers(spec)
                .filter_map(|ct| ct.get("volumeMounts").and_then(Value::as_array))
                .flatten()
                .find(|m| vname.is_some() && str_at(m, &["name"]) == vname);
            host_paths.push(path.clone());
            c.mounts.push(Mount {
                kind: Some("hostPath".into()),
                source: Some(path),
                destination: mount.and_then(|m| str_at(m, &["mountPath"])),
                rw: !mount
                    .and_then(|m| m.get("readOnly"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                propagation: mount.and_then(|m| str_at(m, &["mountPropagation"])),
            });
        }
    }
    let host = |k: &str| {
        spec.get(k)
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .then(|| "host".to_string())
    };
    c.pid_mode = host("hostPID");
    c.network_mode = host("hostNetwork");
    c.ipc_mode = host("hostIPC");
    if let Some(first) = spec.get("containers").and_then(|v| v.get(0)) {
        c.image = str_at(first, &["image"]);
        c.image_registry = c.image.as_deref().map(|i| image_registry(i).to_string());
        c.name = str_at(first, &["name"]);
        c.user = str_at(first, &["securityContext", "runAsUser"]);
    }
    c.k8s_namespace = str_at(whole, &["objectRef", "namespace"])
        .or_else(|| str_at(whole, &["requestObject", "metadata", "namespace"]));
    c.k8s_pod = str_at(whole, &["requestObject", "metadata", "name"])
        .or_else(|| str_at(whole, &["objectRef", "name"]));
    if let Some(labels) = whole
        .get("requestObject")
        .and_then(|r| r.get("metadata"))
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
    {
        c.labels = labels
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
    }
    c
}
