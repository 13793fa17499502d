//! Loading rules and strategies: the built-in pack, rule directories and
//! placeholder values, and the pack's rule tests.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
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

/// Read and compile rule files, each thread a contiguous run of them (the
/// loader's result is then that of adding them in order).
fn add_files(loader: &mut Loader, files: &[PathBuf]) -> Result<()> {
    /// Fewer files than this per thread are not worth a thread.
    const MIN_FILES_PER_THREAD: usize = 64;
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len() / MIN_FILES_PER_THREAD)
        .max(1);
    let add_run = |part: &mut Loader, run: &[PathBuf]| -> Result<()> {
        for file in run {
            let text = std::fs::read(file)
                .with_context(|| format!("cannot read rule {}", file.display()))?;
            // A rule file that is not UTF-8 is reported by the loader like any bad rule.
            part.add_source(&file.to_string_lossy(), &String::from_utf8_lossy(&text));
        }
        Ok(())
    };
    if threads == 1 {
        return add_run(loader, files);
    }
    let parts: Vec<Result<Loader>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(files.len().div_ceil(threads))
            .map(|run| {
                let mut part = loader.fork();
                scope.spawn(move || add_run(&mut part, run).map(|()| part))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for part in parts {
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
