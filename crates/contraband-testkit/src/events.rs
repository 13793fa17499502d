//! Events built in code, for the micro-benchmarks and tests that must not
//! depend on the corpora.

use contraband_event::{parse_time, ContainerContext, Event, LogSource, Map, Value};

/// What differs between the process starts the benchmarks judge.
#[derive(Clone, Copy, Debug)]
pub struct Process<'a> {
    pub image: &'a str,
    pub command_line: &'a str,
    pub parent_image: &'a str,
    pub parent_command_line: &'a str,
}

/// A Linux process start inside a Kubernetes pod's container, with every
/// field a process-creation record of the benchmark corpora carries, as a
/// decoder of generic JSON leaves it.
pub fn process_creation(p: Process) -> Event {
    let text = |s: &str| Value::String(s.to_string());
    let mut fields = Map::new();
    fields.insert("UtcTime".into(), text("2026-11-23T10:41:07.512Z"));
    fields.insert("Computer".into(), text("build-node-07"));
    fields.insert("ProcessId".into(), 48213.into());
    fields.insert("Image".into(), text(p.image));
    fields.insert("CommandLine".into(), text(p.command_line));
    fields.insert("CurrentDirectory".into(), text("/srv/shop"));
    fields.insert("User".into(), text("deploy"));
    fields.insert("LogonId".into(), 1001.into());
    fields.insert("ParentProcessId".into(), 48190.into());
    fields.insert("ParentImage".into(), text(p.parent_image));
    fields.insert("ParentCommandLine".into(), text(p.parent_command_line));
    let mut event = Event::new(
        LogSource::new(Some("linux"), Some("process_creation"), None),
        parse_time("2026-11-23T10:41:07.512Z").expect("a valid time"),
        fields,
    );
    event.host = Some("build-node-07".into());
    event.set_container(ContainerContext {
        id: Some("3f9c0a8e5b7d41c2a6e08f3b9d2c7e1a4b5f6d8c9e0a1b2c3d4e5f60718293a4".into()),
        name: Some("shop-web-7d9f8c6b5-x2kqp".into()),
        image: Some("registry.shop.internal:5000/shop/web:2.14.1".into()),
        image_digest: Some(
            "sha256:9b1e4c7a2f3d5e6b8a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a".into(),
        ),
        runtime: Some("containerd".into()),
        privileged: Some(false),
        ..ContainerContext::default()
    });
    event
}

/// An ordinary process start: a database migration run by a release script.
pub fn benign_process() -> Event {
    process_creation(Process {
        image: "/usr/bin/python3.11",
        command_line: "python3 manage.py migrate --database default --noinput --verbosity 1",
        parent_image: "/usr/bin/bash",
        parent_command_line: "/bin/bash -c ./scripts/release.sh --stage migrate",
    })
}
