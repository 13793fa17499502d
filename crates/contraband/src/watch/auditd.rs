//! Following an auditd log: tail from the end (or the start), across
//! rotation (the path names a new inode) and truncation (the file shrank),
//! assembling records into events with the auditd decoder and attributing
//! each process to its container through `/proc/PID/cgroup`.
//!
//! auditd here writes no EOE records, so an event is complete only when a
//! later one starts; when the log goes quiet the pending events older than a
//! moment are flushed (`Decoder::flush_before`) so none waits for the next.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use contraband_event::{ContainerContext, Event, Timestamp};
use contraband_sources::{container_in, Decoder, Format, Options};

use super::engines::now_nanos;
use super::{log, Msg};

/// How often an idle log is polled.
const POLL: Duration = Duration::from_millis(100);
/// Pending events older than this are complete when the log is idle.
const SETTLE_NS: i64 = 500_000_000;
/// Longest line kept (a longer one is cut and reported by the decoder).
const MAX_LINE: usize = 1 << 20;
/// pid → container attributions remembered.
const PIDS_CAP: usize = 8192;

pub struct AuditdSource {
    pub path: PathBuf,
    pub from_start: bool,
    pub options: Options,
    pub tx: SyncSender<Msg>,
    /// Where `/proc` is (tests point it elsewhere).
    pub proc_root: PathBuf,
}

struct Open {
    file: File,
    ino: (u64, u64),
    pos: u64,
    /// Where the line being read starts.
    line_start: u64,
    /// Lines read, when counted from the file's start (unknown after a tail).
    line: Option<u64>,
    /// Rotation seen: one more read of the old file before switching, for
    /// what was written between our last read and the rename.
    draining: bool,
}

impl AuditdSource {
    /// Fatal problems (permission) now rather than in the thread.
    pub fn preflight(&self) -> Result<(), String> {
        match File::open(&self.path) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(format!(
                "permission denied reading {}: run contraband as root or as a member of the \
                 group that owns the audit log (`adm` on Debian; see log_group in auditd.conf)",
                self.path.display()
            )),
            Err(e) => {
                log(
                    "auditd",
                    &format!("{}: {e}; waiting for it to appear", self.path.display()),
                );
                Ok(())
            }
        }
    }

    fn open(&self, at_end: bool) -> io::Result<Open> {
        let mut file = File::open(&self.path)?;
        let meta = file.metadata()?;
        let pos = if at_end {
            file.seek(SeekFrom::End(0))?
        } else {
            0
        };
        Ok(Open {
            file,
            ino: (meta.dev(), meta.ino()),
            pos,
            line_start: pos,
            line: (pos == 0).then_some(0),
            draining: false,
        })
    }

    pub fn run(self) {
        let name = format!("auditd:{}", self.path.display());
        let mut decoder = Decoder::new(Format::Auditd, &name, &self.options);
        let mut pids = Pids::default();
        let mut partial: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut current: Option<Open> = None;
        let mut first = true;
        let mut missing_reported = false;
        loop {
            let Some(open) = current.as_mut() else {
                match self.open(first && !self.from_start) {
                    Ok(o) => {
                        log(
                            "auditd",
                            &format!(
                                "following {} from {}",
                                self.path.display(),
                                if o.pos == 0 {
                                    "the start".to_string()
                                } else {
                                    format!("byte {}", o.pos)
                                }
                            ),
                        );
                        current = Some(o);
                        first = false;
                        missing_reported = false;
                    }
                    Err(e) => {
                        if !missing_reported {
                            log(
                                "auditd",
                                &format!("cannot open {}: {e}; retrying", self.path.display()),
                            );
                            missing_reported = true;
                        }
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
                continue;
            };
            let n = match open.file.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log(
                        "auditd",
                        &format!("read error on {}: {e}; reopening", self.path.display()),
                    );
                    current = None;
                    continue;
                }
            };
            if n > 0 {
                let chunk = &buf[..n];
                let mut start = 0;
                for (i, b) in chunk.iter().enumerate() {
                    if *b == b'\n' {
                        if partial.len() < MAX_LINE {
                            let room = MAX_LINE - partial.len();
                            partial.extend_from_slice(&chunk[start..i][..(i - start).min(room)]);
                        }
                        open.line = open.line.map(|l| l + 1);
                        let line = String::from_utf8_lossy(&partial).into_owned();
                        partial.clear();
                        let offset = open.line_start;
                        open.line_start = open.pos + i as u64 + 1;
                        if !self.feed(&mut decoder, &mut pids, &line, open.line, offset) {
                            return;
                        }
                        start = i + 1;
                    }
                }
                if partial.len() < MAX_LINE {
                    let room = MAX_LINE - partial.len();
                    partial.extend_from_slice(&chunk[start..][..(n - start).min(room)]);
                }
                open.pos += n as u64;
                continue;
            }
            // idle: complete what has settled, then look for rotation
            let settled = decoder.flush_before(Timestamp(now_nanos() - SETTLE_NS));
            if !self.send_all(settled, &mut pids) {
                return;
            }
            match std::fs::metadata(&self.path) {
                Ok(meta) if (meta.dev(), meta.ino()) != open.ino && !open.draining => {
                    open.draining = true;
                    continue;
                }
                Ok(meta) if (meta.dev(), meta.ino()) != open.ino => {
                    // rotated: the old file is fully read (we are at its end); the
                    // new one is read from its start
                    log(
                        "auditd",
                        &format!(
                            "{} was rotated; following the new file from the start",
                            self.path.display()
                        ),
                    );
                    partial.clear();
                    current = None;
                    continue;
                }
                Ok(meta) if meta.len() < open.pos => {
                    log(
                        "auditd",
                        &format!(
                            "{} was truncated ({} -> {} bytes); reading it from the start",
                            self.path.display(),
                            open.pos,
                            meta.len()
                        ),
                    );
                    partial.clear();
                    if open.file.seek(SeekFrom::Start(0)).is_err() {
                        current = None;
                        continue;
                    }
                    open.pos = 0;
                    open.line_start = 0;
                    open.line = Some(0);
                }
                Ok(_) => {}
                Err(_) => {} // between rename and create: keep reading the old file
            }
            std::thread::sleep(POLL);
        }
    }

    /// Feed one line; `false` when the pipeline is gone.
    fn feed(
        &self,
        decoder: &mut Decoder,
        pids: &mut Pids,
        line: &str,
        number: Option<u64>,
        offset: u64,
    ) -> bool {
        // attribute now, while the process (or its parent) is likely alive
        if line.contains("type=SYSCALL") {
            for key in [" pid=", " ppid="] {
                if let Some(pid) = field(line, key) {
                    pids.learn(pid, &self.proc_root);
                }
            }
        }
        let events = decoder.feed(line, number, Some(offset));
        self.send_all(events, pids)
    }

    fn send_all(
        &self,
        events: Vec<Result<Event, contraband_sources::DecodeError>>,
        pids: &mut Pids,
    ) -> bool {
        for item in events {
            let msg = match item {
                Ok(mut event) => {
                    attribute(&mut event, pids, &self.proc_root);
                    Msg::Event(Box::new(event))
                }
                Err(e) => Msg::DecodeError(e),
            };
            if self.tx.send(msg).is_err() {
                return false;
            }
        }
        true
    }
}

/// The value of ` key=` in an auditd line, up to the next space.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(key)? + key.len();
    let rest = &line[at..];
    let end = rest.find([' ', '\u{1d}']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
}

/// Set the container of a process event from its pid (or its parent's).
fn attribute(event: &mut Event, pids: &mut Pids, proc_root: &std::path::Path) {
    if event.container.as_ref().is_some_and(|c| c.id.is_some()) {
        return;
    }
    for key in ["pid", "ppid"] {
        let Some(pid) = event.get_str(key).map(|p| p.into_owned()) else {
            continue;
        };
        if let Some((runtime, id)) = pids.get(&pid, proc_root) {
            let c: &mut ContainerContext = event.container_mut();
            c.id = Some(id);
            c.runtime = Some(runtime.to_string());
            return;
        }
    }
}

/// pid → the container its cgroup names (or none), bounded.
#[derive(Default)]
struct Pids {
    map: HashMap<String, Option<(&'static str, String)>>,
    order: VecDeque<String>,
}

impl Pids {
    fn read(pid: &str, proc_root: &std::path::Path) -> Option<Option<(&'static str, String)>> {
        let text = std::fs::read_to_string(proc_root.join(pid).join("cgroup")).ok()?;
        Some(container_in(&text))
    }

    fn learn(&mut self, pid: &str, proc_root: &std::path::Path) {
        if let Some(found) = Self::read(pid, proc_root) {
            if self.map.insert(pid.to_string(), found).is_none() {
                self.order.push_back(pid.to_string());
                if self.order.len() > PIDS_CAP {
                    if let Some(old) = self.order.pop_front() {
                        self.map.remove(&old);
                    }
                }
            }
        }
    }

    fn get(&mut self, pid: &str, proc_root: &std::path::Path) -> Option<(&'static str, String)> {
        if !self.map.contains_key(pid) {
            self.learn(pid, proc_root);
        }
        self.map.get(pid).cloned().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_attribution() {
        let line = "type=SYSCALL msg=audit(1.0:1): arch=c000003e syscall=59 success=yes ppid=10 pid=42 auid=0";
        assert_eq!(field(line, " pid="), Some("42"));
        assert_eq!(field(line, " ppid="), Some("10"));
        assert_eq!(field(line, " uid="), None);
        let dir = tempfile::tempdir().unwrap();
        let id = "a".repeat(64);
        std::fs::create_dir_all(dir.path().join("42")).unwrap();
        std::fs::write(
            dir.path().join("42/cgroup"),
            format!("12:cpu,cpuacct:/docker/{id}\n"),
        )
        .unwrap();
        let mut pids = Pids::default();
        pids.learn("42", dir.path());
        // the process is gone by the time the event is assembled: still attributed
        std::fs::remove_dir_all(dir.path().join("42")).unwrap();
        let mut ev = Event::default();
        ev.fields.insert("pid", "42".into());
        attribute(&mut ev, &mut pids, dir.path());
        let c = ev.container.unwrap();
        assert_eq!(
            (c.id.as_deref(), c.runtime.as_deref()),
            (Some(id.as_str()), Some("docker"))
        );
    }
}
