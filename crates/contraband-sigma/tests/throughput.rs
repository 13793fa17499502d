//! Rough single-thread matching throughput over the whole SigmaHQ corpus
//! and the regression events. Prints, never asserts time:
//! `cargo test -p contraband-sigma --test throughput -- --ignored --nocapture`

mod common;

use std::time::Instant;

#[test]
#[ignore = "measurement, run on demand"]
fn corpus_throughput() {
    let root = common::corpora();
    let report = common::load_corpus(&root);
    let set = &report.ruleset;
    let events = common::regression_events(&root);
    let rounds = 20;
    let mut out = Vec::new();
    let mut hits = 0usize;
    let start = Instant::now();
    for _ in 0..rounds {
        for e in &events {
            out.clear();
            set.matches_into(e, &mut out);
            hits += out.len();
        }
    }
    let n = rounds * events.len();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} rules, {n} events, {hits} matches in {secs:.2}s: {:.0} events/s (one thread, test profile)",
        set.len(),
        n as f64 / secs
    );
    let pf = contraband_sigma::Prefilter::new(set);
    let mut scratch = contraband_sigma::PrefilterScratch::default();
    let mut hits2 = 0usize;
    let start = Instant::now();
    for _ in 0..rounds {
        for e in &events {
            out.clear();
            set.matches_prefiltered(e, &pf, &mut scratch, &mut out);
            hits2 += out.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "with prefilter: {hits2} matches in {secs:.2}s: {:.0} events/s",
        n as f64 / secs
    );
    assert_eq!(hits, hits2, "the prefilter changed results");
}

#[test]
#[ignore = "measurement, run on demand"]
fn slowest_rules() {
    let root = common::corpora();
    let report = common::load_corpus(&root);
    let set = &report.ruleset;
    let events = common::regression_events(&root);
    let mut times: Vec<(f64, usize)> = (0..set.len())
        .map(|i| {
            let start = Instant::now();
            for e in &events {
                std::hint::black_box(set.rule_matches(i, e));
            }
            (start.elapsed().as_secs_f64(), i)
        })
        .collect();
    times.sort_by(|a, b| b.0.total_cmp(&a.0));
    let total: f64 = times.iter().map(|t| t.0).sum();
    println!("total {total:.3}s over {} events", events.len());
    for (t, i) in times.iter().take(15) {
        println!(
            "{t:.4}s {} {}",
            set.rule(*i).origin.path,
            set.rule(*i).meta.title
        );
    }
}
