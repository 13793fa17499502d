//! Fuzz targets for contraband's attack surfaces: telemetry decoders, rule
//! loading, matching, the condition language and the pack's YAML files.
//!
//! Each target takes arbitrary bytes and returns `Err` with a description
//! when an invariant that must hold for *any* input is broken (a panic is a
//! failure too). They run three ways:
//! - `cargo test -p contraband-fuzz`: every file under `fuzz/corpus/<target>/`
//!   and proptest-generated inputs (`tests/replay.rs`);
//! - `cargo fuzz run <target>` from `fuzz/` (nightly + cargo-fuzz);
//! - directly, from any harness: [`TARGETS`] lists them by name.
//!
//! See `docs/fuzzing.md`.

mod decode;
mod pack_yaml;
mod rules;

pub use decode::decode;
pub use pack_yaml::{condition, rule_tests, strategy};
pub use rules::{check_matching, load_rules, match_event, pack, EventSpec, Name, Pack, Val};

/// A fuzz target: bytes in, `Err` naming the broken invariant.
pub type Target = fn(&[u8]) -> Result<(), String>;

/// Every target, by the name of its corpus directory and cargo-fuzz binary.
pub const TARGETS: &[(&str, Target)] = &[
    ("decode", decode),
    ("load_rules", load_rules),
    ("match_event", match_event),
    ("condition", condition),
    ("rule_tests", rule_tests),
    ("strategy", strategy),
];

/// Run `target` on `data`, panicking with the broken invariant: what a
/// cargo-fuzz target calls, so libFuzzer records the input as a crash.
pub fn must(target: Target, data: &[u8]) {
    if let Err(e) = target(data) {
        panic!("invariant broken: {e}");
    }
}
