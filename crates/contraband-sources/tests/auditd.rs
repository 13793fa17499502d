//! auditd decoding against laurel's raw test logs and OTRF's zipped datasets.

mod common;

use std::io::Read;

use common::*;
use contraband_sources::{Decoder, Format, Options};

fn laurel(name: &str) -> std::path::PathBuf {
    corpora().join("laurel/src/testdata").join(name)
}

#[test]
fn split_long_execve_argument_is_reassembled_exactly() {
    let (evs, errs) = decode(&laurel("record-execve-long.txt"), None);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(evs.len(), 1);
    let ev = &evs[0];
    // laurel's own JSON rendering of the same record holds the argv.
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(laurel("record-execve-long.json")).unwrap())
            .unwrap();
    let argv: Vec<&str> = expected["EXECVE"]["ARGV"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(argv.len(), 2);
    assert_eq!(s(ev, "CommandLine"), argv.join(" "));
    assert_eq!(s(ev, "a1").len(), 8192); // a1_len=16384 hex digits
    assert!(s(ev, "a1").starts_with("baaa"));
    assert_eq!(s(ev, "a0"), "/bin/echo");
    assert_eq!(s(ev, "argc"), "2");
    assert_eq!(s(ev, "Image"), "/usr/bin/echo");
    assert_eq!(s(ev, "User"), "user"); // the enriched UID name
    assert_eq!(s(ev, "syscall"), "execve");
    assert_eq!(
        ls(ev),
        (Some("linux"), Some("process_creation"), Some("auditd"))
    );
    assert_eq!(ev.time.to_rfc3339(), "2021-03-07T21:02:54.493Z");
    // raw holds every record of the event, EOE included
    assert_eq!(ev.raw.as_deref().unwrap().lines().count(), 9);
}

#[test]
fn simple_execve_maps_to_process_creation() {
    let (evs, errs) = decode(&laurel("record-execve.txt"), None);
    assert!(errs.is_empty());
    let ev = &evs[0];
    assert_eq!(ev.host.as_deref(), Some("work"));
    assert_eq!(s(ev, "Image"), "/usr/bin/whoami");
    assert_eq!(s(ev, "CommandLine"), "whoami");
    assert_eq!(s(ev, "CurrentDirectory"), "/home/user/tmp");
    assert_eq!(s(ev, "ProcessId"), "10884");
    assert_eq!(s(ev, "ParentProcessId"), "10883");
    assert_eq!(s(ev, "LogonId"), "1000");
    assert_eq!(s(ev, "uid"), "0");
    assert_eq!(s(ev, "proctitle"), "whoami");
    assert_eq!(
        all(ev, "name"),
        vec!["/usr/bin/whoami", "/lib64/ld-linux-x86-64.so.2"]
    );
    assert_eq!(
        all(ev, "records"),
        vec!["SYSCALL", "EXECVE", "CWD", "PATH", "PATH", "PROCTITLE"]
    );
    assert_eq!(s(ev, "type"), "SYSCALL");
    assert_eq!(ev.origin.line, Some(1));
}

#[test]
fn reordered_records_complete_on_their_eoe() {
    let (evs, errs) = decode(&laurel("shell-proc-trace-reordered.txt"), None);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(evs.len(), 9);
    let mut cmds: Vec<String> = evs
        .iter()
        .filter_map(|e| e.get_str("CommandLine").map(|c| c.into_owned()))
        .collect();
    cmds.sort();
    assert_eq!(
        cmds,
        vec![
            "/bin/echo foo",
            "/bin/sed -e s/foo/bar/",
            "/bin/sh ./src/testdata/double-fork/test-script.sh",
            "grep baz"
        ]
    );
    for ev in evs.iter().filter(|e| e.get("CommandLine").is_some()) {
        assert_eq!(s(ev, "CurrentDirectory"), "/home/user/src/laurel");
        assert_eq!(s(ev, "syscall"), "execve");
    }
    let script = evs
        .iter()
        .find(|e| e.get_str("key").as_deref() == Some("test-script"))
        .unwrap();
    assert_eq!(s(script, "a1"), "./src/testdata/double-fork/test-script.sh");
    let forks = evs
        .iter()
        .filter(|e| e.get_str("syscall").as_deref() == Some("clone"))
        .count();
    assert_eq!(forks, 5);
}

#[test]
fn interleaved_records_are_kept_apart() {
    let (evs, errs) = decode(&laurel("shell-proc-trace-confusion.txt"), None);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(evs.len(), 72);
    let rm = evs
        .iter()
        .find(|e| {
            e.get_str("CommandLine").as_deref() == Some("rm -f /tmp/2643A1 /tmp/2643A2 /tmp/2643XX")
        })
        .expect("the rm execve");
    assert_eq!(s(rm, "Image"), "/usr/bin/rm");
    // Every execve has exactly one EXECVE-derived command line and one cwd.
    for ev in evs.iter().filter(|e| e.get("CommandLine").is_some()) {
        let records = all(ev, "records");
        assert_eq!(
            records.iter().filter(|r| *r == "SYSCALL").count(),
            1,
            "{records:?}"
        );
        assert_eq!(
            records.iter().filter(|r| *r == "CWD").count(),
            1,
            "{records:?}"
        );
    }
}

#[test]
fn every_laurel_log_decodes_without_errors() {
    let mut paths = files(&corpora().join("laurel/src/testdata"), "txt");
    paths.retain(|p| !p.ends_with("tree/README.txt"));
    let mut events = 0;
    for p in &paths {
        let (evs, errs) = decode(p, Some(Format::Auditd));
        assert!(errs.is_empty(), "{}: {errs:?}", p.display());
        assert!(!evs.is_empty(), "{}", p.display());
        events += evs.len();
    }
    assert_eq!(paths.len(), 39);
    assert_eq!(events, 155);
}

#[test]
fn service_start_keeps_its_message_fields() {
    let (evs, errs) = decode(&laurel("record-service-start.txt"), None);
    assert!(errs.is_empty());
    let ev = &evs[0];
    assert_eq!(s(ev, "type"), "SERVICE_START");
    assert_eq!(s(ev, "unit"), "apt-daily");
    assert_eq!(s(ev, "res"), "success");
    assert_eq!(s(ev, "syscall"), "sendto");
    // SYSCALL arguments are hex numbers, not text
    assert_eq!(s(ev, "a1"), "7fff698a0190");
    assert_eq!(ls(ev), (Some("linux"), None, Some("auditd")));
}

#[test]
fn hex_proctitle_and_ptrace() {
    let (evs, _) = decode(&laurel("record-ptrace.txt"), None);
    assert_eq!(s(&evs[0], "syscall"), "ptrace");
    let (evs, _) = decode(&laurel("record-execve-long.txt"), None);
    assert!(s(&evs[0], "proctitle").starts_with("/bin/echo aaaa"));
}

/// The one member of a zip archive, inflated (local file header + deflate).
fn unzip_single(path: &std::path::Path) -> Vec<u8> {
    let data = std::fs::read(path).unwrap();
    assert_eq!(&data[..4], b"PK\x03\x04");
    let u16_at = |i: usize| u16::from_le_bytes([data[i], data[i + 1]]) as usize;
    let u32_at =
        |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]) as usize;
    let method = u16_at(8);
    let size = u32_at(18);
    let start = 30 + u16_at(26) + u16_at(28);
    let body = &data[start..start + size];
    match method {
        0 => body.to_vec(),
        8 => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        m => panic!("zip method {m}"),
    }
}

#[test]
fn otrf_zipped_auditd_datasets() {
    let dir = corpora().join("otrf/linux");
    let cases = [
        (
            "defense_evasion/host/sh_binary_padding_dd.zip",
            vec!["dd if=/dev/zero bs=1 count=1"],
        ),
        (
            "discovery/host/sh_arp_cache.zip",
            vec!["arp -a", "grep -v ^?"],
        ),
    ];
    for (name, want) in cases {
        let bytes = unzip_single(&dir.join(name));
        let events = contraband_sources::read(
            name,
            Box::new(std::io::Cursor::new(bytes)),
            &Options::default(),
        );
        assert_eq!(events.format(), Some(Format::Auditd));
        let (evs, errs) = split(events);
        assert!(errs.is_empty(), "{errs:?}");
        let cmds: Vec<String> = evs.iter().map(|e| s(e, "CommandLine")).collect();
        assert_eq!(cmds, want, "{name}");
        for ev in &evs {
            assert_eq!(s(ev, "CurrentDirectory"), "/home/wardog");
            assert_eq!(s(ev, "User"), "1000");
        }
    }
}

#[test]
fn line_decoder_keeps_state_until_eoe_or_flush() {
    let mut d = Decoder::new(Format::Auditd, "live", &Options::default());
    let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let lines = [
        format!("type=SYSCALL msg=audit(1700000000.100:7): arch=c000003e syscall=165 success=yes exit=0 pid=5 ppid=1 auid=4294967295 uid=0 comm=\"mount\" exe=\"/usr/bin/mount\" cgroup=\"0::/system.slice/docker-{id}.scope\""),
        "type=PATH msg=audit(1700000000.100:7): item=0 name=2F6D6E742F686F7374206469726563746F7279 nametype=NORMAL".to_string(),
        "type=SYSCALL msg=audit(1700000000.200:8): arch=c000003e syscall=272 success=yes exit=0 pid=6 uid=0 exe=\"/usr/bin/unshare\"".to_string(),
    ];
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        out.extend(d.feed(l, Some(i as u64 + 1), None));
    }
    assert!(out.is_empty(), "nothing is complete before EOE");
    out.extend(d.feed("type=EOE msg=audit(1700000000.100:7): ", Some(4), None));
    assert_eq!(out.len(), 1);
    let ev = out.remove(0).unwrap();
    assert_eq!(s(&ev, "syscall"), "mount");
    assert_eq!(all(&ev, "name"), vec!["/mnt/host directory"]);
    assert_eq!(s(&ev, "container.id"), id);
    assert_eq!(s(&ev, "container.runtime"), "docker");
    let rest = d.flush();
    assert_eq!(rest.len(), 1);
    assert_eq!(s(rest[0].as_ref().unwrap(), "syscall"), "unshare");
}

#[test]
fn pending_events_are_bounded() {
    let opts = Options {
        auditd_max_pending: 2,
        ..Options::default()
    };
    let mut d = Decoder::new(Format::Auditd, "live", &opts);
    let mut out = Vec::new();
    for serial in 1..=3 {
        out.extend(d.feed(
            &format!("type=SYSCALL msg=audit(1700000000.000:{serial}): syscall=59 pid={serial}"),
            None,
            None,
        ));
    }
    // the third pending event evicts the first, with an error
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].as_ref().unwrap_err().to_string().contains("pending"));
    assert_eq!(s(out[1].as_ref().unwrap(), "pid"), "1");
    assert_eq!(d.flush().len(), 2);
}

#[test]
fn records_far_behind_complete_without_eoe() {
    let mut d = Decoder::new(Format::Auditd, "live", &Options::default());
    let mut out = d.feed("type=USER_CMD msg=audit(1700000000.000:10): pid=1 uid=0 msg='cwd=\"/\" cmd=6C73202D6C terminal=pts/0 res=success'", None, None);
    assert!(out.is_empty());
    out.extend(d.feed("type=USER_END msg=audit(1700000009.000:11): pid=1 uid=0 msg='op=PAM:session_close res=success'", None, None));
    assert_eq!(out.len(), 1);
    let ev = out.remove(0).unwrap();
    assert_eq!(s(&ev, "type"), "USER_CMD");
    assert_eq!(s(&ev, "cmd"), "ls -l");
    assert_eq!(s(&ev, "cwd"), "/");
}

#[test]
fn a_late_record_completes_once_the_stream_moves_on() {
    let mut d = Decoder::new(Format::Auditd, "live", &Options::default());
    let mut feed = |line: String| d.feed(&line, None, None);
    assert!(
        feed("type=SYSCALL msg=audit(1700000000.000:500): syscall=59 pid=500".into()).is_empty()
    );
    // A record of an event far behind the newest is due at once, but not
    // while it is the record being read: its event may have more records.
    let late = "type=SYSCALL msg=audit(1700000000.000:100): syscall=59 pid=100";
    assert!(feed(late.into()).is_empty());
    let more = "type=CWD msg=audit(1700000000.000:100): cwd=\"/tmp\"";
    assert!(feed(more.into()).is_empty());
    // The next record of another event (the newest serial unchanged)
    // completes it, with both its records.
    let out = feed("type=CWD msg=audit(1700000000.000:500): cwd=\"/\"".into());
    assert_eq!(out.len(), 1, "{out:?}");
    let ev = out[0].as_ref().unwrap();
    assert_eq!((s(ev, "pid"), s(ev, "cwd")), ("100".into(), "/tmp".into()));
    assert_eq!(d.flush().len(), 1);
}

#[test]
fn live_decoder_expires_quiet_events() {
    let mut d = Decoder::new(Format::Auditd, "live", &Options::default());
    assert!(d
        .feed(
            "type=SYSCALL msg=audit(1700000000.000:1): syscall=59 pid=1",
            None,
            None
        )
        .is_empty());
    assert!(
        d.feed(
            "type=SYSCALL msg=audit(1700000005.000:2): syscall=59 pid=2",
            None,
            None
        )
        .len()
            == 1
    ); // 5 s later: the first is past the time window
    assert!(d
        .flush_before(contraband_event::Timestamp(1_700_000_005_000_000_000))
        .is_empty());
    let out = d.flush_before(contraband_event::Timestamp(1_700_000_006_000_000_000));
    assert_eq!(out.len(), 1);
    assert_eq!(s(out[0].as_ref().unwrap(), "pid"), "2");
}
