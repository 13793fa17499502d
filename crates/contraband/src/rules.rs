//! Loading rules (built-in pack + directories) and the `rules` commands.

use anyhow::Result;
use contraband_engine::load::{load_engine, run_tests, test_files, RuleSources, BUILTIN};

use crate::cli::{RuleSourceArgs, RulesCommand};

impl RuleSourceArgs {
    pub fn sources(&self) -> RuleSources {
        RuleSources {
            paths: self.rules.clone(),
            no_builtin: self.no_builtin,
            placeholders: self.placeholders.clone(),
        }
    }
}

pub fn run(cmd: RulesCommand) -> Result<i32> {
    match cmd {
        RulesCommand::Lint { rules, verbose } => lint(&rules, verbose),
        RulesCommand::Test { rules } => test(&rules),
        RulesCommand::List { rules } => list(&rules),
    }
}

fn lint(args: &RuleSourceArgs, verbose: bool) -> Result<i32> {
    let (engine, load) = load_engine(&args.sources())?;
    for f in &load.failures {
        if verbose {
            println!("{f}");
        } else {
            println!("{}: [{}] {}", f.path, f.error.kind(), f.error);
        }
    }
    let total = load.loaded + load.failures.len();
    let pct = if total == 0 {
        100.0
    } else {
        100.0 * load.loaded as f64 / total as f64
    };
    eprintln!(
        "contraband: {} of {} rules load ({pct:.2}%), {} correlations; {}",
        load.loaded,
        total,
        engine.rules().correlations().len(),
        load.describe()
    );
    Ok(if load.failures.is_empty() { 0 } else { 1 })
}

fn test(args: &RuleSourceArgs) -> Result<i32> {
    let (engine, load) = load_engine(&args.sources())?;
    for f in &load.failures {
        println!("LOAD FAILED {f}");
    }
    let files = test_files(&args.sources())?;
    let (outcomes, broken) = run_tests(&engine, &files);
    let mut failed = load.failures.len() + broken.len();
    for b in &broken {
        println!("BROKEN TEST FILE {b}");
    }
    let mut cases = 0;
    for o in &outcomes {
        cases += o.total();
        for f in &o.failures {
            println!("FAIL {f}");
        }
        failed += o.failures.len();
    }
    // Every pack rule must ship tests.
    let tested: std::collections::HashSet<&str> =
        outcomes.iter().map(|o| o.rule.as_str()).collect();
    let mut untested = 0;
    if !args.no_builtin {
        for rule in engine.rules().rules() {
            if rule.origin.path.starts_with(BUILTIN) {
                let id = rule.meta.id.as_deref().unwrap_or_default();
                if !tested.contains(id) {
                    println!("UNTESTED {} ({})", id, rule.meta.title);
                    untested += 1;
                }
            }
        }
    }
    println!(
        "{} test files, {} cases, {} failures, {} untested pack rules",
        outcomes.len(),
        cases,
        failed,
        untested
    );
    Ok(if failed + untested == 0 { 0 } else { 1 })
}

fn list(args: &RuleSourceArgs) -> Result<i32> {
    let (engine, _) = load_engine(&args.sources())?;
    for rule in engine.rules().rules() {
        println!(
            "{}\t{}\t{}\t{}",
            rule.meta.id.as_deref().unwrap_or("-"),
            rule.meta.level.as_deref().unwrap_or("-"),
            rule.logsource,
            rule.meta.title
        );
    }
    Ok(0)
}
