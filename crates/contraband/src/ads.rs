//! `contraband ads`: list strategies and render their reports, with each
//! rule's logic and the current result of its tests.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use contraband_engine::report::{
    readable_detection, render_html, render_markdown, RuleSummary, TestSummary,
};
use contraband_engine::{Engine, Strategy};
use serde::Deserialize;

use crate::cli::{AdsCommand, ReportFormat};
use contraband_engine::load::{load_engine, run_tests, test_files, RuleSources, BUILTIN};

pub fn run(cmd: AdsCommand) -> Result<i32> {
    let (engine, _) = load_engine(&RuleSources::default())?;
    match cmd {
        AdsCommand::List => {
            for s in engine.strategies() {
                let techniques: Vec<&str> = s
                    .categorization
                    .techniques
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect();
                println!(
                    "{}\t{:?}\t{}\t{}",
                    s.id,
                    s.priority,
                    techniques.join(","),
                    s.title
                );
            }
            Ok(0)
        }
        AdsCommand::Render { id, format, output } => {
            let chosen: Vec<&Strategy> = match &id {
                Some(id) => match engine
                    .strategies()
                    .iter()
                    .find(|s| s.id.eq_ignore_ascii_case(id))
                {
                    Some(s) => vec![s],
                    None => bail!(
                        "no strategy {id:?}; `contraband ads list` shows: {}",
                        engine
                            .strategies()
                            .iter()
                            .map(|s| s.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
                None => engine.strategies().iter().collect(),
            };
            let tests = test_results(&engine)?;
            let ext = match format {
                ReportFormat::Md => "md",
                ReportFormat::Html => "html",
            };
            for s in &chosen {
                let rules = summaries(&engine, s, &tests);
                let text = match format {
                    ReportFormat::Md => render_markdown(s, &rules),
                    ReportFormat::Html => render_html(s, &rules),
                };
                match &output {
                    None => print!("{text}"),
                    Some(path) if chosen.len() == 1 && !path.is_dir() => write(path, &text)?,
                    Some(dir) => {
                        std::fs::create_dir_all(dir)
                            .with_context(|| format!("cannot create {}", dir.display()))?;
                        write(&dir.join(format!("{}.{ext}", s.id)), &text)?;
                    }
                }
            }
            Ok(0)
        }
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn test_results(engine: &Engine) -> Result<HashMap<String, TestSummary>> {
    let files = test_files(&RuleSources::default())?;
    let (outcomes, _) = run_tests(engine, &files);
    let mut by_rule: HashMap<String, TestSummary> = HashMap::new();
    for o in outcomes {
        let entry = by_rule.entry(o.rule.clone()).or_default();
        entry.total += o.total();
        entry.passed += o.passed;
        entry.failures.extend(
            o.failures
                .iter()
                .map(|f| format!("[{}] {}", f.case, f.reason)),
        );
    }
    Ok(by_rule)
}

/// The strategy's rules as the report shows them; a listed id with no
/// loaded rule is shown as missing rather than dropped.
fn summaries(
    engine: &Engine,
    s: &Strategy,
    tests: &HashMap<String, TestSummary>,
) -> Vec<RuleSummary> {
    s.rules
        .iter()
        .map(|id| match engine.rules().find(id) {
            Some(i) => {
                let rule = engine.rules().rule(i);
                let m = &rule.meta;
                RuleSummary {
                    id: id.clone(),
                    title: m.title.clone(),
                    level: m.level.clone().unwrap_or_else(|| "informational".into()),
                    status: m.status.clone().unwrap_or_default(),
                    description: m.description.clone().unwrap_or_default(),
                    logsource: rule.logsource.to_string(),
                    tags: m.tags.clone(),
                    falsepositives: m.falsepositives.clone(),
                    logic: rule_logic(&rule.origin.path, rule.origin.document),
                    tests: tests.get(id).cloned(),
                }
            }
            None => RuleSummary {
                id: id.clone(),
                title: "(rule not loaded)".into(),
                level: String::new(),
                status: String::new(),
                description: String::new(),
                logsource: String::new(),
                tags: Vec::new(),
                falsepositives: Vec::new(),
                logic: Vec::new(),
                tests: None,
            },
        })
        .collect()
}

/// The `detection` block of document `doc` of the rule file at `origin`.
fn rule_logic(origin: &str, doc: usize) -> Vec<String> {
    let text = match origin.strip_prefix(BUILTIN) {
        Some(path) => contraband_pack::files()
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, t)| t.to_string()),
        None => std::fs::read_to_string(origin).ok(),
    };
    let Some(text) = text else {
        return vec![format!("(cannot read {origin})")];
    };
    let Some(document) = yaml_serde::Deserializer::from_str(&text).nth(doc) else {
        return vec![format!("(no document {doc} in {origin})")];
    };
    match yaml_serde::Value::deserialize(document) {
        Ok(value) => value
            .get("detection")
            .map(readable_detection)
            .unwrap_or_else(|| vec!["(no detection block)".into()]),
        Err(e) => vec![format!("(unreadable rule: {e})")],
    }
}
