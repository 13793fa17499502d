//! Dotted field lookups over a nested Kubernetes audit event, the way rules
//! read fields (`Event::visit`). The k8s scenario spends much of its rule
//! evaluation here (docs/performance.md, "What the profile says is next",
//! k8s audit).
//!
//! `cargo bench -p contraband-event --bench lookup`; `cargo test --benches`
//! runs it once as a smoke test.

use std::hint::black_box;
use std::ops::ControlFlow;

use contraband_event::{Event, LogSource, Timestamp, Value, ValueRef};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

/// A ReplicaSet controller creating a pod whose second container is
/// privileged and mounts a host path: the shape of a k8s audit record at
/// `RequestResponse` level, trimmed to what rules look at.
fn pod_create() -> Event {
    let fields = json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": "6b1f0c2e-98a4-4d3b-b7e5-0c9a1f2d3e4b",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/payments/pods",
        "verb": "create",
        "user": {
            "username": "system:serviceaccount:kube-system:replicaset-controller",
            "uid": "0f6c1e7a-3b2d-4c5e-9f8a-7b6c5d4e3f2a",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]
        },
        "sourceIPs": ["10.0.12.4"],
        "userAgent": "kube-controller-manager/v1.30.4 (linux/amd64) kubernetes/a51b3b7/system:serviceaccount:kube-system:replicaset-controller",
        "objectRef": {
            "resource": "pods",
            "namespace": "payments",
            "name": "ledger-5c8d7f9b6d-q4wzt",
            "apiVersion": "v1"
        },
        "responseStatus": {"metadata": {}, "code": 201},
        "requestObject": {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "generateName": "ledger-5c8d7f9b6d-",
                "namespace": "payments",
                "labels": {"app": "ledger", "pod-template-hash": "5c8d7f9b6d"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": "ledger-5c8d7f9b6d", "controller": true}]
            },
            "spec": {
                "volumes": [
                    {"name": "config", "configMap": {"name": "ledger-config"}},
                    {"name": "node-logs", "hostPath": {"path": "/var/log", "type": "Directory"}}
                ],
                "containers": [
                    {
                        "name": "ledger",
                        "image": "registry.pay.internal:5000/payments/ledger:4.2.0",
                        "args": ["--listen", ":8443", "--db", "postgres://ledger-db:5432/ledger"],
                        "ports": [{"containerPort": 8443, "protocol": "TCP"}],
                        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}},
                        "volumeMounts": [{"name": "config", "mountPath": "/etc/ledger"}],
                        "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false}
                    },
                    {
                        "name": "log-shipper",
                        "image": "registry.pay.internal:5000/infra/log-shipper:1.9.3",
                        "volumeMounts": [{"name": "node-logs", "mountPath": "/host/var/log", "readOnly": true}],
                        "securityContext": {"privileged": true}
                    }
                ],
                "serviceAccountName": "ledger",
                "nodeName": "worker-3"
            }
        },
        "requestReceivedTimestamp": "2026-11-23T10:41:07.512034Z",
        "stageTimestamp": "2026-11-23T10:41:07.530981Z"
    });
    let Value::Object(fields) = fields else {
        unreachable!("an object literal")
    };
    Event::new(
        LogSource::new(Some("kubernetes"), None, Some("audit")),
        Timestamp(0),
        fields,
    )
}

/// Every value `path` reaches, as a rule's value test sees them.
fn values<'a>(event: &'a Event, path: &str) -> Vec<ValueRef<'a>> {
    let mut out = Vec::new();
    let _ = event.visit(path, &mut |v| {
        out.push(v);
        ControlFlow::Continue(())
    });
    out
}

/// The paths timed, each with what it must reach in [`pod_create`].
fn cases() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        ("verb", vec![json!("create")]),
        ("objectRef.resource", vec![json!("pods")]),
        (
            "user.groups",
            vec![
                json!("system:serviceaccounts"),
                json!("system:serviceaccounts:kube-system"),
                json!("system:authenticated"),
            ],
        ),
        (
            "requestObject.spec.containers.image",
            vec![
                json!("registry.pay.internal:5000/payments/ledger:4.2.0"),
                json!("registry.pay.internal:5000/infra/log-shipper:1.9.3"),
            ],
        ),
        (
            "requestObject.spec.containers.securityContext.privileged",
            vec![json!(true)],
        ),
        (
            "requestObject.spec.volumes.hostPath.path",
            vec![json!("/var/log")],
        ),
        ("requestObject.spec.hostPID", vec![]),
    ]
}

fn lookup(c: &mut Criterion) {
    let event = pod_create();
    let cases = cases();
    for (path, expected) in &cases {
        let got: Vec<Value> = values(&event, path)
            .into_iter()
            .map(ValueRef::to_value)
            .collect();
        assert_eq!(&got, expected, "lookup of {path}");
    }
    let mut group = c.benchmark_group("field_lookup");
    for (path, _) in &cases {
        // Visit every value, as a value test that does not match does.
        group.bench_function(*path, |b| {
            b.iter(|| {
                let mut seen = 0usize;
                let _ = black_box(&event).visit(black_box(path), &mut |v| {
                    black_box(v);
                    seen += 1;
                    ControlFlow::Continue(())
                });
                seen
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
