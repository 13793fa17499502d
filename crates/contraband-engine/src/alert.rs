//! The one Alert type. Every output format is a view of it; the JSON schema
//! is documented in `docs/alerts.md`.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use contraband_event::{
    json_writer, ContainerContext, Event, LogSource, Origin, Timestamp, ValueRef,
};

use crate::level::Level;
use crate::strategy::{Priority, Strategy};

#[derive(Clone, Debug, Serialize)]
pub struct Alert {
    /// The triggering event's time.
    pub time: Timestamp,
    /// Stable for the same rule firing on the same record: re-running a hunt
    /// over the same files gives the same ids.
    pub id: String,
    /// Equal for repeats of the same finding (same rule, host, container and
    /// matched values), so downstream systems and suppression can fold them.
    pub dedup_key: String,
    /// The rule, its strategy and its ATT&CK tags are the same for every
    /// alert of the rule: shared, not copied.
    pub rule: Arc<RuleInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Arc<StrategyInfo>>,
    pub attack: Arc<Attack>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Arc<ContainerContext>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    /// Field name → the event value that satisfied the rule.
    pub matched: Map<String, Value>,
    pub logsource: LogSource,
    pub source: Origin,
    /// The record as read: JSON when it was JSON, else the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<RawEvent>,
}

impl Alert {
    /// Build the alert for `rule` firing on `event`. The raw record is only
    /// materialized here, so events that match nothing never pay for it.
    pub fn new(
        rule: Arc<RuleInfo>,
        attack: Arc<Attack>,
        strategy: Option<Arc<StrategyInfo>>,
        event: &Event,
        matched: Map<String, Value>,
    ) -> Alert {
        let origin = &event.origin;
        let line = origin.line.unwrap_or(0).to_le_bytes();
        let offset = origin.offset.unwrap_or(0).to_le_bytes();
        let index = origin.index.unwrap_or(0).to_le_bytes();
        let time = event.time.nanos().to_le_bytes();
        let id = stable_hash([
            rule.id.as_bytes(),
            origin.source.as_bytes(),
            &line,
            &offset,
            &index,
            &time,
        ]);
        let host = event.host.as_deref().unwrap_or_default();
        let container_id = event
            .container
            .as_ref()
            .and_then(|c| c.id.as_deref())
            .unwrap_or_default();
        // The lifecycle verb is not part of the finding: a privileged
        // container seen on create, start and inspect is one finding.
        // The same text as serde_json's (keys hash the same across
        // versions), written by the cheaper writer.
        let matched_text = json_writer::to_vec(&Finding(&matched)).unwrap_or_default();
        let dedup_key = stable_hash([
            rule.id.as_bytes(),
            host.as_bytes(),
            container_id.as_bytes(),
            &matched_text,
        ]);
        Alert {
            time: event.time,
            id,
            dedup_key,
            rule,
            strategy,
            attack,
            host: event.host.clone(),
            container: event.container.clone(),
            process: Process::of(event),
            matched,
            logsource: event.logsource.clone(),
            source: event.origin.clone(),
            event: RawEvent::of(event),
        }
    }
}

/// Matched fields that say which lifecycle step an engine event was, not
/// what was found; left out of the dedup key.
const LIFECYCLE_FIELDS: [&str; 3] = ["Action", "Type", "verb"];

/// The matched fields less the lifecycle ones, written as a JSON object
/// without copying them into a map of their own.
struct Finding<'a>(&'a Map<String, Value>);

impl Serialize for Finding<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            self.0
                .iter()
                .filter(|(k, _)| !LIFECYCLE_FIELDS.contains(&k.as_str())),
        )
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub level: Level,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StrategyInfo {
    pub id: String,
    pub title: String,
    pub priority: Priority,
}

impl From<&Strategy> for StrategyInfo {
    fn from(s: &Strategy) -> StrategyInfo {
        StrategyInfo {
            id: s.id.clone(),
            title: s.title.clone(),
            priority: s.priority,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Attack {
    /// Upper-case technique ids: `T1611`, `T1110.002`.
    pub techniques: Vec<String>,
    /// Tactic names as tagged: `privilege-escalation`.
    pub tactics: Vec<String>,
}

impl Attack {
    /// Read ATT&CK tags (`attack.t1611`, `attack.privilege-escalation`,
    /// `attack.privilege_escalation`); group ids (`attack.g0139`) and
    /// software ids (`attack.s0032`) are not techniques and are left out.
    pub fn from_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Attack {
        let mut attack = Attack::default();
        for tag in tags {
            let Some(rest) = tag.strip_prefix("attack.") else {
                continue;
            };
            let bytes = rest.as_bytes();
            let is_id = |prefix: u8| {
                bytes.len() >= 5
                    && bytes[0].eq_ignore_ascii_case(&prefix)
                    && bytes[1..5].iter().all(u8::is_ascii_digit)
            };
            if is_id(b't') {
                let id = rest.to_ascii_uppercase();
                if !attack.techniques.contains(&id) {
                    attack.techniques.push(id);
                }
            } else if is_id(b'g') || is_id(b's') {
                continue;
            } else {
                let tactic = rest.replace('_', "-");
                if !attack.tactics.contains(&tactic) {
                    attack.tactics.push(tactic);
                }
            }
        }
        attack
    }
}

/// The process an alert is about, when the event names one.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Process {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_directory: Option<String>,
}

impl Process {
    /// The process fields of a Sigma-taxonomy event, if it has any.
    pub fn of(event: &Event) -> Option<Process> {
        // One pass over the event's fields, not a lookup a name.
        let [image, command_line, pid, ppid, user, parent_image, current_directory] = event
            .get_refs([
                "Image",
                "CommandLine",
                "ProcessId",
                "ParentProcessId",
                "User",
                "ParentImage",
                "CurrentDirectory",
            ])
            .map(|v| v.and_then(ValueRef::to_text).map(Cow::into_owned));
        let process = Process {
            image,
            command_line,
            pid,
            ppid,
            user,
            parent_image,
            current_directory,
        };
        (process != Process::default()).then_some(process)
    }
}

/// The raw record: embedded as JSON when it parses, else as a string.
#[derive(Clone, Debug)]
pub enum RawEvent {
    Json(Box<RawValue>),
    Text(String),
}

impl RawEvent {
    /// The event's record as read. JSON spread over several lines (a
    /// pretty-printed document) is written on one, so that every output
    /// format can embed it as it stands, a JSON-lines alert included.
    pub fn of(event: &Event) -> Option<RawEvent> {
        let raw = event.raw.as_deref()?;
        let trimmed = raw.trim();
        // A JSON string cannot hold a raw line break: any is layout. A byte
        // search: `str::contains` with a set of chars walks the text a
        // char at a time, which cost about as much as the validation below.
        let json = if memchr::memchr2(b'\n', b'\r', trimmed.as_bytes()).is_some() {
            serde_json::from_str::<serde_json::Value>(trimmed)
                .and_then(|v| serde_json::to_string(&v))
                .and_then(RawValue::from_string)
        } else {
            RawValue::from_string(trimmed.to_string())
        };
        Some(match json {
            Ok(json) => RawEvent::Json(json),
            Err(_) => RawEvent::Text(raw.to_string()),
        })
    }
}

impl Serialize for RawEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RawEvent::Json(v) => v.serialize(s),
            RawEvent::Text(t) => s.serialize_str(t),
        }
    }
}

/// 64-bit FNV-1a over `parts` with a separator, as 16 hex digits. Stable
/// across runs, platforms and compiler versions (unlike `DefaultHasher`),
/// which is what alert ids and dedup keys need; collision resistance against
/// an adversary is not a goal here.
pub(crate) fn stable_hash<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0x1f)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    // Two per alert: written by hand, not through `format!`.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..16)
        .rev()
        .map(|i| char::from(HEX[(h >> (i * 4)) as usize & 0xf]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert_on(matched: serde_json::Value) -> Alert {
        let mut event = Event::new(
            LogSource::new(Some("docker"), None, None),
            Timestamp(1_700_000_000_000_000_000),
            Map::new(),
        );
        event.host = Some("node-1".into());
        let rule = Arc::new(RuleInfo {
            id: "r1".into(),
            title: "t".into(),
            level: Level::High,
            status: None,
            description: None,
        });
        let matched = matched.as_object().cloned().unwrap_or_default();
        Alert::new(rule, Arc::default(), None, &event, matched)
    }

    #[test]
    fn dedup_key_leaves_out_lifecycle_fields_and_keeps_its_form() {
        let create = alert_on(serde_json::json!({"Action": "create", "Privileged": true}));
        let start = alert_on(serde_json::json!({"Action": "start", "Privileged": true}));
        let other = alert_on(serde_json::json!({"Action": "start", "Privileged": false}));
        assert_eq!(create.dedup_key, start.dedup_key);
        assert_ne!(start.dedup_key, other.dedup_key);
        // Keys fold repeats across runs and versions: the finding is
        // hashed as compact JSON after the rule, host and container ids.
        let want = stable_hash([b"r1".as_slice(), b"node-1", b"", br#"{"Privileged":true}"#]);
        assert_eq!(create.dedup_key, want);
    }

    /// An alert with every part filled, `text` in its strings and matched
    /// values, `raw` as its record.
    fn full_alert(text: &str, raw: Option<&str>) -> Alert {
        let fields = serde_json::json!({
            "Image": format!("/usr/bin/{text}"),
            "CommandLine": format!("sh -c \"{text}\""),
            "ProcessId": 42,
            "ParentProcessId": "1",
            "User": text,
            "CurrentDirectory": "/tmp",
        });
        let mut event = Event::new(
            LogSource::new(Some("linux"), Some("process_creation"), Some(text)),
            Timestamp(1_700_000_000_123_456_789),
            fields.as_object().cloned().unwrap_or_default(),
        );
        event.host = Some(format!("host {text}").into());
        event.set_container(ContainerContext {
            id: Some("3b1f0c2d9e8a".into()),
            name: Some(text.into()),
            image: Some("127.0.0.1:5001/tools/hashcat:6".into()),
            privileged: Some(true),
            cap_add: vec!["SYS_ADMIN".into(), text.into()],
            labels: [("k".to_string(), text.to_string())].into(),
            mounts: vec![contraband_event::Mount {
                source: Some("/".into()),
                ..Default::default()
            }],
            ..Default::default()
        });
        event.origin = Origin {
            source: "audit.log".into(),
            line: Some(17),
            offset: Some(4096),
            ..Origin::default()
        };
        event.raw = raw.map(Into::into);
        let matched = serde_json::json!({
            "CommandLine": text,
            "Action": "start",
            "Count": -3,
            "Ratio": 0.1,
            "Big": u64::MAX,
            "List": [text, null, true, {"nested": text}],
        });
        let rule = Arc::new(RuleInfo {
            id: "5d2c".into(),
            title: format!("Title {text}"),
            level: Level::Critical,
            status: Some("test".into()),
            description: Some(text.into()),
        });
        let strategy = Arc::new(StrategyInfo {
            id: "s1".into(),
            title: text.into(),
            priority: Priority::High,
        });
        let attack = Arc::new(Attack::from_tags([
            "attack.t1611",
            "attack.privilege_escalation",
        ]));
        let matched = matched.as_object().cloned().unwrap_or_default();
        Alert::new(rule, attack, Some(strategy), &event, matched)
    }

    fn assert_written_as_serde_json_writes_it(alert: &Alert) {
        let ours = json_writer::to_vec(alert).unwrap();
        let theirs = serde_json::to_vec(alert).unwrap();
        assert_eq!(String::from_utf8(ours), String::from_utf8(theirs));
    }

    #[test]
    fn alerts_are_written_as_serde_json_writes_them() {
        let records = [
            None,
            Some(r#"{"a": 1.50, "s": "\u00e9\/", "n": 1e3}"#),
            Some("{\n  \"pretty\": [1, \"x\\ny\"]\n}\n"),
            Some("  {\"padded\":true}  "),
            Some("not json \"quoted\"\t\u{1b}[0m"),
            Some(""),
        ];
        for raw in records {
            for text in [
                "",
                "plain",
                "q\"b\\s/",
                "ctl\u{0}\u{1f}\n\r\t\u{8}\u{c}",
                "ünï→😀",
            ] {
                assert_written_as_serde_json_writes_it(&full_alert(text, raw));
            }
        }
        assert_written_as_serde_json_writes_it(&alert_on(serde_json::json!({})));
    }

    /// Text of any characters, or of ASCII with its control bytes, quotes and
    /// backslashes often enough that every escape comes up.
    fn mostly_ascii() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![proptest::prelude::any::<String>(), "[\\x00-\\x7f]{0,48}",]
    }

    proptest::proptest! {
        #[test]
        fn any_alert_is_written_as_serde_json_writes_it(
            text in mostly_ascii(),
            raw in proptest::option::of(mostly_ascii()),
            raw_is_json in proptest::prelude::any::<bool>(),
        ) {
            // A record that is JSON (embedded raw), or most likely not (a string).
            let raw = raw.map(|r| match raw_is_json {
                true => serde_json::json!({"r": r, "n": [1.5, -2]}).to_string(),
                false => r,
            });
            let alert = full_alert(&text, raw.as_deref());
            let ours = json_writer::to_vec(&alert).unwrap();
            let theirs = serde_json::to_vec(&alert).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(ours), String::from_utf8(theirs));
        }
    }

    /// The dedup key hashes the matched values as serde_json writes them:
    /// keys stay the same across a change of writer.
    #[test]
    fn dedup_key_hashes_the_findings_serde_json_text() {
        let text = "q\"b\\s ctl\u{1}\n ünï";
        let alert = full_alert(text, None);
        let finding = serde_json::to_string(&Finding(&alert.matched)).unwrap();
        let container = alert.container.as_ref().and_then(|c| c.id.as_deref());
        let want = stable_hash([
            alert.rule.id.as_bytes(),
            alert.host.as_deref().unwrap_or_default().as_bytes(),
            container.unwrap_or_default().as_bytes(),
            finding.as_bytes(),
        ]);
        assert_eq!(alert.dedup_key, want);
    }

    #[test]
    fn attack_tags() {
        let a = Attack::from_tags([
            "attack.t1611",
            "attack.privilege_escalation",
            "attack.t1110.002",
            "attack.g0139",
            "attack.s0032",
            "cve.2019-5736",
            "attack.defense-evasion",
        ]);
        assert_eq!(a.techniques, vec!["T1611", "T1110.002"]);
        assert_eq!(a.tactics, vec!["privilege-escalation", "defense-evasion"]);
    }

    #[test]
    fn stable_hash_is_stable_and_separates_parts() {
        assert_eq!(
            stable_hash([b"a".as_slice(), b"b"]),
            stable_hash([b"a".as_slice(), b"b"])
        );
        assert_ne!(
            stable_hash([b"ab".as_slice(), b""]),
            stable_hash([b"a".as_slice(), b"b"])
        );
        assert_eq!(stable_hash([b"".as_slice()]).len(), 16);
        // Ids and dedup keys stay what earlier versions wrote: 64-bit
        // FNV-1a, 16 lower-case hex digits, leading zeros kept.
        assert_eq!(stable_hash([b"a".as_slice(), b"b"]), "e8bcb18230513c4a");
        assert_eq!(stable_hash([b"".as_slice()]), "af63d24c8601db8e");
        assert_eq!(stable_hash([b"1390".as_slice()]), "00f5b08e94568791");
    }
}
