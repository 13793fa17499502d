//! OCSF Detection Finding (class 2004, schema 1.3).

use contraband_engine::{Alert, Level};
use serde_json::{json, Map, Value};

const CLASS_UID: u32 = 2004;
const ACTIVITY_CREATE: u32 = 1;

fn severity_id(level: Level) -> u8 {
    match level {
        Level::Informational => 1,
        Level::Low => 2,
        Level::Medium => 3,
        Level::High => 4,
        Level::Critical => 5,
    }
}

pub fn detection_finding(a: &Alert) -> Value {
    let time_ms = a.time.nanos() / 1_000_000;
    let attacks: Vec<Value> = a
        .attack
        .techniques
        .iter()
        .map(|t| {
            let mut attack = json!({"technique": {"uid": t}});
            if !a.attack.tactics.is_empty() {
                attack["tactics"] = a
                    .attack
                    .tactics
                    .iter()
                    .map(|name| json!({"name": name}))
                    .collect();
            }
            attack
        })
        .collect();

    let mut evidence = Map::new();
    if let Some(c) = &a.container {
        let mut container = Map::new();
        put(&mut container, "uid", c.id.as_deref());
        put(&mut container, "name", c.name.as_deref());
        put(&mut container, "runtime", c.runtime.as_deref());
        if c.image.is_some() || c.image_digest.is_some() {
            let mut image = Map::new();
            put(&mut image, "name", c.image.as_deref());
            put(&mut image, "uid", c.image_digest.as_deref());
            container.insert("image".into(), Value::Object(image));
        }
        evidence.insert("container".into(), Value::Object(container));
    }
    if let Some(p) = &a.process {
        let mut process = Map::new();
        put(&mut process, "cmd_line", p.command_line.as_deref());
        if let Some(pid) = p.pid.as_deref().and_then(|s| s.parse::<i64>().ok()) {
            process.insert("pid".into(), pid.into());
        }
        if let Some(path) = &p.image {
            process.insert("file".into(), json!({"path": path, "name": basename(path)}));
        }
        if let Some(user) = &p.user {
            process.insert("user".into(), json!({"name": user}));
        }
        if let Some(parent) = &p.parent_image {
            process.insert(
                "parent_process".into(),
                json!({"file": {"path": parent, "name": basename(parent)}}),
            );
        }
        evidence.insert("process".into(), Value::Object(process));
    }

    let mut finding = json!({
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "time": time_ms,
        "severity_id": severity_id(a.rule.level),
        "severity": capitalize(a.rule.level.as_str()),
        "status_id": 1,
        "status": "New",
        "message": a.rule.title,
        "metadata": {
            "version": "1.3.0",
            "product": {"name": "contraband", "vendor_name": "contraband", "version": env!("CARGO_PKG_VERSION")},
            "uid": a.id,
            "correlation_uid": a.dedup_key,
        },
        "finding_info": {
            "uid": a.id,
            "title": a.rule.title,
            "analytic": {"uid": a.rule.id, "name": a.rule.title, "type_id": 1, "type": "Rule"},
            "attacks": attacks,
        },
        "unmapped": {
            "matched": a.matched,
            "logsource": a.logsource,
            "source": a.source,
        },
    });
    if let Some(desc) = &a.rule.description {
        finding["finding_info"]["desc"] = desc.as_str().into();
    }
    if let Some(s) = &a.strategy {
        finding["finding_info"]["types"] = json!([s.id]);
        finding["unmapped"]["strategy"] = json!(s);
    }
    if let Some(host) = &a.host {
        finding["device"] = json!({"hostname": host, "type_id": 0});
    }
    if !evidence.is_empty() {
        finding["evidences"] = json!([Value::Object(evidence)]);
    }
    if let Some(raw) = &a.event {
        finding["raw_data"] = serde_json::to_string(raw).unwrap_or_default().into();
    }
    finding
}

pub(crate) fn put(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        map.insert(key.into(), v.into());
    }
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
