//! Rule tests: the `NAME.tests.yml` beside every pack rule.
//!
//! Each file names one rule and lists events that must fire it (`match`)
//! and near misses that must not (`nomatch`). Events are written in the
//! normalized form (logsource, container context, fields), so a test pins
//! the rule's logic independent of any one decoder.

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};

use contraband_event::{ContainerContext, Event, LogSource, Origin, Timestamp};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTestFile {
    pub rule: String,
    #[serde(default, rename = "match")]
    pub must_match: Vec<TestEvent>,
    #[serde(default, rename = "nomatch")]
    pub must_not_match: Vec<TestEvent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestEvent {
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub logsource: LogSource,
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub container: Option<ContainerContext>,
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// Fields the alert must report as matched, with these values.
    #[serde(default)]
    pub expect: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TestFileError {
    pub path: String,
    pub message: String,
}

impl RuleTestFile {
    pub fn parse(path: &str, text: &str) -> Result<RuleTestFile, TestFileError> {
        contraband_sigma::check_yaml_nesting(text).map_err(|message| TestFileError {
            path: path.to_string(),
            message,
        })?;
        let file: RuleTestFile = yaml_serde::from_str(text).map_err(|e| TestFileError {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        if file.must_match.is_empty() || file.must_not_match.is_empty() {
            return Err(TestFileError {
                path: path.to_string(),
                message: format!(
                    "rule {} needs at least one `match` and one `nomatch` event",
                    file.rule
                ),
            });
        }
        Ok(file)
    }
}

impl TestEvent {
    /// The event this test describes; `origin` names the test file and case.
    pub fn to_event(&self, origin: Origin) -> Result<Event, String> {
        let time = match &self.time {
            Some(t) => contraband_event::parse_time(t).map_err(|e| e.to_string())?,
            None => Timestamp::default(),
        };
        let mut event = Event::new(self.logsource.clone(), time, self.fields.clone());
        event.host = self.host.as_deref().map(std::sync::Arc::from);
        if let Some(c) = &self.container {
            event.set_container(c.clone());
        }
        event.raw = serde_json::to_string(&self.fields).ok().map(Into::into);
        event.origin = origin;
        Ok(event)
    }
}

/// One failed expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFailure {
    pub rule: String,
    pub case: String,
    pub reason: String,
}

impl fmt::Display for TestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {}", self.rule, self.case, self.reason)
    }
}

/// The result of running one test file.
#[derive(Debug, Default)]
pub struct TestOutcome {
    pub rule: String,
    pub passed: usize,
    pub failures: Vec<TestFailure>,
}

impl TestOutcome {
    pub fn total(&self) -> usize {
        self.passed + self.failures.len()
    }
}

/// Each rule id that fired on an event, with the fields it reported as matched.
pub type Fired = Vec<(String, Map<String, Value>)>;

/// Run one test file. `fire` returns, for an event, what fired on it.
pub fn run_test_file(
    path: &str,
    file: &RuleTestFile,
    fire: &mut dyn FnMut(&Event) -> Fired,
) -> TestOutcome {
    let mut outcome = TestOutcome {
        rule: file.rule.clone(),
        ..TestOutcome::default()
    };
    let cases = file
        .must_match
        .iter()
        .map(|c| (true, c))
        .chain(file.must_not_match.iter().map(|c| (false, c)));
    let (mut m, mut n) = (0, 0);
    for (should_fire, case) in cases {
        let label = if should_fire {
            m += 1;
            format!("match #{m}")
        } else {
            n += 1;
            format!("nomatch #{n}")
        };
        let label = if case.note.is_empty() {
            label
        } else {
            format!("{label}: {}", case.note)
        };
        let origin = Origin {
            source: path.into(),
            ..Origin::default()
        };
        let fail = |reason: String| TestFailure {
            rule: file.rule.clone(),
            case: label.clone(),
            reason,
        };
        let event = match case.to_event(origin) {
            Ok(e) => e,
            Err(e) => {
                outcome.failures.push(fail(format!("bad test event: {e}")));
                continue;
            }
        };
        let fired = fire(&event);
        let hit = fired.iter().find(|(id, _)| *id == file.rule);
        match (should_fire, hit) {
            (true, None) => outcome.failures.push(fail("rule did not fire".into())),
            (false, Some((_, matched))) => outcome.failures.push(fail(format!(
                "rule fired on a near miss (matched {})",
                Value::Object(matched.clone())
            ))),
            (true, Some((_, matched))) => match missing_expectations(&case.expect, matched) {
                None => outcome.passed += 1,
                Some(reason) => outcome.failures.push(fail(reason)),
            },
            (false, None) => outcome.passed += 1,
        }
    }
    outcome
}

/// Compare expected matched fields with what the rule reported. Strings are
/// compared case-insensitively, as Sigma matches them.
fn missing_expectations(
    expect: &Map<String, Value>,
    matched: &Map<String, Value>,
) -> Option<String> {
    let mut problems = Vec::new();
    for (field, want) in expect {
        match matched.get(field) {
            None => problems.push(format!("{field} not reported as matched")),
            Some(got) if !same_value(got, want) => {
                problems.push(format!("{field} matched {got}, expected {want}"))
            }
            Some(_) => {}
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn same_value(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Value::String(a), b) | (b, Value::String(a)) if !b.is_object() && !b.is_array() => {
            a.eq_ignore_ascii_case(&b.to_string())
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
rule: r1
match:
  - note: fires
    logsource: {product: linux, category: process_creation}
    container: {id: abc, privileged: true}
    fields: {Image: /usr/bin/hashcat}
    expect: {Image: /USR/BIN/HASHCAT}
nomatch:
  - fields: {Image: /usr/bin/ls}
"#;

    fn detector(event: &Event) -> Fired {
        match event.get_str("Image").as_deref() {
            Some(img) if img.ends_with("hashcat") => {
                let mut m = Map::new();
                m.insert("Image".into(), img.into());
                vec![("r1".into(), m)]
            }
            _ => vec![],
        }
    }

    #[test]
    fn passes_when_detector_behaves() {
        let file = RuleTestFile::parse("t.yml", FILE).unwrap();
        let outcome = run_test_file("t.yml", &file, &mut detector);
        assert_eq!(outcome.passed, 2, "{:?}", outcome.failures);
        assert!(outcome.failures.is_empty());
    }

    #[test]
    fn reports_each_kind_of_failure() {
        let file = RuleTestFile::parse("t.yml", FILE).unwrap();
        let outcome = run_test_file("t.yml", &file, &mut |_| vec![("r1".into(), Map::new())]);
        assert_eq!(outcome.passed, 0);
        let reasons: Vec<_> = outcome.failures.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(reasons[0], "Image not reported as matched");
        assert!(reasons[1].starts_with("rule fired on a near miss"));
    }

    #[test]
    fn a_file_without_near_misses_is_rejected() {
        let err =
            RuleTestFile::parse("t.yml", "rule: r\nmatch:\n  - fields: {a: 1}\n").unwrap_err();
        assert!(err.message.contains("nomatch"), "{err}");
    }
}
