//! Falco-compatible JSON (the shape `falco -o json_output=true` prints), so
//! Falcosidekick and anything downstream of it can consume contraband alerts.

use contraband_engine::{Alert, Level};
use serde_json::{json, Map, Value};

use crate::ocsf::put;

/// Falco's priority names for Sigma levels.
pub fn falco_priority(level: Level) -> &'static str {
    match level {
        Level::Critical => "Critical",
        Level::High => "Error",
        Level::Medium => "Warning",
        Level::Low => "Notice",
        Level::Informational => "Informational",
    }
}

pub fn falco_event(a: &Alert) -> Value {
    let mut fields = Map::new();
    fields.insert("evt.time".into(), a.time.nanos().into());
    if let Some(c) = &a.container {
        put(&mut fields, "container.id", c.id.as_deref());
        put(&mut fields, "container.name", c.name.as_deref());
        put(
            &mut fields,
            "container.image.repository",
            c.image.as_deref(),
        );
        put(
            &mut fields,
            "container.image.digest",
            c.image_digest.as_deref(),
        );
        if let Some(p) = c.privileged {
            fields.insert("container.privileged".into(), p.into());
        }
        put(&mut fields, "k8s.ns.name", c.k8s_namespace.as_deref());
        put(&mut fields, "k8s.pod.name", c.k8s_pod.as_deref());
    }
    if let Some(p) = &a.process {
        put(&mut fields, "proc.exepath", p.image.as_deref());
        put(&mut fields, "proc.cmdline", p.command_line.as_deref());
        put(&mut fields, "proc.pid", p.pid.as_deref());
        put(&mut fields, "proc.pexepath", p.parent_image.as_deref());
        put(&mut fields, "user.name", p.user.as_deref());
    }
    let mut output = format!("{} (rule={}", a.rule.title, a.rule.id);
    if let Some(c) = &a.container {
        if let Some(name) = c.name.as_deref().or(c.id.as_deref()) {
            output.push_str(&format!(" container={name}"));
        }
        if let Some(image) = &c.image {
            output.push_str(&format!(" image={image}"));
        }
    }
    if let Some(cmd) = a.process.as_ref().and_then(|p| p.command_line.as_deref()) {
        output.push_str(&format!(" cmdline={cmd}"));
    }
    output.push(')');

    let source = match a.logsource.product.as_deref() {
        Some("kubernetes") => "k8s_audit",
        _ if a.logsource.category.as_deref() == Some("container_engine") => "docker",
        _ => "syscall",
    };
    let mut tags: Vec<String> = a.attack.techniques.clone();
    tags.extend(a.attack.tactics.iter().cloned());
    json!({
        "uuid": a.id,
        "output": output,
        "priority": falco_priority(a.rule.level),
        "rule": a.rule.title,
        "time": a.time.to_rfc3339(),
        "source": source,
        "hostname": a.host.as_deref().unwrap_or_default(),
        "tags": tags,
        "output_fields": fields,
    })
}
