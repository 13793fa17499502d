//! The built-in detection pack, embedded at build time from `detections/`.
//!
//! Paths are relative to `detections/` and use `/`: `strategies/*.yml`,
//! `rules/**/NAME.yml` with sibling `NAME.tests.yml`, `placeholders.yml`.

include!(concat!(env!("OUT_DIR"), "/pack.rs"));

/// Every embedded file as `(path relative to detections/, contents)`, sorted by path.
pub fn files() -> &'static [(&'static str, &'static str)] {
    FILES
}

/// Embedded files whose path starts with `prefix`.
pub fn files_under(prefix: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    FILES
        .iter()
        .copied()
        .filter(move |(p, _)| p.starts_with(prefix))
}

/// True for a rule-test file (`NAME.tests.yml`), which is data for
/// `rules test`, not a rule.
pub fn is_test_file(path: &str) -> bool {
    path.ends_with(".tests.yml") || path.ends_with(".tests.yaml")
}
