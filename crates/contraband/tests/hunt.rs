//! End-to-end `contraband hunt` behaviour: real corpora, exit codes, bad input.

mod common;

use std::io::Write;

use common::{contraband, contraband_with_stdin, corpora, fired};

const DOCKER_PRIVILEGED: &str = r#"{"status":"create","id":"c0ffee","from":"busybox","Type":"container","Action":"create","Actor":{"ID":"c0ffee","Attributes":{"image":"busybox","name":"cb-x"}},"scope":"local","time":1700000000,"timeNano":1700000000000000000}"#;

/// A temp dir holding one rule and one Docker create event, and the
/// `hunt` arguments that judge the one with the other.
struct OneEvent {
    _dir: tempfile::TempDir,
    input: String,
    rules: String,
}

impl OneEvent {
    fn new() -> OneEvent {
        let dir = tempfile::tempdir().unwrap();
        write_rule(dir.path());
        let input = dir.path().join("events.jsonl");
        std::fs::write(&input, format!("{DOCKER_PRIVILEGED}\n")).unwrap();
        OneEvent {
            input: input.to_str().unwrap().to_string(),
            rules: dir.path().join("create.yml").to_str().unwrap().to_string(),
            _dir: dir,
        }
    }

    /// `hunt INPUT --rules RULE --no-builtin EXTRA...`
    fn hunt(&self, extra: &[&str]) -> common::Run {
        let base = ["hunt", &self.input, "--rules", &self.rules, "--no-builtin"];
        contraband(&[&base[..], extra].concat())
    }
}

fn write_rule(dir: &std::path::Path) {
    std::fs::write(
        dir.join("create.yml"),
        "title: Container created\nid: 0e6bd9a4-1a8e-4d39-9a6e-2c0c2b2d8f10\nlevel: high\n\
         logsource: {category: container_engine}\n\
         detection:\n  sel: {Action: create, Type: container}\n  condition: sel\n",
    )
    .unwrap();
}

#[test]
fn sigmahq_kubernetes_rules_fire_on_falco_audit_traces() {
    let traces = corpora().join("falco/test/trace_files/k8s_audit");
    let rules = corpora().join("sigma/rules/application/kubernetes");
    let run = contraband(&[
        "hunt",
        traces.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--no-builtin",
        "--no-dedup",
        "--format",
        "jsonl",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let got = fired(&run.alerts());
    let want: Vec<(String, String)> = [
        (
            "Container With A hostPath Mount Created",
            "create_nginx_pod_sensitive_mount.json",
        ),
        (
            "Container With A hostPath Mount Created",
            "create_nginx_pod_sensitive_mount_2nd_container.json",
        ),
        (
            "Creation Of Pod In System Namespace",
            "create_pod_kube_system_namespace.json",
        ),
        (
            "Deployment Deleted From Kubernetes Cluster",
            "delete_deployment.json",
        ),
        (
            "Kubernetes Rolebinding Modification",
            "attach_cluster_admin_role.json",
        ),
        (
            "Kubernetes Rolebinding Modification",
            "create_clusterrolebinding.json",
        ),
        (
            "Kubernetes Rolebinding Modification",
            "delete_clusterrolebinding.json",
        ),
        (
            "Kubernetes Secrets Modified or Deleted",
            "create_kube_system_secret.json",
        ),
        (
            "Kubernetes Secrets Modified or Deleted",
            "create_secret.json",
        ),
        (
            "Kubernetes Secrets Modified or Deleted",
            "create_service_account_token_secret.json",
        ),
        (
            "Kubernetes Secrets Modified or Deleted",
            "delete_secret.json",
        ),
        (
            "New Kubernetes Service Account Created",
            "create_serviceaccount.json",
        ),
        (
            "New Kubernetes Service Account Created",
            "create_serviceaccount_kube_public_namespace.json",
        ),
        (
            "New Kubernetes Service Account Created",
            "create_serviceaccount_kube_system_namespace.json",
        ),
        (
            "Potential Remote Command Execution In Pod Container",
            "exec_pod.json",
        ),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    let hostpath = run
        .alerts()
        .into_iter()
        .find(|a| common::file_name(a) == "create_nginx_pod_sensitive_mount.json")
        .unwrap();
    assert_eq!(hostpath["matched"]["hostPath"], "/etc");
    assert_eq!(hostpath["rule"]["level"], "low");
    assert!(run.stderr.contains("16 rules loaded"), "{}", run.stderr);
}

#[test]
fn malformed_lines_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write_rule(dir.path());
    let input = dir.path().join("events.jsonl");
    let later = DOCKER_PRIVILEGED.replace("c0ffee", "beef01");
    std::fs::write(
        &input,
        format!("{DOCKER_PRIVILEGED}\n{{\"Type\": broken\n{later}\n"),
    )
    .unwrap();
    let rules = dir.path().join("create.yml");
    let args = [
        "hunt",
        input.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--no-builtin",
    ];
    let run = contraband(&args);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.alerts().len(), 2, "both good lines still judged");
    assert!(
        run.stderr.contains(&format!("{}:2", input.display())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 decode errors"), "{}", run.stderr);

    let strict = contraband(&[&args[..], &["--strict"]].concat());
    assert_eq!(strict.status, 2, "{}", strict.stderr);
}

#[test]
fn fail_on_level_sets_exit_status() {
    let one = OneEvent::new();
    assert_eq!(one.hunt(&["--fail-on", "high"]).status, 1);
    assert_eq!(one.hunt(&["--fail-on", "critical"]).status, 0);
    let filtered = one.hunt(&["--min-level", "critical"]);
    assert_eq!(filtered.status, 0);
    assert!(filtered.alerts().is_empty());
    assert_eq!(one.hunt(&["--min-level", "severe"]).status, 2);
}

#[test]
fn time_window_filters_by_event_time() {
    let one = OneEvent::new();
    assert!(one.hunt(&["--from", "2023-11-15"]).alerts().is_empty());
    let within = one.hunt(&["--from", "2023-11-14", "--to", "2023-11-15T00:00:00Z"]);
    assert_eq!(within.alerts().len(), 1);
    assert_eq!(within.alerts()[0]["time"], "2023-11-14T22:13:20Z");
}

#[test]
fn stdin_and_gzip_inputs() {
    let dir = tempfile::tempdir().unwrap();
    write_rule(dir.path());
    let rules = dir.path().join("create.yml");
    let run = contraband_with_stdin(
        &[
            "hunt",
            "-",
            "--rules",
            rules.to_str().unwrap(),
            "--no-builtin",
        ],
        Some(format!("{DOCKER_PRIVILEGED}\n").as_bytes()),
    );
    assert_eq!(run.alerts().len(), 1, "{}", run.stderr);
    assert_eq!(run.alerts()[0]["source"]["source"], "-");

    let gz = dir.path().join("events.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(format!("{DOCKER_PRIVILEGED}\n").as_bytes())
        .unwrap();
    enc.finish().unwrap();
    let run = contraband(&[
        "hunt",
        gz.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--no-builtin",
    ]);
    assert_eq!(run.alerts().len(), 1, "{}", run.stderr);
    assert_eq!(run.alerts()[0]["container"]["name"], "cb-x");
}

#[test]
fn every_output_format_is_accepted() {
    let one = OneEvent::new();
    let dir = tempfile::tempdir().unwrap();
    for format in ["table", "jsonl", "json", "csv", "ocsf", "falco"] {
        let out = dir.path().join(format!("out.{format}"));
        let run = one.hunt(&["--format", format, "--output", out.to_str().unwrap()]);
        assert_eq!(run.status, 0, "{format}: {}", run.stderr);
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("Container created"), "{format}: {text}");
    }
}

#[test]
fn missing_input_is_an_error_naming_the_path() {
    let run = contraband(&["hunt", "/nonexistent/telemetry.log"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("/nonexistent/telemetry.log"),
        "{}",
        run.stderr
    );
}

#[test]
fn builtin_pack_on_falco_audit_traces_flags_exactly_the_risky_pods() {
    let traces = corpora().join("falco/test/trace_files/k8s_audit");
    let run = contraband(&[
        "hunt",
        traces.to_str().unwrap(),
        "--format",
        "jsonl",
        "--no-dedup",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let mut got: Vec<(String, String)> = run
        .alerts()
        .iter()
        .map(|a| {
            let file = common::file_name(a);
            (file, a["rule"]["id"].as_str().unwrap().to_string())
        })
        .collect();
    got.sort();
    const PRIVILEGED: &str = "e771c89e-301f-41af-9539-348381b30420";
    const HOSTPATH: &str = "5bd14287-3411-4c2e-8a2a-7460c181cedd";
    const HOST_NAMESPACE: &str = "436d63ea-636b-4d69-9ea6-7b5622f2e952";
    const SHELL_IN_POD: &str = "add1341d-2265-44a9-8d1b-0c3e508bf086";
    let want: Vec<(String, String)> = [
        ("attach_pod.json", SHELL_IN_POD),
        ("create_nginx_pod_hostnetwork.json", HOST_NAMESPACE),
        (
            "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json",
            PRIVILEGED,
        ),
        ("create_nginx_pod_privileged.json", PRIVILEGED),
        ("create_nginx_pod_privileged_2nd_container.json", PRIVILEGED),
        ("create_nginx_pod_sensitive_mount.json", HOSTPATH),
        (
            "create_nginx_pod_sensitive_mount_2nd_container.json",
            HOSTPATH,
        ),
        ("exec_pod.json", SHELL_IN_POD),
    ]
    .iter()
    .map(|(f, r)| (f.to_string(), r.to_string()))
    .collect();
    assert_eq!(got, want);
    let privileged = run
        .alerts()
        .into_iter()
        .find(|a| common::file_name(a) == "create_nginx_pod_privileged.json")
        .unwrap();
    assert_eq!(privileged["strategy"]["id"], "ADS-0003");
    assert_eq!(privileged["container"]["privileged"], true);
    assert_eq!(
        privileged["matched"]["requestObject.spec.containers.securityContext.privileged"],
        true
    );
}

#[test]
fn placeholder_file_overrides_the_pack_defaults() {
    const UNAPPROVED_REGISTRY: &str = "3a163a69-cb05-4de5-9130-cde81178d2c2";
    let events = common::workspace().join("samples/docker-events.jsonl");
    let fires = |extra: &[&str]| {
        let base = ["hunt", events.to_str().unwrap(), "--format", "jsonl"];
        let run = contraband(&[&base[..], extra].concat());
        assert_eq!(run.status, 0, "{}", run.stderr);
        run.alerts()
            .iter()
            .any(|a| a["rule"]["id"] == UNAPPROVED_REGISTRY)
    };
    assert!(
        fires(&[]),
        "the recorded pull from 127.0.0.1:5001 is off the default list"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.yml");
    std::fs::write(
        &file,
        "approved_registries: ['127.0.0.1:5000', '127.0.0.1:5001']\n",
    )
    .unwrap();
    assert!(!fires(&["--placeholders", file.to_str().unwrap()]));
    std::fs::write(&file, "approved_registries: not-a-list\n").unwrap();
    let bad = contraband(&[
        "hunt",
        events.to_str().unwrap(),
        "--placeholders",
        file.to_str().unwrap(),
    ]);
    assert_eq!(bad.status, 2);
    assert!(bad.stderr.contains("site.yml"), "{}", bad.stderr);
}

/// A JSON-lines file larger than one chunk is split across workers; the
/// output must be the sequential one: same alerts, same order, right line
/// numbers, decode errors counted, and process ancestry (container
/// attribution) carried from chunk to chunk.
#[test]
fn one_file_split_across_workers_gives_the_sequential_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rule.yml"),
        "title: Whoami\nid: 5f0a4a8e-4d9e-4c1e-9a65-0b8f1f3c2a11\nlevel: high\n\
         logsource: {product: linux, category: process_creation}\n\
         detection:\n  sel: {Image|endswith: /whoami}\n  condition: sel\n",
    )
    .unwrap();
    let cid = "a".repeat(64);
    let mut text = String::new();
    // Line 1: a containerized process; its grandchild, thousands of lines
    // (several chunks) later, must still be attributed to the container.
    text.push_str(&format!(
        "{{\"Image\":\"/bin/sh\",\"CommandLine\":\"sh\",\"ProcessId\":10,\"ParentProcessId\":1,\"container\":{{\"id\":\"{cid}\"}}}}\n"
    ));
    for i in 0..5000u64 {
        if i == 1234 {
            text.push_str("{not json\n");
        }
        let (image, pid, ppid) = match i {
            100 => ("/usr/bin/env", 11, 10),
            4321 => ("/usr/bin/whoami", 12, 11),
            _ if i % 997 == 0 => ("/usr/bin/whoami", 100_000 + i, 2),
            _ => ("/usr/bin/ls", 200_000 + i, 3),
        };
        text.push_str(&format!(
            "{{\"Image\":\"{image}\",\"CommandLine\":\"{image} -x {i}\",\"ProcessId\":{pid},\"ParentProcessId\":{ppid}}}\n"
        ));
    }
    let input = dir.path().join("events.jsonl");
    std::fs::write(&input, &text).unwrap();
    let run = |threads: &str| {
        let r = contraband(&[
            "hunt",
            input.to_str().unwrap(),
            "--rules",
            dir.path().join("rule.yml").to_str().unwrap(),
            "--no-builtin",
            "--no-dedup",
            "--no-progress",
            "--format",
            "jsonl",
            "--input-format",
            "json",
            "--logsource",
            "product=linux,category=process_creation",
            "-j",
            threads,
        ]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert!(
            r.stderr.contains("5001 events, 1 decode errors"),
            "{}",
            r.stderr
        );
        r
    };
    let one = run("1");
    let two = run("2");
    assert_eq!(
        one.stdout, two.stdout,
        "split output differs from sequential"
    );
    let alerts = two.alerts();
    let lines: Vec<u64> = alerts
        .iter()
        .map(|a| a["source"]["line"].as_u64().unwrap())
        .collect();
    // Line of event i: 2 + i, plus 1 after the bad line.
    let want: Vec<u64> = (0..5000u64)
        .filter(|i| *i == 4321 || (*i % 997 == 0 && *i != 100))
        .map(|i| 2 + i + u64::from(i > 1234))
        .collect();
    assert_eq!(lines, want);
    let attributed: Vec<u64> = alerts
        .iter()
        .filter(|a| a["container"]["id"] == cid.as_str())
        .map(|a| a["source"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(attributed, vec![2 + 4321 + 1]);
}
