//! Load every SigmaHQ rule and require ≥ 99.5% to compile.

mod common;

#[test]
fn sigmahq_corpus_loads() {
    let root = common::corpora();
    let report = common::load_corpus(&root);
    for f in &report.failures {
        println!("FAIL {f}");
    }
    println!("{} warnings", report.warnings.len());
    for (kind, fs) in report.failures_by_kind() {
        println!("{kind}: {}", fs.len());
    }
    println!(
        "files {} documents {} loaded {} failed {} ({:.3}%) in {:?}; {} distinct logsources, {} fields",
        report.files,
        report.documents,
        report.loaded(),
        report.failed(),
        report.load_ratio() * 100.0,
        report.elapsed,
        report.ruleset.logsources().len(),
        report.ruleset.required_fields().len(),
    );
    let with_literals = (0..report.ruleset.len())
        .filter(|&i| report.ruleset.required_literals(i).is_some())
        .count();
    println!(
        "{with_literals} of {} rules have prefilter literals",
        report.ruleset.len()
    );
    assert!(
        with_literals * 10 > report.ruleset.len() * 8,
        "prefilter coverage fell: {with_literals}"
    );
    assert!(
        report.documents > 3000,
        "corpus looks truncated: {} documents",
        report.documents
    );
    assert!(
        report.load_ratio() >= 0.995,
        "load ratio {:.4} below 99.5%",
        report.load_ratio()
    );
}
