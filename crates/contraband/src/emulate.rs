//! `contraband emulate`: attack and benign behaviours as runnable, safe
//! scenarios against the real container engine and host, judged by a real
//! `contraband watch` running alongside.
//!
//! Attack scenarios are the safe variants of the strategies' validation
//! entries (and of the resource-hijacking detector): each names the rules it
//! is designed to raise (`covers`) and fails when one of them does not fire.
//! Benign scenarios (an image build, an ordinary web container, a short CPU
//! burst, a package install) fail when anything at medium or above fires
//! for them.
//!
//! Safety: local images and loopback registries only, containers without a
//! network unless stated, the host root mounted read-only only, every
//! container, image and temporary file removed afterwards. The two scenarios
//! that change host state (audit switched off and on, the Docker daemon's
//! configuration file rewritten) hold a guard that restores the prior state
//! exactly when the scenario ends, fails or is interrupted (SIGINT and
//! SIGTERM are caught for the whole run so that the guards always run), and
//! check afterwards that it was restored.
//!
//! The runner starts `contraband watch --docker` with the resource sampler
//! on a shortened window (plus `--auditd` and a temporary execve audit rule
//! with `--with-auditd`, for the process rules), runs each scenario's steps,
//! and reports, per rule, whether it fired and how long after the scenario
//! started.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use contraband_engine::builtin_strategies;
use serde_json::Value;

use crate::cli::EmulateArgs;

const RESOURCE_RULE: &str = contraband_engine::resource::RESOURCE_RULE_ID;
const DAEMON_JSON: &str = "/etc/docker/daemon.json";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Must raise every rule of `covers`.
    Attack,
    /// Must raise nothing at medium or above.
    Benign,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Attack => "attack",
            Kind::Benign => "benign",
        }
    }
}

/// One action of a scenario. Arguments are expanded (see [`Ctx::expand`]).
enum Step {
    /// `docker ARGS`, which must succeed.
    Docker(&'static [&'static str]),
    /// A host command, which must succeed.
    Host(&'static [&'static str]),
    /// A host probe whose exit status does not matter (a check that finds
    /// nothing on this machine is still the behaviour).
    Probe(&'static [&'static str]),
    /// Write a file under the scenario's temporary directory.
    File(&'static str, &'static str),
    /// `auditctl -e 0` then `auditctl -e 1`, the prior state restored by a guard.
    AuditOffOn,
    /// The Docker daemon's configuration file rewritten with `cp`, restored
    /// byte for byte by a guard; the daemon is not reloaded.
    DaemonConfigChange,
}

/// One safe scenario.
struct Scenario {
    /// Short id, as given on the command line.
    id: &'static str,
    kind: Kind,
    /// What is done, in one line.
    what: &'static str,
    /// The strategy validation it stands for (strategy id, validation name).
    validation: Option<(&'static str, &'static str)>,
    /// Rules (ids) this scenario is designed to raise.
    covers: &'static [&'static str],
    /// Those of `covers` judged on auditd telemetry: they need --with-auditd.
    /// A scenario all of whose rules need it is not run without it.
    auditd: &'static [&'static str],
    /// Why the validation's other expected rules are not emulated, and what
    /// differs from the validation.
    note: &'static str,
    steps: &'static [Step],
    cleanup: &'static [&'static [&'static str]],
    /// Seconds to keep watching after the steps: a benign scenario's quiet
    /// period; `None`: the runner's defaults.
    settle: Option<Settle>,
}

#[derive(Clone, Copy)]
enum Settle {
    /// The resource window plus a few samples (resource scenarios).
    ResourceWindow,
}

use Step::{AuditOffOn, DaemonConfigChange, Docker, File, Host, Probe};

const SCENARIOS: &[Scenario] = &[
    // ------------------------------------------------------------ attacks
    Scenario {
        id: "pull-unapproved",
        kind: Kind::Attack,
        what: "docker pull of the cracker image from the unapproved loopback registry 127.0.0.1:5001",
        validation: Some(("ADS-0001", "Hashcat image pulled and run with a dictionary attack")),
        covers: &[
            "3a163a69-cb05-4de5-9130-cde81178d2c2",
            "6752504c-4bef-4244-8f49-3ed47ff8ed45",
        ],
        auditd: &[],
        note: "the image is pulled from the registry scripts/setup runs (no registry started for the \
               purpose); the run is the hashcat scenario",
        steps: &[Docker(&["pull", "-q", "{cracker}"])],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "hashcat",
        kind: Kind::Attack,
        what: "hashcat stand-in, -m 0 -a 0 on a hash file mounted read-only from a temporary directory",
        validation: Some(("ADS-0001", "Hashcat image pulled and run with a dictionary attack")),
        covers: &[
            "6752504c-4bef-4244-8f49-3ed47ff8ed45",
            "01f597ae-b4de-4369-b856-c620532e5102",
        ],
        auditd: &["01f597ae-b4de-4369-b856-c620532e5102"],
        note: "the hashes are two md5s of a 6-word list in a temporary directory, not the host root; \
               the host-root, logging and isolation rules are the scenarios of their own",
        steps: &[
            File("h.txt", "5f4dcc3b5aa765d61d8327deb882cf99\n8621ffdbc5698829397d97767ac13db3\n"),
            File("words.txt", "password\nletmein\ndragon\n123456\nqwerty\nmonkey\n"),
            Docker(&[
                "run", "--rm", "--network", "none", "--name", "{name}", "-e",
                "HASHCAT_BURN_SECONDS=2", "-v", "{dir}:/hashes:ro", "{cracker}", "sh", "-c",
                "hashcat -m 0 -a 0 /hashes/h.txt /hashes/words.txt; sleep 1",
            ]),
        ],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "miner-args",
        kind: Kind::Attack,
        what: "a copy of busybox named xmrig run with mining-pool arguments (the pool is never contacted)",
        validation: Some(("ADS-0001", "Miner arguments in a container")),
        covers: &["2d7cf5a0-8149-42eb-bbc8-5e65ccccde09"],
        auditd: &["2d7cf5a0-8149-42eb-bbc8-5e65ccccde09"],
        note: "",
        steps: &[Docker(&[
            "run", "--rm", "--network", "none", "--name", "{name}", "{image}", "sh", "-c",
            "cp /bin/busybox /tmp/xmrig; /tmp/xmrig --donate-level 1 -o stratum+tcp://127.0.0.1:3333 || true",
        ])],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "host-root-mount",
        kind: Kind::Attack,
        what: "the host root bind-mounted READ-ONLY at /host; the container reads /host/etc/hostname",
        validation: Some((
            "ADS-0003",
            "Privileged container with the host root mounted, chroot onto the host",
        )),
        covers: &[
            "6cfe6c26-cbf5-4e11-8a46-55161cd97333",
            "8c043be3-1f4c-436c-9d9a-55668ee09804",
        ],
        auditd: &["8c043be3-1f4c-436c-9d9a-55668ee09804"],
        note: "read-only mount instead of -v /:/mnt:rwm; privileged and chroot are separate scenarios",
        steps: &[Docker(&[
            "run", "--rm", "--network", "none", "--name", "{name}", "--mount",
            "type=bind,source=/,target=/host,readonly", "{image}", "sh", "-c",
            "cat /host/etc/hostname; sleep 1",
        ])],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "chroot-host",
        kind: Kind::Attack,
        what: "-v /:/host:ro, then chroot /host /bin/true (the host's true, nothing written)",
        validation: Some((
            "ADS-0003",
            "Privileged container with the host root mounted, chroot onto the host",
        )),
        covers: &[
            "45d72f2d-bd11-4b51-8f96-6b1fea3b24db",
            "6cfe6c26-cbf5-4e11-8a46-55161cd97333",
            "8c043be3-1f4c-436c-9d9a-55668ee09804",
        ],
        auditd: &[
            "45d72f2d-bd11-4b51-8f96-6b1fea3b24db",
            "8c043be3-1f4c-436c-9d9a-55668ee09804",
        ],
        note: "the host root is mounted read-only and the chroot runs /bin/true",
        steps: &[Docker(&[
            "run", "--rm", "--network", "none", "--name", "{name}", "-v", "/:/host:ro", "{image}",
            "sh", "-c", "chroot /host /bin/true; sleep 1",
        ])],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "privileged",
        kind: Kind::Attack,
        what: "docker run --privileged; reads its capabilities",
        validation: Some((
            "ADS-0003",
            "Privileged container with the host root mounted, chroot onto the host",
        )),
        covers: &[
            "f1c34511-8889-4c74-a6b5-d316de69ed21",
            "6a01b32c-cc7c-4ffc-9ae5-888fa75b29c8",
        ],
        auditd: &["6a01b32c-cc7c-4ffc-9ae5-888fa75b29c8"],
        note: "no host mount here (see host-root-mount, chroot-host)",
        steps: &[Docker(&[
            "run", "--rm", "--privileged", "--network", "none", "--name", "{name}", "{image}",
            "sh", "-c", "grep CapEff /proc/self/status",
        ])],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "nsenter-host-pid",
        kind: Kind::Attack,
        what: "--pid=host --privileged; nsenter -t 1 (denied on this VM), then nsenter -t <dockerd pid> \
               -m -u -i -n true",
        validation: Some((
            "ADS-0003",
            "Host PID namespace and nsenter into PID 1 (Atomic Red Team T1611 test 1, Docker variant)",
        )),
        covers: &[
            "83aef2f9-d800-40aa-98cb-c4eb23ef5902",
            "fa7a81b6-bf47-4dbd-8c54-e63eb32c3d0b",
        ],
        auditd: &["fa7a81b6-bf47-4dbd-8c54-e63eb32c3d0b"],
        note: "on this VM PID 1's namespaces cannot be entered even by root (docs/real-components.md): \
               `nsenter -t 1` is attempted (the rule judges that command) and refused, then, as \
               scripts/record-fixtures does, nsenter enters dockerd's namespaces (the host's) and runs \
               `true`",
        steps: &[Docker(&[
            "run", "--rm", "--pid=host", "--privileged", "--network", "none", "--name", "{name}",
            "-e", "TARGET_PID={dockerd_pid}", "{image}", "sh", "-c",
            "nsenter -t 1 -m -u -i -n true; nsenter -t $TARGET_PID -m -u -i -n true; sleep 1",
        ])],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "docker-socket",
        kind: Kind::Attack,
        what: "the Docker socket mounted into a container, which lists it",
        validation: Some(("ADS-0003", "Docker socket mounted and driven from inside the container")),
        covers: &[
            "6cf7e5a4-a09f-47da-910c-5cc788b033d0",
            "8c043be3-1f4c-436c-9d9a-55668ee09804",
        ],
        auditd: &["8c043be3-1f4c-436c-9d9a-55668ee09804"],
        note: "nothing inside the container talks to the socket (no docker CLI image is built for it)",
        steps: &[Docker(&[
            "run", "--rm", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro", "--network",
            "none", "--name", "{name}", "{image}", "ls", "-l", "/var/run/docker.sock",
        ])],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "unconfined-caps",
        kind: Kind::Attack,
        what: "seccomp and AppArmor unconfined, --cap-add SYS_ADMIN; unshare -m true inside",
        validation: Some((
            "ADS-0003",
            "cgroup release_agent preparation with SYS_ADMIN and AppArmor unconfined",
        )),
        covers: &[
            "2d80e2a4-8e9d-41cc-9c4e-949f1c48cff4",
            "524ee200-f675-4662-9d00-7f53878fee34",
        ],
        auditd: &[],
        note: "no cgroup is mounted and no kernel callback file is written",
        steps: &[Docker(&[
            "run", "--rm", "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined",
            "--security-opt", "apparmor=unconfined", "--network", "none", "--name", "{name}",
            "{image}", "sh", "-c", "unshare -m true",
        ])],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "log-driver-none",
        kind: Kind::Attack,
        what: "docker run --log-driver none",
        validation: Some(("ADS-0004", "Docker logging disabled daemon-wide and per container")),
        covers: &["8c966b49-8f88-4462-b4a3-1b4bd6a72404"],
        auditd: &[],
        note: "the daemon-wide part is the daemon-config scenario; no scratch dockerd is started",
        steps: &[Docker(&[
            "run", "--rm", "--log-driver", "none", "--network", "none", "--name", "{name}",
            "{image}", "echo", "this output goes nowhere",
        ])],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "exec-shell",
        kind: Kind::Attack,
        what: "docker exec of a shell (sh -c id) into a running container",
        validation: Some((
            "ADS-0004",
            "Interactive shells in running containers (Atomic Red Team T1609 tests 1 and 2)",
        )),
        covers: &[
            "c988c379-66d7-4d44-aa3e-9a1a172cd3d3",
            "1b1c566a-b460-4f33-9e84-1a88ce4b7057",
        ],
        auditd: &["1b1c566a-b460-4f33-9e84-1a88ce4b7057"],
        note: "no Kubernetes here",
        steps: &[
            Docker(&["run", "-d", "--network", "none", "--name", "{name}", "{image}", "sleep", "60"]),
            Docker(&["exec", "{name}", "sh", "-c", "id"]),
        ],
        cleanup: &[&["rm", "-f", "{name}"]],
        settle: None,
    },
    Scenario {
        id: "vm-checks-container",
        kind: Kind::Attack,
        what: "DMI read and a container-marker test inside a container",
        validation: Some(("ADS-0002", "The same checks inside a container")),
        covers: &["76464914-cb92-4b4f-914a-1d2af36b2d51"],
        auditd: &["76464914-cb92-4b4f-914a-1d2af36b2d51"],
        note: "",
        steps: &[Docker(&[
            "run", "--rm", "--network", "none", "--name", "{name}", "{image}", "sh", "-c",
            // the shell outlives the check by a moment: a process is tied to its
            // container through /proc, its own or its parent's (docs/watch.md)
            "cat /sys/class/dmi/id/product_name; test -f /.dockerenv && echo docker; sleep 1",
        ])],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "vm-checks-host",
        kind: Kind::Attack,
        what: "virtualization checks on the host: systemd-detect-virt, grep hypervisor /proc/cpuinfo, \
               DMI product/vendor reads, dmesg | grep -i kvm",
        validation: Some((
            "ADS-0002",
            "Linux virtualization checks (Atomic Red Team T1497.001 test 1 and T1082 VM checks)",
        )),
        covers: &["af4024e5-a293-440e-b5bf-9432a50a8725"],
        auditd: &["af4024e5-a293-440e-b5bf-9432a50a8725"],
        note: "this VM has no DMI files and no dmidecode: the DMI reads are attempts, which is the \
               behaviour",
        steps: &[
            Probe(&["systemd-detect-virt"]),
            Probe(&["grep", "-i", "hypervisor", "/proc/cpuinfo"]),
            Probe(&["cat", "/sys/class/dmi/id/product_name", "/sys/class/dmi/id/sys_vendor"]),
            Probe(&["sh", "-c", "dmesg | grep -i kvm"]),
        ],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "audit-off-on",
        kind: Kind::Attack,
        what: "auditctl -e 0 then auditctl -e 1; the prior enabled flag restored by a guard and checked",
        validation: Some((
            "ADS-0004",
            "Linux audit switched off and rules deleted, then restored",
        )),
        covers: &[
            "93f156de-11ce-4997-b56b-e7c657b7dba1",
            "77a06902-6430-431c-95db-365237a8b0b4",
        ],
        auditd: &[
            "93f156de-11ce-4997-b56b-e7c657b7dba1",
            "77a06902-6430-431c-95db-365237a8b0b4",
        ],
        note: "rules are not deleted (auditctl -D would drop other users' rules on this shared \
               machine) and auditd is not stopped; audit is off for 0.2 s",
        steps: &[AuditOffOn],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "daemon-config",
        kind: Kind::Attack,
        what: "/etc/docker/daemon.json rewritten with cp (log-level changed), restored byte for byte by \
               a guard and checked; dockerd is not reloaded",
        validation: Some(("ADS-0004", "Docker logging disabled daemon-wide and per container")),
        covers: &["78cfb7ef-c2f5-486c-8a11-de7259df235a"],
        auditd: &["78cfb7ef-c2f5-486c-8a11-de7259df235a"],
        note: "the shared dockerd is neither reloaded (SIGHUP) nor joined by a scratch dockerd with \
               insecure options, and the log driver is left alone: other tests use the daemon",
        steps: &[DaemonConfigChange],
        cleanup: &[],
        settle: None,
    },
    Scenario {
        id: "cpu-spike",
        kind: Kind::Attack,
        what: "a busy loop in a container until the resource detector alerts (at most 60 s)",
        validation: None,
        covers: &[RESOURCE_RULE],
        auditd: &[],
        note: "watch's resource window is shortened (--resource-window, --resource-cpu, \
               --stats-interval of emulate) so the scenario takes seconds, not the default 30 s",
        steps: &[Docker(&[
            "run", "-d", "--network", "none", "--name", "{name}", "{image}", "sh", "-c",
            "timeout 60 sh -c 'while :; do :; done'; true",
        ])],
        cleanup: &[&["rm", "-f", "{name}"]],
        settle: Some(Settle::ResourceWindow),
    },
    Scenario {
        id: "recon-kit",
        kind: Kind::Attack,
        what: "a harmless script named deepce.sh run inside a container",
        validation: Some(("ADS-0003", "Breakout reconnaissance kit")),
        covers: &["4d8b74e5-33c7-485d-b408-2f86a2bacff4"],
        auditd: &["4d8b74e5-33c7-485d-b408-2f86a2bacff4"],
        note: "",
        steps: &[Docker(&[
            "run", "--rm", "--network", "none", "--name", "{name}", "{image}", "sh", "-c",
            "echo true > /tmp/deepce.sh; sh /tmp/deepce.sh; sleep 1",
        ])],
        cleanup: &[],
        settle: None,
    },
    // ------------------------------------------------------------ benign
    Scenario {
        id: "benign-build",
        kind: Kind::Benign,
        what: "docker build of a one-RUN-step image on the base image, then docker rmi",
        validation: None,
        covers: &[],
        auditd: &[],
        note: "dockerd's classic builder reports the build as a tag event only, so even the low-level \
               build-on-host rule stays silent; the RUN step is a real container",
        steps: &[
            File(
                "Dockerfile",
                "FROM {image}\nRUN echo built-by-contraband-emulate > /etc/build-info\nCMD [\"cat\", \"/etc/build-info\"]\n",
            ),
            Docker(&["build", "-q", "-t", "{name}:1", "{dir}"]),
        ],
        cleanup: &[&["rmi", "-f", "{name}:1"]],
        settle: None,
    },
    Scenario {
        id: "benign-web",
        kind: Kind::Benign,
        what: "the web image from the approved registry (busybox httpd) running for a few seconds",
        validation: None,
        covers: &[],
        auditd: &[],
        note: "",
        steps: &[Docker(&["run", "-d", "--name", "{name}", "{web}"])],
        cleanup: &[&["rm", "-f", "{name}"]],
        settle: None,
    },
    Scenario {
        id: "benign-cpu-burst",
        kind: Kind::Benign,
        what: "a 2 s busy loop in a container, watched for a whole resource window afterwards",
        validation: None,
        covers: &[],
        auditd: &[],
        note: "",
        steps: &[Docker(&[
            "run", "--rm", "--network", "none", "--name", "{name}", "{image}", "sh", "-c",
            "timeout 2 sh -c 'while :; do :; done'; true",
        ])],
        cleanup: &[],
        settle: Some(Settle::ResourceWindow),
    },
    Scenario {
        id: "benign-package-install",
        kind: Kind::Benign,
        what: "apk-style install of a local package: a .apk (tar.gz with .PKGINFO) mounted read-only, \
               extracted into / and recorded in /lib/apk/db/installed, then the installed tool run",
        validation: None,
        covers: &[],
        auditd: &[],
        note: "busybox has no package manager and nothing is fetched from the internet: this does what \
               `apk add` does after the download (unpack, record, run), with a package built here",
        steps: &[
            File(
                "pkg/.PKGINFO",
                "pkgname = hello\npkgver = 1.0-r0\narch = noarch\npkgdesc = contraband emulate test package\n",
            ),
            File("pkg/usr/local/bin/hello", "#!/bin/sh\necho hello from a package\n"),
            Host(&["tar", "-czf", "{dir}/hello-1.0-r0.apk", "-C", "{dir}/pkg", "."]),
            Docker(&[
                "run", "--rm", "--network", "none", "--name", "{name}", "-v", "{dir}:/pkgs:ro",
                "{image}", "sh", "-c",
                "mkdir -p /lib/apk/db && tar -xzf /pkgs/hello-1.0-r0.apk -C / && \
                 printf 'P:hello\\nV:1.0-r0\\n\\n' >> /lib/apk/db/installed && sh /usr/local/bin/hello",
            ]),
        ],
        cleanup: &[],
        settle: None,
    },
];

struct Entry {
    s: &'static Scenario,
    /// "ADS-0003/1": the strategy validation it stands for.
    validation_id: Option<String>,
    /// The validation's expected rules (empty without one).
    expected: Vec<String>,
}

impl Entry {
    /// "  (ADS-0003/1)", or nothing.
    fn validation_label(&self) -> String {
        self.validation_id
            .as_deref()
            .map(|v| format!("  ({v})"))
            .unwrap_or_default()
    }
}

/// Every scenario with the validation it stands for.
fn catalogue() -> Result<Vec<Entry>> {
    let (strategies, errors) = builtin_strategies();
    if let Some(e) = errors.first() {
        bail!("built-in strategy is invalid: {e}");
    }
    let mut out = Vec::new();
    for s in SCENARIOS {
        let (validation_id, expected) = match s.validation {
            None => (None, Vec::new()),
            Some((sid, vname)) => {
                let strategy = strategies
                    .iter()
                    .find(|x| x.id == sid)
                    .with_context(|| format!("no strategy {sid}"))?;
                let (index, validation) = strategy
                    .validation
                    .iter()
                    .enumerate()
                    .find(|(_, v)| v.name == vname)
                    .with_context(|| format!("{sid} has no validation {vname:?}"))?;
                (
                    Some(format!("{sid}/{}", index + 1)),
                    validation.expected_rules.clone(),
                )
            }
        };
        out.push(Entry {
            s,
            validation_id,
            expected,
        });
    }
    Ok(out)
}

/// Values the scenarios' arguments refer to.
struct Ctx<'a> {
    args: &'a EmulateArgs,
    name: String,
    dir: PathBuf,
    dockerd_pid: String,
    /// Images the scenarios use: their engine events are the run's own.
    images: Vec<String>,
}

impl Ctx<'_> {
    fn expand(&self, arg: &str) -> String {
        arg.replace("{name}", &self.name)
            .replace("{image}", &self.args.image)
            .replace("{cracker}", &self.args.cracker_image)
            .replace("{web}", &self.args.web_image)
            .replace("{dir}", &self.dir.to_string_lossy())
            .replace("{dockerd_pid}", &self.dockerd_pid)
    }

    fn argv(&self, args: &[&str]) -> Vec<String> {
        args.iter().map(|a| self.expand(a)).collect()
    }
}

fn command(program: &str, argv: &[String], must_succeed: bool) -> Result<()> {
    let out = Command::new(program)
        .args(argv)
        // the classic builder: the build's RUN step is a container the engine reports
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if must_succeed && !out.status.success() {
        bail!(
            "{program} {} failed: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn docker(argv: &[String]) -> Result<()> {
    command("docker", argv, true)
}

/// `auditctl -s`'s enabled flag (0, 1 or 2 = locked).
fn audit_enabled() -> Result<String> {
    let out = Command::new("auditctl")
        .arg("-s")
        .stdin(Stdio::null())
        .output()
        .context("cannot run auditctl")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("enabled ").map(|v| v.trim().to_string()))
        .context("auditctl -s shows no enabled flag (root needed)")
}

/// Restores audit's enabled flag when dropped: on success, error or unwind.
struct AuditGuard {
    prior: String,
}

impl Drop for AuditGuard {
    fn drop(&mut self) {
        if audit_enabled().ok().as_deref() != Some(self.prior.as_str()) {
            let _ = Command::new("auditctl")
                .args(["-e", &self.prior])
                .stdout(Stdio::null())
                .status();
        }
    }
}

fn audit_off_on() -> Result<()> {
    let prior = audit_enabled()?;
    if prior == "2" {
        bail!("audit is locked (enabled 2): it cannot be switched off, and will not be tried");
    }
    {
        let _guard = AuditGuard {
            prior: prior.clone(),
        };
        command("auditctl", &["-e".into(), "0".into()], true)?;
        std::thread::sleep(Duration::from_millis(200));
        command("auditctl", &["-e".into(), "1".into()], true)?;
    }
    let now = audit_enabled()?;
    if now != prior {
        bail!("audit's enabled flag is {now}, was {prior}: restore it with auditctl -e {prior}");
    }
    Ok(())
}

/// The key every temporary execve rule carries; the owner's pid follows it.
const AUDIT_KEY_PREFIX: &str = "contraband-emulate-";

/// The temporary execve audit rule a run with `--with-auditd` needs, deleted
/// when dropped: on success, error or unwind.
struct AuditRule {
    args: Vec<String>,
}

impl AuditRule {
    fn add(pid: u32) -> Result<AuditRule> {
        let args: Vec<String> = ["always,exit", "-F", "arch=b64", "-S", "execve", "-k"]
            .into_iter()
            .map(str::to_string)
            .chain([format!("{AUDIT_KEY_PREFIX}{pid}")])
            .collect();
        let ok = Command::new("auditctl")
            .arg("-a")
            .args(&args)
            .stdout(Stdio::null())
            .status()
            .context("cannot run auditctl")?;
        if !ok.success() {
            bail!("auditctl could not add the temporary execve rule (root needed)");
        }
        Ok(AuditRule { args })
    }
}

impl Drop for AuditRule {
    fn drop(&mut self) {
        let _ = Command::new("auditctl")
            .arg("-d")
            .args(&self.args)
            .stdout(Stdio::null())
            .status();
    }
}

/// Deletes the temporary rules of earlier runs that were killed before they
/// could (their pid is gone). The kernel keeps audit rules across auditd
/// restarts, so without this a `kill -9` leaves an execve rule behind for good.
fn remove_stale_audit_rules() {
    let Ok(out) = Command::new("auditctl").arg("-l").output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(stale) = stale_audit_rule(line, |pid| {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
        }) else {
            continue;
        };
        let deleted = Command::new("auditctl")
            .args(&stale)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if deleted {
            eprintln!("removed the audit rule an interrupted earlier run left: {line}");
        }
    }
}

/// The `auditctl` arguments that delete `line` (as `auditctl -l` prints it)
/// when it is an emulate rule whose owning process no longer runs.
fn stale_audit_rule(line: &str, alive: impl Fn(u32) -> bool) -> Option<Vec<String>> {
    let pid: u32 = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("key=")?.strip_prefix(AUDIT_KEY_PREFIX))?
        .parse()
        .ok()?;
    if alive(pid) {
        return None;
    }
    let mut words = line.split_whitespace().map(str::to_string);
    (words.next()? == "-a").then(|| ["-d".to_string()].into_iter().chain(words).collect())
}

/// Puts a file back as it was (bytes, or absent) when dropped.
struct FileGuard {
    path: &'static str,
    original: Option<Vec<u8>>,
}

impl FileGuard {
    fn restore(&self) -> Result<()> {
        match &self.original {
            Some(bytes) => std::fs::write(self.path, bytes),
            None => match std::fs::remove_file(self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        }
        .with_context(|| format!("cannot restore {}", self.path))
    }
}

impl Drop for FileGuard {
    fn drop(&mut self) {
        if let Err(e) = self.restore() {
            eprintln!("error: {e:#}");
        }
    }
}

fn daemon_config_change(dir: &Path) -> Result<()> {
    let original = match std::fs::read(DAEMON_JSON) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {DAEMON_JSON}")),
    };
    if !Path::new(DAEMON_JSON).parent().is_some_and(Path::is_dir) {
        bail!("/etc/docker does not exist: is this a Docker host?");
    }
    let mut config = match &original {
        Some(b) => serde_json::from_slice::<serde_json::Map<String, Value>>(b)
            .with_context(|| format!("{DAEMON_JSON} is not a JSON object: left alone"))?,
        None => serde_json::Map::new(),
    };
    let level = if config.get("log-level").and_then(Value::as_str) == Some("warn") {
        "info"
    } else {
        "warn"
    };
    config.insert("log-level".into(), level.into());
    let changed = dir.join("daemon.json");
    std::fs::write(&changed, serde_json::to_vec_pretty(&config)?)?;
    {
        let guard = FileGuard {
            path: DAEMON_JSON,
            original: original.clone(),
        };
        command(
            "cp",
            &[changed.to_string_lossy().into_owned(), DAEMON_JSON.into()],
            true,
        )?;
        std::thread::sleep(Duration::from_millis(200));
        guard.restore()?;
    }
    let now = std::fs::read(DAEMON_JSON).ok();
    if now != original {
        bail!("{DAEMON_JSON} differs from before the scenario");
    }
    Ok(())
}

fn run_step(step: &Step, ctx: &Ctx) -> Result<()> {
    match step {
        Docker(a) => docker(&ctx.argv(a)),
        Host(a) => command(a[0], &ctx.argv(&a[1..]), true),
        Probe(a) => command(a[0], &ctx.argv(&a[1..]), false),
        File(rel, content) => {
            let path = ctx.dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, ctx.expand(content))
                .with_context(|| format!("cannot write {}", path.display()))
        }
        AuditOffOn => audit_off_on(),
        DaemonConfigChange => daemon_config_change(&ctx.dir),
    }
}

fn print_list(catalogue: &[Entry], args: &EmulateArgs) {
    for e in catalogue {
        let s = e.s;
        let v = e.validation_label();
        println!("[{}] {}{v}", s.kind.as_str(), s.id);
        println!("    {}", s.what);
        if s.kind == Kind::Attack {
            println!("    expects: {}", s.covers.join(", "));
            if !s.auditd.is_empty() {
                println!("    needing --with-auditd: {}", s.auditd.join(", "));
            }
        } else {
            println!("    expects: nothing at medium or above");
        }
        let others: Vec<&str> = e
            .expected
            .iter()
            .map(String::as_str)
            .filter(|r| !s.covers.contains(r))
            .collect();
        let (elsewhere, missing): (Vec<&str>, Vec<&str>) = others
            .iter()
            .partition(|r| SCENARIOS.iter().any(|o| o.covers.contains(r)));
        if !elsewhere.is_empty() {
            println!(
                "    expected by the validation, emulated by another scenario: {}",
                elsewhere.join(", ")
            );
        }
        if !missing.is_empty() {
            println!("    not emulated: {}", missing.join(", "));
        }
        if !s.note.is_empty() {
            println!("    note: {}", s.note);
        }
    }
    println!(
        "resource scenarios run watch with --stats-interval {} --resource-window {} --resource-cpu {} \
         (watch's defaults: 5 s, 30 s, 0.8 cores)",
        args.stats_interval, args.resource_window, args.resource_cpu
    );
}

pub fn run(args: EmulateArgs) -> Result<i32> {
    let catalogue = catalogue()?;
    if args.list {
        print_list(&catalogue, &args);
        return Ok(0);
    }
    let chosen: Vec<&Entry> = if args.ids.is_empty() {
        catalogue.iter().collect()
    } else {
        let mut v = Vec::new();
        for want in &args.ids {
            let found = catalogue
                .iter()
                .find(|e| e.s.id.eq_ignore_ascii_case(want))
                .with_context(|| format!("no scenario {want} (see `contraband emulate --list`)"))?;
            v.push(found);
        }
        v
    };

    // SIGINT/SIGTERM end the run between steps, not the process: the guards
    // and cleanups always run
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&interrupted))
            .context("cannot install signal handlers")?;
    }

    let _audit_rule = if args.with_auditd {
        remove_stale_audit_rules();
        Some(AuditRule::add(std::process::id())?)
    } else {
        None
    };
    let result = emulate(&args, &chosen, &interrupted);
    if interrupted.load(Ordering::Relaxed) {
        eprintln!("interrupted: cleaned up");
        return Ok(130);
    }
    result
}

struct Watcher {
    child: Child,
    /// Alerts with the moment watch wrote them.
    alerts: Receiver<(Instant, Value)>,
}

impl Watcher {
    fn start(args: &EmulateArgs) -> Result<Watcher> {
        let exe = std::env::current_exe().context("cannot find the contraband binary")?;
        let mut cmd = Command::new(exe);
        cmd.args(["watch", "--docker", &args.docker, "--no-dedup"])
            .args(["--stats-interval", &args.stats_interval.to_string()])
            .args(["--resource-window", &args.resource_window.to_string()])
            .args(["--resource-cpu", &args.resource_cpu.to_string()])
            .args(["--format", "jsonl"]);
        if args.with_auditd {
            cmd.args(["--auditd", &args.audit_log]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start contraband watch")?;
        let (tx, alerts) = mpsc::channel();
        let stdout = child.stdout.take().context("watch stdout")?;
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send((Instant::now(), v)).is_err() {
                        return;
                    }
                }
            }
        });
        // wait until every source is following
        let stderr = child.stderr.take().context("watch stderr")?;
        let (ready_tx, ready) = mpsc::channel();
        let need = if args.with_auditd { 2 } else { 1 };
        std::thread::spawn(move || {
            let mut seen = 0;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("docker: watching") || line.contains("auditd: following") {
                    seen += 1;
                    if seen == need {
                        let _ = ready_tx.send(());
                    }
                }
                if line.contains("error:") {
                    eprintln!("{line}");
                }
            }
        });
        if ready.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            bail!("contraband watch did not start following its sources within 30 s");
        }
        Ok(Watcher { child, alerts })
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn at_least_medium(alert: &Value) -> bool {
    matches!(
        alert["rule"]["level"].as_str(),
        Some("medium" | "high" | "critical")
    )
}

/// This run's audit session: the loginuid of this process is set (if it
/// was unset) so that every host process it starts, and the audit
/// subsystem's own records of its actions (`CONFIG_CHANGE`), carry one
/// session id, as scripts/record-fixtures does. `None` when the session
/// cannot be had; attribution then falls back to command lines.
fn own_audit_session() -> Option<String> {
    const UNSET: &str = "4294967295";
    let current = std::fs::read_to_string("/proc/self/loginuid").ok()?;
    if current.trim() == UNSET {
        std::fs::write("/proc/self/loginuid", "0").ok()?;
    }
    let ses = std::fs::read_to_string("/proc/self/sessionid").ok()?;
    let ses = ses.trim();
    (ses != UNSET).then(|| ses.to_string())
}

/// Whether an alert is this scenario's, not the doing of something else on
/// a shared machine: its container is the scenario's; or, for a host
/// process or an audit record, it is of this run's audit session (else its
/// command line names the scenario's container or directory); or, for an
/// image event, the image is one the scenario names.
fn belongs_to(alert: &Value, ctx: &Ctx, session: Option<&str>) -> bool {
    let container = &alert["container"];
    if let Some(c) = container["name"].as_str() {
        return c.trim_start_matches('/') == ctx.name;
    }
    let event = alert["event"].as_str().unwrap_or_default();
    if let Some(ses) = session {
        let tag = format!(" ses={ses} ");
        if event.contains(&tag) || event.ends_with(tag.trim_end()) {
            return true;
        }
    }
    if let Some(cmd) = alert["process"]["command_line"].as_str() {
        return cmd.contains(&ctx.name) || cmd.contains(&*ctx.dir.to_string_lossy());
    }
    let actor = &alert["event"]["Actor"];
    [
        container["image"].as_str(),
        actor["ID"].as_str(),
        actor["Attributes"]["name"].as_str(),
    ]
    .into_iter()
    .flatten()
    .any(|image| image.contains(&ctx.name) || ctx.images.iter().any(|i| i == image))
}

/// One scenario's outcome, for the summary.
struct Outcome {
    id: &'static str,
    kind: Kind,
    result: &'static str,
    ok: bool,
    /// (rule id, title, seconds)
    rules: Vec<(String, String, f64)>,
}

fn emulate(args: &EmulateArgs, chosen: &[&Entry], interrupted: &AtomicBool) -> Result<i32> {
    let dockerd_pid = std::fs::read_to_string("/var/run/docker.pid")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let session = if args.with_auditd {
        own_audit_session()
    } else {
        None
    };
    let watcher = Watcher::start(args)?;
    let resource_settle = args.resource_window + 3.0 * args.stats_interval + 2.0;
    println!(
        "watch runs with --stats-interval {} --resource-window {} --resource-cpu {} (shortened from \
         watch's 5 s / 30 s / 0.8 cores so the resource scenarios take seconds){}",
        args.stats_interval,
        args.resource_window,
        args.resource_cpu,
        if args.with_auditd {
            " and follows auditd"
        } else {
            "; without --with-auditd"
        }
    );
    let mut outcomes = Vec::new();
    // attacks first: a benign burst must not be judged against a spike's
    // samples, nor teach the image's baseline before the spike
    let ordered = chosen
        .iter()
        .filter(|e| e.s.kind == Kind::Attack)
        .chain(chosen.iter().filter(|e| e.s.kind == Kind::Benign));
    let mut benign_started = false;
    for e in ordered {
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        let s = e.s;
        if s.kind == Kind::Benign && !benign_started {
            // late alerts of the attacks (auditd settles for half a second)
            // are not the benign scenarios'
            benign_started = true;
            std::thread::sleep(Duration::from_secs(2));
        }
        let v = e.validation_label();
        println!("[{}] {}{v}  {}", s.kind.as_str(), s.id, s.what);
        if !args.with_auditd
            && !s.covers.is_empty()
            && s.covers.iter().all(|r| s.auditd.contains(r))
        {
            println!("    needs --with-auditd: not run");
            outcomes.push(Outcome {
                id: s.id,
                kind: s.kind,
                result: "not run (needs --with-auditd)",
                ok: true,
                rules: Vec::new(),
            });
            continue;
        }
        let ctx = Ctx {
            args,
            name: format!("cb-emulate-{}-{}", s.id, std::process::id()),
            dir: std::env::temp_dir().join(format!(
                "contraband-emulate-{}-{}",
                std::process::id(),
                s.id
            )),
            dockerd_pid: dockerd_pid.clone(),
            images: vec![
                args.image.clone(),
                args.cracker_image.clone(),
                args.web_image.clone(),
            ],
        };
        std::fs::create_dir_all(&ctx.dir)
            .with_context(|| format!("cannot create {}", ctx.dir.display()))?;
        // drain alerts from before this scenario
        while watcher.alerts.try_recv().is_ok() {}
        let started = Instant::now();
        let mut failed_step = None;
        for step in s.steps {
            if interrupted.load(Ordering::Relaxed) {
                break;
            }
            if let Err(e) = run_step(step, &ctx) {
                failed_step = Some(e);
                break;
            }
        }
        let settle = match s.settle {
            Some(Settle::ResourceWindow) => resource_settle,
            None => args.settle,
        };
        let deadline = match (s.kind, s.settle) {
            (Kind::Attack, Some(Settle::ResourceWindow)) => {
                started + Duration::from_secs_f64(resource_settle + args.timeout)
            }
            (Kind::Attack, None) => started + Duration::from_secs_f64(args.timeout.max(1.0)),
            (Kind::Benign, _) => Instant::now() + Duration::from_secs_f64(settle),
        };
        let mut fired: Vec<(String, String, f64)> = Vec::new();
        let mut loud: Vec<Value> = Vec::new();
        let mut quiet: Vec<Value> = Vec::new();
        let mut elsewhere = 0usize;
        while failed_step.is_none()
            && !interrupted.load(Ordering::Relaxed)
            && Instant::now() < deadline
        {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok((seen, alert)) = watcher
                .alerts
                .recv_timeout(left.min(Duration::from_millis(200)))
            else {
                if s.kind == Kind::Attack
                    && s.covers
                        .iter()
                        .filter(|r| args.with_auditd || !s.auditd.contains(r))
                        .all(|r| fired.iter().any(|(id, _, _)| id == r))
                {
                    break;
                }
                continue;
            };
            let rule = alert["rule"]["id"].as_str().unwrap_or_default().to_string();
            if seen < started {
                continue;
            }
            if !belongs_to(&alert, &ctx, session.as_deref()) {
                elsewhere += 1;
                continue;
            }
            if s.kind == Kind::Benign {
                {
                    if at_least_medium(&alert) {
                        loud.push(alert);
                    } else {
                        quiet.push(alert);
                    }
                }
                continue;
            }
            if !fired.iter().any(|(r, _, _)| *r == rule) {
                let title = alert["rule"]["title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                fired.push((rule, title, (seen - started).as_secs_f64()));
            }
        }
        for step in s.cleanup {
            let _ = docker(&ctx.argv(step));
        }
        let _ = std::fs::remove_dir_all(&ctx.dir);
        if let Some(e) = failed_step {
            println!("    FAILED to run: {e:#}");
            outcomes.push(Outcome {
                id: s.id,
                kind: s.kind,
                result: "FAILED TO RUN",
                ok: false,
                rules: Vec::new(),
            });
            continue;
        }
        if interrupted.load(Ordering::Relaxed) {
            println!("    interrupted");
            outcomes.push(Outcome {
                id: s.id,
                kind: s.kind,
                result: "interrupted",
                ok: false,
                rules: Vec::new(),
            });
            break;
        }
        if elsewhere > 0 {
            println!("    ({elsewhere} alerts meanwhile not of this scenario: other activity on the machine, ignored)");
        }
        let outcome = match s.kind {
            Kind::Attack => judge_attack(s, e, &fired, args.with_auditd),
            Kind::Benign => {
                for a in &loud {
                    println!(
                        "    ALERTED    {}  {}  [{}]  {}",
                        a["rule"]["id"].as_str().unwrap_or_default(),
                        a["rule"]["title"].as_str().unwrap_or_default(),
                        a["rule"]["level"].as_str().unwrap_or_default(),
                        a["process"]["command_line"]
                            .as_str()
                            .or(a["container"]["name"].as_str())
                            .unwrap_or_default()
                    );
                }
                for a in &quiet {
                    println!(
                        "    below medium {}  {}  [{}]",
                        a["rule"]["id"].as_str().unwrap_or_default(),
                        a["rule"]["title"].as_str().unwrap_or_default(),
                        a["rule"]["level"].as_str().unwrap_or_default(),
                    );
                }
                if loud.is_empty() {
                    println!("    quiet: nothing at medium or above in {settle:.0} s");
                }
                Outcome {
                    id: s.id,
                    kind: s.kind,
                    result: if loud.is_empty() { "quiet" } else { "ALERTED" },
                    ok: loud.is_empty(),
                    rules: loud
                        .iter()
                        .map(|a| {
                            (
                                a["rule"]["id"].as_str().unwrap_or_default().to_string(),
                                String::new(),
                                0.0,
                            )
                        })
                        .collect(),
                }
            }
        };
        outcomes.push(outcome);
    }
    watcher.stop();
    print_summary(&outcomes);
    Ok(if outcomes.iter().all(|o| o.ok) { 0 } else { 1 })
}

fn judge_attack(
    s: &Scenario,
    e: &Entry,
    fired: &[(String, String, f64)],
    with_auditd: bool,
) -> Outcome {
    let mut ok = true;
    let mut unjudged = false;
    let mut rules = Vec::new();
    let mut listed: Vec<&str> = s.covers.to_vec();
    listed.extend(
        e.expected
            .iter()
            .map(String::as_str)
            .filter(|r| !s.covers.contains(r)),
    );
    for rule in listed {
        let covered = s.covers.contains(&rule);
        match fired.iter().find(|(r, _, _)| r == rule) {
            Some((_, title, after)) => {
                println!("    fired      {rule}  {title}  after {after:.2}s");
                if covered {
                    rules.push((rule.to_string(), title.clone(), *after));
                }
            }
            None if covered && s.auditd.contains(&rule) && !with_auditd => {
                unjudged = true;
                println!("    needs --with-auditd {rule}")
            }
            None if covered => {
                ok = false;
                println!("    NOT FIRED  {rule}");
            }
            None => match SCENARIOS.iter().find(|o| o.covers.contains(&rule)) {
                Some(other) => println!("    elsewhere  {rule}  (scenario {})", other.id),
                None => println!("    not emulated {rule}"),
            },
        }
    }
    for (rule, title, after) in fired {
        if !s.covers.contains(&rule.as_str()) && !e.expected.contains(rule) {
            println!("    also       {rule}  {title}  after {after:.2}s");
        }
    }
    Outcome {
        id: s.id,
        kind: s.kind,
        result: if !ok {
            "NOT DETECTED"
        } else if unjudged {
            // the engine's rules fired; the process ones were not judged
            "partial"
        } else {
            "detected"
        },
        ok,
        rules,
    }
}

fn print_summary(outcomes: &[Outcome]) {
    println!();
    println!("summary");
    println!(
        "  {:<24} {:<7} {:<14} {:>7}  rules fired (seconds)",
        "scenario", "kind", "result", "seconds"
    );
    for o in outcomes {
        let slowest = o
            .rules
            .iter()
            .map(|(_, _, t)| *t)
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
        let rules: Vec<String> = o
            .rules
            .iter()
            .map(|(id, _, t)| {
                if o.kind == Kind::Attack {
                    format!("{} ({t:.2})", &id[..8.min(id.len())])
                } else {
                    id[..8.min(id.len())].to_string()
                }
            })
            .collect();
        println!(
            "  {:<24} {:<7} {:<14} {:>7}  {}",
            o.id,
            o.kind.as_str(),
            o.result,
            match (o.kind, slowest) {
                (Kind::Attack, Some(t)) => format!("{t:.2}"),
                _ => "-".into(),
            },
            if rules.is_empty() {
                "-".into()
            } else {
                rules.join(", ")
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dead_runs_audit_rules_are_stale() {
        let line = "-a always,exit -F arch=b64 -S execve -F key=contraband-emulate-12685";
        assert_eq!(
            stale_audit_rule(line, |_| false).unwrap().join(" "),
            "-d always,exit -F arch=b64 -S execve -F key=contraband-emulate-12685"
        );
        assert_eq!(stale_audit_rule(line, |pid| pid == 12685), None);
        // other users' rules are never touched
        let theirs = "-a always,exit -F arch=b64 -S execve -F key=exec";
        assert_eq!(stale_audit_rule(theirs, |_| false), None);
        let near = "-a always,exit -S execve -F key=contraband-emulate-x";
        assert_eq!(stale_audit_rule(near, |_| false), None);
    }

    #[test]
    fn every_scenario_names_a_real_validation_and_covers_only_its_expected_rules() {
        let catalogue = catalogue().expect("scenarios match the pack's validations");
        assert_eq!(catalogue.len(), SCENARIOS.len());
        let mut ids = std::collections::HashSet::new();
        for e in catalogue {
            let s = e.s;
            assert!(ids.insert(s.id), "{} twice", s.id);
            assert!(s.auditd.iter().all(|r| s.covers.contains(r)), "{}", s.id);
            match s.kind {
                Kind::Benign => assert!(s.covers.is_empty() && s.validation.is_none(), "{}", s.id),
                Kind::Attack => assert!(!s.covers.is_empty(), "{}", s.id),
            }
            if s.validation.is_none() {
                continue;
            }
            for rule in s.covers {
                assert!(
                    e.expected.iter().any(|r| r == rule),
                    "{}: {rule} is not an expected rule of {:?}",
                    s.id,
                    s.validation
                );
            }
        }
    }

    #[test]
    fn an_alert_is_the_scenarios_by_container_session_command_line_or_image() {
        let args = <crate::cli::Cli as clap::Parser>::try_parse_from(["contraband", "emulate"]);
        let Ok(crate::cli::Cli {
            command: crate::cli::Command::Emulate(args),
            ..
        }) = args
        else {
            panic!("emulate parses");
        };
        let ctx = Ctx {
            args: &args,
            name: "cb-emulate-benign-web-1".into(),
            dir: PathBuf::from("/tmp/contraband-emulate-1-benign-web"),
            dockerd_pid: "1".into(),
            images: vec!["contraband/busybox:latest".into()],
        };
        let ours = |v: Value| belongs_to(&v, &ctx, Some("7"));
        assert!(ours(
            serde_json::json!({"container": {"name": "/cb-emulate-benign-web-1"}})
        ));
        assert!(!ours(
            serde_json::json!({"container": {"name": "someone-else"}})
        ));
        assert!(ours(
            serde_json::json!({"event": "type=CONFIG_CHANGE msg=audit(1.0:2): op=set audit_enabled=0 old=1 auid=0 ses=7 res=1"})
        ));
        assert!(!ours(
            serde_json::json!({"event": "type=CONFIG_CHANGE msg=audit(1.0:2): op=remove_rule auid=0 ses=71 res=1"})
        ));
        assert!(!ours(
            serde_json::json!({"process": {"command_line": "docker run --privileged x"}, "event": "ses=4294967295 "})
        ));
        assert!(ours(
            serde_json::json!({"process": {"command_line": "docker run --name cb-emulate-benign-web-1 x"}})
        ));
        assert!(ours(
            serde_json::json!({"container": {"image": "contraband/busybox:latest"}})
        ));
        assert!(ours(
            serde_json::json!({"event": {"Type": "image", "Actor": {"ID": "contraband/busybox:latest"}}})
        ));
        assert!(!ours(
            serde_json::json!({"event": {"Type": "image", "Actor": {"ID": "other:1"}}})
        ));
        assert!(!ours(serde_json::json!({"rule": {}})));
    }
}
