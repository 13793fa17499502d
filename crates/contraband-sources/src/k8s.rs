//! Kubernetes audit events (audit.k8s.io v1 and v1beta1).

use std::sync::Arc;

use contraband_event::{
    image_registry, ContainerContext, Event, Fields, KeyCache, LogSource, Mount, Timestamp,
    ValueRef,
};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::json::{str_at, time_of, EventsOut};
use crate::object_scan::read_fields;
use crate::Ctx;

pub(crate) fn decode(
    v: Value,
    text: &str,
    ctx: &Ctx,
    out: &mut EventsOut<'_>,
) -> Result<(), String> {
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
                match one(Fields::from(item.clone()), ctx) {
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
            out.push(one(Fields::from(o), ctx)?);
            Ok(())
        }
    }
}

/// An audit event's top level read straight from its text, names shared
/// with the stream's earlier records. `None` for an `EventList` and for
/// text [`read_fields`] does not take: the caller then takes the general
/// path ([`decode`]), which reports any error.
pub(crate) fn parse_fast(text: &Arc<str>, keys: &mut KeyCache) -> Option<Fields> {
    let (fields, _) = read_fields(text, keys, |_, _| Some(false))?;
    match fields.get_ref("kind").and_then(ValueRef::as_str) {
        Some("EventList") => None,
        _ => Some(fields),
    }
}

/// [`decode`] of a record read by [`parse_fast`].
pub(crate) fn decode_fast(
    fields: Fields,
    ctx: &Ctx,
    out: &mut EventsOut<'_>,
) -> Result<(), String> {
    out.push(one(fields, ctx)?);
    Ok(())
}

/// The value at `path` under the top-level member `path[0]`, as text
/// (numbers rendered), read without building the member as JSON.
fn str_under(fields: &Fields, path: &[&str]) -> Option<String> {
    str_at(fields.get_ref(path[0])?, &path[1..])
}

fn one(mut fields: Fields, ctx: &Ctx) -> Result<Event, String> {
    match fields.get_ref("kind") {
        Some(k) if k.as_str() == Some("Event") => {}
        None if fields.contains_key("auditID") && fields.contains_key("verb") => {}
        Some(other) => {
            let other = other.to_value();
            return Err(format!("not a Kubernetes audit event: kind is {other}"));
        }
        None => return Err("not a Kubernetes audit event: no kind".into()),
    }
    if fields.get_ref("verb").and_then(ValueRef::as_str).is_none() {
        return Err("Kubernetes audit event without a verb".into());
    }
    let time = ["stageTimestamp", "requestReceivedTimestamp", "timestamp"]
        .iter()
        .find_map(|k| fields.get_ref(k).and_then(time_of))
        .or_else(|| {
            fields
                .get_ref("metadata")
                .and_then(|m| m.get("creationTimestamp"))
                .and_then(time_of)
        })
        .unwrap_or(Timestamp(0));
    let api_group = str_under(&fields, &["objectRef", "apiGroup"]);
    let spec = fields.get_ref("requestObject").and_then(pod_spec);
    let mut host_paths = Vec::new();
    let mut caps = Vec::new();
    let container = spec.map(|spec| pod_context(&fields, spec, &mut host_paths, &mut caps));
    if let Some(g) = api_group {
        fields.insert("apiGroup", g.into());
    }
    if !host_paths.is_empty() {
        fields.insert(
            "hostPath",
            host_paths.into_iter().map(Value::from).collect(),
        );
    }
    if !caps.is_empty() {
        fields.insert("capabilities", caps.into_iter().map(Value::from).collect());
    }
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
fn pod_spec(obj: ValueRef<'_>) -> Option<ValueRef<'_>> {
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

fn containers(spec: ValueRef<'_>) -> impl Iterator<Item = ValueRef<'_>> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .filter_map(move |k| spec.get(k))
        .flat_map(ValueRef::items)
}

/// Adds each string of `list` to `to`, once.
fn add_once(list: Option<ValueRef<'_>>, to: &mut Vec<String>) {
    for item in list.into_iter().flat_map(ValueRef::items) {
        if let Some(s) = item.as_str() {
            if !to.iter().any(|x| x == s) {
                to.push(s.to_string());
            }
        }
    }
}

fn pod_context(
    whole: &Fields,
    spec: ValueRef<'_>,
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
            .and_then(ValueRef::as_bool)
        {
            c.privileged = Some(c.privileged.unwrap_or(false) || p);
        }
        let capabilities = sc.and_then(|s| s.get("capabilities"));
        add_once(capabilities.and_then(|c| c.get("add")), caps);
        add_once(capabilities.and_then(|c| c.get("drop")), &mut c.cap_drop);
    }
    c.cap_add = caps.clone();
    for vol in spec.get("volumes").into_iter().flat_map(ValueRef::items) {
        let Some(path) = str_at(vol, &["hostPath", "path"]) else {
            continue;
        };
        let vname = str_at(vol, &["name"]);
        // Where the volume is mounted in the first container using it.
        let mount = containers(spec)
            .filter_map(|ct| ct.get("volumeMounts"))
            .flat_map(ValueRef::items)
            .find(|m| vname.is_some() && str_at(*m, &["name"]) == vname);
        host_paths.push(path.clone());
        c.mounts.push(Mount {
            kind: Some("hostPath".into()),
            source: Some(path),
            destination: mount.and_then(|m| str_at(m, &["mountPath"])),
            rw: !mount
                .and_then(|m| m.get("readOnly"))
                .and_then(ValueRef::as_bool)
                .unwrap_or(false),
            propagation: mount.and_then(|m| str_at(m, &["mountPropagation"])),
        });
    }
    let host = |k: &str| {
        spec.get(k)
            .and_then(ValueRef::as_bool)
            .unwrap_or(false)
            .then(|| "host".to_string())
    };
    c.pid_mode = host("hostPID");
    c.network_mode = host("hostNetwork");
    c.ipc_mode = host("hostIPC");
    if let Some(first) = spec.get("containers").and_then(|v| v.items().next()) {
        c.image = str_at(first, &["image"]);
        c.image_registry = c.image.as_deref().map(|i| image_registry(i).to_string());
        c.name = str_at(first, &["name"]);
        c.user = str_at(first, &["securityContext", "runAsUser"]);
    }
    c.k8s_namespace = str_under(whole, &["objectRef", "namespace"])
        .or_else(|| str_under(whole, &["requestObject", "metadata", "namespace"]));
    c.k8s_pod = str_under(whole, &["requestObject", "metadata", "name"])
        .or_else(|| str_under(whole, &["objectRef", "name"]));
    if let Some(labels) = whole
        .get_ref("requestObject")
        .and_then(|r| r.get("metadata"))
        .and_then(|m| m.get("labels"))
    {
        c.labels = labels
            .members()
            .filter_map(|(k, v)| Some((k.to_string(), v.as_str()?.to_string())))
            .collect();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::decoded;
    use crate::{Decoder, Format, Options};

    /// The events `text` decodes to by the fast path (if it takes the
    /// text) and by the general one.
    fn both_ways(text: &str, keys: &mut KeyCache) -> (Option<Vec<Event>>, Vec<Event>) {
        let ctx = Decoder::new(Format::K8sAudit, "t", &Options::default()).ctx;
        let fast = parse_fast(&Arc::from(text), keys)
            .map(|fields| decoded(|out| decode_fast(fields, &ctx, out)).0);
        let general = match serde_json::from_str(text) {
            Ok(value) => decoded(|out| decode(value, text, &ctx, out)).0,
            Err(_) => Vec::new(),
        };
        (fast, general)
    }

    fn same_events(a: &[Event], b: &[Event], text: &str) {
        assert_eq!(a.len(), b.len(), "{text}");
        for (a, b) in a.iter().zip(b) {
            let names = |e: &Event| e.fields.keys().map(str::to_string).collect::<Vec<_>>();
            assert_eq!(names(a), names(b), "{text}");
            assert_eq!(a.fields, b.fields, "{text}");
            assert_eq!(a.logsource, b.logsource, "{text}");
            assert_eq!(a.time, b.time, "{text}");
            assert_eq!(a.container, b.container, "{text}");
        }
    }

    #[test]
    fn the_fast_path_reads_falcos_traces_as_the_general_one_does() {
        let dir = contraband_testkit::corpora().join("falco/test/trace_files/k8s_audit");
        let mut keys = KeyCache::default();
        let mut taken = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let (fast, general) = both_ways(line, &mut keys);
                if let Some(fast) = fast {
                    same_events(&fast, &general, line);
                    taken += 1;
                }
            }
        }
        assert!(taken >= 40, "the fast path took only {taken} records");
    }

    #[test]
    fn the_fast_path_leaves_lists_and_odd_text_to_the_general_one() {
        let mut keys = KeyCache::default();
        let event = r#"{"kind":"Event","auditID":"a","verb":"create","objectRef":{"resource":"pods","apiGroup":"apps"},"stageTimestamp":"2026-01-01T00:00:00Z"}"#;
        let (fast, general) = both_ways(event, &mut keys);
        same_events(&fast.unwrap(), &general, event);
        assert_eq!(general[0].get_str("apiGroup").as_deref(), Some("apps"));
        // Escaped names and values, a repeated name, names in another order.
        let odd = r#"{"verb":"get","k\u0069nd":"Event","auditID":"b","user":{"username":"x"},"verb":"li\nst"}"#;
        let (fast, general) = both_ways(odd, &mut keys);
        same_events(&fast.unwrap(), &general, odd);
        let list = r#"{"kind":"EventList","items":[{"kind":"Event","auditID":"c","verb":"get"}]}"#;
        let (fast, general) = both_ways(list, &mut keys);
        assert!(fast.is_none(), "lists take the general path");
        assert_eq!(general.len(), 1);
        for bad in [
            r#"[{"kind":"Event"}]"#,
            r#"{"kind":"Event",}"#,
            "{\"verb\":\"get\"} x",
        ] {
            assert!(both_ways(bad, &mut keys).0.is_none(), "{bad}");
        }
        // Not an audit event: the fast path reports it as the general does.
        let ctx = Decoder::new(Format::K8sAudit, "t", &Options::default()).ctx;
        let fields = parse_fast(&Arc::from(r#"{"kind":"Pod","verb":"get"}"#), &mut keys).unwrap();
        let err = decoded(|out| decode_fast(fields, &ctx, out)).1.unwrap_err();
        assert_eq!(err, "not a Kubernetes audit event: kind is \"Pod\"");
    }
}
