//! Every format renders the same alert faithfully.

use std::io::Write;
use std::sync::{Arc, Mutex};

use contraband_engine::{Alert, Attack, Level, RawEvent, RuleInfo};
use contraband_event::{ContainerContext, Event, LogSource, Origin, Timestamp};
use contraband_sinks::{sink, Format, TableOptions};
use serde_json::{json, Map, Value};

/// A writer the test can read back after the sink is done with it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn alert(level: Level) -> Alert {
    let fields = json!({"Image": "/usr/bin/hashcat", "CommandLine": "hashcat -m 0 -a 0 h.txt w.txt\u{1b}[2J", "ProcessId": 42});
    let mut event = Event::new(
        LogSource::new(Some("linux"), Some("process_creation"), Some("auditd")),
        Timestamp(1_700_000_000_123_000_000),
        fields.as_object().unwrap().clone(),
    );
    event.host = Some("node-1".into());
    event.set_container(ContainerContext {
        id: Some("3b1f0c2d9e8a".into()),
        name: Some("cb-hashcat".into()),
        image: Some("127.0.0.1:5001/tools/hashcat:6".into()),
        privileged: Some(true),
        ..Default::default()
    });
    event.origin = Origin {
        source: "audit.log".into(),
        line: Some(17),
        ..Origin::default()
    };
    event.raw = Some(r#"{"raw":true}"#.into());
    let mut matched = Map::new();
    matched.insert("Image".into(), "/usr/bin/hashcat".into());
    Alert::new(
        Arc::new(RuleInfo {
            id: "5d2c".into(),
            title: "Password cracker in a container".into(),
            level,
            status: Some("test".into()),
            description: None,
        }),
        Arc::new(Attack::from_tags([
            "attack.t1110.002",
            "attack.credential-access",
        ])),
        None,
        &event,
        matched,
    )
}

fn render(format: Format, alerts: &[Alert]) -> String {
    let out = Shared::default();
    let mut s = sink(format, Box::new(out.clone()), TableOptions::default());
    for a in alerts {
        s.write(a).unwrap();
    }
    s.finish().unwrap();
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn jsonl_carries_the_documented_schema() {
    let text = render(Format::Jsonl, &[alert(Level::High)]);
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["time"], "2023-11-14T22:13:20.123Z");
    assert_eq!(v["rule"]["id"], "5d2c");
    assert_eq!(v["rule"]["level"], "high");
    assert_eq!(v["attack"]["techniques"], json!(["T1110.002"]));
    assert_eq!(v["attack"]["tactics"], json!(["credential-access"]));
    assert_eq!(v["container"]["name"], "cb-hashcat");
    assert_eq!(v["container"]["privileged"], true);
    assert_eq!(v["process"]["image"], "/usr/bin/hashcat");
    assert_eq!(v["process"]["pid"], "42");
    assert_eq!(v["matched"]["Image"], "/usr/bin/hashcat");
    assert_eq!(v["source"]["source"], "audit.log");
    assert_eq!(v["source"]["line"], 17);
    assert_eq!(v["event"], json!({"raw": true}));
    assert_eq!(v["id"].as_str().unwrap().len(), 16);
}

/// `alert` with `raw` as the event's record.
fn alert_with_raw(raw: &str) -> Alert {
    let mut a = alert(Level::High);
    let mut event = Event::default();
    event.raw = Some(raw.into());
    a.event = RawEvent::of(&event);
    a
}

#[test]
fn jsonl_embeds_the_record_as_read_and_on_one_line() {
    let pretty = "{\n  \"a\": 1,\n  \"b\": \"x\\ny\"\n}\n";
    let spaced = r#"{"a": 1.50, "s": "\u00e9\/", "n": 1e3}"#;
    let text = render(
        Format::Jsonl,
        &[
            alert_with_raw(pretty),
            alert_with_raw(spaced),
            alert_with_raw("not json\nat all"),
        ],
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "one alert per line: {text}");
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect();
    assert_eq!(
        events[0],
        json!({"a": 1, "b": "x\ny"}),
        "layout dropped, content kept"
    );
    // A one-line record is embedded byte for byte, numbers and escapes as written.
    assert!(
        lines[1].contains(&format!(r#""event":{spaced}"#)),
        "{}",
        lines[1]
    );
    assert_eq!(
        events[2],
        json!("not json\nat all"),
        "text that is not JSON is a string"
    );
    // The array form embeds the same records.
    let array: Value = serde_json::from_str(&render(
        Format::Json,
        &[alert_with_raw(pretty), alert_with_raw(spaced)],
    ))
    .unwrap();
    assert_eq!(array[0]["event"], events[0]);
    assert_eq!(array[1]["event"], events[1]);
}

/// The JSON sinks write their own JSON (`json_writer`), held to what
/// serde_json writes for the same alerts: raw JSON records, pretty ones,
/// text ones, and strings that need escaping.
#[test]
fn json_sinks_write_what_serde_json_writes() {
    let alerts = [
        alert(Level::High),
        alert_with_raw("{\n  \"a\": [1, 2.5, null],\n  \"b\": \"x\\ny\"\n}\n"),
        alert_with_raw(r#"{"a": 1.50, "s": "\u00e9\/", "n": 1e3}"#),
        alert_with_raw("not json: \"q\" \\ \u{7}\t\u{1b}[0m ünï"),
    ];
    let lines: Vec<String> = alerts
        .iter()
        .map(|a| serde_json::to_string(a).unwrap())
        .collect();
    assert_eq!(render(Format::Jsonl, &alerts), lines.join("\n") + "\n");
    assert_eq!(
        render(Format::Json, &alerts),
        format!("[\n{}\n]\n", lines.join(",\n"))
    );
}

#[test]
fn json_is_one_valid_array_even_when_empty() {
    let v: Value = serde_json::from_str(&render(
        Format::Json,
        &[alert(Level::Low), alert(Level::High)],
    ))
    .unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let empty: Value = serde_json::from_str(&render(Format::Json, &[])).unwrap();
    assert_eq!(empty, json!([]));
}

#[test]
fn csv_has_header_and_quotes_fields() {
    let text = render(Format::Csv, &[alert(Level::Medium)]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "time");
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[2], "medium");
    assert_eq!(&row[10], "cb-hashcat");
    assert_eq!(&row[16], "17");
    assert_eq!(render(Format::Csv, &[]).lines().count(), 1);
}

#[test]
fn ocsf_is_a_detection_finding() {
    let v: Value =
        serde_json::from_str(render(Format::Ocsf, &[alert(Level::Critical)]).trim()).unwrap();
    assert_eq!(v["class_uid"], 2004);
    assert_eq!(v["type_uid"], 200401);
    assert_eq!(v["severity_id"], 5);
    assert_eq!(v["time"], 1_700_000_000_123i64);
    assert_eq!(v["finding_info"]["analytic"]["uid"], "5d2c");
    assert_eq!(
        v["finding_info"]["attacks"][0]["technique"]["uid"],
        "T1110.002"
    );
    assert_eq!(v["evidences"][0]["container"]["name"], "cb-hashcat");
    assert_eq!(v["evidences"][0]["process"]["pid"], 42);
    assert_eq!(v["device"]["hostname"], "node-1");
}

#[test]
fn falco_shape_for_falcosidekick() {
    let v: Value =
        serde_json::from_str(render(Format::Falco, &[alert(Level::High)]).trim()).unwrap();
    assert_eq!(v["priority"], "Error");
    assert_eq!(v["rule"], "Password cracker in a container");
    assert_eq!(v["source"], "syscall");
    assert_eq!(v["hostname"], "node-1");
    assert_eq!(v["output_fields"]["container.name"], "cb-hashcat");
    assert_eq!(v["output_fields"]["proc.exepath"], "/usr/bin/hashcat");
    assert_eq!(v["output_fields"]["evt.time"], 1_700_000_000_123_000_000i64);
    assert!(v["output"]
        .as_str()
        .unwrap()
        .contains("container=cb-hashcat"));
}

#[test]
fn table_never_passes_escape_sequences_through() {
    let text = render(Format::Table, &[alert(Level::High)]);
    assert!(text.starts_with("TIME"));
    assert!(text.contains("cb-hashcat"));
    assert!(!text.contains('\u{1b}'), "{text:?}");
}
