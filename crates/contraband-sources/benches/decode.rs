//! Decoding one line into an [`Event`]: a generic JSON process start (the
//! largest stage of a hunt over process-creation telemetry, about four
//! tenths of the instructions) and a Kubernetes audit pod creation (about
//! half of a k8s hunt: nested objects), docs/performance.md.
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

/// A pod created by a ReplicaSet controller, as the API server's audit log
/// writes it at `RequestResponse` level (trimmed): the second container is
/// privileged and mounts a host path.
const K8S_POD_CREATE: &str = concat!(
    r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","#,
    r#""auditID":"6b1f0c2e-98a4-4d3b-b7e5-0c9a1f2d3e4b","stage":"ResponseComplete","#,
    r#""requestURI":"/api/v1/namespaces/payments/pods","verb":"create","#,
    r#""user":{"username":"system:serviceaccount:kube-system:replicaset-controller","#,
    r#""groups":["system:serviceaccounts","system:authenticated"]},"#,
    r#""sourceIPs":["10.0.12.4"],"userAgent":"kube-controller-manager/v1.30.4","#,
    r#""objectRef":{"resource":"pods","namespace":"payments","name":"ledger-5c8d7f9b6d-q4wzt","apiVersion":"v1"},"#,
    r#""responseStatus":{"metadata":{},"code":201},"#,
    r#""requestObject":{"kind":"Pod","apiVersion":"v1","#,
    r#""metadata":{"generateName":"ledger-5c8d7f9b6d-","namespace":"payments","labels":{"app":"ledger"}},"#,
    r#""spec":{"volumes":[{"name":"config","configMap":{"name":"ledger-config"}},"#,
    r#"{"name":"node-logs","hostPath":{"path":"/var/log","type":"Directory"}}],"#,
    r#""containers":[{"name":"ledger","image":"registry.pay.internal:5000/payments/ledger:4.2.0","#,
    r#""args":["--listen",":8443"],"ports":[{"containerPort":8443,"protocol":"TCP"}],"#,
    r#""securityContext":{"runAsNonRoot":true,"allowPrivilegeEscalation":false}},"#,
    r#"{"name":"log-shipper","image":"registry.pay.internal:5000/infra/log-shipper:1.9.3","#,
    r#""volumeMounts":[{"name":"node-logs","mountPath":"/host/var/log","readOnly":true}],"#,
    r#""securityContext":{"privileged":true}}],"serviceAccountName":"ledger","nodeName":"worker-3"}},"#,
    r#""requestReceivedTimestamp":"2026-11-23T10:41:07.512034Z","#,
    r#""stageTimestamp":"2026-11-23T10:41:07.530981Z"}"#
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
    line(PROCESS_CREATION)
}

fn line(text: &str) -> Record {
    Record {
        text: std::sync::Arc::from(text),
        line: Some(1),
        offset: Some(0),
        index: None,
    }
}

/// The decoder must produce the event the line describes; a broken fast
/// path fails here instead of being timed.
fn check(decoder: &mut Decoder) {
    let mut out = std::collections::VecDeque::new();
    decoder.decode_into(record(), &mut out);
    assert_eq!(out.len(), 1, "one line, one event");
    let event: Event = out.pop_back().unwrap().expect("the line decodes");
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

/// The k8s decoder must find the pod's context, the host path and the
/// nested fields rules read.
fn check_k8s(decoder: &mut Decoder) {
    let mut out = std::collections::VecDeque::new();
    decoder.decode_into(line(K8S_POD_CREATE), &mut out);
    assert_eq!(out.len(), 1, "one line, one event");
    let event: Event = out.pop_back().unwrap().expect("the line decodes");
    assert_eq!(
        (
            event.logsource.product.as_deref(),
            event.logsource.service.as_deref()
        ),
        (Some("kubernetes"), Some("audit"))
    );
    let container = event
        .container
        .as_deref()
        .expect("a pod spec gives a context");
    assert_eq!(container.privileged, Some(true));
    assert_eq!(container.k8s_namespace.as_deref(), Some("payments"));
    assert_eq!(event.get_str("hostPath").as_deref(), Some("/var/log"));
    assert_eq!(
        event
            .get_str("requestObject.spec.containers.securityContext.privileged")
            .as_deref(),
        Some("true")
    );
    assert_eq!(event.raw.as_deref(), Some(K8S_POD_CREATE));
}

fn decode(c: &mut Criterion) {
    let mut decoder = decoder();
    check(&mut decoder);
    let mut k8s = Decoder::new(Format::K8sAudit, "audit.jsonl", &Options::default());
    check_k8s(&mut k8s);
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(PROCESS_CREATION.len() as u64));
    let mut out = std::collections::VecDeque::with_capacity(1);
    // Decoding and dropping the event: a hunt frees each event again.
    group.bench_function("generic_json_process_creation", |b| {
        b.iter(|| {
            decoder.decode_into(record(), &mut out);
            black_box(&out);
            out.clear();
        })
    });
    group.throughput(Throughput::Bytes(K8S_POD_CREATE.len() as u64));
    group.bench_function("k8s_audit_pod_create", |b| {
        b.iter(|| {
            k8s.decode_into(line(K8S_POD_CREATE), &mut out);
            black_box(&out);
            out.clear();
        })
    });
    group.finish();

    // The floor under the k8s decoder: serde_json building (and dropping)
    // a `Value` tree of the same record, against only checking its syntax.
    // The gap is what an event value type of our own could win
    // (docs/performance.md, "What the profile says is next").
    let mut floor = c.benchmark_group("json_floor");
    floor.throughput(Throughput::Bytes(K8S_POD_CREATE.len() as u64));
    floor.bench_function("k8s_record_into_serde_json_value", |b| {
        b.iter(|| black_box(serde_json::from_str::<serde_json::Value>(K8S_POD_CREATE).unwrap()))
    });
    floor.bench_function("k8s_record_syntax_only", |b| {
        b.iter(|| serde_json::from_str::<serde::de::IgnoredAny>(black_box(K8S_POD_CREATE)).unwrap())
    });
    floor.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
