//! `contraband ads` and `contraband rules` on the built-in pack.

mod common;

use common::contraband;

#[test]
fn ads_render_writes_every_strategy_with_rule_logic_and_test_results() {
    let dir = tempfile::tempdir().unwrap();
    let run = contraband(&[
        "ads",
        "render",
        "--format",
        "html",
        "--output",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    for id in ["ADS-0001", "ADS-0002", "ADS-0003", "ADS-0004"] {
        let html = std::fs::read_to_string(dir.path().join(format!("{id}.html"))).unwrap();
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("<h2>Blind Spots</h2>") && html.contains("<h2>Validation</h2>"));
        assert!(
            !html.contains("FAILING") && !html.contains("no tests"),
            "{id} has untested or failing rules"
        );
        assert!(html.contains("pass</span>"));
    }
    let md = contraband(&["ads", "render", "ADS-0001"]);
    assert_eq!(md.status, 0, "{}", md.stderr);
    assert!(md.stdout.starts_with("# ADS-0001: "));
    // The cracker rule's logic is shown in words, not as raw YAML.
    assert!(md.stdout.contains(
        "### Password Cracker Run Inside a Container (`01f597ae-b4de-4369-b856-c620532e5102`)"
    ));
    assert!(md.stdout.contains("condition: "));
}

#[test]
fn ads_render_of_an_unknown_strategy_names_the_known_ones() {
    let run = contraband(&["ads", "render", "ADS-9999"]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("ADS-0001"), "{}", run.stderr);
}

#[test]
fn rules_test_passes_on_the_pack_and_lint_reports_bad_rules_with_reasons() {
    let run = contraband(&["rules", "test"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(" 0 failures, 0 untested pack rules"),
        "{}",
        run.stdout
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "title: Bad\nlogsource: {product: linux}\ndetection:\n  sel: {Image|frobnicate: x}\n  condition: sel\n",
    )
    .unwrap();
    let lint = contraband(&[
        "rules",
        "lint",
        "--rules",
        dir.path().to_str().unwrap(),
        "--no-builtin",
    ]);
    assert_eq!(lint.status, 1);
    assert!(lint.stdout.contains("bad.yml"), "{}", lint.stdout);
    assert!(lint.stdout.contains("frobnicate"), "{}", lint.stdout);
    assert!(lint.stderr.contains("0 of 1 rules load"), "{}", lint.stderr);
}
