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

/// Forks loading runs of the files on threads, joined in order, give what
/// loading every file in order gives: same rules in the same order, same
/// failures (duplicate ids across runs included), same counts.
#[test]
fn forked_loading_equals_loading_in_order() {
    use contraband_sigma::{LoadOptions, Loader};
    let sources = common::corpus_sources(&common::corpora());
    let describe = |r: contraband_sigma::LoadReport| {
        let rules: Vec<String> = r
            .ruleset
            .rules()
            .iter()
            .map(|r| r.label().to_string())
            .collect();
        let failures: Vec<String> = r.failures.iter().map(|f| f.to_string()).collect();
        (
            rules,
            failures,
            r.files,
            r.documents,
            r.warnings.len(),
            r.ruleset.correlations().len(),
        )
    };
    let mut seq = Loader::new(LoadOptions::default());
    for (path, text) in &sources {
        seq.add_source(path, text);
    }
    let want = describe(seq.finish());

    // a file twice, in different runs: its second copy must fail as a duplicate
    let mut doubled = sources.clone();
    doubled.push(sources[0].clone());
    let mut seq2 = Loader::new(LoadOptions::default());
    for (path, text) in &doubled {
        seq2.add_source(path, text);
    }
    let want2 = describe(seq2.finish());
    assert_eq!(want2.1.len(), want.1.len() + 1, "the repeated file fails");

    for (input, want) in [(&sources, want), (&doubled, want2)] {
        let mut loader = Loader::new(LoadOptions::default());
        let parts: Vec<Loader> = std::thread::scope(|scope| {
            let handles: Vec<_> = input
                .chunks(input.len().div_ceil(3))
                .map(|run| {
                    let mut part = loader.fork();
                    scope.spawn(move || {
                        for (path, text) in run {
                            part.add_source(path, text);
                        }
                        part
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(parts.len(), 3);
        for part in parts {
            loader.join(part);
        }
        assert_eq!(describe(loader.finish()), want);
    }
}
