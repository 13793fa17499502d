//! The detect stage end to end: one event through [`Engine::detect`]
//! (candidate rules, value tests, matched fields, alerts), against a small
//! inline rule set and against the built-in pack; and loading + compiling
//! those rules, which every hunt pays once.
//!
//! `cargo bench -p contraband-engine --bench engine`; `cargo test --benches`
//! runs it once as a smoke test.

use std::hint::black_box;
use std::sync::Arc;

use contraband_engine::load::{load_engine, RuleSources};
use contraband_engine::{Engine, Hit, RuleInfo, Scratch};
use contraband_event::{Event, LogSource, Map, Timestamp, Value};
use contraband_sigma::{LoadOptions, Loader};
use contraband_testkit::events::{benign_process, process_creation, Process};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

/// Twenty-one rules written for this benchmark, one YAML document each,
/// covering the value tests rules use most: `contains` (also `|all`),
/// `startswith`, `endswith`, `re`, wildcards, `windash`, `exists`, the
/// container context, and `all of` / `1 of` / `not` conditions.
const INLINE_RULES: &str = r#"
title: Shell Redirected to a TCP Socket
id: 3b12c1cc-5050-446b-9224-09d7989907d5
status: experimental
description: A shell whose streams go to /dev/tcp, the bash reverse-shell idiom.
tags: [attack.execution, attack.t1059.004]
logsource: {product: linux, category: process_creation}
detection:
  selection_shell:
    Image|endswith: [/bash, /sh, /dash, /zsh]
  selection_socket:
    CommandLine|contains|all: ['/dev/tcp/', '>&']
  condition: all of selection_*
level: high
---
title: Base64 Payload Decoded Into a Shell
id: d04d7da2-684f-43eb-9982-53e72721d87a
status: experimental
description: Text decoded with base64 and piped straight into a shell.
tags: [attack.defense-evasion, attack.t1140]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    CommandLine|re: 'base64 +(-d|--decode)\b.*\| *(ba|da|z)?sh\b'
  condition: selection
level: high
---
title: Password Cracker Started
id: 07362e85-edbf-4ac3-ae66-8ca264e7eaa5
status: experimental
description: A password cracking program ran.
tags: [attack.credential-access, attack.t1110.002]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|endswith: [/hashcat, /john, /hydra]
  condition: selection
level: high
---
title: Nsenter Into the Namespaces of Host Init
id: fcf43ce1-33ac-450d-8001-396af9b5d4fb
status: experimental
description: nsenter targeting PID 1, which from a container with the host PID namespace is the host.
tags: [attack.privilege-escalation, attack.t1611]
logsource: {product: linux, category: process_creation}
detection:
  selection_tool:
    Image|endswith: /nsenter
  selection_target:
    CommandLine|contains: [' -t 1 ', ' --target 1 ', ' --target=1 ']
  condition: all of selection_*
level: critical
---
title: Chroot Into a Host Filesystem Mount
id: 19bca388-0adf-41a8-9147-25019db99b2a
status: experimental
description: A containerised process changes its root to where the host filesystem is mounted.
tags: [attack.privilege-escalation, attack.t1611]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|endswith: /chroot
    CommandLine|contains: [' /host', ' /rootfs', ' /mnt/host']
    container.id|exists: true
  condition: selection
level: critical
---
title: Download to a Temporary Directory Then Execute
id: 2a99b7c2-8588-4ace-8448-14dae875be58
status: experimental
description: curl or wget fetches into /tmp or /dev/shm and the same command line runs the result.
tags: [attack.command-and-control, attack.t1105]
logsource: {product: linux, category: process_creation}
detection:
  selection_fetch:
    CommandLine|contains: ['curl ', 'wget ']
  selection_temp:
    CommandLine|contains: [/tmp/, /dev/shm/, /var/tmp/]
  selection_run:
    CommandLine|contains: ['| sh', '|sh', '| bash', 'chmod +x']
  condition: all of selection_*
level: high
---
title: Shell Spawned by a Web Server in a Container
id: bc496937-23c4-49a7-bc2b-8b5554b2466c
status: experimental
description: A web server or application runtime in a container starts a shell, as a web shell does.
tags: [attack.persistence, attack.t1505.003]
logsource: {product: linux, category: process_creation}
detection:
  selection_parent:
    ParentImage|endswith: [/nginx, /httpd, /apache2, /php-fpm, /node, /java]
  selection_child:
    Image|endswith: [/sh, /bash, /dash, /ash]
  selection_container:
    container.id|exists: true
  condition: all of selection_*
level: high
---
title: Package Installed in a Running Container
id: ae022c11-c92e-457b-b49a-1d39c612e9f6
status: experimental
description: A package manager installs software in a container after it started, outside an image build.
tags: [attack.execution, attack.t1072]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|endswith: [/apt-get, /apt, /apk, /yum, /dnf, /pip3]
    CommandLine|contains: [' install ', ' add ']
    container.id|exists: true
  filter_build:
    ParentImage|endswith: [/buildkitd, /buildah, /kaniko/executor]
  condition: selection and not filter_build
level: medium
---
title: Cryptocurrency Miner Pool Arguments
id: 3f3f68f7-5f02-43ed-8038-7ef99e275e00
status: experimental
description: Command-line arguments of a mining client pointed at a pool.
tags: [attack.impact, attack.t1496]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    CommandLine:
      - '*stratum+tcp://*'
      - '*stratum+ssl://*'
      - '*--donate-level*'
      - '* -o pool.*:?333*'
  condition: selection
level: high
---
title: Kernel Module Loaded From a Container
id: cc2182d3-c7b8-482c-a158-e7ce104b5e6a
status: experimental
description: insmod or modprobe run inside a container, which loads the module into the host kernel.
tags: [attack.persistence, attack.t1547.006]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|endswith: [/insmod, /modprobe]
    container.id|exists: true
  filter_query:
    CommandLine|contains: [' --show-depends', ' -n ', ' --dry-run']
  condition: selection and not filter_query
level: critical
---
title: Crontab Removed or Replaced From Standard Input
id: 24f0c2e8-e22f-40dc-a7b5-fd50108cd693
status: experimental
description: crontab -r drops a user's jobs; crontab - installs whatever is piped in.
tags: [attack.persistence, attack.t1053.003]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    CommandLine|startswith: ['crontab -r', 'crontab - ', 'crontab -u root -']
  condition: selection
level: medium
---
title: Shell History Disabled
id: 69e694d5-e4aa-41e8-bab8-a4d7ae2e1550
status: experimental
description: The history file is pointed at /dev/null, unset, or the history cleared.
tags: [attack.defense-evasion, attack.t1070.003]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    CommandLine|contains: [HISTFILE=/dev/null, unset HISTFILE, history -c, HISTSIZE=0]
  condition: selection
level: medium
---
title: System Logs Truncated or Shredded
id: 6a9503a0-b1db-4c2b-9abe-a97abb94447d
status: experimental
description: Files under /var/log emptied with truncate or destroyed with shred.
tags: [attack.defense-evasion, attack.t1070.002]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    CommandLine|re: '(truncate +-s *0|shred +-[a-z]*u[a-z]*) +/var/log/'
  condition: selection
level: high
---
title: Container Breakout Reconnaissance
id: ea81ad43-5e9c-4d74-bc0d-0e3c6a0b73f8
status: experimental
description: Tools or reads that tell a process what container it is in and how to leave it.
tags: [attack.discovery, attack.t1613]
logsource: {product: linux, category: process_creation}
detection:
  selection_tool:
    Image: ['*/amicontained', '*/deepce*', '*/cdk', '*/botb']
  selection_read:
    CommandLine|contains: [cat /proc/1/cgroup, cat /proc/self/status, capsh --print]
  condition: 1 of selection_*
level: medium
---
title: Container Image Pulled by Registry IP Address
id: 52a7b44d-7bf4-45ee-909d-6c8da9364c3f
status: experimental
description: A process runs in a container whose image came from a registry named by a bare IP address.
tags: [attack.initial-access, attack.t1610]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    container.image|re: '^\d{1,3}(\.\d{1,3}){3}(:\d+)?/'
  condition: selection
level: medium
---
title: Shell in a Privileged Container
id: 57e4a928-a721-4433-b238-d5e825707d2b
status: experimental
description: An interactive shell inside a container that runs privileged.
tags: [attack.execution, attack.t1059.004]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    container.privileged: true
    Image|endswith: [/sh, /bash, /ash]
    CommandLine|endswith: [' -i', ' -l', sh, bash]
  condition: selection
level: high
---
title: SUID Bit Set on a File
id: 70e6ef7a-1f4c-49b2-98f4-925805b7d0fb
status: experimental
description: chmod sets the set-user-ID bit, a way back to root later.
tags: [attack.privilege-escalation, attack.t1548.001]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    CommandLine|re: 'chmod +(-[a-zA-Z]+ +)*(u\+s|[0-7]?[4-7][0-7]{3}) '
  condition: selection
level: medium
---
title: Kubernetes Service Account Token Read
id: f3e58290-54ee-42b7-af91-b7a20c3dceca
status: experimental
description: A command line names the pod's mounted service account token.
tags: [attack.credential-access, attack.t1528]
logsource: {product: linux, category: process_creation}
detection:
  selection:
    CommandLine|contains: /var/run/secrets/kubernetes.io/serviceaccount/token
  condition: selection
level: medium
---
title: Encoded PowerShell Command
id: 3919acb3-8916-423e-8ad9-00ad4091cb98
status: experimental
description: PowerShell given its script base64-encoded on the command line, in any dash spelling.
tags: [attack.execution, attack.t1059.001]
logsource: {product: windows, category: process_creation}
detection:
  selection_image:
    Image|endswith: ['\powershell.exe', '\pwsh.exe']
  selection_flag:
    CommandLine|windash|contains: [' -e ', ' -en ', ' -enc ', ' -encodedcommand ', ' -ec ']
  condition: all of selection_*
level: high
---
title: Certutil Downloads Into the URL Cache
id: d06b4bae-99ce-4220-8a7d-e80a6b7a8ecc
status: experimental
description: certutil used as a downloader.
tags: [attack.command-and-control, attack.t1105]
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\certutil.exe'
    CommandLine|windash|contains|all: [-urlcache, 'http']
  condition: selection
level: high
---
title: Command Run Directly in a WSL Distribution
id: 445bdc05-f42a-4ad2-be4f-4eb1ffb22a91
status: experimental
description: wsl.exe asked to run one command, which bypasses Windows process monitoring of its children.
tags: [attack.defense-evasion, attack.t1202]
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\wsl.exe'
    CommandLine|windash|contains: [' -e ', ' --exec ', ' -u root']
  condition: selection
level: medium
"#;

/// Documents in [`INLINE_RULES`].
const INLINE_COUNT: usize = 21;

/// Load and compile the inline rules into an engine, as `hunt --rules` does
/// with a directory (no strategies).
fn inline_engine() -> Engine {
    let mut loader = Loader::new(LoadOptions::default());
    loader.add_source("bench/inline.yml", INLINE_RULES);
    let report = loader.finish();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    Engine::new(report.ruleset, Vec::new())
}

/// The built-in pack with its strategies and placeholders, as a plain
/// `hunt` loads it.
fn pack_engine() -> Engine {
    load_engine(&RuleSources::default())
        .expect("the built-in pack loads")
        .0
}

/// The pack's rule for nsenter into PID 1's namespaces from a container
/// (detections/rules/escape/proc_nsenter_host_init_from_container.yml).
const PACK_NSENTER: &str = "fa7a81b6-bf47-4dbd-8c54-e63eb32c3d0b";

/// A container process entering the host's namespaces through PID 1.
fn nsenter() -> Event {
    process_creation(Process {
        image: "/usr/bin/nsenter",
        command_line: "nsenter -t 1 -m -u -i -n -p -- bash",
        parent_image: "/usr/bin/bash",
        parent_command_line: "bash -i",
    })
}

/// PowerShell with an encoded command, its flag spelled with a slash.
fn encoded_powershell() -> Event {
    let mut fields = Map::new();
    for (name, value) in [
        (
            "Image",
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        ),
        (
            "CommandLine",
            "powershell.exe -NoProfile -WindowStyle Hidden /enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=",
        ),
        ("ParentImage", r"C:\Windows\System32\cmd.exe"),
        ("User", r"CORP\svc-build"),
        ("IntegrityLevel", "High"),
    ] {
        fields.insert(name.into(), Value::String(value.into()));
    }
    fields.insert("ProcessId".into(), 7312.into());
    let mut event = Event::new(
        LogSource::new(Some("windows"), Some("process_creation"), None),
        Timestamp(1_795_430_467_000_000_000),
        fields,
    );
    event.host = Some("ws-finance-12".into());
    event
}

/// The rules `engine` fires on `event`, each with an alert that names what
/// matched.
fn fired(engine: &Engine, event: &Event) -> Vec<Arc<RuleInfo>> {
    let mut hits = Vec::new();
    engine.detect(event, &mut Scratch::default(), &mut hits);
    hits.iter()
        .map(|hit| {
            let alert = hit.alert.as_ref().expect("every rule here alerts");
            assert!(
                !alert.matched.is_empty(),
                "{} matched nothing",
                alert.rule.title
            );
            alert.rule.clone()
        })
        .collect()
}

fn titles(rules: &[Arc<RuleInfo>]) -> Vec<&str> {
    rules.iter().map(|r| r.title.as_str()).collect()
}

/// Time `engine.detect` on a fresh copy of each event (the container view
/// is built once per event, as in a hunt).
fn bench_detect(c: &mut Criterion, group: &str, engine: &Engine, events: &[(&str, &Event)]) {
    let mut group = c.benchmark_group(group);
    let mut scratch = Scratch::default();
    let mut hits: Vec<Hit> = Vec::new();
    for (name, event) in events {
        group.bench_function(*name, |b| {
            b.iter_batched_ref(
                || (*event).clone(),
                |event| {
                    hits.clear();
                    engine.detect(event, &mut scratch, &mut hits);
                    black_box(&hits);
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn detect(c: &mut Criterion) {
    let (benign, nsenter, powershell) = (benign_process(), nsenter(), encoded_powershell());

    let inline = inline_engine();
    assert_eq!(inline.rules().len(), INLINE_COUNT);
    assert_eq!(titles(&fired(&inline, &benign)), Vec::<&str>::new());
    assert_eq!(
        titles(&fired(&inline, &nsenter)),
        ["Nsenter Into the Namespaces of Host Init"]
    );
    assert_eq!(
        titles(&fired(&inline, &powershell)),
        ["Encoded PowerShell Command"]
    );
    bench_detect(
        c,
        "detect_inline_rules",
        &inline,
        &[
            ("benign", &benign),
            ("nsenter", &nsenter),
            ("encoded_powershell", &powershell),
        ],
    );

    let pack = pack_engine();
    assert_eq!(titles(&fired(&pack, &benign)), Vec::<&str>::new());
    let on_nsenter = fired(&pack, &nsenter);
    assert!(
        on_nsenter.iter().any(|r| r.id == PACK_NSENTER),
        "the pack's nsenter rule fires: {on_nsenter:?}"
    );
    bench_detect(
        c,
        "detect_pack",
        &pack,
        &[("benign", &benign), ("nsenter", &nsenter)],
    );
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_compile");
    group.bench_function("inline_rules", |b| b.iter(inline_engine));
    group.bench_function("pack", |b| b.iter(pack_engine));
    group.finish();
}

criterion_group!(benches, detect, load);
criterion_main!(benches);
