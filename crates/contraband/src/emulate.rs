//! `contraband emulate`: the strategies' validation sections as runnable,
//! safe scenarios against the real container engine, judged by a real
//! `contraband watch`.
//!
//! A strategy's validation lists the commands an analyst would run and the
//! rules they must raise. Several of those commands are unsafe to run on a
//! shared machine (mounting the host root, chrooting onto it, driving the
//! Docker socket from a container, switching audit off). Each scenario here
//! is the safe variant of one validation entry: local images only, no
//! network beyond loopback, nothing of the host mounted writable, every
//! container removed afterwards. It names which of the validation's
//! expected rules it is designed to raise (`covers`); the others are listed
//! as not emulated, with the reason.
//!
//! The runner starts `contraband watch --docker` (plus `--auditd` and a
//! temporary execve audit rule with `--with-auditd`, for the process rules),
//! runs each scenario's steps, and reports, per expected rule, whether it
//! fired and how long after the scenario started.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use contraband_engine::builtin_strategies;
use serde_json::Value;

use crate::cli::EmulateArgs;

/// One safe scenario: the validation it stands for, its steps and cleanup.
struct Scenario {
    strategy: &'static str,
    /// The validation entry's name, as in the strategy.
    validation: &'static str,
    /// Rules (ids) this safe variant is designed to raise.
    covers: &'static [&'static str],
    /// Those of `covers` that judge process telemetry: they need --with-auditd.
    process: &'static [&'static str],
    /// Why the validation's other expected rules are not emulated.
    not_emulated: &'static str,
    /// `docker` argument lists; `{name}` is the scenario's container name,
    /// `{image}` the local base image, `{cracker}` the local cracker stand-in.
    steps: &'static [&'static [&'static str]],
    cleanup: &'static [&'static [&'static str]],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        strategy: "ADS-0001",
        validation: "Hashcat image pulled and run with a dictionary attack",
        covers: &[
            "6752504c-4bef-4244-8f49-3ed47ff8ed45",
            "8c966b49-8f88-4462-b4a3-1b4bd6a72404",
            "01f597ae-b4de-4369-b856-c620532e5102",
        ],
        process: &["01f597ae-b4de-4369-b856-c620532e5102"],
        not_emulated: "no host root mount (-v /:/mnt) and no pull from a registry started for the \
                       purpose; the cracker-in-container rule needs --with-auditd",
        steps: &[&[
            "run", "--rm", "--log-driver", "none", "--network", "none", "--name", "{name}",
            "{cracker}", "sh", "-c",
            "printf 'x\\n' >/tmp/h; printf 'a\\nb\\n' >/tmp/w; HASHCAT_BURN_SECONDS=1 hashcat -m 0 -a 0 /tmp/h /tmp/w",
        ]],
        cleanup: &[],
    },
    Scenario {
        strategy: "ADS-0001",
        validation: "Miner arguments in a container",
        covers: &["2d7cf5a0-8149-42eb-bbc8-5e65ccccde09"],
        process: &["2d7cf5a0-8149-42eb-bbc8-5e65ccccde09"],
        not_emulated: "process rule: needs --with-auditd; the pool is a loopback address never contacted",
        steps: &[&[
            "run", "--rm", "--network", "none", "--name", "{name}", "{image}", "sh", "-c",
            "cp /bin/busybox /tmp/xmrig; /tmp/xmrig --donate-level 1 -o stratum+tcp://127.0.0.1:3333 || true",
        ]],
        cleanup: &[],
    },
    Scenario {
        strategy: "ADS-0003",
        validation: "Privileged container with the host root mounted, chroot onto the host",
        covers: &["f1c34511-8889-4c74-a6b5-d316de69ed21"],
        process: &[],
        not_emulated: "the host root is not mounted and nothing chroots onto the host",
        steps: &[&[
            "run", "--rm", "--privileged", "--network", "none", "--name", "{name}", "{image}",
            "true",
        ]],
        cleanup: &[],
    },
    Scenario {
        strategy: "ADS-0003",
        validation: "Host PID namespace and nsenter into PID 1 (Atomic Red Team T1611 test 1, Docker variant)",
        covers: &["83aef2f9-d800-40aa-98cb-c4eb23ef5902"],
        process: &[],
        not_emulated: "no nsenter into PID 1",
        steps: &[&[
            "run", "--rm", "--pid", "host", "--network", "none", "--name", "{name}", "{image}",
            "true",
        ]],
        cleanup: &[],
    },
    Scenario {
        strategy: "ADS-0002",
        validation: "The same checks inside a container",
        covers: &["76464914-cb92-4b4f-914a-1d2af36b2d51"],
        process: &["76464914-cb92-4b4f-914a-1d2af36b2d51"],
        not_emulated: "",
        steps: &[&[
            "run", "--rm", "--network", "none", "--name", "{name}", "{image}", "sh", "-c",
            // the shell outlives the check by a moment: a process is tied to its
            // container through /proc, its own or its parent's (docs/watch.md)
            "cat /sys/class/dmi/id/product_name; test -f /.dockerenv && echo docker; sleep 1",
        ]],
        cleanup: &[],
    },
    Scenario {
        strategy: "ADS-0003",
        validation: "cgroup release_agent preparation with SYS_ADMIN and AppArmor unconfined",
        covers: &[
            "2d80e2a4-8e9d-41cc-9c4e-949f1c48cff4",
            "524ee200-f675-4662-9d00-7f53878fee34",
        ],
        process: &[],
        not_emulated: "no cgroup is mounted and no kernel callback file is written",
        steps: &[&[
            "run", "--rm", "--cap-add", "SYS_ADMIN", "--security-opt", "apparmor=unconfined",
            "--network", "none", "--name", "{name}", "{image}", "true",
        ]],
        cleanup: &[],
    },
    Scenario {
        strategy: "ADS-0003",
        validation: "Docker socket mounted and driven from inside the container",
        covers: &[
            "6cf7e5a4-a09f-47da-910c-5cc788b033d0",
            "8c043be3-1f4c-436c-9d9a-55668ee09804",
        ],
        process: &["8c043be3-1f4c-436c-9d9a-55668ee09804"],
        not_emulated: "the socket is mounted read-only and nothing inside the container uses it",
        steps: &[&[
            "run", "--rm", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro", "--network",
            "none", "--name", "{name}", "{image}", "true",
        ]],
        cleanup: &[],
    },
    Scenario {
        strategy: "ADS-0003",
        validation: "Breakout reconnaissance kit",
        covers: &["4d8b74e5-33c7-485d-b408-2f86a2bacff4"],
        process: &["4d8b74e5-33c7-485d-b408-2f86a2bacff4"],
        not_emulated: "",
        steps: &[&[
            "run", "--rm", "--network", "none", "--name", "{name}", "{image}", "sh", "-c",
            "echo true > /tmp/deepce.sh; sh /tmp/deepce.sh",
        ]],
        cleanup: &[],
    },
    Scenario {
        strategy: "ADS-0004",
        validation: "Docker logging disabled daemon-wide and per container",
        covers: &["8c966b49-8f88-4462-b4a3-1b4bd6a72404"],
        process: &[],
        not_emulated: "the daemon's own configuration is not changed",
        steps: &[&[
            "run", "--rm", "--log-driver", "none", "--network", "none", "--name", "{name}",
            "{image}", "true",
        ]],
        cleanup: &[],
    },
    Scenario {
        strategy: "ADS-0004",
        validation: "Interactive shells in running containers (Atomic Red Team T1609 tests 1 and 2)",
        covers: &["c988c379-66d7-4d44-aa3e-9a1a172cd3d3"],
        process: &[],
        not_emulated: "no Kubernetes exec; the CLI rule needs --with-auditd",
        steps: &[
            &["run", "-d", "--network", "none", "--name", "{name}", "{image}", "sleep", "30"],
            &["exec", "{name}", "sh", "-c", "id"],
        ],
        cleanup: &[&["rm", "-f", "{name}"]],
    },
];

impl Scenario {
    fn id(&self, index_in_strategy: usize) -> String {
        format!("{}/{}", self.strategy, index_in_strategy)
    }
}

/// (scenario id, scenario, the validation's expected rules) for every scenario.
fn catalogue() -> Result<Vec<(String, &'static Scenario, Vec<String>)>> {
    let (strategies, errors) = builtin_strategies();
    if let Some(e) = errors.first() {
        bail!("built-in strategy is invalid: {e}");
    }
    let mut out = Vec::new();
    for s in SCENARIOS {
        let strategy = strategies
            .iter()
            .find(|x| x.id == s.strategy)
            .with_context(|| format!("no strategy {}", s.strategy))?;
        let (index, validation) = strategy
            .validation
            .iter()
            .enumerate()
            .find(|(_, v)| v.name == s.validation)
            .with_context(|| format!("{} has no validation {:?}", s.strategy, s.validation))?;
        out.push((s.id(index + 1), s, validation.expected_rules.clone()));
    }
    Ok(out)
}

fn expand(arg: &str, name: &str, args: &EmulateArgs) -> String {
    arg.replace("{name}", name)
        .replace("{image}", &args.image)
        .replace("{cracker}", &args.cracker_image)
}

fn docker(argv: &[String]) -> Result<()> {
    let out = Command::new("docker")
        .args(argv)
        .stdin(Stdio::null())
        .output()
        .context("cannot run docker")?;
    if !out.status.success() {
        bail!(
            "docker {} failed: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

pub fn run(args: EmulateArgs) -> Result<i32> {
    let catalogue = catalogue()?;
    if args.list {
        for (id, s, expected) in &catalogue {
            println!("{id}  {}", s.validation);
            println!("    emulates: {}", s.covers.join(", "));
            let others: Vec<&String> = expected
                .iter()
                .filter(|r| !s.covers.contains(&r.as_str()))
                .collect();
            if !others.is_empty() {
                println!(
                    "    not emulated: {} ({})",
                    others
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    s.not_emulated
                );
            }
        }
        return Ok(0);
    }
    let chosen: Vec<_> = if args.ids.is_empty() {
        catalogue.iter().collect()
    } else {
        let mut v = Vec::new();
        for want in &args.ids {
            let found = catalogue
                .iter()
                .find(|(id, _, _)| id.eq_ignore_ascii_case(want))
                .with_context(|| format!("no scenario {want} (see `contraband emulate --list`)"))?;
            v.push(found);
        }
        v
    };

    let audit_key = format!("contraband-emulate-{}", std::process::id());
    let audit_rule = [
        "always,exit",
        "-F",
        "arch=b64",
        "-S",
        "execve",
        "-k",
        &audit_key,
    ];
    if args.with_auditd {
        let ok = Command::new("auditctl")
            .arg("-a")
            .args(audit_rule)
            .status()
            .context("cannot run auditctl")?;
        if !ok.success() {
            bail!("auditctl could not add the temporary execve rule (root needed)");
        }
    }
    let result = emulate(&args, &chosen);
    if args.with_auditd {
        let _ = Command::new("auditctl").arg("-d").args(audit_rule).status();
    }
    result
}

struct Watcher {
    child: Child,
    alerts: Receiver<Value>,
}

impl Watcher {
    fn start(args: &EmulateArgs) -> Result<Watcher> {
        let exe = std::env::current_exe().context("cannot find the contraband binary")?;
        let mut cmd = Command::new(exe);
        cmd.args([
            "watch",
            "--docker",
            &args.docker,
            "--no-stats",
            "--no-dedup",
        ])
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
                    if tx.send(v).is_err() {
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

fn emulate(args: &EmulateArgs, chosen: &[&(String, &Scenario, Vec<String>)]) -> Result<i32> {
    let watcher = Watcher::start(args)?;
    let timeout = Duration::from_secs_f64(args.timeout.max(1.0));
    let mut all_ok = true;
    for (id, s, expected) in chosen {
        let name = format!(
            "cb-emulate-{}-{}",
            id.replace('/', "-").to_ascii_lowercase(),
            std::process::id()
        );
        println!("{id}  {}", s.validation);
        // drain alerts from before this scenario
        while watcher.alerts.try_recv().is_ok() {}
        let started = Instant::now();
        let mut failed_step = None;
        for step in s.steps {
            let argv: Vec<String> = step.iter().map(|a| expand(a, &name, args)).collect();
            if let Err(e) = docker(&argv) {
                failed_step = Some(e);
                break;
            }
        }
        let mut fired: Vec<(String, String, Duration)> = Vec::new();
        let deadline = started + timeout;
        while failed_step.is_none() && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(alert) = watcher
                .alerts
                .recv_timeout(left.min(Duration::from_millis(200)))
            else {
                if s.covers
                    .iter()
                    .all(|r| fired.iter().any(|(id, _, _)| id == r))
                {
                    break;
                }
                continue;
            };
            let rule = alert["rule"]["id"].as_str().unwrap_or_default().to_string();
            if !fired.iter().any(|(r, _, _)| *r == rule) {
                let title = alert["rule"]["title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                fired.push((rule, title, started.elapsed()));
            }
        }
        for step in s.cleanup {
            let argv: Vec<String> = step.iter().map(|a| expand(a, &name, args)).collect();
            let _ = docker(&argv);
        }
        if let Some(e) = failed_step {
            println!("    FAILED to run: {e:#}");
            all_ok = false;
            continue;
        }
        for rule in expected {
            let covered = s.covers.contains(&rule.as_str());
            match fired.iter().find(|(r, _, _)| r == rule) {
                Some((_, title, after)) => {
                    println!(
                        "    fired      {rule}  {title}  after {:.2}s",
                        after.as_secs_f64()
                    )
                }
                None if covered && s.process.contains(&rule.as_str()) && !args.with_auditd => {
                    println!("    needs --with-auditd {rule}")
                }
                None if covered => {
                    all_ok = false;
                    println!("    NOT FIRED  {rule}");
                }
                None => println!("    not emulated {rule}"),
            }
        }
        for (rule, title, after) in &fired {
            if !expected.contains(rule) {
                println!(
                    "    also       {rule}  {title}  after {:.2}s",
                    after.as_secs_f64()
                );
            }
        }
    }
    watcher.stop();
    Ok(if all_ok { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_names_a_real_validation_and_covers_only_its_expected_rules() {
        let catalogue = catalogue().expect("scenarios match the pack's validations");
        assert_eq!(catalogue.len(), SCENARIOS.len());
        for (id, s, expected) in catalogue {
            assert!(s.process.iter().all(|r| s.covers.contains(r)), "{id}");
            for rule in s.covers {
                assert!(
                    expected.iter().any(|r| r == rule),
                    "{id}: {rule} is not an expected rule of {:?}",
                    s.validation
                );
            }
        }
    }
}
