//! Test-only adapter: SigmaHQ regression-data Windows JSON → `Event`.
//! The real decoder lives in contraband-sources; this is just enough to run
//! the regression tests. An event may need several logsources (Sysmon 13 is
//! both `registry_set` and `registry_event`), so this yields one `Event` per
//! logsource.

use contraband_event::{parse_time, Event, LogSource, Map, Timestamp, Value};

/// Read a file of concatenated JSON documents.
pub fn read_json_stream(text: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .collect()
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("#text").and_then(text),
        _ => None,
    }
}

/// Categories for a Sysmon event id.
fn sysmon_categories(eid: u64, fields: &Map<String, Value>) -> Vec<&'static str> {
    match eid {
        1 => vec!["process_creation"],
        2 => vec!["file_change"],
        3 => vec!["network_connection"],
        4 | 16 => vec!["sysmon_status"],
        5 => vec!["process_termination"],
        6 => vec!["driver_load"],
        7 => vec!["image_load"],
        8 => vec!["create_remote_thread"],
        9 => vec!["raw_access_thread"],
        10 => vec!["process_access"],
        11 => vec!["file_event"],
        12 => {
            let t = fields.get("EventType").and_then(text).unwrap_or_default();
            if t.eq_ignore_ascii_case("DeleteKey") || t.eq_ignore_ascii_case("DeleteValue") {
                vec!["registry_delete", "registry_event"]
            } else {
                vec!["registry_add", "registry_event"]
            }
        }
        13 => vec!["registry_set", "registry_event"],
        14 => vec!["registry_rename", "registry_event"],
        15 => vec!["create_stream_hash"],
        17 | 18 => vec!["pipe_created"],
        19..=21 => vec!["wmi_event"],
        22 => vec!["dns_query"],
        23 | 26 => vec!["file_delete"],
        25 => vec!["process_tampering"],
        29 => vec!["file_executable_detected"],
        _ => vec![],
    }
}

fn service_for(channel: &str) -> Option<&'static str> {
    Some(match channel {
        "Security" => "security",
        "System" => "system",
        "Application" => "application",
        "Microsoft-Windows-Sysmon/Operational" => "sysmon",
        "Microsoft-Windows-PowerShell/Operational" => "powershell",
        "Windows PowerShell" => "powershell-classic",
        "Microsoft-Windows-Windows Defender/Operational" => "windefend",
        "Microsoft-Windows-TaskScheduler/Operational" => "taskscheduler",
        "Microsoft-Windows-WMI-Activity/Operational" => "wmi",
        "Microsoft-Windows-Bits-Client/Operational" => "bits-client",
        "Microsoft-Windows-DNS-Client/Operational" => "dns-client",
        "Microsoft-Windows-CodeIntegrity/Operational" => "codeintegrity-operational",
        "Microsoft-Windows-AppLocker/EXE and DLL" => "applocker",
        _ => return None,
    })
}

/// Turn one `{"Event": {...}}` document into events, one per logsource.
pub fn to_events(doc: &Value) -> Vec<Event> {
    let Some(ev) = doc.get("Event") else {
        return Vec::new();
    };
    let system = ev.get("System").cloned().unwrap_or(Value::Null);
    let mut fields = Map::new();
    // EventData entries by bare name; UserData's single child likewise.
    // Names with spaces (Defender's "Threat Name") also get the spaceless
    // form Sigma rules use.
    let data = match (ev.get("EventData"), ev.get("UserData")) {
        (Some(Value::Object(d)), _) => Some(d),
        (_, Some(Value::Object(u))) => u.values().find_map(Value::as_object),
        _ => None,
    };
    for (k, v) in data.into_iter().flatten() {
        if k != "#attributes" {
            fields.insert(k.clone(), v.clone());
            if k.contains(' ') {
                fields.insert(k.replace(' ', ""), v.clone());
            }
        }
    }
    let eid: u64 = system
        .get("EventID")
        .and_then(text)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let channel = system.get("Channel").and_then(text).unwrap_or_default();
    let provider = system
        .pointer("/Provider/#attributes/Name")
        .and_then(text)
        .unwrap_or_default();
    fields.insert("EventID".into(), Value::from(eid));
    fields.insert("Channel".into(), Value::String(channel.clone()));
    fields.insert("Provider_Name".into(), Value::String(provider.clone()));
    if let Some(c) = system.get("Computer").and_then(text) {
        fields.insert("Computer".into(), Value::String(c));
    }
    let time = system
        .pointer("/TimeCreated/#attributes/SystemTime")
        .and_then(text)
        .and_then(|t| parse_time(&t).ok())
        .unwrap_or(Timestamp(0));
    let service = service_for(&channel);
    let categories: Vec<&str> = if channel == "Microsoft-Windows-Sysmon/Operational" {
        sysmon_categories(eid, &fields)
    } else {
        match (channel.as_str(), eid) {
            ("Security", 4688) => vec!["process_creation"],
            ("Microsoft-Windows-PowerShell/Operational", 4104) => vec!["ps_script"],
            ("Microsoft-Windows-PowerShell/Operational", 4103) => vec!["ps_module"],
            ("Windows PowerShell", 400) => vec!["ps_classic_start"],
            ("Windows PowerShell", 600) => vec!["ps_classic_provider_start"],
            ("Windows PowerShell", 800) => vec!["ps_classic_script"],
            _ => vec![],
        }
    };
    let mut out = Vec::new();
    let make = |category: Option<&str>| {
        let mut e = Event::new(
            LogSource::new(Some("windows"), category, service),
            time,
            fields.clone(),
        );
        e.host = fields.get("Computer").and_then(text);
        e
    };
    // The service-only form lets `service:` rules see categorised events too.
    out.push(make(None));
    for c in categories {
        out.push(make(Some(c)));
    }
    out
}
