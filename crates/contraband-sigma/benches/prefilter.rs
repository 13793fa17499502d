//! The shared literal prefilter: one event against 300 process-creation
//! rules, with the prefilter (what the engine does from 100 rules on) and
//! without it (every candidate rule evaluated). The prefilter scan is about
//! a fifth of a hunt's instructions (docs/performance.md).
//!
//! `cargo bench -p contraband-sigma --bench prefilter`; `cargo test
//! --benches` runs it once as a smoke test.

use std::hint::black_box;

use contraband_event::Event;
use contraband_sigma::{LoadOptions, Loader, Prefilter, PrefilterScratch, RuleSet};
use contraband_testkit::events::{benign_process, process_creation, Process};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const RULES: usize = 300;

/// Programs an intruder brings along (or finds) in a container.
const TOOLS: [&str; 30] = [
    "hashcat",
    "john",
    "hydra",
    "nmap",
    "masscan",
    "socat",
    "chisel",
    "ligolo",
    "xmrig",
    "minerd",
    "kubectl",
    "crictl",
    "nsenter",
    "unshare",
    "capsh",
    "setcap",
    "debugfs",
    "insmod",
    "tcpdump",
    "tshark",
    "ncat",
    "gdb",
    "strace",
    "pspy",
    "linpeas",
    "deepce",
    "amicontained",
    "botb",
    "frpc",
    "gost",
];

/// Arguments that make such a program's use suspicious.
const ARGS: [&str; 10] = [
    "--potfile",
    "--wordlist",
    "--script",
    " -ss ",
    "reverse",
    "--privileged",
    "--target",
    "-e /bin/sh",
    "--mount",
    "--cap-add",
];

/// Rule `i` of the generated set: tool `i % 30` with argument `i / 30`,
/// in one of four shapes (image, command line, parent, container image).
fn rule(i: usize) -> String {
    let (tool, arg) = (TOOLS[i % TOOLS.len()], ARGS[i / TOOLS.len()]);
    let selection = match i % 4 {
        0 => format!("sel:\n    Image|endswith: '/{tool}'\n    CommandLine|contains: '{arg}'"),
        1 => format!("sel:\n    CommandLine|contains|all: ['{tool} ', '{arg}']"),
        2 => format!(
            "sel:\n    ParentImage|endswith: '/{tool}'\n    Image|endswith: ['/sh', '/bash', '/dash']"
        ),
        _ => format!("sel:\n    container.image|contains: '/{tool}'\n    CommandLine|contains: '{arg}'"),
    };
    format!(
        "title: Generated {i} {tool} {arg}\n\
         logsource: {{product: linux, category: process_creation}}\n\
         detection:\n  {selection}\n  condition: sel\n\
         level: high\n"
    )
}

fn ruleset() -> RuleSet {
    let mut loader = Loader::new(LoadOptions::default());
    for i in 0..RULES {
        loader.add_source(&format!("generated/{i}.yml"), &rule(i));
    }
    let report = loader.finish();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.ruleset.len(), RULES);
    report.ruleset
}

/// A password cracker run in the shop's web container: rule 0 (hashcat
/// with `--potfile`) and only it matches.
fn cracker() -> Event {
    process_creation(Process {
        image: "/usr/bin/hashcat",
        command_line: "hashcat -m 1800 -a 0 --potfile-disable shadow.txt wordlist.txt",
        parent_image: "/usr/bin/bash",
        parent_command_line: "bash -i",
    })
}

/// Titles of the rules matching `event`, with and without the prefilter;
/// both must agree.
fn matching(set: &RuleSet, pf: &Prefilter, event: &Event) -> Vec<String> {
    let candidates = set.candidates(&event.logsource);
    assert_eq!(
        candidates.len(),
        RULES,
        "every rule is for process_creation"
    );
    let (mut plain, mut filtered) = (Vec::new(), Vec::new());
    set.matches_in(&candidates, event, &mut plain);
    set.matches_prefiltered(event, pf, &mut PrefilterScratch::default(), &mut filtered);
    assert_eq!(plain, filtered, "the prefilter changed the result");
    let title = |&i: &u32| set.rule(i as usize).meta.title.clone();
    filtered.iter().map(title).collect()
}

fn prefilter(c: &mut Criterion) {
    let set = ruleset();
    let pf = Prefilter::new(&set);
    for i in 0..RULES {
        assert!(
            set.required_literals(i).is_some(),
            "rule {i} has literals for the prefilter"
        );
    }
    let benign = benign_process();
    let cracker = cracker();
    assert_eq!(matching(&set, &pf, &benign), Vec::<String>::new());
    assert_eq!(
        matching(&set, &pf, &cracker),
        ["Generated 0 hashcat --potfile"]
    );

    let candidates = set.candidates(&benign.logsource);
    let mut group = c.benchmark_group("prefilter_300_rules");
    for (name, event) in [("benign", &benign), ("cracker", &cracker)] {
        let mut scratch = PrefilterScratch::default();
        let mut out = Vec::new();
        // A fresh copy each time: the container's rule view is built once
        // per event, on the first `container.*` lookup, as in a hunt.
        group.bench_function(format!("prefiltered/{name}"), |b| {
            b.iter_batched_ref(
                || event.clone(),
                |event| {
                    out.clear();
                    set.matches_prefiltered(event, &pf, &mut scratch, &mut out);
                    black_box(&out);
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("every_rule/{name}"), |b| {
            b.iter_batched_ref(
                || event.clone(),
                |event| {
                    out.clear();
                    set.matches_in(&candidates, event, &mut out);
                    black_box(&out);
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, prefilter);
criterion_main!(benches);
