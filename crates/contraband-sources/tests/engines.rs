//! Docker/Podman events and inspect output, from small hand-made inputs in
//! the documented formats (real recordings are tested by the integrator).

mod common;

use common::*;
use contraband_sources::{container_context_from_inspect, Format, Options};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const ID: &str = "3b1f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f";

#[test]
fn docker_events_normalize_action_image_and_container() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"{{"status":"start","id":"{ID}","from":"localhost:5000/tools/hashcat:6.2","Type":"container","Action":"start","Actor":{{"ID":"{ID}","Attributes":{{"image":"localhost:5000/tools/hashcat:6.2","name":"cracker","com.example.team":"red"}}}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}}
{{"status":"exec_start: sh -c id","id":"{ID}","from":"busybox","Type":"container","Action":"exec_start: sh -c id","Actor":{{"ID":"{ID}","Attributes":{{"execID":"e1","image":"busybox","name":"box"}}}},"scope":"local","time":1700000001,"timeNano":1700000001000000000}}
{{"status":"pull","id":"hashcat/hashcat:latest","Type":"image","Action":"pull","Actor":{{"ID":"hashcat/hashcat:latest","Attributes":{{"name":"hashcat/hashcat"}}}},"scope":"local","time":1700000002,"timeNano":1700000002000000000}}
{{"Type":"network","Action":"connect","Actor":{{"ID":"n1","Attributes":{{"container":"{ID}","name":"bridge","type":"bridge"}}}},"scope":"local","time":1700000003,"timeNano":1700000003000000000}}
{{"status":"die","id":"{ID}","from":"busybox","time":1500000000}}
"#
    );
    let p = write(&dir, "docker-events.jsonl", &text);
    let events = contraband_sources::open(&p, &Options::default());
    assert_eq!(events.format(), Some(Format::DockerEvents));
    let (evs, errs) = split(events);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(evs.len(), 5);

    let start = &evs[0];
    assert_eq!(
        ls(start),
        (Some("docker"), Some("container_engine"), Some("events"))
    );
    assert_eq!(s(start, "Action"), "start");
    assert_eq!(s(start, "Type"), "container");
    assert_eq!(s(start, "ContainerId"), ID);
    assert_eq!(s(start, "ContainerName"), "cracker");
    assert_eq!(s(start, "ImageRef"), "localhost:5000/tools/hashcat:6.2");
    assert_eq!(s(start, "ImageRegistry"), "localhost:5000");
    assert_eq!(s(start, "ImageName"), "tools/hashcat");
    assert_eq!(s(start, "ImageTag"), "6.2");
    assert_eq!(s(start, "Actor.Attributes.name"), "cracker");
    assert_eq!(s(start, "scope"), "local");
    assert_eq!(start.time.0, 1_700_000_000_123_456_789);
    assert_eq!(s(start, "container.id"), ID);
    assert_eq!(s(start, "container.runtime"), "docker");
    assert_eq!(s(start, "container.image_registry"), "localhost:5000");
    assert_eq!(s(start, "container.labels.com.example.team"), "red");
    assert!(start.get("container.labels.name").is_none());

    let exec = &evs[1];
    assert_eq!(s(exec, "Action"), "exec_start");
    assert_eq!(s(exec, "ExecCommand"), "sh -c id");
    assert_eq!(s(exec, "status"), "exec_start: sh -c id");
    assert_eq!(s(exec, "ImageRegistry"), "docker.io");
    assert_eq!(s(exec, "ImageName"), "busybox");

    let pull = &evs[2];
    assert_eq!(s(pull, "Type"), "image");
    assert_eq!(s(pull, "Action"), "pull");
    assert_eq!(s(pull, "ImageName"), "hashcat/hashcat");
    assert_eq!(s(pull, "ImageTag"), "latest");
    assert!(pull.container.is_none());

    assert_eq!(s(&evs[3], "ContainerId"), ID);
    assert_eq!(s(&evs[3], "Type"), "network");

    // legacy: status/id/from only
    let legacy = &evs[4];
    assert_eq!(s(legacy, "Action"), "die");
    assert_eq!(s(legacy, "Type"), "container");
    assert_eq!(s(legacy, "ContainerId"), ID);
    assert_eq!(s(legacy, "ImageRef"), "busybox");
    assert_eq!(legacy.time.0, 1_500_000_000_000_000_000);
    assert_eq!(legacy.origin.line, Some(5));
}

#[test]
fn podman_events_share_the_docker_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"{{"ID":"{ID}","Image":"quay.io/team/miner:1","Name":"m","Status":"start","time":1700000000,"timeNano":1700000000000000042,"Type":"container","Attributes":{{"image":"quay.io/team/miner:1","name":"m","podId":"","io.example":"x"}}}}
{{"ID":"{ID}","Image":"quay.io/team/miner:1","Name":"m","Status":"died","Time":"2019-04-27T22:47:00.849932843-04:00","Type":"container","ContainerExitCode":0}}
{{"ID":"a0f8ab051bfd43f9c5141a8a2502139707e4b38d98ac0872e57c5315381e88ad","Name":"docker.io/library/alpine:latest","Status":"pull","time":1700000005,"Type":"image"}}
{{"ID":"a0f8ab051bfd43f9c5141a8a2502139707e4b38d98ac0872e57c5315381e88ad","Name":"docker.io/library/alpine:latest","Status":"remove","time":1700000006,"Type":"image"}}
"#
    );
    let p = write(&dir, "podman.jsonl", &text);
    let events = contraband_sources::open(&p, &Options::default());
    assert_eq!(events.format(), Some(Format::PodmanEvents));
    let (evs, errs) = split(events);
    assert!(errs.is_empty(), "{errs:?}");
    let start = &evs[0];
    assert_eq!(
        ls(start),
        (Some("podman"), Some("container_engine"), Some("events"))
    );
    assert_eq!(s(start, "Action"), "start");
    assert_eq!(s(start, "ContainerName"), "m");
    assert_eq!(s(start, "ImageRegistry"), "quay.io");
    assert_eq!(s(start, "ImageName"), "team/miner");
    assert_eq!(s(start, "container.runtime"), "podman");
    assert_eq!(s(start, "container.labels.io.example"), "x");
    assert!(start.get("container.labels.podId").is_none());
    assert_eq!(start.time.0, 1_700_000_000_000_000_042);
    assert_eq!(s(&evs[1], "Action"), "die");
    assert_eq!(s(&evs[1], "Status"), "died");
    assert_eq!(evs[1].time.to_rfc3339(), "2019-04-28T02:47:00.849932843Z");
    assert_eq!(s(&evs[2], "Action"), "pull");
    assert_eq!(s(&evs[2], "ImageName"), "library/alpine");
    assert_eq!(
        s(&evs[2], "ImageDigest"),
        "sha256:a0f8ab051bfd43f9c5141a8a2502139707e4b38d98ac0872e57c5315381e88ad"
    );
    assert_eq!(s(&evs[3], "Action"), "delete");
}

fn inspect_json() -> String {
    format!(
        r#"[
  {{
    "Id": "{ID}",
    "Created": "2024-05-01T10:00:00.123456789Z",
    "Name": "/escape",
    "Image": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
    "HostConfig": {{
      "Binds": ["/:/mnt", "/var/run/docker.sock:/var/run/docker.sock:ro"],
      "Privileged": true,
      "PidMode": "host",
      "NetworkMode": "host",
      "IpcMode": "private",
      "UTSMode": "",
      "UsernsMode": "",
      "CapAdd": ["SYS_ADMIN"],
      "CapDrop": null,
      "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined"],
      "LogConfig": {{"Type": "none", "Config": {{}}}},
      "Devices": [{{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda", "CgroupPermissions": "rwm"}}],
      "Mounts": [{{"Type": "bind", "Source": "/etc", "Target": "/host-etc", "ReadOnly": true}}]
    }},
    "Mounts": [
      {{"Type": "bind", "Source": "/", "Destination": "/mnt", "Mode": "", "RW": true, "Propagation": "rprivate"}},
      {{"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock", "Mode": "ro", "RW": false, "Propagation": "rprivate"}},
      {{"Type": "bind", "Source": "/etc", "Destination": "/host-etc", "Mode": "", "RW": false, "Propagation": "rprivate"}}
    ],
    "Config": {{
      "User": "root",
      "Image": "localhost:5000/hashcat:latest",
      "Labels": {{"io.kubernetes.pod.namespace": "ci", "io.kubernetes.pod.name": "runner"}}
    }}
  }},
  {{
    "Id": "b2",
    "Created": "2024-05-01T11:00:00Z",
    "Name": "/mounted",
    "HostConfig": {{
      "Mounts": [{{"Type": "bind", "Source": "/", "Target": "/host", "BindOptions": {{"Propagation": "rshared"}}}}]
    }},
    "Config": {{"Image": "busybox"}}
  }}
]
"#
    )
}

#[test]
fn inspect_array_gives_one_event_per_container_with_full_context() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "inspect.json", &inspect_json());
    let events = contraband_sources::open(&p, &Options::default());
    assert_eq!(events.format(), Some(Format::DockerInspect));
    let (evs, errs) = split(events);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(evs.len(), 2);
    let ev = &evs[0];
    assert_eq!(
        ls(ev),
        (Some("docker"), Some("container_engine"), Some("inspect"))
    );
    assert_eq!(s(ev, "Action"), "inspect");
    assert_eq!(s(ev, "ContainerName"), "escape");
    assert_eq!(s(ev, "ImageRef"), "localhost:5000/hashcat:latest");
    assert_eq!(ev.time.to_rfc3339(), "2024-05-01T10:00:00.123456789Z");
    assert_eq!((ev.origin.index, ev.origin.line), (Some(0), Some(2)));
    assert_eq!(
        (evs[1].origin.index, evs[1].origin.line),
        (Some(1), Some(33))
    );
    let c = ev.container.as_deref().unwrap();
    assert_eq!(c.id.as_deref(), Some(ID));
    assert_eq!(c.name.as_deref(), Some("escape"));
    assert_eq!(c.privileged, Some(true));
    assert_eq!(c.image_registry.as_deref(), Some("localhost:5000"));
    assert_eq!(
        c.image_digest.as_deref(),
        Some("sha256:1111111111111111111111111111111111111111111111111111111111111111")
    );
    assert_eq!(c.runtime.as_deref(), Some("docker"));
    assert_eq!(c.pid_mode.as_deref(), Some("host"));
    assert_eq!(c.network_mode.as_deref(), Some("host"));
    assert_eq!(c.ipc_mode.as_deref(), Some("private"));
    assert_eq!(c.uts_mode, None);
    assert_eq!(c.cap_add, vec!["SYS_ADMIN"]);
    assert!(c.cap_drop.is_empty());
    assert_eq!(
        c.security_opt,
        vec!["seccomp=unconfined", "apparmor=unconfined"]
    );
    assert_eq!(c.log_driver.as_deref(), Some("none"));
    assert_eq!(c.devices, vec!["/dev/sda"]);
    assert_eq!(c.user.as_deref(), Some("root"));
    assert_eq!(c.k8s_namespace.as_deref(), Some("ci"));
    assert_eq!(c.k8s_pod.as_deref(), Some("runner"));
    // Mounts, Binds and HostConfig.Mounts merged without duplicates
    let mounts: Vec<(&str, &str, bool)> = c
        .mounts
        .iter()
        .map(|m| {
            (
                m.source.as_deref().unwrap(),
                m.destination.as_deref().unwrap(),
                m.rw,
            )
        })
        .collect();
    assert_eq!(
        mounts,
        vec![
            ("/", "/mnt", true),
            ("/var/run/docker.sock", "/var/run/docker.sock", false),
            ("/etc", "/host-etc", false)
        ]
    );
    assert_eq!(
        all(ev, "container.mounts.source"),
        vec!["/", "/var/run/docker.sock", "/etc"]
    );

    // --mount type=bind,source=/ (HostConfig.Mounts only) gives the same source
    let c2 = evs[1].container.as_deref().unwrap();
    assert_eq!(c2.mounts.len(), 1);
    assert_eq!(c2.mounts[0].source.as_deref(), Some("/"));
    assert_eq!(c2.mounts[0].destination.as_deref(), Some("/host"));
    assert_eq!(c2.mounts[0].propagation.as_deref(), Some("rshared"));
    assert_eq!(c2.image_registry.as_deref(), Some("docker.io"));
}

#[test]
fn inspect_single_object_binds_only_and_podman() {
    let v = serde_json::json!({"Id": "x", "HostConfig": {"Binds": ["/:/mnt:rslave"]}, "Config": {"Image": "alpine"}});
    let c = container_context_from_inspect(&v);
    assert_eq!(c.mounts[0].source.as_deref(), Some("/"));
    assert_eq!(c.mounts[0].kind.as_deref(), Some("bind"));
    assert_eq!(c.mounts[0].propagation.as_deref(), Some("rslave"));

    let dir = tempfile::tempdir().unwrap();
    let podman = format!(
        r#"{{"Id":"{ID}","Created":"2024-05-01T10:00:00Z","Name":"pm","Image":"{}","ImageName":"quay.io/x/y:2","ImageDigest":"sha256:abcd","OCIRuntime":"crun","ConmonPidFile":"/run/c.pid","Config":{{"Image":"quay.io/x/y:2","User":""}},"HostConfig":{{"Privileged":false,"CapAdd":["CAP_SYS_PTRACE"]}}}}"#,
        "9".repeat(64)
    );
    let p = write(&dir, "podman-inspect.json", &podman);
    let (evs, errs) = decode(&p, None);
    assert!(errs.is_empty(), "{errs:?}");
    let ev = &evs[0];
    assert_eq!(
        ls(ev),
        (Some("podman"), Some("container_engine"), Some("inspect"))
    );
    assert_eq!(s(ev, "container.runtime"), "podman");
    assert_eq!(s(ev, "container.image_digest"), "sha256:abcd");
    assert_eq!(s(ev, "container.cap_add"), "CAP_SYS_PTRACE");
    assert_eq!(
        ev.get("container.privileged"),
        Some(&serde_json::json!(false))
    );
    assert!(ev.get("container.user").is_none());
}

#[test]
fn generic_json_logsource_container_and_inference() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"{"logsource":{"product":"linux","category":"process_creation","service":"custom"},"Image":"/usr/bin/hashcat","CommandLine":"hashcat -m 0","container":{"id":"c1","privileged":true,"mounts":[{"source":"/","destination":"/mnt"}]},"@timestamp":"2024-01-01T00:00:00Z","host":"h1"}
{"Image":"/bin/sh","CommandLine":"sh -c id"}
{"Something":"else"}
"#;
    let p = write(&dir, "generic.jsonl", text);
    let (evs, errs) = decode(&p, None);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(
        ls(&evs[0]),
        (Some("linux"), Some("process_creation"), Some("custom"))
    );
    assert!(evs[0].fields.get("logsource").is_none());
    assert_eq!(s(&evs[0], "container.id"), "c1");
    assert_eq!(s(&evs[0], "container.mounts.source"), "/");
    assert_eq!(evs[0].host.as_deref(), Some("h1"));
    assert_eq!(evs[0].time.to_rfc3339(), "2024-01-01T00:00:00Z");
    assert_eq!(ls(&evs[1]), (None, Some("process_creation"), None));
    assert_eq!(ls(&evs[2]), (None, None, None));

    let opts = Options {
        logsource: Some(
            contraband_sources::parse_logsource("product=linux, category=process_creation")
                .unwrap(),
        ),
        ..Options::default()
    };
    let (evs, _) = split(contraband_sources::open(&p, &opts));
    assert_eq!(
        ls(&evs[0]).2,
        Some("custom"),
        "a record's own logsource wins"
    );
    assert_eq!(ls(&evs[2]), (Some("linux"), Some("process_creation"), None));
    assert!(contraband_sources::parse_logsource("vendor=x").is_err());
}

#[test]
fn mapping_directory_overrides_builtin_tables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("docker.yml"),
        "logsource: {product: docker, category: container_engine, service: events}\nrename: {ContainerName: container_name}\ntables: {actions: {container/start: begin}}\n",
    )
    .unwrap();
    let mappings = contraband_sources::Mappings::load_dir(dir.path()).unwrap();
    let opts = Options {
        mappings: std::sync::Arc::new(mappings),
        ..Options::default()
    };
    let mut d = contraband_sources::Decoder::new(Format::DockerEvents, "t", &opts);
    let out = d.feed(
        r#"{"Type":"container","Action":"start","Actor":{"ID":"a","Attributes":{"name":"n","image":"i"}},"time":1}"#,
        Some(1),
        Some(0),
    );
    let ev = out[0].as_ref().unwrap();
    assert_eq!(s(ev, "Action"), "begin");
    assert_eq!(s(ev, "container_name"), "n");
    assert!(ev.get("ContainerName").is_none());

    std::fs::write(dir.path().join("dokker.yml"), "{}").unwrap();
    let err = contraband_sources::Mappings::load_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("dokker.yml"));
    std::fs::remove_file(dir.path().join("dokker.yml")).unwrap();
    std::fs::write(dir.path().join("auditd.yml"), "logsource: [").unwrap();
    assert!(contraband_sources::Mappings::load_dir(dir.path()).is_err());
}

#[test]
fn podman_4_stream_starting_with_a_system_event() {
    // The shape podman 4.3 writes (`Time`, `Attributes: null`, build events
    // naming the image by id, exec without a command).
    let text = r#"{"Status":"refresh","Time":"2026-11-23T16:21:04.860521205Z","Type":"system","Attributes":null}
{"Name":"f008ff0975682168b260f3ddd950f78666ffaf6d70764605d84d59d52974bc85","Status":"build","Time":"2026-11-23T16:21:08.694223301Z","Type":"image","Attributes":null}
{"ID":"187d1e0bc2b44158c038386ecb292b763af92a889c3f069c33b61076e076b97b","Image":"localhost/contraband/busybox:latest","Name":"cb-exec","Status":"exec","Time":"2026-11-23T16:27:20.97511577Z","Type":"container","Attributes":{"io.buildah.version":"1.28.2"}}
"#;
    let events = contraband_sources::read(
        "podman",
        Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
        &Options::default(),
    );
    assert_eq!(events.format(), Some(Format::PodmanEvents));
    let (evs, errs) = split(events);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(s(&evs[0], "Action"), "refresh");
    assert_eq!(s(&evs[0], "Type"), "system");
    assert_eq!(
        s(&evs[1], "ImageDigest"),
        "sha256:f008ff0975682168b260f3ddd950f78666ffaf6d70764605d84d59d52974bc85"
    );
    assert!(evs[1].get("ImageRef").is_none());
    let exec = &evs[2];
    assert_eq!(s(exec, "Action"), "exec_start");
    assert_eq!(s(exec, "ImageRegistry"), "localhost");
    assert_eq!(s(exec, "ImageName"), "contraband/busybox");
    assert_eq!(s(exec, "container.name"), "cb-exec");
    assert_eq!(s(exec, "container.labels.io.buildah.version"), "1.28.2");
    assert_eq!(exec.time.to_rfc3339(), "2026-11-23T16:27:20.97511577Z");
}

#[test]
fn image_inspect_is_an_image_event() {
    let text = r#"[{"Id":"sha256:954d4dd421cf89b46b4fde0517731d9d32d37a6158555629fe07d69fb16a2025","RepoTags":["127.0.0.1:5001/tools/hashcat:6.2.6"],"RepoDigests":[],"Created":"2026-11-23T16:21:08Z","Config":{"Cmd":["/bin/sh"]},"RootFS":{"Type":"layers"}}]"#;
    let (evs, errs) = split(contraband_sources::read(
        "img",
        Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
        &Options::default(),
    ));
    assert!(errs.is_empty(), "{errs:?}");
    let ev = &evs[0];
    assert_eq!(
        ls(ev),
        (Some("docker"), Some("container_engine"), Some("inspect"))
    );
    assert_eq!(s(ev, "Type"), "image");
    assert_eq!(s(ev, "ImageRegistry"), "127.0.0.1:5001");
    assert_eq!(s(ev, "ImageName"), "tools/hashcat");
    assert_eq!(s(ev, "ImageTag"), "6.2.6");
    assert_eq!(
        s(ev, "ImageDigest"),
        "sha256:954d4dd421cf89b46b4fde0517731d9d32d37a6158555629fe07d69fb16a2025"
    );
    assert!(ev.container.is_none());
}
