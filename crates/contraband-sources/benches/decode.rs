//! Decoding one generic JSON line into an [`Event`]: the largest stage of a
//! hunt over process-creation telemetry (about four tenths of the
//! instructions, docs/performance.md).
//!
//! `cargo bench -p contraband-sources --bench decode`; `cargo test --benches`
//! runs it once as a smoke test.

use std::hint::black_box;

use contraband_event::Event;
use contraband_sources::{parse_logsource, Decoder, Format, Options, Record};
use contraband_testkit::events::benign_process;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// A process start inside a Kubernetes pod, as the benchmark corpora and
/// exporters write it: Sigma field names, a `container` object, 691 bytes.
/// The same event as `contraband_testkit::events::benign_process`.
const PROCESS_CREATION: &str = concat!(
    r#"{"UtcTime":"2026-11-23T10:41:07.512Z","Computer":"build-node-07","ProcessId":48213,"#,
    r#""Image":"/usr/bin/python3.11","#,
    r#""CommandLine":"python3 manage.py migrate --database default --noinput --verbosity 1","#,
    r#""CurrentDirectory":"/srv/shop","User":"deploy","LogonId":1001,"ParentProcessId":48190,"#,
    r#""ParentImage":"/usr/bin/bash","#,
    r#""ParentCommandLine":"/bin/bash -c ./scripts/release.sh --stage migrate","#,
    r#""container":{"id":"3f9c0a8e5b7d41c2a6e08f3b9d2c7e1a4b5f6d8c9e0a1b2c3d4e5f60718293a4","#,
    r#""name":"shop-web-7d9f8c6b5-x2kqp","#,
    r#""image":"registry.shop.internal:5000/shop/web:2.14.1","#,
    r#""image_digest":"sha256:9b1e4c7a2f3d5e6b8a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a","#,
    r#""runtime":"containerd","privileged":false}}"#
);

/// What a hunt over such a file is told: the format and the logsource.
fn decoder() -> Decoder {
    let opts = Options {
        format: Some(Format::GenericJson),
        logsource: Some(parse_logsource("product=linux,category=process_creation").unwrap()),
        ..Options::default()
    };
    Decoder::new(Format::GenericJson, "bench.jsonl", &opts)
}

/// The line as the line reader hands it over (it allocates each line too).
fn record() -> Record {
    Record {
        text: std::sync::Arc::from(PROCESS_CREATION),
        line: Some(1),
        offset: Some(0),
        index: None,
    }
}

/// The decoder must produce the event the line describes; a broken fast
/// path fails here instead of being timed.
fn check(decoder: &mut Decoder) {
    let mut out = Vec::new();
    decoder.decode_into(record(), &mut out);
    assert_eq!(out.len(), 1, "one line, one event");
    let event: Event = out.pop().unwrap().expect("the line decodes");
    // Field for field the process start the other benchmarks judge.
    let expected = benign_process();
    assert_eq!(event.logsource, expected.logsource);
    assert_eq!(event.time, expected.time, "UtcTime is the event time");
    assert_eq!(event.host, expected.host, "Computer is the host");
    assert_eq!(event.fields, expected.fields, "every field but `container`");
    assert_eq!(event.container, expected.container);
    assert_eq!(
        event.get_str("container.image").as_deref(),
        Some("registry.shop.internal:5000/shop/web:2.14.1")
    );
    assert_eq!(event.raw.as_deref(), Some(PROCESS_CREATION));
}

fn decode(c: &mut Criterion) {
    let mut decoder = decoder();
    check(&mut decoder);
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(PROCESS_CREATION.len() as u64));
    let mut out = Vec::with_capacity(1);
    // Decoding and dropping the event: a hunt frees each event again.
    group.bench_function("generic_json_process_creation", |b| {
        b.iter(|| {
            decoder.decode_into(record(), &mut out);
            black_box(&out);
            out.clear();
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
