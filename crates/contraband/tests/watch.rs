//! End-to-end `contraband watch`: the real binary against real daemons
//! (dockerd, podman, auditd) started by `scripts/setup`, the webhook over
//! loopback, and the auditd follower on a temporary file.
//!
//! Live tests need the components `scripts/test` starts and announces
//! through the environment (`CONTRABAND_DOCKER=1`, `CONTRABAND_PODMAN=1`,
//! `CONTRABAND_AUDITD=1`). Without them they fail with a message saying so:
//! a live test that silently passes would prove nothing.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{contraband, corpora};

const PRIVILEGED_RULE: &str = "f1c34511-8889-4c74-a6b5-d316de69ed21";
const CRACKER_IN_CONTAINER_RULE: &str = "01f597ae-b4de-4369-b856-c620532e5102";
const RESOURCE_RULE: &str = "5f0c7a2e-3b8d-4e61-9c14-d2a6b7e9f031";

/// Docker tests share one daemon (and one of them restarts it): one at a time.
static DOCKER: Mutex<()> = Mutex::new(());

fn docker_lock() -> MutexGuard<'static, ()> {
    DOCKER.lock().unwrap_or_else(|e| e.into_inner())
}

fn require(var: &str, what: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: this live test needs {what}. Run it through scripts/test, which \
             starts the real components (scripts/setup) and sets {var}; it does not pass without them."
        ),
    }
}

fn docker_host() -> String {
    require("CONTRABAND_DOCKER", "a running dockerd");
    std::env::var("CONTRABAND_DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

fn base_image() -> String {
    std::env::var("CONTRABAND_IMAGE_BASE").unwrap_or_else(|_| "contraband/busybox:latest".into())
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn sh(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn must(program: &str, args: &[&str]) -> String {
    let (ok, out) = sh(program, args);
    assert!(ok, "{program} {args:?} failed: {out}");
    out
}

/// A running `contraband watch`, its alerts and log collected as they come.
struct Watch {
    child: Child,
    alerts: Arc<Mutex<Vec<(Instant, Value)>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Watch {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_contraband"));
        cmd.arg("watch")
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("CONTRABAND_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start contraband watch");
        let alerts = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let a = Arc::clone(&alerts);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("watch wrote a line that is not JSON ({e}): {line}")
                });
                a.lock().unwrap().push((Instant::now(), v));
            }
        });
        let stderr = child.stderr.take().unwrap();
        let l = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push(line);
            }
        });
        Watch { child, alerts, log }
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Wait until a log line contains `needle`; the line.
    fn wait_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "watch exited ({status}) before logging {needle:?}:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?} within {timeout:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait for an alert matching `pred`; it and when it was read.
    fn wait_alert(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> (Instant, Value) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.alerts.lock().unwrap().iter().find(|(_, a)| pred(a)) {
                return found.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no alert {what} within {timeout:?}; alerts: {:#?}\nlog:\n{}",
                self.alerts()
                    .iter()
                    .map(|a| a["rule"]["title"].clone())
                    .collect::<Vec<_>>(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alerts(&self) -> Vec<Value> {
        self.alerts
            .lock()
            .unwrap()
            .iter()
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// SIGTERM, wait, and return the whole log.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = sh("kill", &["-TERM", &pid]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("watch did not stop on SIGTERM:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200)); // let the readers drain
        self.log_text()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Milliseconds between the alert's event time and when the test read it.
fn latency_ms(read_at: Instant, alert: &Value) -> f64 {
    let t = alert["time"].as_str().unwrap();
    let event: i64 = jiff_nanos(t);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let read_ns = now - read_at.elapsed().as_nanos() as i64;
    (read_ns - event) as f64 / 1e6
}

fn jiff_nanos(t: &str) -> i64 {
    // RFC 3339 as the alert writes it; parsed by the binary's own hunt would be overkill
    let ts: jiff::Timestamp = t
        .parse()
        .unwrap_or_else(|e| panic!("alert time {t:?}: {e}"));
    ts.as_nanosecond() as i64
}

fn container_name(a: &Value) -> Option<&str> {
    a["container"]["name"].as_str()
}

// ---------------------------------------------------------------------------------------------
// Docker
// ---------------------------------------------------------------------------------------------

/// `contraband watch --docker`, once it has subscribed.
fn watch_docker(host: &str, extra: &[&str]) -> Watch {
    let args = [
        &["--docker", host, "--no-stats", "--format", "jsonl"],
        extra,
    ]
    .concat();
    let mut watch = Watch::start(&args, &[]);
    watch.wait_log("docker: watching", Duration::from_secs(20));
    watch
}

/// `docker run --privileged --name NAME IMAGE` with `--rm ... true` (`short`)
/// or `-d ... sleep 30`.
fn docker_run_privileged(name: &str, short: bool) {
    let image = base_image();
    let (mode, command): (&str, &[&str]) = if short {
        ("--rm", &["true"])
    } else {
        ("-d", &["sleep", "30"])
    };
    let args = [
        &["run", mode, "--privileged", "--name", name, &image][..],
        command,
    ]
    .concat();
    must("docker", &args);
}

/// `docker run --rm --privileged NAME true` and the pack rule's alert for it.
fn run_privileged(watch: &mut Watch, prefix: &str) -> (String, Instant, Value) {
    let name = unique(prefix);
    docker_run_privileged(&name, true);
    let (read_at, alert) = watch.wait_alert(Duration::from_secs(30), &name, |a| {
        a["rule"]["id"] == PRIVILEGED_RULE && container_name(a) == Some(name.as_str())
    });
    assert_eq!(alert["container"]["privileged"], json!(true), "{alert:#}");
    (name, read_at, alert)
}

#[test]
fn docker_privileged_container_raises_the_pack_rule() {
    let host = docker_host();
    let _lock = docker_lock();
    let mut watch = watch_docker(&host, &[]);
    let (name, read_at, alert) = run_privileged(&mut watch, "cb-watch-priv");
    assert_eq!(
        alert["rule"]["title"],
        "Privileged Container Created or Started"
    );
    assert_eq!(alert["container"]["name"], name.as_str());
    assert_eq!(alert["container"]["runtime"], "docker");
    assert_eq!(alert["matched"]["container.privileged"], json!(true));
    assert_eq!(alert["logsource"]["product"], "docker");
    assert!(alert["source"]["source"]
        .as_str()
        .unwrap()
        .starts_with("docker:unix://"));
    assert_eq!(alert["strategy"]["id"], "ADS-0003");
    eprintln!(
        "privileged alert latency: {:.1} ms",
        latency_ms(read_at, &alert)
    );
    let log = watch.stop();
    assert!(log.contains("alert latency"), "{log}");
}

#[test]
fn docker_running_containers_are_judged_at_start() {
    let host = docker_host();
    let _lock = docker_lock();
    let name = unique("cb-watch-pre");
    docker_run_privileged(&name, false);
    let mut watch = Watch::start(&["--docker", &host, "--no-stats", "--format", "jsonl"], &[]);
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        watch.wait_alert(Duration::from_secs(20), "for the running container", |a| {
            a["rule"]["id"] == PRIVILEGED_RULE
                && container_name(a) == Some(name.as_str())
                && a["matched"]["Action"] == "inspect"
        })
    }));
    let _ = sh("docker", &["rm", "-f", &name]);
    let (_, alert) = found.unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert_eq!(alert["logsource"]["service"], "inspect");
    watch.stop();
}

#[test]
fn docker_daemon_restart_is_survived() {
    let host = docker_host();
    let _lock = docker_lock();
    let mut watch = watch_docker(&host, &[]);
    let (before, _, _) = run_privileged(&mut watch, "cb-watch-before");
    let count = |watch: &Watch, name: &str| {
        watch
            .alerts()
            .iter()
            .filter(|a| container_name(a) == Some(name))
            .count()
    };
    std::thread::sleep(Duration::from_secs(1)); // start, die, destroy judged too
    let before_restart = count(&watch, &before);

    restart_dockerd();

    watch.wait_log("docker: lost", Duration::from_secs(30));
    watch.wait_log("docker: reconnected", Duration::from_secs(60));
    let (after, read_at, alert) = run_privileged(&mut watch, "cb-watch-after");
    eprintln!(
        "post-restart alert latency: {:.1} ms",
        latency_ms(read_at, &alert)
    );
    watch.wait_log("replay done", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    // the replay after reconnecting judged nothing twice
    assert_eq!(count(&watch, &before), before_restart);
    assert!(count(&watch, &after) >= 1);
    let log = watch.stop();
    eprintln!("{log}");
}

/// A Unix-socket proxy in front of dockerd, which the test can cut: the
/// daemon keeps running (and keeps its event log) while watch is cut off.
struct Proxy {
    path: PathBuf,
    stop: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<Mutex<Vec<std::os::unix::net::UnixStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn start(path: &Path, upstream: &Path) -> Proxy {
        use std::os::unix::net::{UnixListener, UnixStream};
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).expect("bind proxy socket");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<UnixStream>>> = Arc::new(Mutex::new(Vec::new()));
        let (s, c, upstream) = (
            Arc::clone(&stop),
            Arc::clone(&conns),
            upstream.to_path_buf(),
        );
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = UnixStream::connect(&upstream) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server.try_clone().unwrap(), client.try_clone().unwrap()),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
                c.lock().unwrap().extend([client, server]);
            }
        });
        Proxy {
            path: path.to_path_buf(),
            stop,
            conns,
            thread: Some(thread),
        }
    }

    /// Close every connection and stop listening (the socket disappears).
    fn cut(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn docker_connection_loss_loses_and_repeats_nothing() {
    let host = docker_host();
    let upstream = PathBuf::from(host.trim_start_matches("unix://"));
    let _lock = docker_lock();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    let proxy = Proxy::start(&sock, &upstream);
    // no dedup: an event judged twice would show as a second alert
    let mut watch = watch_docker(&format!("unix://{}", sock.display()), &["--no-dedup"]);
    let (before, _, _) = run_privileged(&mut watch, "cb-watch-cut-before");
    std::thread::sleep(Duration::from_secs(1));
    let judged = |watch: &Watch, name: &str| {
        watch
            .alerts()
            .iter()
            .filter(|a| container_name(a) == Some(name))
            .count()
    };
    let before_cut = judged(&watch, &before);

    proxy.cut();
    watch.wait_log("docker: lost", Duration::from_secs(10));
    // while watch is cut off, one privileged container comes and goes, another stays
    let short = unique("cb-watch-cut-short");
    let long = unique("cb-watch-cut-long");
    docker_run_privileged(&short, true);
    docker_run_privileged(&long, false);
    std::thread::sleep(Duration::from_secs(1));
    let proxy = Proxy::start(&sock, &upstream);
    let recovered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        watch.wait_log("docker: reconnected", Duration::from_secs(30));
        // recovered from the daemon's event log with since=: the container still
        // running is inspected and judged on its replayed create event
        watch.wait_alert(Duration::from_secs(20), "replayed create", |a| {
            a["rule"]["id"] == PRIVILEGED_RULE
                && container_name(a) == Some(long.as_str())
                && a["matched"]["Action"] == "create"
        });
    }));
    let _ = sh("docker", &["rm", "-f", &long]);
    recovered.unwrap_or_else(|e| std::panic::resume_unwind(e));
    run_privileged(&mut watch, "cb-watch-cut-after");
    let replay = watch.wait_log("replay done", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(judged(&watch, &before), before_cut, "events judged twice");
    // the short-lived container's create, attach, start, die, destroy and the
    // long one's create and start, at least, came back; the short one can only
    // be judged on what its events carry (its runtime configuration is gone)
    let recovered: u64 = replay
        .split("replay done: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{replay}"));
    assert!(recovered >= 7, "{replay}");
    proxy.cut();
    eprintln!("{}", watch.stop());
}

/// Stop dockerd (SIGTERM) and start it again with the very command line and
/// environment it had, which is how scripts/setup started it.
fn restart_dockerd() {
    let pid = std::fs::read_to_string("/var/run/docker.pid").expect("read /var/run/docker.pid");
    let pid = pid.trim().to_string();
    let argv: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
        .expect("dockerd cmdline")
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let envs: Vec<(String, String)> = std::fs::read(format!("/proc/{pid}/environ"))
        .expect("dockerd environ")
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    must("kill", &["-TERM", &pid]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "dockerd {pid} did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open("/var/log/contraband-test/dockerd.log")
        .or_else(|_| std::fs::File::create("/tmp/contraband-dockerd.log"))
        .unwrap();
    let mut cmd = Command::new("setsid");
    cmd.args(&argv)
        .env_clear()
        .envs(envs)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let mut daemon = cmd.spawn().expect("restart dockerd");
    // dockerd outlives the test; a thread reaps it should it exit meanwhile
    std::thread::spawn(move || daemon.wait());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sh("docker", &["info", "--format", "{{.ServerVersion}}"]).0 {
        assert!(Instant::now() < deadline, "dockerd did not come back");
        std::thread::sleep(Duration::from_millis(250));
    }
}

// ---------------------------------------------------------------------------------------------
// Podman
// ---------------------------------------------------------------------------------------------

/// The podman API socket; started (`podman system service`) when absent.
fn podman_socket() -> (String, Option<Child>) {
    require("CONTRABAND_PODMAN", "podman");
    let path = "/run/podman/podman.sock";
    if Path::new(path).exists() && sh("curl", &["-fsS", "--unix-socket", path, "http://d/_ping"]).0
    {
        return (format!("unix://{path}"), None);
    }
    std::fs::create_dir_all("/run/podman").unwrap();
    let child = Command::new("podman")
        .args(["system", "service", "--time=0", &format!("unix://{path}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start podman system service");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sh("curl", &["-fsS", "--unix-socket", path, "http://d/_ping"]).0 {
        assert!(
            Instant::now() < deadline,
            "podman service did not answer on {path}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (format!("unix://{path}"), Some(child))
}

#[test]
fn podman_privileged_container_raises_the_pack_rule() {
    let (socket, mut service) = podman_socket();
    let mut watch = Watch::start(&["--podman", &socket, "--format", "jsonl"], &[]);
    watch.wait_log("podman: watching", Duration::from_secs(20));
    let name = unique("cb-watch-podman");
    let image = format!("localhost/{}", base_image());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // podman's API delivers events from its events file some time after
        // the fact: a container must outlive that to be inspected (see docs/watch.md)
        must(
            "podman",
            &[
                "run",
                "-d",
                "--privileged",
                "--network",
                "none",
                "--name",
                &name,
                &image,
                "sleep",
                "30",
            ],
        );
        watch.wait_alert(Duration::from_secs(20), "podman privileged", |a| {
            a["rule"]["id"] == PRIVILEGED_RULE && container_name(a) == Some(name.as_str())
        })
    }));
    let _ = sh("podman", &["rm", "-f", "-t", "0", &name]);
    if let Some(s) = service.as_mut() {
        let _ = s.kill();
        let _ = s.wait();
    }
    let (_, alert) = result.unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert_eq!(alert["logsource"]["product"], "podman");
    assert_eq!(alert["container"]["runtime"], "podman");
    assert_eq!(alert["container"]["privileged"], json!(true));
    watch.stop();
}

// ---------------------------------------------------------------------------------------------
// Kubernetes audit webhook
// ---------------------------------------------------------------------------------------------

const TOKEN: &str = "test-token-0123456789abcdef";

/// POST `body` to the webhook; (status, response body).
fn post(addr: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the webhook");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // the server may answer (413, 401) before reading a large body
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `contraband watch --k8s-audit-webhook 127.0.0.1:0 ARGS` with the test
/// token (alerts as JSON Lines unless ARGS say otherwise: stdout is a pipe),
/// and the address it listens on.
fn watch_webhook(args: &[&str]) -> (Watch, String) {
    let all = [&["--k8s-audit-webhook", "127.0.0.1:0"], args].concat();
    let mut watch = Watch::start(&all, &[("CONTRABAND_TOKEN", TOKEN)]);
    let line = watch.wait_log("webhook listening on http://", Duration::from_secs(20));
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    (watch, addr.to_string())
}

fn falco_traces() -> Vec<PathBuf> {
    let dir = corpora().join("falco/test/trace_files/k8s_audit");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn event_list(files: &[PathBuf]) -> Vec<u8> {
    let mut items = Vec::new();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            if !line.trim().is_empty() {
                items.push(serde_json::from_str::<Value>(line).unwrap());
            }
        }
    }
    json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items})
        .to_string()
        .into_bytes()
}

/// (rule id, auditID) of every alert, counted.
fn findings(alerts: &[Value]) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for a in alerts {
        let key = (
            a["rule"]["id"].as_str().unwrap_or_default().to_string(),
            a["event"]["auditID"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        *m.entry(key).or_default() += 1;
    }
    m
}

#[test]
fn k8s_audit_webhook_judges_falco_traces_like_hunt() {
    let traces = falco_traces();
    assert!(traces.len() > 40, "Falco k8s audit traces missing");
    let (watch, addr) = watch_webhook(&["--no-dedup", "--k8s-audit-max-body", "1048576"]);

    let body = event_list(&traces);
    assert!(body.len() < 1 << 20);
    // no token, a wrong token, the wrong method: refused, nothing judged
    assert_eq!(post(&addr, "/", None, &body).0, 401);
    assert_eq!(
        post(&addr, "/", Some("wrong-token-0123456789"), &body).0,
        401
    );
    // too large: refused before reading it all
    let big = vec![b' '; (1 << 20) + 10];
    assert_eq!(post(&addr, "/", Some(TOKEN), &big).0, 413);
    assert_eq!(post(&addr, "/", Some(TOKEN), b"{not json").0, 400);
    assert_eq!(post(&addr, "/elsewhere", Some(TOKEN), &body).0, 404);
    std::thread::sleep(Duration::from_millis(300));
    assert!(watch.alerts().is_empty(), "refused requests raised alerts");

    let (status, answer) = post(&addr, "/k8s-audit", Some(TOKEN), &body);
    assert_eq!(status, 200, "{answer}");

    // the same traces through hunt: the same findings, one by one
    let dir = tempfile::tempdir().unwrap();
    for f in &traces {
        std::fs::copy(f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    let hunt = contraband(&[
        "hunt",
        dir.path().to_str().unwrap(),
        "--format",
        "jsonl",
        "--no-dedup",
    ]);
    assert_eq!(hunt.status, 0, "{}", hunt.stderr);
    let want = findings(&hunt.alerts());
    assert!(
        !want.is_empty(),
        "the pack raises nothing on the Falco traces?"
    );
    let total: usize = want.values().sum();
    let deadline = Instant::now() + Duration::from_secs(20);
    while watch.alerts().len() < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(findings(&watch.alerts()), want);
    let alerts = watch.alerts();
    assert!(alerts.iter().all(|a| a["source"]["source"]
        .as_str()
        .unwrap()
        .starts_with("k8s-audit-webhook:")));
    watch.stop();
}

#[test]
fn k8s_audit_webhook_refuses_to_start_without_a_token() {
    let run = contraband(&["watch", "--k8s-audit-webhook", "127.0.0.1:0"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("needs a bearer token"),
        "{}",
        run.stderr
    );
    let run = contraband(&[
        "watch",
        "--k8s-audit-webhook",
        "0.0.0.0:9999",
        "--token-file",
        "/dev/null",
    ]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("refusing to listen beyond loopback"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// auditd: following a file (no daemon needed)
// ---------------------------------------------------------------------------------------------

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The records of one execve of `argv`, as auditd writes them.
fn execve(serial: u64, pid: u32, argv: &[&str]) -> String {
    let t = format!("{:.3}", now_secs());
    let exe = format!("/usr/bin/{}", argv[0]);
    let args: Vec<String> = argv
        .iter()
        .enumerate()
        .map(|(i, a)| format!("a{i}=\"{a}\""))
        .collect();
    format!(
        "type=SYSCALL msg=audit({t}:{serial}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid={pid} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"{}\" exe=\"{exe}\" key=\"exec\"\n\
         type=EXECVE msg=audit({t}:{serial}): argc={} {}\n\
         type=CWD msg=audit({t}:{serial}): cwd=\"/work\"\n\
         type=PATH msg=audit({t}:{serial}): item=0 name=\"{exe}\" inode=1 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL\n",
        argv[0],
        argv.len(),
        args.join(" ")
    )
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn cracker_alerts(watch: &Watch, word: &str) -> usize {
    watch
        .alerts()
        .iter()
        .filter(|a| {
            a["process"]["command_line"]
                .as_str()
                .is_some_and(|c| c.contains(word))
        })
        .count()
}

/// Append a hashcat execve whose command line names `file`.
fn crack(log: &Path, serial: u64, file: &str) {
    let pid = 4000 + serial as u32;
    append(
        log,
        &execve(serial, pid, &["hashcat", "-m", "0", "-a", "0", file, "w"]),
    );
}

fn wait_cracked(watch: &mut Watch, file: &str) -> (Instant, Value) {
    watch.wait_alert(Duration::from_secs(10), file, |a| {
        a["process"]["command_line"]
            .as_str()
            .is_some_and(|c| c.contains(file))
    })
}

#[test]
fn auditd_file_is_followed_across_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let old = dir.path().join("audit.log.1");
    // history before watch starts: not judged (tail from the end)
    crack(&log, 1, "old-history.txt");
    let mut watch = Watch::start(
        &[
            "--auditd",
            log.to_str().unwrap(),
            "--format",
            "jsonl",
            "--no-dedup",
        ],
        &[],
    );
    watch.wait_log("auditd: following", Duration::from_secs(20));

    crack(&log, 2, "first.txt");
    // records of one event written in two bursts are still one event
    let second = execve(
        3,
        4003,
        &["hashcat", "-m", "1000", "-a", "3", "second.txt", "w"],
    );
    let (a, b) = second.split_at(second.len() / 2);
    append(&log, a);
    std::thread::sleep(Duration::from_millis(150));
    append(&log, b);
    let (read_at, alert) = wait_cracked(&mut watch, "first.txt");
    assert_eq!(alert["logsource"]["service"], "auditd");
    eprintln!(
        "auditd alert latency: {:.1} ms",
        latency_ms(read_at, &alert)
    );
    wait_cracked(&mut watch, "second.txt");

    // rotation: the log is renamed (and written once more) and a new one created
    std::fs::rename(&log, &old).unwrap();
    crack(&old, 4, "late-in-old.txt");
    crack(&log, 5, "after-rotation.txt");
    watch.wait_log("was rotated", Duration::from_secs(10));
    wait_cracked(&mut watch, "after-rotation.txt");

    // truncation: the same file cut to zero and written again
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&log, "").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    crack(&log, 6, "after-truncation.txt");
    watch.wait_log("was truncated", Duration::from_secs(10));
    wait_cracked(&mut watch, "after-truncation.txt");
    std::thread::sleep(Duration::from_millis(800));
    let log_text = watch.log_text();
    // nothing lost, nothing twice: each execve raised the same number of alerts
    let per_event: Vec<usize> = [
        "first.txt",
        "second.txt",
        "late-in-old.txt",
        "after-rotation.txt",
        "after-truncation.txt",
    ]
    .iter()
    .map(|w| cracker_alerts(&watch, w))
    .collect();
    assert!(per_event[0] >= 1, "{log_text}");
    assert!(
        per_event.iter().all(|n| *n == per_event[0]),
        "alerts per execve: {per_event:?}\n{log_text}"
    );
    assert_eq!(
        cracker_alerts(&watch, "old-history.txt"),
        0,
        "history before the start was judged"
    );
    watch.stop();
}

// ---------------------------------------------------------------------------------------------
// Everything together: a cracker in a container, seen by auditd and docker stats
// ---------------------------------------------------------------------------------------------

#[test]
fn cracker_container_is_seen_by_auditd_and_resource_use() {
    let host = docker_host();
    require("CONTRABAND_AUDITD", "a running auditd");
    let audit_log =
        std::env::var("CONTRABAND_AUDIT_LOG").unwrap_or_else(|_| "/var/log/audit/audit.log".into());
    let image = std::env::var("CONTRABAND_IMAGE_CRACKER")
        .unwrap_or_else(|_| "127.0.0.1:5001/tools/hashcat:6.2.6".into());
    let _lock = docker_lock();
    let key = unique("cbwatch");
    // every 64-bit execve, tagged with a key of our own (removed at the end)
    let rule: Vec<&str> = "always,exit -F arch=b64 -S execve -k"
        .split(' ')
        .chain([key.as_str()])
        .collect();
    must("auditctl", &[&["-a"], &rule[..]].concat());
    let mut watch = Watch::start(
        &[
            "--docker",
            &host,
            "--auditd",
            &audit_log,
            "--format",
            "jsonl",
            "--stats-interval",
            "1",
            "--resource-window",
            "6",
            // the stand-in cracker is a shell loop: on a busy 2-core machine it
            // gets about 0.7 of a core, under the default floor
            "--resource-cpu",
            "0.3",
        ],
        &[],
    );
    let name = unique("cb-watch-hashcat");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        watch.wait_log("docker: watching", Duration::from_secs(20));
        watch.wait_log("auditd: following", Duration::from_secs(20));
        let script = "printf 'x\\n' >/tmp/h; printf 'a\\nb\\n' >/tmp/w; exec hashcat -m 0 -a 0 /tmp/h /tmp/w";
        must(
            "docker",
            &[
                "run",
                "-d",
                "--name",
                &name,
                "-e",
                "HASHCAT_BURN_SECONDS=20",
                &image,
                "sh",
                "-c",
                script,
            ],
        );
        let (_, proc_alert) = watch.wait_alert(
            Duration::from_secs(30),
            "cracker in container (auditd)",
            |a| {
                a["rule"]["id"] == CRACKER_IN_CONTAINER_RULE
                    && container_name(a) == Some(name.as_str())
            },
        );
        let (_, resource) =
            watch.wait_alert(Duration::from_secs(40), "resource abuse (stats)", |a| {
                a["rule"]["id"] == RESOURCE_RULE && container_name(a) == Some(name.as_str())
            });
        (proc_alert, resource)
    }));
    let _ = sh("docker", &["rm", "-f", &name]);
    let _ = sh("auditctl", &[&["-d"], &rule[..]].concat());
    let (proc_alert, resource) = result.unwrap_or_else(|e| std::panic::resume_unwind(e));
    // the auditd event was attributed by cgroup and enriched from the docker inspect cache
    assert_eq!(proc_alert["container"]["image"], image.as_str());
    assert_eq!(proc_alert["logsource"]["service"], "auditd");
    assert_eq!(resource["rule"]["level"], "high");
    let techniques = resource["attack"]["techniques"].as_array().unwrap();
    assert!(
        techniques.contains(&json!("T1496")) && techniques.contains(&json!("T1110.002")),
        "{resource:#}"
    );
    watch.stop();
}

#[test]
fn watch_needs_a_source_and_a_usable_socket() {
    let run = contraband(&["watch"]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("nothing to watch"), "{}", run.stderr);
    let run = contraband(&["watch", "--docker", "tcp://127.0.0.1:2375"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("only local Unix sockets"),
        "{}",
        run.stderr
    );
}

#[test]
fn permission_denied_names_the_fix() {
    // a socket only root may use, tried as nobody (the test machines run tests as root)
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("engine.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let log = dir.path().join("audit.log");
    std::fs::write(&log, "").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o600)).unwrap();
    let as_nobody = |args: &[&str]| {
        let out = Command::new("timeout")
            .args([
                "20",
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ])
            .arg(env!("CARGO_BIN_EXE_contraband"))
            .args(args)
            .output()
            .expect("setpriv (util-linux)");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let url = format!("unix://{}", sock.display());
    let (code, err) = as_nobody(&["watch", "--docker", &url]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("permission denied on") && err.contains("`docker`"),
        "{err}"
    );
    let (code, err) = as_nobody(&["watch", "--auditd", log.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("permission denied reading") && err.contains("`adm`"),
        "{err}"
    );
}

#[test]
fn k8s_audit_webhook_pushes_back_when_the_pipeline_stalls() {
    // the alert output is a FIFO nobody reads yet: the pipeline blocks opening
    // it, so accepted batches pile up until the bounded queues are full
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("alerts.fifo");
    must("mkfifo", &[fifo.to_str().unwrap()]);
    let (watch, addr) =
        watch_webhook(&["--k8s-audit-queue", "2", "--output", fifo.to_str().unwrap()]);
    let trace = corpora().join("falco/test/trace_files/k8s_audit/create_nginx_pod_privileged.json");
    let body = event_list(&[trace]);
    let mut codes = BTreeMap::new();
    let started = Instant::now();
    // bounded: the channel to the pipeline holds 4096 batches, the queue 2
    for _ in 0..5000 {
        let (code, _) = post(&addr, "/", Some(TOKEN), &body);
        *codes.entry(code).or_insert(0) += 1;
        if code == 429 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    assert_eq!(codes.get(&429), Some(&1), "{codes:?}");
    // (usually after the 4096-message channel filled up; earlier when the
    // machine is so busy that the queue's 2 places fill before they drain)
    assert!(codes.get(&200).is_some_and(|n| *n > 0), "{codes:?}");
    // once the output is read, the backlog drains and requests are accepted again
    // The reader says when the first alert arrives, so the test stops watch
    // only after the backlog has really started to drain (on a busy machine
    // stopping right after the first 200 could beat the first write).
    let (first_line, first_line_seen) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let lines = BufReader::new(std::fs::File::open(&fifo).unwrap()).lines();
        let mut count = 0;
        for line in lines.map_while(Result::ok) {
            if count == 0 {
                let _ = first_line.send(());
            }
            count += usize::from(!line.is_empty());
        }
        count
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, _) = post(&addr, "/", Some(TOKEN), &body);
        if code == 200 {
            break;
        }
        assert_eq!(code, 429);
        assert!(Instant::now() < deadline, "the backlog never drained");
        std::thread::sleep(Duration::from_millis(200));
    }
    first_line_seen
        .recv_timeout(Duration::from_secs(60))
        .expect("no alert reached the output after the backlog drained");
    watch.stop();
    assert!(reader.join().unwrap() >= 1);
}

#[test]
fn sigterm_closes_the_output_and_min_level_applies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.json");
    let out_arg = out.to_str().unwrap().to_string();
    let traces = falco_traces();
    let body = event_list(&traces);
    let mut by_level = BTreeMap::new();
    for min_level in ["informational", "high"] {
        let (watch, addr) = watch_webhook(&[
            "--format",
            "json",
            "--output",
            &out_arg,
            "--min-level",
            min_level,
            "--no-dedup",
        ]);
        assert_eq!(post(&addr, "/", Some(TOKEN), &body).0, 200);
        std::thread::sleep(Duration::from_millis(1500));
        let log = watch.stop();
        // a JSON array, closed on SIGTERM
        let text = std::fs::read_to_string(&out).unwrap();
        let alerts: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("--format json output is not a closed array ({e}):\n{text}\n{log}")
        });
        assert!(log.contains("alerts"), "{log}");
        by_level.insert(min_level, alerts);
    }
    let all = &by_level["informational"];
    let high = &by_level["high"];
    assert!(
        !high.is_empty() && high.len() < all.len(),
        "{} vs {}",
        high.len(),
        all.len()
    );
    assert!(high
        .iter()
        .all(|a| matches!(a["rule"]["level"].as_str(), Some("high" | "critical"))));
}

/// Audit's enabled flag, as `auditctl -s` shows it.
fn audit_enabled() -> String {
    must("auditctl", &["-s"])
        .lines()
        .find_map(|l| l.strip_prefix("enabled ").map(str::to_string))
        .expect("auditctl -s shows the enabled flag")
}

#[test]
fn emulate_detects_every_attack_scenario_and_no_benign_one() {
    let host = docker_host();
    require("CONTRABAND_AUDITD", "a running auditd");
    let _lock = docker_lock();
    let image = base_image();
    let cracker = std::env::var("CONTRABAND_IMAGE_CRACKER")
        .unwrap_or_else(|_| "127.0.0.1:5001/tools/hashcat:6.2.6".into());
    let web = std::env::var("CONTRABAND_IMAGE_WEB")
        .unwrap_or_else(|_| "127.0.0.1:5000/apps/web:1.0".into());

    // the scenarios, from --list: "[attack] id  (ADS-…)" and "[benign] id"
    let list = contraband(&["emulate", "--list"]);
    assert_eq!(list.status, 0, "{}", list.stderr);
    let mut expected: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let mut current = None;
    for line in list.stdout.lines() {
        if let Some(rest) = line.strip_prefix('[') {
            let (kind, rest) = rest.split_once("] ").expect("[kind] id");
            let id = rest.split_whitespace().next().unwrap().to_string();
            expected.insert(id.clone(), (kind.to_string(), Vec::new()));
            current = Some(id);
        } else if let Some(rules) = line.trim_start().strip_prefix("expects: ") {
            let id = current.as_ref().expect("expects: under a scenario");
            if !rules.starts_with("nothing") {
                expected.get_mut(id).unwrap().1 = rules.split(", ").map(str::to_string).collect();
            }
        }
    }
    let kinds = |k: &str| expected.values().filter(|(kind, _)| kind == k).count();
    assert!(
        kinds("attack") >= 15 && kinds("benign") >= 4,
        "{}",
        list.stdout
    );

    let daemon_json_before = std::fs::read("/etc/docker/daemon.json").ok();
    let audit_before = audit_enabled();
    let started = Instant::now();
    let run = contraband(&[
        "emulate",
        "--with-auditd",
        "--docker",
        &host,
        "--image",
        &image,
        "--cracker-image",
        &cracker,
        "--web-image",
        &web,
    ]);
    let took = started.elapsed();
    eprintln!("emulate took {:.1} s\n{}", took.as_secs_f64(), run.stdout);
    // no host change survives a run
    assert_eq!(
        audit_enabled(),
        audit_before,
        "audit's enabled flag changed"
    );
    assert_eq!(
        std::fs::read("/etc/docker/daemon.json").ok(),
        daemon_json_before,
        "/etc/docker/daemon.json changed"
    );
    assert!(!must("auditctl", &["-l"]).contains("contraband-emulate"));
    let left = must("docker", &["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!left.contains("cb-emulate-"), "containers left: {left}");
    let images = must("docker", &["images", "--format", "{{.Repository}}"]);
    assert!(!images.contains("cb-emulate-"), "images left: {images}");

    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    // the summary: one row per scenario
    let summary: BTreeMap<&str, Vec<&str>> = run
        .stdout
        .lines()
        .skip_while(|l| *l != "summary")
        .skip(2)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            Some((*cols.first()?, cols))
        })
        .collect();
    for (id, (kind, rules)) in &expected {
        let row = summary
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{id} missing from the summary:\n{}", run.stdout));
        if kind == "benign" {
            assert_eq!(row[2], "quiet", "{id}: {row:?}\n{}", run.stdout);
            continue;
        }
        assert_eq!(row[2], "detected", "{id}: {row:?}\n{}", run.stdout);
        for rule in rules {
            let line = run
                .stdout
                .lines()
                .skip_while(|l| !l.starts_with(&format!("[attack] {id} ")))
                .skip(1)
                .take_while(|l| l.starts_with("    "))
                .find(|l| l.contains(rule.as_str()))
                .unwrap_or_else(|| panic!("{id}: {rule} not reported:\n{}", run.stdout));
            assert!(
                line.trim_start().starts_with("fired") && line.contains(" after "),
                "{id}: {line}"
            );
        }
    }
    assert!(!run.stdout.contains("NOT FIRED"), "{}", run.stdout);
    assert!(run.stdout.contains("shortened"), "{}", run.stdout);
}
