//! Container engines: Docker Engine events, Podman events, and
//! `docker inspect` / `podman inspect` output.

use contraband_event::{
    image_registry, ContainerContext, Event, Fields, LogSource, Mount, Timestamp,
};
use serde_json::{Map, Value};

use crate::json::{obj, str_at, time_of, EventsOut};
use crate::Ctx;

/// The parts of an image reference (`registry/path/name:tag@sha256:...`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host; `docker.io` when the reference names none.
    pub registry: String,
    /// Repository path without registry, tag or digest (`hashcat/hashcat`);
    /// empty when the reference is only an image id.
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Split an image reference by Docker's rules.
pub fn parse_image_ref(reference: &str) -> ImageRef {
    let reference = reference.trim();
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (reference, None),
    };
    // A bare image id (`sha256:abc...`) names no repository.
    if rest.starts_with("sha256:") && digest.is_none() {
        return ImageRef {
            registry: String::new(),
            name: String::new(),
            tag: None,
            digest: Some(rest.to_string()),
        };
    }
    let registry = image_registry(rest).to_string();
    let path = match rest.split_once('/') {
        Some((first, tail)) if first == registry => tail,
        _ => rest,
    };
    let last_slash = path.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match path[last_slash..].rfind(':') {
        Some(i) => (
            &path[..last_slash + i],
            Some(path[last_slash + i + 1..].to_string()),
        ),
        None => (path, None),
    };
    ImageRef {
        registry,
        name: name.to_string(),
        tag,
        digest,
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Add `ImageRef`, `ImageRegistry`, `ImageName`, `ImageTag`, `ImageDigest`.
fn add_image_fields(fields: &mut Map<String, Value>, reference: &str) {
    if reference.is_empty() {
        return;
    }
    let parts = parse_image_ref(reference);
    fields.insert("ImageRef".into(), reference.into());
    if !parts.registry.is_empty() {
        fields.insert("ImageRegistry".into(), parts.registry.into());
    }
    if !parts.name.is_empty() {
        fields.insert("ImageName".into(), parts.name.into());
    }
    if let Some(tag) = parts.tag {
        fields.insert("ImageTag".into(), tag.into());
    }
    if let Some(digest) = parts.digest {
        fields.entry("ImageDigest").or_insert(digest.into());
    }
}

/// `exec_start: sh -c id` → (`exec_start`, Some(`sh -c id`)).
fn split_action(action: &str) -> (String, Option<String>) {
    match action.split_once(':') {
        Some((verb, rest)) if !verb.contains(' ') => {
            let rest = rest.trim();
            (
                verb.trim().to_ascii_lowercase(),
                (!rest.is_empty()).then(|| rest.to_string()),
            )
        }
        _ => (action.trim().to_ascii_lowercase(), None),
    }
}

fn set_action(fields: &mut Map<String, Value>, raw_action: &str, ctx: &Ctx) {
    let (verb, detail) = split_action(raw_action);
    let type_ = fields
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or("container")
        .to_ascii_lowercase();
    let verb = ctx
        .mapping
        .lookup("actions", &format!("{type_}/{verb}"))
        .map(str::to_string)
        .unwrap_or(verb);
    if let Some(detail) = detail {
        let key = if verb.starts_with("exec_") {
            "ExecCommand"
        } else {
            "ActionDetail"
        };
        fields.insert(key.into(), detail.into());
    }
    fields.insert("Action".into(), verb.into());
}

fn labels_from_attributes(
    attrs: &Map<String, Value>,
    ctx: &Ctx,
) -> std::collections::BTreeMap<String, String> {
    attrs
        .iter()
        .filter(|(k, _)| ctx.mapping.lookup("not_labels", k).is_none())
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

fn finish(
    fields: Map<String, Value>,
    ctx: &Ctx,
    time: Timestamp,
    container: Option<ContainerContext>,
) -> Event {
    let mut fields = Fields::from(fields);
    let ls = ctx.mapping.apply(&mut fields, LogSource::default());
    let mut ev = Event::new(ls, time, fields);
    if let Some(c) = container.filter(|c| !c.is_empty()) {
        ev.set_container(c);
    }
    ev
}

/// One line of `docker events --format '{{json .}}'`.
pub(crate) fn decode_docker_event(
    v: Value,
    _text: &str,
    ctx: &Ctx,
    out: &mut EventsOut<'_>,
) -> Result<(), String> {
    let Value::Object(mut fields) = v else {
        return Err("a Docker event must be a JSON object".into());
    };
    let raw_action = fields
        .get("Action")
        .or_else(|| fields.get("status"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or("Docker event has neither Action nor status")?;
    if !fields.contains_key("Type") {
        fields.insert("Type".into(), "container".into());
    }
    set_action(&mut fields, &raw_action, ctx);
    let whole = Value::Object(fields);
    let actor_id = str_at(&whole, &["Actor", "ID"]).or_else(|| str_at(&whole, &["id"]));
    let attrs = obj(&whole, "Actor")
        .and_then(|a| a.get("Attributes"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let attr = |k: &str| {
        attrs
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let type_ = str_at(&whole, &["Type"])
        .unwrap_or_default()
        .to_ascii_lowercase();
    let time = whole
        .get("timeNano")
        .and_then(Value::as_i64)
        .map(Timestamp)
        .or_else(|| whole.get("time").and_then(time_of))
        .unwrap_or_default();
    let Value::Object(mut fields) = whole else {
        unreachable!()
    };
    let mut container = None;
    match type_.as_str() {
        "container" => {
            let image = attr("image").or_else(|| {
                fields
                    .get("from")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            if let Some(id) = &actor_id {
                fields.insert("ContainerId".into(), id.clone().into());
            }
            if let Some(name) = attr("name") {
                fields.insert("ContainerName".into(), name.into());
            }
            if let Some(image) = &image {
                add_image_fields(&mut fields, image);
            }
            container = Some(ContainerContext {
                id: actor_id.clone(),
                name: attr("name"),
                image_registry: image.as_deref().map(|i| image_registry(i).to_string()),
                image: image.clone(),
                runtime: Some("docker".into()),
                labels: labels_from_attributes(&attrs, ctx),
                ..Default::default()
            });
        }
        "image" => {
            let reference = match &actor_id {
                Some(id) if !id.starts_with("sha256:") => Some(id.clone()),
                _ => attr("name").or(actor_id.clone()),
            };
            if let Some(r) = reference {
                add_image_fields(&mut fields, &r);
            }
            if let Some(id) = actor_id.filter(|i| i.starts_with("sha256:")) {
                fields.entry("ImageDigest").or_insert(id.into());
            }
        }
        _ => {
            if let Some(c) = attr("container") {
                fields.insert("ContainerId".into(), c.into());
            }
        }
    }
    out.push(finish(fields, ctx, time, container));
    Ok(())
}

/// One line of `podman events --format json`.
pub(crate) fn decode_podman_event(
    v: Value,
    _text: &str,
    ctx: &Ctx,
    out: &mut EventsOut<'_>,
) -> Result<(), String> {
    let Value::Object(mut fields) = v else {
        return Err("a Podman event must be a JSON object".into());
    };
    let status = fields
        .get("Status")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or("Podman event has no Status")?;
    if !fields.contains_key("Type") {
        fields.insert("Type".into(), "container".into());
    }
    set_action(&mut fields, &status, ctx);
    let whole = Value::Object(fields);
    let get = |k: &str| str_at(&whole, &[k]);
    let type_ = get("Type").unwrap_or_default().to_ascii_lowercase();
    let time = whole
        .get("timeNano")
        .and_then(Value::as_i64)
        .map(Timestamp)
        .or_else(|| whole.get("time").and_then(time_of))
        .or_else(|| whole.get("Time").and_then(time_of)) // podman < 5
        .unwrap_or_default();
    let attrs = obj(&whole, "Attributes").cloned().unwrap_or_default();
    let (id, name, image) = (get("ID"), get("Name"), get("Image"));
    let Value::Object(mut fields) = whole else {
        unreachable!()
    };
    let mut container = None;
    match type_.as_str() {
        "container" | "pod" => {
            if let Some(id) = &id {
                fields.insert("ContainerId".into(), id.clone().into());
            }
            if let Some(n) = &name {
                fields.insert("ContainerName".into(), n.clone().into());
            }
            if let Some(i) = &image {
                add_image_fields(&mut fields, i);
            }
            if type_ == "container" {
                container = Some(ContainerContext {
                    id,
                    name,
                    image_registry: image.as_deref().map(|i| image_registry(i).to_string()),
                    image,
                    runtime: Some("podman".into()),
                    labels: labels_from_attributes(&attrs, ctx),
                    ..Default::default()
                });
            }
        }
        "image" => {
            match name.or(image) {
                // `build` events name the new image by its bare id
                Some(r) if is_hex64(&r) => {
                    fields.insert("ImageDigest".into(), format!("sha256:{r}").into());
                }
                Some(r) => add_image_fields(&mut fields, &r),
                None => {}
            }
            if let Some(id) = id {
                let digest = if id.starts_with("sha256:") {
                    id
                } else {
                    format!("sha256:{id}")
                };
                fields.entry("ImageDigest").or_insert(digest.into());
            }
        }
        _ => {}
    }
    out.push(finish(fields, ctx, time, container));
    Ok(())
}

/// One container of `docker inspect` / `podman inspect` output.
pub(crate) fn decode_inspect(
    v: Value,
    _text: &str,
    ctx: &Ctx,
    out: &mut EventsOut<'_>,
) -> Result<(), String> {
    if !v.is_object() || (v.get("Id").is_none() && v.get("HostConfig").is_none()) {
        return Err("an inspect record must be a container object with Id or HostConfig".into());
    }
    if v.get("RootFS").is_some() || v.get("RepoTags").is_some() {
        return decode_image_inspect(v, ctx, out);
    }
    let container = container_context_from_inspect(&v);
    let time = v.get("Created").and_then(time_of).unwrap_or_default();
    let Value::Object(mut fields) = v else {
        unreachable!()
    };
    fields.insert("Action".into(), "inspect".into());
    fields.entry("Type").or_insert("container".into());
    if let Some(id) = &container.id {
        fields.insert("ContainerId".into(), id.clone().into());
    }
    if let Some(n) = &container.name {
        fields.insert("ContainerName".into(), n.clone().into());
    }
    if let Some(i) = &container.image {
        add_image_fields(&mut fields, i);
    }
    if let Some(d) = &container.image_digest {
        fields.insert("ImageDigest".into(), d.clone().into());
    }
    out.push(finish(fields, ctx, time, Some(container)));
    Ok(())
}

/// One image of `docker image inspect` output: `Type: image`, no container.
fn decode_image_inspect(v: Value, ctx: &Ctx, out: &mut EventsOut<'_>) -> Result<(), String> {
    let time = v.get("Created").and_then(time_of).unwrap_or_default();
    let reference = v
        .get("RepoTags")
        .and_then(|t| t.get(0))
        .and_then(Value::as_str)
        .or_else(|| {
            v.get("RepoDigests")
                .and_then(|t| t.get(0))
                .and_then(Value::as_str)
        })
        .map(str::to_string);
    let id = str_at(&v, &["Id"]);
    let Value::Object(mut fields) = v else {
        return Err("an image inspect record must be an object".into());
    };
    fields.insert("Action".into(), "inspect".into());
    fields.insert("Type".into(), "image".into());
    if let Some(r) = reference {
        add_image_fields(&mut fields, &r);
    }
    if let Some(id) = id {
        // podman writes the id without its algorithm
        let id = if is_hex64(&id) {
            format!("sha256:{id}")
        } else {
            id
        };
        fields.entry("ImageDigest").or_insert(id.into());
    }
    out.push(finish(fields, ctx, time, None));
    Ok(())
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// A `-v` bind string: `src:dst[:opts]`.
fn mount_from_bind(bind: &str) -> Option<Mount> {
    let mut parts = bind.splitn(3, ':');
    let source = parts.next()?.to_string();
    let destination = parts.next().map(str::to_string);
    let opts: Vec<&str> = parts
        .next()
        .map(|o| o.split(',').collect())
        .unwrap_or_default();
    Some(Mount {
        kind: Some(
            if source.starts_with('/') {
                "bind"
            } else {
                "volume"
            }
            .into(),
        ),
        source: Some(source),
        destination,
        rw: !opts.contains(&"ro"),
        propagation: opts
            .iter()
            .find(|o| PROPAGATIONS.contains(o))
            .map(|s| s.to_string()),
    })
}

fn push_mount(mounts: &mut Vec<Mount>, m: Mount) {
    if !mounts
        .iter()
        .any(|x| x.source == m.source && x.destination == m.destination)
    {
        mounts.push(m);
    }
}

/// The container context a `docker inspect` / `podman inspect` object
/// describes: privileges, mounts (`Mounts`, `HostConfig.Binds`,
/// `HostConfig.Mounts`), capabilities, namespaces, devices, labels...
pub fn container_context_from_inspect(v: &Value) -> ContainerContext {
    let hc = v.get("HostConfig").cloned().unwrap_or(Value::Null);
    let hs = |k: &str| str_at(&hc, &[k]);
    let podman = v.get("OCIRuntime").is_some() || v.get("ConmonPidFile").is_some();
    let image = str_at(v, &["Config", "Image"]).or_else(|| {
        // podman puts the reference in ImageName; docker's Image is an id.
        str_at(v, &["ImageName"])
    });
    let digest = str_at(v, &["ImageDigest"]).or_else(|| {
        str_at(v, &["Image"]).and_then(|i| {
            if i.starts_with("sha256:") {
                Some(i)
            } else if is_hex64(&i) {
                Some(format!("sha256:{i}"))
            } else {
                None
            }
        })
    });
    let mut mounts = Vec::new();
    if let Some(Value::Array(items)) = v.get("Mounts") {
        for m in items {
            push_mount(
                &mut mounts,
                Mount {
                    kind: str_at(m, &["Type"]),
                    source: str_at(m, &["Source"]).or_else(|| str_at(m, &["Name"])),
                    destination: str_at(m, &["Destination"]),
                    rw: m.get("RW").and_then(Value::as_bool).unwrap_or(true),
                    propagation: str_at(m, &["Propagation"]),
                },
            );
        }
    }
    for bind in strings(hc.get("Binds")) {
        if let Some(m) = mount_from_bind(&bind) {
            push_mount(&mut mounts, m);
        }
    }
    if let Some(Value::Array(items)) = hc.get("Mounts") {
        for m in items {
            push_mount(
                &mut mounts,
                Mount {
                    kind: str_at(m, &["Type"]),
                    source: str_at(m, &["Source"]),
                    destination: str_at(m, &["Target"]),
                    rw: !m.get("ReadOnly").and_then(Value::as_bool).unwrap_or(false),
                    propagation: str_at(m, &["BindOptions", "Propagation"]),
                },
            );
        }
    }
    let devices = match hc.get("Devices") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|d| str_at(d, &["PathOnHost"]).or_else(|| d.as_str().map(str::to_string)))
            .collect(),
        _ => Vec::new(),
    };
    let labels: std::collections::BTreeMap<String, String> = v
        .get("Config")
        .and_then(|c| c.get("Labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    ContainerContext {
        id: str_at(v, &["Id"]),
        name: str_at(v, &["Name"]).map(|n| n.trim_start_matches('/').to_string()),
        image_registry: image.as_deref().map(|i| image_registry(i).to_string()),
        image,
        image_digest: digest,
        runtime: Some(if podman { "podman" } else { "docker" }.into()),
        privileged: hc.get("Privileged").and_then(Value::as_bool),
        mounts,
        cap_add: strings(hc.get("CapAdd")),
        cap_drop: strings(hc.get("CapDrop")),
        security_opt: strings(hc.get("SecurityOpt")),
        pid_mode: hs("PidMode"),
        network_mode: hs("NetworkMode"),
        ipc_mode: hs("IpcMode"),
        uts_mode: hs("UTSMode"),
        userns_mode: hs("UsernsMode"),
        log_driver: str_at(&hc, &["LogConfig", "Type"]),
        user: str_at(v, &["Config", "User"]),
        devices,
        k8s_namespace: labels.get("io.kubernetes.pod.namespace").cloned(),
        k8s_pod: labels.get("io.kubernetes.pod.name").cloned(),
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs() {
        let r = parse_image_ref("localhost:5000/tools/hashcat:6.2");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.name, "tools/hashcat");
        assert_eq!(r.tag.as_deref(), Some("6.2"));
        let r = parse_image_ref("hashcat/hashcat");
        assert_eq!(
            (r.registry.as_str(), r.name.as_str(), r.tag.as_deref()),
            ("docker.io", "hashcat/hashcat", None)
        );
        let r = parse_image_ref("ghcr.io/a/b@sha256:abcd");
        assert_eq!(
            (r.name.as_str(), r.digest.as_deref()),
            ("a/b", Some("sha256:abcd"))
        );
        let r = parse_image_ref("busybox:1.36@sha256:ff");
        assert_eq!(
            (r.name.as_str(), r.tag.as_deref(), r.digest.as_deref()),
            ("busybox", Some("1.36"), Some("sha256:ff"))
        );
        let r = parse_image_ref("sha256:0123");
        assert_eq!(
            (r.name.as_str(), r.digest.as_deref()),
            ("", Some("sha256:0123"))
        );
    }

    #[test]
    fn actions() {
        assert_eq!(
            split_action("exec_start: sh -c id"),
            ("exec_start".into(), Some("sh -c id".into()))
        );
        assert_eq!(
            split_action("health_status: healthy"),
            ("health_status".into(), Some("healthy".into()))
        );
        assert_eq!(split_action("Start"), ("start".into(), None));
    }

    #[test]
    fn binds() {
        let m = mount_from_bind("/:/mnt:ro,rslave").unwrap();
        assert_eq!(m.source.as_deref(), Some("/"));
        assert_eq!(m.destination.as_deref(), Some("/mnt"));
        assert!(!m.rw);
        assert_eq!(m.propagation.as_deref(), Some("rslave"));
        assert_eq!(
            mount_from_bind("data:/data").unwrap().kind.as_deref(),
            Some("volume")
        );
    }
}
