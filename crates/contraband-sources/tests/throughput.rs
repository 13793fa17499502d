//! Rough throughput check (ignored by default; run with `--ignored --nocapture`).

mod common;

use std::time::Instant;

use common::*;
use contraband_sources::{read, Options};

fn run(name: &str, data: Vec<u8>) {
    let bytes = data.len();
    let start = Instant::now();
    let (evs, errs) = split(read(
        name,
        Box::new(std::io::Cursor::new(data)),
        &Options::default(),
    ));
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: {} events, {} errors, {:.1} MB in {:.2}s = {:.0} MB/s, {:.0} events/s",
        evs.len(),
        errs.len(),
        bytes as f64 / 1e6,
        secs,
        bytes as f64 / 1e6 / secs,
        evs.len() as f64 / secs
    );
}

#[test]
#[ignore]
fn throughput() {
    let c = corpora();
    let audit =
        std::fs::read(c.join("laurel/src/testdata/shell-proc-trace-confusion.txt")).unwrap();
    run("auditd", audit.repeat(300));
    let mut k8s = Vec::new();
    for f in files(&c.join("falco/test/trace_files/k8s_audit"), "json") {
        if !f.ends_with("fal_01_003.json") {
            k8s.extend(std::fs::read(f).unwrap());
        }
    }
    run("k8s-audit", k8s.repeat(300));
    let tetra = std::fs::read(c.join("tetragon/testdata/events.json")).unwrap();
    run("tetragon-jsonl", tetra.repeat(3000));
    let win = std::fs::read(c.join(
        "sigma/regression_data/rules/windows/file/file_event/file_event_win_hktl_netexec_file_indicators/efc21479-9e83-41da-8cf1-122e06ba8db3.json",
    ))
    .unwrap();
    run("windows-pretty", win.repeat(3000));
}
