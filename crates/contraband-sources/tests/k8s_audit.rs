//! Kubernetes audit decoding against falco's k8s_audit trace files.

mod common;

use common::*;
use contraband_sources::{ErrorKind, Format};

fn k8s_dir() -> std::path::PathBuf {
    corpora().join("falco/test/trace_files/k8s_audit")
}

#[test]
fn every_falco_file_decodes_and_the_malformed_one_is_reported() {
    let paths = files(&k8s_dir(), "json");
    assert_eq!(paths.len(), 47);
    let mut events = 0;
    let mut errors = Vec::new();
    for p in &paths {
        let (evs, errs) = decode(p, Some(Format::K8sAudit));
        for ev in &evs {
            assert_eq!(
                ls(ev),
                (Some("kubernetes"), Some("application"), Some("audit")),
                "{}",
                p.display()
            );
            assert!(
                ev.time.0 > 1_500_000_000_000_000_000,
                "{}: time",
                p.display()
            );
            assert!(ev.get_str("verb").is_some());
            assert_eq!(ev.origin.source.as_ref(), p.to_str().unwrap());
            assert!(ev.raw.as_deref().unwrap().contains("\"auditID\""));
        }
        events += evs.len();
        errors.extend(errs);
    }
    assert_eq!(events, 51);
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert!(e.file.ends_with("fal_01_003.json"), "{e}");
    assert_eq!(e.line, Some(1));
    assert!(matches!(e.kind, ErrorKind::Invalid(_)));
    assert!(e.to_string().contains("fal_01_003.json:1"), "{e}");
}

#[test]
fn auto_detection_finds_k8s_audit() {
    for name in [
        "create_nginx_pod_privileged.json",
        "exec_pod.json",
        "create_kube_system_secret.json",
    ] {
        let (evs, errs) = decode(&k8s_dir().join(name), None);
        assert!(errs.is_empty());
        assert_eq!(ls(&evs[0]).0, Some("kubernetes"), "{name}");
    }
}

#[test]
fn privileged_pod_gets_container_context() {
    let (evs, _) = decode(&k8s_dir().join("create_nginx_pod_privileged.json"), None);
    let ev = &evs[0];
    assert_eq!(s(ev, "verb"), "create");
    assert_eq!(s(ev, "objectRef.resource"), "pods");
    assert_eq!(
        s(
            ev,
            "requestObject.spec.containers.securityContext.privileged"
        ),
        "true"
    );
    assert_eq!(
        ev.get("container.privileged"),
        Some(&serde_json::json!(true))
    );
    assert_eq!(s(ev, "container.runtime"), "kubernetes");
    assert_eq!(s(ev, "container.image"), "nginx");
    assert_eq!(s(ev, "container.k8s_namespace"), "default");
    assert_eq!(ev.time.to_rfc3339(), "2018-10-25T14:09:12.581541Z");
}

#[test]
fn privileged_second_container_counts() {
    let (evs, _) = decode(
        &k8s_dir().join("create_nginx_pod_privileged_2nd_container.json"),
        None,
    );
    assert_eq!(
        evs[0].get("container.privileged"),
        Some(&serde_json::json!(true))
    );
    let (evs, _) = decode(&k8s_dir().join("create_nginx_pod_unprivileged.json"), None);
    assert_ne!(
        evs[0].get("container.privileged"),
        Some(&serde_json::json!(true))
    );
}

#[test]
fn host_path_and_host_network() {
    let (evs, _) = decode(
        &k8s_dir().join("create_nginx_pod_sensitive_mount.json"),
        None,
    );
    let ev = &evs[0];
    assert_eq!(all(ev, "hostPath"), vec!["/etc"]);
    assert_eq!(
        all(ev, "requestObject.spec.volumes.hostPath.path"),
        vec!["/etc"]
    );
    assert_eq!(s(ev, "container.mounts.source"), "/etc");
    assert_eq!(s(ev, "container.mounts.type"), "hostPath");
    assert_eq!(s(ev, "container.mounts.destination"), "/host/etc");

    let (evs, _) = decode(&k8s_dir().join("create_nginx_pod_hostnetwork.json"), None);
    assert_eq!(s(&evs[0], "container.network_mode"), "host");
    let (evs, _) = decode(&k8s_dir().join("create_nginx_pod_nohostnetwork.json"), None);
    assert!(evs[0].get("container.network_mode").is_none());
}

#[test]
fn deployment_template_and_api_group() {
    let (evs, _) = decode(&k8s_dir().join("create_deployment.json"), None);
    let ev = &evs[0];
    assert_eq!(s(ev, "apiGroup"), "extensions");
    assert_eq!(s(ev, "objectRef.resource"), "deployments");
    assert_eq!(s(ev, "container.image"), "nginx");
    assert_eq!(s(ev, "container.k8s_pod"), "nginx-deployment");
}

#[test]
fn exec_subresource() {
    let (evs, _) = decode(&k8s_dir().join("exec_pod.json"), None);
    assert_eq!(s(&evs[0], "objectRef.subresource"), "exec");
    assert!(evs[0].container.is_none());
}

#[test]
fn event_list_and_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.json");
    let list = serde_json::json!({
        "kind": "EventList", "apiVersion": "audit.k8s.io/v1",
        "items": [
            {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "a", "stage": "ResponseComplete",
             "verb": "create", "objectRef": {"resource": "pods", "namespace": "ns", "apiVersion": "v1"},
             "requestReceivedTimestamp": "2024-01-02T03:04:05.000000Z",
             "requestObject": {"kind": "Pod", "metadata": {"name": "p"}, "spec": {
                "hostPID": true, "hostIPC": true,
                "containers": [{"name": "c", "image": "ghcr.io/x/y:1",
                   "securityContext": {"capabilities": {"add": ["SYS_ADMIN", "NET_ADMIN"]}}}],
                "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}}},
            {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "b", "verb": "get",
             "objectRef": {"resource": "secrets", "apiGroup": ""},
             "stageTimestamp": "2024-01-02T03:04:06Z"}
        ]
    });
    std::fs::write(&path, serde_json::to_string_pretty(&list).unwrap()).unwrap();
    let (evs, errs) = decode(&path, None);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(evs.len(), 2);
    let ev = &evs[0];
    assert_eq!(ev.origin.index, Some(0));
    assert_eq!(evs[1].origin.index, Some(1));
    assert_eq!(all(ev, "capabilities"), vec!["SYS_ADMIN", "NET_ADMIN"]);
    assert_eq!(all(ev, "container.cap_add"), vec!["SYS_ADMIN", "NET_ADMIN"]);
    assert_eq!(s(ev, "container.pid_mode"), "host");
    assert_eq!(s(ev, "container.ipc_mode"), "host");
    assert_eq!(s(ev, "container.mounts.source"), "/");
    assert_eq!(s(ev, "container.image_registry"), "ghcr.io");
    assert_eq!(s(ev, "container.k8s_pod"), "p");
    assert_eq!(ev.time.to_rfc3339(), "2024-01-02T03:04:05Z");
    assert_eq!(evs[1].time.to_rfc3339(), "2024-01-02T03:04:06Z");
    // Each item's raw text is its own text in the (pretty-printed) input.
    let raw = evs[1].raw.as_deref().unwrap();
    assert!(raw.contains("\"auditID\": \"b\""), "{raw}");
    assert!(!raw.contains("\"auditID\": \"a\""), "{raw}");
}

#[test]
fn event_list_bad_item_keeps_the_others() {
    let item = |id: &str| {
        serde_json::json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": id,
            "verb": "get", "objectRef": {"resource": "pods"}, "stageTimestamp": "2024-01-02T03:04:06Z"})
    };
    let list = serde_json::json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
        "items": [item("a"), 7, item("c"), "x"]});
    let events = contraband_sources::read(
        "list.json",
        Box::new(std::io::Cursor::new(list.to_string().into_bytes())),
        &contraband_sources::Options::default(),
    );
    let (evs, errs) = split(events);
    assert_eq!(evs.len(), 2, "{errs:?}");
    assert_eq!(evs[1].origin.index, Some(2));
    assert_eq!(errs.len(), 1);
    let msg = errs[0].to_string();
    assert!(
        msg.contains("item 1 is not an object") && msg.contains("item 3"),
        "{msg}"
    );
}
