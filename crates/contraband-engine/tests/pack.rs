//! The built-in pack: every rule loads, ships tests that pass, and belongs to
//! a strategy; every strategy's references resolve.

use std::collections::{HashMap, HashSet};

use contraband_engine::load::{load_engine, run_tests, test_files, RuleSources, BUILTIN};
use contraband_engine::report::{render_html, render_markdown, RuleSummary};

#[test]
fn every_pack_rule_loads_and_passes_its_tests() {
    let sources = RuleSources::default();
    let (engine, load) = load_engine(&sources).unwrap();
    let failures: Vec<String> = load.failures.iter().map(|f| f.to_string()).collect();
    assert!(
        failures.is_empty(),
        "pack rules failed to load:\n{}",
        failures.join("\n")
    );
    assert!(load.loaded >= 40, "only {} pack rules", load.loaded);

    let files = test_files(&sources).unwrap();
    let (outcomes, broken) = run_tests(&engine, &files);
    assert!(broken.is_empty(), "broken test files: {broken:?}");
    let failed: Vec<String> = outcomes
        .iter()
        .flat_map(|o| o.failures.iter().map(|f| f.to_string()))
        .collect();
    assert!(
        failed.is_empty(),
        "{} rule test failures:\n{}",
        failed.len(),
        failed.join("\n")
    );

    let tested: HashSet<&str> = outcomes.iter().map(|o| o.rule.as_str()).collect();
    for rule in engine.rules().rules() {
        assert!(rule.origin.path.starts_with(BUILTIN));
        let id = rule.meta.id.as_deref().expect("pack rules have ids");
        assert!(
            tested.contains(id),
            "pack rule {id} ({}) has no tests",
            rule.meta.title
        );
        let o = outcomes.iter().find(|o| o.rule == id).unwrap();
        assert!(o.total() >= 2, "{id}: needs a match and a near miss");
        assert!(
            rule.meta.tags.iter().any(|t| t.starts_with("attack.t")),
            "{id}: no ATT&CK technique tag"
        );
        assert!(rule.meta.level.is_some(), "{id}: no level");
        assert!(
            !rule.meta.falsepositives.is_empty(),
            "{id}: no falsepositives"
        );
    }
}

#[test]
fn strategies_cover_every_rule_and_reference_only_real_ones() {
    let (engine, _) = load_engine(&RuleSources::default()).unwrap();
    let strategies = engine.strategies();
    let ids: Vec<&str> = strategies.iter().map(|s| s.id.as_str()).collect();
    assert!(
        ids.contains(&"ADS-0001") && ids.contains(&"ADS-0002"),
        "{ids:?}"
    );
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for s in strategies {
        assert!(
            !s.blind_spots.is_empty() && !s.false_positives.is_empty(),
            "{}",
            s.id
        );
        assert!(
            !s.validation.is_empty() && !s.response.is_empty(),
            "{}",
            s.id
        );
        for rule in &s.rules {
            assert!(
                engine.rules().find(rule).is_some(),
                "{} lists unknown rule {rule}",
                s.id
            );
            owner.insert(rule, &s.id);
        }
        for v in &s.validation {
            for rule in &v.expected_rules {
                assert!(
                    engine.rules().find(rule).is_some(),
                    "{} validation {:?} expects unknown rule {rule}",
                    s.id,
                    v.name
                );
            }
        }
    }
    for rule in engine.rules().rules() {
        let id = rule.meta.id.as_deref().unwrap();
        assert!(owner.contains_key(id), "rule {id} belongs to no strategy");
    }
}

#[test]
fn reports_have_every_ads_section_and_escape_html() {
    let (engine, _) = load_engine(&RuleSources::default()).unwrap();
    let s = &engine.strategies()[0];
    let rules: Vec<RuleSummary> = Vec::new();
    let md = render_markdown(s, &rules);
    for section in [
        "## Goal",
        "## Categorization",
        "## Strategy Abstract",
        "## Technical Context",
        "## Blind Spots",
        "## Assumptions",
        "## False Positives",
        "## Priority",
        "## Validation",
        "## Response",
        "## Additional Resources",
        "## Rules",
    ] {
        assert!(md.contains(section), "missing {section}");
    }
    let mut hostile = s.clone();
    hostile.goal = "<script>alert(1)</script>".into();
    let html = render_html(&hostile, &rules);
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}
