//! `contraband hunt samples/`: the bundled telemetry, recorded from real
//! Docker, Podman and auditd on this machine (see tests/fixtures/README.md),
//! plus a Kubernetes audit file, raises exactly these alerts with the
//! built-in pack: every recorded attack step is caught, by the rule meant for
//! it, attributed to the right container; the benign steps raise nothing.

mod common;

use std::collections::BTreeSet;

use common::{contraband, workspace};

/// (input file, rule id, container name or "-", first 40 characters of the command line)
const EXPECTED: &[(&str, &str, &str, &str)] = &[
    (
        "auditd.log.gz",
        "01f597ae-b4de-4369-b856-c620532e5102",
        "cb-hashcat",
        "/bin/sh /usr/bin/hashcat -m 0 -a 0 /hash",
    ),
    (
        "auditd.log.gz",
        "1b1c566a-b460-4f33-9e84-1a88ce4b7057",
        "-",
        "docker exec cb-exec sh -c id",
    ),
    (
        "auditd.log.gz",
        "1b1c566a-b460-4f33-9e84-1a88ce4b7057",
        "-",
        "podman exec cb-exec sh -c id",
    ),
    (
        "auditd.log.gz",
        "2f5e07b4-36df-40b5-9ca6-673b5d7fc1ae",
        "-",
        "docker run -d --name cb-hashcat -v /tmp/",
    ),
    (
        "auditd.log.gz",
        "2f5e07b4-36df-40b5-9ca6-673b5d7fc1ae",
        "-",
        "podman run -d --name cb-hashcat -v /tmp/",
    ),
    (
        "auditd.log.gz",
        "3c09216f-7e6a-4e73-9242-87b3808fd10c",
        "-",
        "truncate -s 0 /var/log/contraband-test.l",
    ),
    (
        "auditd.log.gz",
        "45d72f2d-bd11-4b51-8f96-6b1fea3b24db",
        "cb-hostroot",
        "sh -c sleep 1; chroot /host /bin/true; l",
    ),
    (
        "auditd.log.gz",
        "6a01b32c-cc7c-4ffc-9ae5-888fa75b29c8",
        "-",
        "docker run -d --name cb-nolog --log-driv",
    ),
    (
        "auditd.log.gz",
        "6a01b32c-cc7c-4ffc-9ae5-888fa75b29c8",
        "-",
        "docker run -d --name cb-nsenter --pid=ho",
    ),
    (
        "auditd.log.gz",
        "6a01b32c-cc7c-4ffc-9ae5-888fa75b29c8",
        "-",
        "docker run -d --name cb-privileged --pri",
    ),
    (
        "auditd.log.gz",
        "6a01b32c-cc7c-4ffc-9ae5-888fa75b29c8",
        "-",
        "docker run -d --name cb-unconfined --sec",
    ),
    (
        "auditd.log.gz",
        "6a01b32c-cc7c-4ffc-9ae5-888fa75b29c8",
        "-",
        "podman run -d --name cb-privileged --pri",
    ),
    (
        "auditd.log.gz",
        "76464914-cb92-4b4f-914a-1d2af36b2d51",
        "cb-vmcheck",
        "cat /sys/class/dmi/id/product_name",
    ),
    (
        "auditd.log.gz",
        "76464914-cb92-4b4f-914a-1d2af36b2d51",
        "cb-vmcheck",
        "cat /sys/class/dmi/id/sys_vendor",
    ),
    (
        "auditd.log.gz",
        "76464914-cb92-4b4f-914a-1d2af36b2d51",
        "cb-vmcheck",
        "grep -i hypervisor",
    ),
    (
        "auditd.log.gz",
        "76464914-cb92-4b4f-914a-1d2af36b2d51",
        "cb-vmcheck",
        "grep -i kvm",
    ),
    (
        "auditd.log.gz",
        "76464914-cb92-4b4f-914a-1d2af36b2d51",
        "cb-vmcheck",
        "sh -c sleep 1; cat /proc/cpuinfo | grep ",
    ),
    (
        "auditd.log.gz",
        "77a06902-6430-431c-95db-365237a8b0b4",
        "-",
        "",
    ),
    (
        "auditd.log.gz",
        "78cfb7ef-c2f5-486c-8a11-de7259df235a",
        "-",
        "rm -f /etc/docker/daemon.json",
    ),
    (
        "auditd.log.gz",
        "78cfb7ef-c2f5-486c-8a11-de7259df235a",
        "-",
        "sed -i s/\"log-level\": \"warn\"/\"log-level\"",
    ),
    (
        "auditd.log.gz",
        "8c043be3-1f4c-436c-9d9a-55668ee09804",
        "-",
        "docker run -d --name cb-dockersock -v /v",
    ),
    (
        "auditd.log.gz",
        "8c043be3-1f4c-436c-9d9a-55668ee09804",
        "-",
        "docker run -d --name cb-hostmount --moun",
    ),
    (
        "auditd.log.gz",
        "8c043be3-1f4c-436c-9d9a-55668ee09804",
        "-",
        "docker run -d --name cb-hostroot -v /:/h",
    ),
    (
        "auditd.log.gz",
        "8c043be3-1f4c-436c-9d9a-55668ee09804",
        "-",
        "podman run -d --name cb-hostroot -v /:/h",
    ),
    (
        "auditd.log.gz",
        "93f156de-11ce-4997-b56b-e7c657b7dba1",
        "-",
        "auditctl -D -k cb-delete-demo",
    ),
    (
        "auditd.log.gz",
        "93f156de-11ce-4997-b56b-e7c657b7dba1",
        "-",
        "auditctl -e 0",
    ),
    (
        "auditd.log.gz",
        "af4024e5-a293-440e-b5bf-9432a50a8725",
        "-",
        "cat /sys/class/dmi/id/product_name",
    ),
    (
        "auditd.log.gz",
        "af4024e5-a293-440e-b5bf-9432a50a8725",
        "-",
        "cat /sys/class/dmi/id/sys_vendor",
    ),
    (
        "auditd.log.gz",
        "af4024e5-a293-440e-b5bf-9432a50a8725",
        "-",
        "docker run -d --name cb-vmcheck contraba",
    ),
    (
        "auditd.log.gz",
        "af4024e5-a293-440e-b5bf-9432a50a8725",
        "-",
        "grep -i hypervisor /proc/cpuinfo",
    ),
    (
        "auditd.log.gz",
        "af4024e5-a293-440e-b5bf-9432a50a8725",
        "-",
        "grep -i kvm",
    ),
    (
        "auditd.log.gz",
        "af4024e5-a293-440e-b5bf-9432a50a8725",
        "-",
        "systemd-detect-virt",
    ),
    (
        "auditd.log.gz",
        "fa7a81b6-bf47-4dbd-8c54-e63eb32c3d0b",
        "cb-nsenter",
        "nsenter -t 1 -m -u -i -n true",
    ),
    (
        "docker-events.jsonl",
        "2d80e2a4-8e9d-41cc-9c4e-949f1c48cff4",
        "cb-unconfined",
        "",
    ),
    (
        "docker-events.jsonl",
        "3a163a69-cb05-4de5-9130-cde81178d2c2",
        "-",
        "",
    ),
    (
        "docker-events.jsonl",
        "524ee200-f675-4662-9d00-7f53878fee34",
        "cb-nsenter",
        "",
    ),
    (
        "docker-events.jsonl",
        "524ee200-f675-4662-9d00-7f53878fee34",
        "cb-privileged",
        "",
    ),
    (
        "docker-events.jsonl",
        "524ee200-f675-4662-9d00-7f53878fee34",
        "cb-unconfined",
        "",
    ),
    (
        "docker-events.jsonl",
        "6752504c-4bef-4244-8f49-3ed47ff8ed45",
        "-",
        "",
    ),
    (
        "docker-events.jsonl",
        "6752504c-4bef-4244-8f49-3ed47ff8ed45",
        "cb-hashcat",
        "",
    ),
    (
        "docker-events.jsonl",
        "6cf7e5a4-a09f-47da-910c-5cc788b033d0",
        "cb-dockersock",
        "",
    ),
    (
        "docker-events.jsonl",
        "6cfe6c26-cbf5-4e11-8a46-55161cd97333",
        "cb-hostmount",
        "",
    ),
    (
        "docker-events.jsonl",
        "6cfe6c26-cbf5-4e11-8a46-55161cd97333",
        "cb-hostroot",
        "",
    ),
    (
        "docker-events.jsonl",
        "83aef2f9-d800-40aa-98cb-c4eb23ef5902",
        "cb-nsenter",
        "",
    ),
    (
        "docker-events.jsonl",
        "8c966b49-8f88-4462-b4a3-1b4bd6a72404",
        "cb-nolog",
        "",
    ),
    (
        "docker-events.jsonl",
        "c988c379-66d7-4d44-aa3e-9a1a172cd3d3",
        "cb-exec",
        "",
    ),
    (
        "docker-events.jsonl",
        "f1c34511-8889-4c74-a6b5-d316de69ed21",
        "cb-nsenter",
        "",
    ),
    (
        "docker-events.jsonl",
        "f1c34511-8889-4c74-a6b5-d316de69ed21",
        "cb-privileged",
        "",
    ),
    (
        "k8s-audit.jsonl",
        "03bb0718-74e5-4d2f-a512-3626acae9dbf",
        "cb-unconfined",
        "",
    ),
    (
        "k8s-audit.jsonl",
        "07cd2799-c38f-451a-843c-8a992cf195bc",
        "cb-unconfined",
        "",
    ),
    (
        "k8s-audit.jsonl",
        "1091e11b-00f2-43ac-93d2-9fee43c00899",
        "cb-hashcat",
        "",
    ),
    (
        "k8s-audit.jsonl",
        "436d63ea-636b-4d69-9ea6-7b5622f2e952",
        "cb-nsenter",
        "",
    ),
    (
        "k8s-audit.jsonl",
        "5bd14287-3411-4c2e-8a2a-7460c181cedd",
        "cb-hostroot",
        "",
    ),
    (
        "k8s-audit.jsonl",
        "add1341d-2265-44a9-8d1b-0c3e508bf086",
        "-",
        "",
    ),
    (
        "k8s-audit.jsonl",
        "b8444095-6bf6-4e7e-88dd-5fe39d882d90",
        "cb-dockersock",
        "",
    ),
    (
        "k8s-audit.jsonl",
        "e771c89e-301f-41af-9539-348381b30420",
        "cb-nsenter",
        "",
    ),
    (
        "podman-events.jsonl",
        "6752504c-4bef-4244-8f49-3ed47ff8ed45",
        "cb-hashcat",
        "",
    ),
    (
        "podman-events.jsonl",
        "6cfe6c26-cbf5-4e11-8a46-55161cd97333",
        "cb-hostroot",
        "",
    ),
    (
        "podman-events.jsonl",
        "f1c34511-8889-4c74-a6b5-d316de69ed21",
        "cb-privileged",
        "",
    ),
];

/// `contraband hunt samples/ --format jsonl EXTRA...`
fn hunt_samples(extra: &[&str]) -> common::Run {
    let samples = workspace().join("samples");
    let base = ["hunt", samples.to_str().unwrap(), "--format", "jsonl"];
    contraband(&[&base[..], extra].concat())
}

#[test]
fn bundled_samples_raise_exactly_the_expected_alerts() {
    let run = hunt_samples(&[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stderr.contains("0 decode errors"), "{}", run.stderr);
    let got: BTreeSet<(String, String, String, String)> = run
        .alerts()
        .iter()
        .map(|a| {
            let file = common::file_name(a);
            let container = a["container"]["name"].as_str().unwrap_or("-").to_string();
            let command: String = a["process"]["command_line"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(40)
                .collect();
            (
                file,
                a["rule"]["id"].as_str().unwrap().to_string(),
                container,
                command,
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String, String)> = EXPECTED
        .iter()
        .map(|(f, r, c, p)| (f.to_string(), r.to_string(), c.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let unexpected: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "missing: {missing:#?}\nunexpected: {unexpected:#?}"
    );
}

#[test]
fn benign_containers_raise_nothing() {
    let run = hunt_samples(&["--no-dedup"]);
    for alert in run.alerts() {
        let name = alert["container"]["name"].as_str().unwrap_or_default();
        assert!(
            !name.starts_with("cb-benign"),
            "benign container alerted: {alert}"
        );
    }
}

#[test]
fn in_container_cracker_carries_the_inspected_context() {
    let run = hunt_samples(&["--no-dedup"]);
    let docker_cracker = run
        .alerts()
        .into_iter()
        .find(|a| {
            a["rule"]["id"] == "01f597ae-b4de-4369-b856-c620532e5102"
                && a["container"]["runtime"] == "docker"
        })
        .expect("hashcat in the Docker container is caught");
    assert_eq!(docker_cracker["container"]["name"], "cb-hashcat");
    assert_eq!(
        docker_cracker["container"]["image"],
        "127.0.0.1:5001/tools/hashcat:6.2.6"
    );
    assert_eq!(
        docker_cracker["container"]["mounts"][0]["source"],
        "/tmp/cb-hashes"
    );
    assert_eq!(docker_cracker["rule"]["level"], "high");
    assert_eq!(docker_cracker["strategy"]["id"], "ADS-0001");
    assert!(docker_cracker["attack"]["techniques"]
        .as_array()
        .unwrap()
        .contains(&"T1110.002".into()));
    assert_eq!(docker_cracker["process"]["image"], "/bin/busybox");
}

/// Dedup keeps the first alert of a finding and correlation counts in order,
/// so workers finishing files in a different order must not change what is
/// reported: every parallel run equals the sequential one, alert for alert.
#[test]
fn parallel_hunts_report_exactly_what_a_sequential_one_does() {
    let ids = |run: &common::Run| -> Vec<String> {
        assert_eq!(run.status, 0, "{}", run.stderr);
        run.alerts()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    let sequential = ids(&hunt_samples(&["-j", "1"]));
    assert!(sequential.len() > 50, "{} alerts", sequential.len());
    for round in 0..6 {
        let parallel = ids(&hunt_samples(&["-j", "4"]));
        assert_eq!(parallel, sequential, "round {round}");
    }
}
