//! SigmaHQ regression data: each rule must fire on its recorded events.

mod common;

use std::collections::HashMap;

use yaml_serde::Value as Yaml;

#[test]
fn sigmahq_regression_data_fires() {
    let root = common::corpora();
    let report = common::load_corpus(&root);
    let set = &report.ruleset;
    let failed_ids: HashMap<String, String> = report
        .failures
        .iter()
        .filter_map(|f| Some((f.id.clone()?, f.error.to_string())))
        .collect();
    let pf = contraband_sigma::Prefilter::new(set);
    let mut scratch = contraband_sigma::PrefilterScratch::default();
    let mut infos: Vec<_> = walkdir::WalkDir::new(root.join("regression_data"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "info.yml")
        .map(|e| e.into_path())
        .collect();
    infos.sort();
    let (mut pass, mut total) = (0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    for info in &infos {
        let text = std::fs::read_to_string(info).unwrap();
        let y: Yaml = yaml_serde::from_str(&text).unwrap();
        let rule_id = y["rule_metadata"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let tests = y["regression_tests_info"]
            .as_sequence()
            .cloned()
            .unwrap_or_default();
        for t in tests {
            total += 1;
            let evtx = t["path"].as_str().unwrap_or_default();
            let json = root.join(evtx).with_extension("json");
            let expected = t["match_count"].as_u64();
            let where_ = format!(
                "{} ({rule_id})",
                info.parent()
                    .unwrap()
                    .strip_prefix(&root)
                    .unwrap()
                    .display()
            );
            let Some(idx) = set.find(&rule_id) else {
                let why = failed_ids
                    .get(&rule_id)
                    .cloned()
                    .unwrap_or_else(|| "rule not in corpus".into());
                failures.push(format!("{where_}: rule not loaded: {why}"));
                continue;
            };
            if !json.is_file() {
                failures.push(format!("{where_}: missing {}", json.display()));
                continue;
            }
            let rule = set.rule(idx);
            let mut fired = 0u64;
            let mut admitted = false;
            let docs = common::windows_events(&json);
            for e in &docs {
                let events = std::slice::from_ref(e);
                for e in events {
                    // The shared prefilter must never change results.
                    let mut pre = Vec::new();
                    set.matches_prefiltered(e, &pf, &mut scratch, &mut pre);
                    assert_eq!(
                        pre,
                        set.matches(e),
                        "{where_}: prefilter changed the matches"
                    );
                }
                let candidates: Vec<_> = events
                    .iter()
                    .filter(|e| set.candidates(&e.logsource).contains(&(idx as u32)))
                    .collect();
                admitted |= !candidates.is_empty();
                let hit = candidates
                    .iter()
                    .find(|e| set.matches(e).contains(&(idx as u32)));
                if let Some(e) = hit {
                    fired += 1;
                    // The prefilter literals must never exclude a real match.
                    if let Some(lits) = set.required_literals(idx) {
                        assert!(
                            prefilter_admits(e, &lits),
                            "{where_}: prefilter {lits:?} would have skipped a match"
                        );
                    }
                    // Matched fields are reported for every firing rule.
                    assert!(
                        !set.matched_fields(idx, e).is_empty()
                            || rule.uses_keywords
                            || rule.fields_used.is_empty(),
                        "{where_}: fired but reported no matched fields"
                    );
                }
            }
            let ok = match expected {
                Some(n) => fired == n,
                None => fired > 0,
            };
            if ok {
                pass += 1;
            } else if !admitted {
                failures.push(format!(
                    "{where_}: decoded logsource never admitted by rule logsource ({}) over {} event(s)",
                    rule.logsource,
                    docs.len()
                ));
            } else {
                failures.push(format!(
                    "{where_}: fired on {fired} of {} event(s), expected {expected:?}",
                    docs.len()
                ));
            }
        }
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    let ratio = pass as f64 / total.max(1) as f64;
    println!("conformance: {pass}/{total} ({:.2}%)", ratio * 100.0);
    assert!(total >= 200, "regression data looks truncated: {total}");
    assert!(ratio >= 0.98, "conformance {:.2}% below 98%", ratio * 100.0);
}

/// Does any scalar of the event contain one of the literals (ASCII case-insensitively)?
fn prefilter_admits(e: &contraband_event::Event, lits: &[String]) -> bool {
    let mut texts = Vec::new();
    let _ = e.for_each_scalar(&mut |v| {
        texts.push(match v.as_str() {
            Some(s) => s.to_ascii_lowercase(),
            None => v.to_value().to_string().to_ascii_lowercase(),
        });
        std::ops::ControlFlow::Continue(())
    });
    lits.iter()
        .any(|l| texts.iter().any(|t| t.contains(l.as_str())))
}
