//! Every fuzz target over every saved input in `fuzz/corpus/<target>/`, and
//! over proptest-generated inputs. A failure names the target, the file and
//! the broken invariant; a panic inside a target is caught and reported the
//! same way.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use contraband_fuzz::{Target, TARGETS};
use proptest::prelude::*;

/// One input may take this long in an unoptimised test build; more means
/// something is super-linear (a hostile input is a time bomb).
const TIME_BUDGET: Duration = Duration::from_secs(10);

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

fn run_one(name: &str, target: Target, data: &[u8]) -> Result<(), String> {
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| target(data)))
        .unwrap_or_else(|p| Err(format!("panicked: {}", panic_text(&p))));
    let took = started.elapsed();
    result?;
    if took > TIME_BUDGET {
        return Err(format!("{name} took {took:?}"));
    }
    Ok(())
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-text panic)".into())
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus_root().join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn replay(target: &str) {
    let (_, f) = TARGETS.iter().find(|(n, _)| *n == target).unwrap();
    let files = corpus(target);
    assert!(
        files.len() >= 3,
        "{target}: only {} corpus files",
        files.len()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|(path, data)| {
            run_one(target, *f, data)
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{target}: {} of {} corpus inputs broke an invariant:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_target_has_a_corpus() {
    for (name, _) in TARGETS {
        assert!(
            corpus_root().join(name).is_dir(),
            "no fuzz/corpus/{name}/ for target {name}"
        );
    }
}

#[test]
fn corpus_decode() {
    replay("decode");
}

#[test]
fn corpus_load_rules() {
    replay("load_rules");
}

#[test]
fn corpus_match_event() {
    replay("match_event");
}

#[test]
fn corpus_condition() {
    replay("condition");
}

#[test]
fn corpus_rule_tests() {
    replay("rule_tests");
}

#[test]
fn corpus_strategy() {
    replay("strategy");
}

/// Bytes built from tokens the decoders and parsers care about, with some
/// raw noise: closer to interesting than uniform random bytes.
fn tokens() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"\"".to_vec()),
        Just(b":".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"1e9".to_vec()),
        Just(b"-0.0".to_vec()),
        Just(b"\"kind\":\"EventList\",\"items\":".to_vec()),
        Just(b"type=SYSCALL msg=audit(1.1:7): ".to_vec()),
        Just(b"type=EOE msg=audit(1.1:7): ".to_vec()),
        Just(b"title: t\nlogsource: {product: linux}\ndetection:\n".to_vec()),
        Just(b"  condition: ".to_vec()),
        Just(b"|re".to_vec()),
        Just(b"|contains|all".to_vec()),
        Just(b"&a ".to_vec()),
        Just(b"*a".to_vec()),
        Just(b"1 of ".to_vec()),
        Just(b"not (".to_vec()),
        Just(b" and ".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
        "\\PC{0,8}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(token, 0..24).prop_map(|ts| ts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_decode(data in tokens()) {
        prop_assert_eq!(run_one("decode", contraband_fuzz::decode, &data), Ok(()));
    }

    #[test]
    fn generated_load_rules(data in tokens()) {
        prop_assert_eq!(run_one("load_rules", contraband_fuzz::load_rules, &data), Ok(()));
    }

    #[test]
    fn generated_match_event(data in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert_eq!(run_one("match_event", contraband_fuzz::match_event, &data), Ok(()));
    }

    #[test]
    fn generated_condition(data in tokens()) {
        prop_assert_eq!(run_one("condition", contraband_fuzz::condition, &data), Ok(()));
    }

    #[test]
    fn generated_rule_tests(data in tokens()) {
        prop_assert_eq!(run_one("rule_tests", contraband_fuzz::rule_tests, &data), Ok(()));
    }

    #[test]
    fn generated_strategy(data in tokens()) {
        prop_assert_eq!(run_one("strategy", contraband_fuzz::strategy, &data), Ok(()));
    }
}
