//! Loading rules and strategies: the built-in pack, rule directories and
//! placeholder values, and the pack's rule tests.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use contraband_sigma::{LoadFailure, LoadOptions, Loader};

use crate::rule_tests::{run_test_file, RuleTestFile, TestFailure, TestOutcome};
use crate::{builtin_strategies, Engine};

/// Where rules come from.
#[derive(Clone, Debug, Default)]
pub struct RuleSources {
    /// Rule files or directories, walked recursively.
    pub paths: Vec<PathBuf>,
    /// Skip the built-in pack.
    pub no_builtin: bool,
    /// A YAML map of placeholder name to values, over the pack's.
    pub placeholders: Option<PathBuf>,
}

/// Prefix of built-in pack paths in rule origins and messages.
pub const BUILTIN: &str = "builtin:";

/// What loading rules produced besides the engine: the run summary's
/// "rules loaded/skipped and why".
pub struct RuleLoad {
    pub loaded: usize,
    pub correlations: usize,
    pub failures: Vec<LoadFailure>,
    /// Wall time from the first file read to the engine built.
    pub elapsed: Duration,
}

impl RuleLoad {
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} rules loaded ({} correlations) in {} ms",
            self.loaded,
            self.correlations,
            self.elapsed.as_millis()
        );
        if !self.failures.is_empty() {
            let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
            for f in &self.failures {
                *kinds.entry(f.error.kind()).or_default() += 1;
            }
            let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            s.push_str(&format!(
                ", {} skipped ({}; `contraband rules lint` lists them)",
                self.failures.len(),
                kinds.join(", ")
            ));
        }
        s
    }
}

/// Placeholder values: the pack's `placeholders.yml`, then the user's file
/// entry by entry on top.
fn placeholders(args: &RuleSources) -> Result<HashMap<String, Vec<String>>> {
    let mut values: HashMap<String, Vec<String>> = HashMap::new();
    if let Some((path, text)) = contraband_pack::files()
        .iter()
        .find(|(p, _)| *p == "placeholders.yml")
    {
        values = yaml_serde::from_str(text).with_context(|| format!("{BUILTIN}{path}"))?;
    }
    if let Some(path) = &args.placeholders {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read placeholders {}", path.display()))?;
        let user: HashMap<String, Vec<String>> = yaml_serde::from_str(&text)
            .with_context(|| format!("{}: expected a map of name: [values]", path.display()))?;
        values.extend(user);
    }
    Ok(values)
}

/// Every rule file under `path` (a file or a directory), excluding rule tests.
fn rule_files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read rules {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot walk {}", path.display()))?;
        let p = entry.path();
        let name = p.to_string_lossy();
        if entry.file_type().is_file()
            && (name.ends_with(".yml") || name.ends_with(".yaml"))
            && !contraband_pack::is_test_file(&name)
        {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// Read and compile rule files on every core. The files are cut into short
/// runs that threads take in turn, each into a loader of its own; joining
/// the runs' loaders in order gives the result of adding the files in
/// order. (Half the files to each of two threads left one idle for the
/// last ~14% of the other's work: SigmaHQ's Windows rules cost more.)
fn add_files(loader: &mut Loader, files: &[PathBuf]) -> Result<()> {
    /// Files per run: small enough to balance, large enough that a run's
    /// loader is not an overhead.
    const RUN_FILES: usize = 64;
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len() / RUN_FILES)
        .max(1);
    let add_run = |part: &mut Loader, run: &[PathBuf]| -> Result<()> {
        for file in run {
            let text = std::fs::read(file)
                .with_context(|| format!("cannot read rule {}", file.display()))?;
            // A rule file that is not UTF-8 is reported by the loader like
            // any bad rule. (Checked first as it is: `from_utf8_lossy` walks
            // valid text several times slower.)
            let text = match std::str::from_utf8(&text) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(&text),
            };
            part.add_source(&file.to_string_lossy(), &text);
        }
        Ok(())
    };
    if threads == 1 {
        return add_run(loader, files);
    }
    let runs: Vec<&[PathBuf]> = files.chunks(RUN_FILES).collect();
    let next_run = AtomicUsize::new(0);
    let take_runs = || -> Vec<(usize, Result<Loader>)> {
        let mut done = Vec::new();
        loop {
            let at = next_run.fetch_add(1, Ordering::Relaxed);
            let Some(run) = runs.get(at) else {
                return done;
            };
            let mut part = loader.fork();
            done.push((at, add_run(&mut part, run).map(|()| part)));
        }
    };
    let mut parts: Vec<(usize, Result<Loader>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(take_runs)).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    parts.sort_unstable_by_key(|(at, _)| *at);
    for (_, part) in parts {
        loader.join(part?);
    }
    Ok(())
}

/// Load the rules and strategies `args` select and build the engine.
pub fn load_engine(args: &RuleSources) -> Result<(Engine, RuleLoad)> {
    let started = Instant::now();
    let mut loader = Loader::new(LoadOptions {
        placeholders: placeholders(args)?,
        ..LoadOptions::default()
    });
    let mut strategies = Vec::new();
    if !args.no_builtin {
        for (path, text) in contraband_pack::files_under("rules/") {
            if !contraband_pack::is_test_file(path) {
                loader.add_source(&format!("{BUILTIN}{path}"), text);
            }
        }
        let (ok, errors) = builtin_strategies();
        if let Some(e) = errors.first() {
            bail!("built-in strategy is invalid: {e}");
        }
        strategies = ok;
    }
    let mut files = Vec::new();
    for dir in &args.paths {
        files.extend(rule_files(dir)?);
    }
    add_files(&mut loader, &files)?;
    let report = loader.finish();
    let load = RuleLoad {
        loaded: report.loaded(),
        correlations: report.ruleset.correlations().len(),
        failures: report.failures,
        elapsed: Duration::ZERO,
    };
    if load.loaded == 0 && load.failures.is_empty() {
        bail!("no rules to run: give --rules DIR or drop --no-builtin");
    }
    let engine = Engine::new(report.ruleset, strategies);
    // what the user waits for: walking, reading, parsing, compiling
    let load = RuleLoad {
        elapsed: started.elapsed(),
        ..load
    };
    Ok((engine, load))
}

/// The rule tests to run: the pack's (unless `--no-builtin`) and any
/// `*.tests.yml` under the `--rules` paths.
pub fn test_files(args: &RuleSources) -> Result<Vec<(String, String)>> {
    let mut files: Vec<(String, String)> = Vec::new();
    if !args.no_builtin {
        for (path, text) in contraband_pack::files_under("rules/") {
            if contraband_pack::is_test_file(path) {
                files.push((format!("{BUILTIN}{path}"), text.to_string()));
            }
        }
    }
    for dir in &args.paths {
        if !dir.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let entry = entry?;
            let name = entry.path().to_string_lossy().into_owned();
            if entry.file_type().is_file() && contraband_pack::is_test_file(&name) {
                let text = std::fs::read_to_string(entry.path())
                    .with_context(|| format!("cannot read {name}"))?;
                files.push((name, text));
            }
        }
    }
    Ok(files)
}

/// Run every rule test; the outcomes, keyed by rule id, and the files that
/// could not be read as tests.
pub fn run_tests(engine: &Engine, files: &[(String, String)]) -> (Vec<TestOutcome>, Vec<String>) {
    let mut outcomes = Vec::new();
    let mut broken = Vec::new();
    for (path, text) in files {
        match RuleTestFile::parse(path, text) {
            Ok(file) => {
                let mut outcome = run_test_file(path, &file, &mut |e| engine.fired(e));
                if engine.rules().find(&file.rule).is_none() {
                    outcome.failures.insert(
                        0,
                        TestFailure {
                            rule: file.rule.clone(),
                            case: path.clone(),
                            reason: "no loaded rule has this id".into(),
                        },
                    );
                }
                outcomes.push(outcome);
            }
            Err(e) => broken.push(e.to_string()),
        }
    }
    (outcomes, broken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_load_in_file_order_whichever_thread_read_them() {
        // More files than one run, with a last run that is not full, a
        // broken rule and a repeated id: threads take runs in any order,
        // and the result must be that of adding the files one by one.
        let scratch = tempfile::tempdir().expect("a scratch directory");
        let dir = scratch.path();
        let files = 5 * 64 + 17;
        for i in 0..files {
            let id = if i == 300 { 10 } else { i };
            let detection = if i == 150 {
                "detection: {condition: missing}".to_string()
            } else {
                format!("detection: {{s: {{x: {i}}}, condition: s}}")
            };
            let rule = format!(
                "title: r{i:03}\nid: 00000000-0000-4000-8000-{id:012}\n\
                 logsource: {{product: test}}\n{detection}\n"
            );
            std::fs::write(dir.join(format!("r{i:03}.yml")), rule).expect("a rule file");
        }
        let (engine, load) = load_engine(&RuleSources {
            paths: vec![dir.to_path_buf()],
            no_builtin: true,
            placeholders: None,
        })
        .expect("the rules load");

        let titles: Vec<String> = engine
            .rules()
            .rules()
            .iter()
            .map(|r| r.meta.title.clone())
            .collect();
        let want: Vec<String> = (0..files)
            .filter(|&i| i != 150 && i != 300)
            .map(|i| format!("r{i:03}"))
            .collect();
        assert_eq!(titles, want);
        let failed: Vec<&str> = load
            .failures
            .iter()
            .map(|f| f.path.rsplit('/').next().unwrap_or_default())
            .collect();
        assert_eq!(failed, ["r150.yml", "r300.yml"], "{:?}", load.failures);
    }
}
