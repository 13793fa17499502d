//! The `condition`, `rule_tests` and `strategy` targets: the small
//! languages and the pack's YAML documents.

use contraband_engine::rule_tests::{run_test_file, RuleTestFile};
use contraband_engine::Strategy;
use contraband_event::Origin;
use contraband_sigma::{parse_condition, Cond, ConditionError, LoadOptions, Loader};

/// Parse `data` (lossy UTF-8) as a Sigma condition under several depth
/// limits; match quantifier patterns against identifiers.
///
/// Invariants, for any input:
/// - nothing panics or overflows the stack;
/// - a parsed condition nests no deeper than the limit allows;
/// - its (fully parenthesised) rendering parses back to the same condition;
/// - error offsets point inside the text;
/// - `1 of pattern` picks a search exactly when a plain dynamic-programming
///   wildcard matcher says the pattern matches its name (and takes about as
///   long: polynomial, not exponential, in the pattern's stars).
pub fn condition(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    for max_depth in [1, 8, 64, 256] {
        match parse_condition(&text, max_depth) {
            Ok(c) => {
                let depth = cond_depth(&c);
                if depth > 2 * max_depth + 1 {
                    return Err(format!(
                        "condition nests {depth} deep under limit {max_depth}: {c}"
                    ));
                }
                let shown = c.to_string();
                match parse_condition(&shown, 4 * depth + 8) {
                    Ok(back) if back == c => {}
                    other => {
                        return Err(format!(
                        "{text:?} parsed to {c:?}, rendered {shown:?}, which parses to {other:?}"
                    ))
                    }
                }
            }
            Err(ConditionError::BadChar { at, .. } | ConditionError::Unexpected { at, .. })
                if at >= text.len() =>
            {
                return Err(format!("error offset {at} past the end of {text:?}"));
            }
            Err(_) => {}
        }
    }
    // Quantifier patterns: the text split in two, as a `1 of` pattern and a
    // search identifier (kept to identifier characters).
    let (pattern, name) = text.split_at(floor_char_boundary(&text, text.len() / 2));
    let keep = |s: &str, wild: bool| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || (wild && matches!(c, '*' | '?')))
            .take(256)
            .collect()
    };
    // Both start with `s`, so neither is a keyword nor another detection key.
    let (pattern, name) = (
        format!("s{}", keep(pattern, true)),
        format!("s{}", keep(name, false)),
    );
    quantifier(&pattern, &name)?;
    Ok(())
}

/// A rule whose only search is `name` and whose condition is
/// `1 of pattern` loads exactly when the pattern matches the name.
fn quantifier(pattern: &str, name: &str) -> Result<(), String> {
    let yaml = format!(
        "title: q\nlogsource: {{product: fuzz}}\ndetection:\n  \"{name}\": {{x: 1}}\n  condition: 1 of {pattern}\n"
    );
    let mut loader = Loader::new(LoadOptions::default());
    loader.add_source("fuzz-quantifier.yml", &yaml);
    let report = loader.finish();
    let want = wildcard_reference(pattern.as_bytes(), name.as_bytes());
    if (report.loaded() == 1) != want {
        return Err(format!(
            "`1 of {pattern}` over search `{name}`: loaded {}, expected {want} ({:?})",
            report.loaded(),
            report.failures.first().map(ToString::to_string)
        ));
    }
    Ok(())
}

fn cond_depth(c: &Cond) -> usize {
    match c {
        Cond::Ident(_) | Cond::Quant { .. } => 0,
        Cond::Not(inner) => 1 + cond_depth(inner),
        Cond::And(xs) | Cond::Or(xs) => 1 + xs.iter().map(cond_depth).max().unwrap_or(0),
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `*` (any run) and `?` (one byte) matching by dynamic programming:
/// O(pattern × name), the reference `ident_matches` must agree with.
fn wildcard_reference(p: &[u8], s: &[u8]) -> bool {
    // row[j]: does the pattern prefix seen so far match s[..j]?
    let mut row = vec![false; s.len() + 1];
    row[0] = true;
    for &c in p {
        let mut next = vec![false; s.len() + 1];
        if c == b'*' {
            let mut any = false;
            for j in 0..=s.len() {
                any |= row[j];
                next[j] = any;
            }
        } else {
            for j in 1..=s.len() {
                next[j] = row[j - 1] && (c == b'?' || s[j - 1] == c);
            }
        }
        row = next;
    }
    row[s.len()]
}

const TEST_FILE: &str = "fuzz.tests.yml";

/// Parse `data` (lossy UTF-8) as a rule-test file; run what parses against
/// the built-in pack.
///
/// Invariants: nothing panics; an error names the file and says something;
/// a parsed file has `match` and `nomatch` cases; running it yields one
/// outcome per case.
pub fn rule_tests(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    let file = match RuleTestFile::parse(TEST_FILE, &text) {
        Ok(f) => f,
        Err(e) => {
            return named_error(&e.path, &e.message, &e.to_string(), TEST_FILE);
        }
    };
    if file.must_match.is_empty() || file.must_not_match.is_empty() {
        return Err("a test file without match or nomatch cases parsed".into());
    }
    for (i, case) in file.must_match.iter().enumerate() {
        let origin = Origin {
            source: TEST_FILE.into(),
            line: None,
            offset: None,
            index: Some(i as u64),
        };
        let _ = case.to_event(origin);
    }
    let engine = &crate::rules::pack().engine;
    let outcome = run_test_file(TEST_FILE, &file, &mut |ev| engine.fired(ev));
    let cases = file.must_match.len() + file.must_not_match.len();
    if outcome.total() < cases {
        return Err(format!("{} outcomes for {cases} cases", outcome.total()));
    }
    Ok(())
}

const STRATEGY_FILE: &str = "fuzz-strategy.yml";

/// Parse `data` (lossy UTF-8) as an ADS strategy.
///
/// Invariants: nothing panics; an error names the file and says something;
/// a parsed strategy lists rules, and survives a YAML round trip unchanged.
pub fn strategy(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    let s = match Strategy::parse(STRATEGY_FILE, &text) {
        Ok(s) => s,
        Err(e) => return named_error(&e.path, &e.message, &e.to_string(), STRATEGY_FILE),
    };
    if s.rules.is_empty() {
        return Err("a strategy without rules parsed".into());
    }
    let yaml = yaml_serde::to_string(&s).map_err(|e| format!("cannot render: {e}"))?;
    match Strategy::parse(STRATEGY_FILE, &yaml) {
        Ok(back) if back == s => Ok(()),
        other => Err(format!(
            "strategy did not survive a round trip through\n{yaml}\n{other:?}"
        )),
    }
}

fn named_error(path: &str, message: &str, shown: &str, want: &str) -> Result<(), String> {
    if path != want || !shown.starts_with(want) {
        return Err(format!("error does not name the file: {shown}"));
    }
    if message.trim().is_empty() {
        return Err(format!("error without a message: {shown}"));
    }
    Ok(())
}
