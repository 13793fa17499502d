//! Hostile and broken input: every problem is an error naming the file and
//! position, the rest of the input is still decoded, nothing panics.

mod common;

use std::io::Write;

use common::*;
use contraband_sources::{detect, open, read, ErrorKind, Format, Options};

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

const K8S: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"1","verb":"get","objectRef":{"resource":"pods"},"stageTimestamp":"2024-01-01T00:00:00Z"}"#;

#[test]
fn gzip_input_is_detected_and_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(
        corpora().join("falco/test/trace_files/k8s_audit/create_configmap_sensitive_values.json"),
    )
    .unwrap();
    let p = write(&dir, "audit.log.gz", &gzip(&plain));
    let events = open(&p, &Options::default());
    assert_eq!(events.format(), Some(Format::K8sAudit));
    let (evs, errs) = split(events);
    assert!(errs.is_empty());
    assert_eq!(evs.len(), 6);
    assert_eq!(evs[5].origin.line, Some(6));
    let (plain_evs, _) = decode(
        &corpora().join("falco/test/trace_files/k8s_audit/create_configmap_sensitive_values.json"),
        None,
    );
    assert_eq!(evs[5].origin.offset, plain_evs[5].origin.offset);
    assert_eq!(evs[5].raw, plain_evs[5].raw);

    let auditd = std::fs::read(corpora().join("laurel/src/testdata/record-execve.txt")).unwrap();
    let p = write(&dir, "audit.gz", &gzip(&auditd));
    let (evs, errs) = decode(&p, None);
    assert!(errs.is_empty());
    assert_eq!(s(&evs[0], "CommandLine"), "whoami");
}

#[test]
fn truncated_gzip_reports_and_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&K8S.replace(r#""auditID":"1""#, &format!(r#""auditID":"{i}""#)));
        text.push('\n');
    }
    let gz = gzip(text.as_bytes());
    let p = write(&dir, "cut.gz", &gz[..gz.len() / 2]);
    let (evs, errs) = decode(&p, None);
    assert!(!evs.is_empty() && evs.len() < 5000, "{}", evs.len());
    let last = errs.last().expect("an error for the truncation");
    assert!(last.is_fatal(), "{last}");
    assert!(matches!(last.kind, ErrorKind::Io(_)));
    assert!(last.to_string().contains("cut.gz"), "{last}");
}

#[test]
fn malformed_lines_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{K8S}\n{{\"kind\":\"Event\",\"verb\n\n{K8S}\n[1,2\n{K8S}\n");
    let p = write(&dir, "bad.jsonl", text.as_bytes());
    let (evs, errs) = decode(&p, None);
    assert_eq!(evs.len(), 3);
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0].line, Some(2));
    assert!(matches!(errs[0].kind, ErrorKind::Json(_)));
    assert_eq!(errs[1].line, Some(5));
    assert!(
        errs[0]
            .to_string()
            .starts_with(&format!("{}:2", p.display())),
        "{}",
        errs[0]
    );
    assert_eq!(evs[2].origin.line, Some(6));
}

#[test]
fn invalid_utf8_is_an_error_for_that_record_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = format!("{K8S}\n").into_bytes();
    bytes.extend_from_slice(b"{\"kind\":\"Event\",\"verb\":\"g\xff\xfe\"}\n");
    bytes.extend_from_slice(format!("{K8S}\n").as_bytes());
    let p = write(&dir, "utf8.jsonl", &bytes);
    let (evs, errs) = decode(&p, None);
    assert_eq!(evs.len(), 2);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, Some(2));
    // The position is the first bad byte's: `{"kind":"Event","verb":"g` is 25 bytes.
    assert!(
        matches!(errs[0].kind, ErrorKind::InvalidUtf8 { valid_up_to: 25 }),
        "{:?}",
        errs[0].kind
    );

    // auditd too
    let mut bytes = b"type=SYSCALL msg=audit(1.0:1): comm=\"a\xffb\"\n".to_vec();
    bytes.extend_from_slice(b"type=SYSCALL msg=audit(1.0:2): syscall=59 pid=2\n");
    let p = write(&dir, "utf8.log", &bytes);
    let (evs, errs) = decode(&p, Some(Format::Auditd));
    assert_eq!((evs.len(), errs.len()), (1, 1));
    assert_eq!(errs[0].line, Some(1));
}

#[test]
fn oversized_line_is_skipped_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.jsonl");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        writeln!(f, "{K8S}").unwrap();
        // 40 MB on one line, against a 1 MiB cap
        write!(f, "{{\"kind\":\"Event\",\"verb\":\"").unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..40 {
            f.write_all(&chunk).unwrap();
        }
        writeln!(f, "\"}}").unwrap();
        writeln!(f, "{K8S}").unwrap();
    }
    let opts = Options {
        max_record_size: 1 << 20,
        ..Options::default()
    };
    let (evs, errs) = split(open(&p, &opts));
    assert_eq!(evs.len(), 2);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, Some(2));
    assert!(matches!(errs[0].kind, ErrorKind::TooLong { limit } if limit == 1 << 20));
    assert_eq!(evs[1].origin.line, Some(3));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(200_000), "]".repeat(200_000));
    // as JSON lines
    let p = write(
        &dir,
        "deep.jsonl",
        format!("{K8S}\n{deep}\n{K8S}\n").as_bytes(),
    );
    let (evs, errs) = decode(&p, Some(Format::K8sAudit));
    assert_eq!((evs.len(), errs.len()), (2, 1));
    assert!(matches!(errs[0].kind, ErrorKind::Json(_)), "{}", errs[0]);
    // pretty-printed documents (the splitter path)
    let p = write(
        &dir,
        "deep.json",
        format!("{{\n\"x\": 1}}\n{deep}\n").as_bytes(),
    );
    let (evs, errs) = decode(&p, Some(Format::GenericJson));
    assert_eq!((evs.len(), errs.len()), (1, 1));
    assert_eq!(errs[0].line, Some(3));
}

#[test]
fn truncated_pretty_document_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[\n  {\"Id\": \"a\", \"HostConfig\": {}},\n  {\"Id\": \"b\", \"HostConfig\": {\"Privileged\": tr";
    let p = write(&dir, "inspect.json", text.as_bytes());
    let (evs, errs) = decode(&p, None);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].origin.index, Some(0));
    assert_eq!(errs.len(), 1);
    assert!(
        matches!(errs[0].kind, ErrorKind::Truncated(_)),
        "{}",
        errs[0]
    );
    assert_eq!(errs[0].line, Some(3));
    assert_eq!(errs[0].index, Some(1));
}

#[test]
fn unknown_text_is_reported_not_guessed() {
    let events = read(
        "x",
        Box::new(std::io::Cursor::new(b"hello world\n".to_vec())),
        &Options::default(),
    );
    let (evs, errs) = split(events);
    assert!(evs.is_empty());
    assert_eq!(errs.len(), 1);
    assert!(errs[0].to_string().contains("--format"));
    // empty input: nothing at all
    let (evs, errs) = split(read("e", Box::new(std::io::empty()), &Options::default()));
    assert!(evs.is_empty() && errs.is_empty());
    // a missing file
    let (_, errs) = split(open("/nonexistent/file.json", &Options::default()));
    assert!(errs[0].to_string().starts_with("/nonexistent/file.json"));
}

#[test]
fn detection_from_first_bytes() {
    assert_eq!(detect(K8S.as_bytes()), Some(Format::K8sAudit));
    assert_eq!(
        detect(b"type=EOE msg=audit(1.0:1): \n"),
        Some(Format::Auditd)
    );
    assert_eq!(detect(br#"{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{}}}"#), Some(Format::DockerEvents));
    assert_eq!(
        detect(br#"[{"Id":"abc","HostConfig":{}}]"#),
        Some(Format::DockerInspect)
    );
    assert_eq!(detect(br#"{"ID":"abc","Image":"alpine","Name":"n","Status":"start","Type":"container","time":"2024-01-01T00:00:00Z"}"#), Some(Format::PodmanEvents));
    assert_eq!(
        detect(br#"{"process_exec":{"process":{}},"time":"2024-01-01T00:00:00Z"}"#),
        Some(Format::Tetragon)
    );
    assert_eq!(
        detect(br#"{"Event":{"System":{}}}"#),
        Some(Format::WindowsJson)
    );
    assert_eq!(detect(br#"{"Image":"/bin/sh"}"#), Some(Format::GenericJson));
    // a first document larger than the prefix falls back to key sniffing
    assert_eq!(
        detect(br#"{"Event":{"System":{"Channel":"Security"},"EventData":{"x":"#),
        Some(Format::WindowsJson)
    );
    assert_eq!(detect(b"plain text"), None);
}

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(f.name().parse::<Format>().unwrap(), f);
    }
    assert_eq!("k8s".parse::<Format>().unwrap(), Format::K8sAudit);
    assert!("nope".parse::<Format>().is_err());
}

#[test]
fn byte_order_mark_and_crlf_are_tolerated() {
    let text = format!("\u{feff}{K8S}\r\n{K8S}\r\n");
    let (evs, errs) = split(read(
        "bom",
        Box::new(std::io::Cursor::new(text.into_bytes())),
        &Options::default(),
    ));
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(evs.len(), 2);
    assert!(!evs[1].raw.as_deref().unwrap().ends_with('\r'));
}

#[test]
fn events_can_move_to_another_thread() {
    fn is_send<T: Send>(_: &T) {}
    let events = read("x", Box::new(std::io::empty()), &Options::default());
    is_send(&events);
    let d = contraband_sources::Decoder::new(Format::Auditd, "x", &Options::default());
    is_send(&d);
}

#[test]
fn one_line_array_elements_keep_their_own_text() {
    // Re-serialising would turn `1e15` into `1000000000000000.0`, changing
    // the evidence and outgrowing the record cap.
    let text = "[{\"a\":1e15}, {\"b\": 2}]\n";
    let opts = Options {
        max_record_size: 32,
        ..Options::default()
    };
    let (evs, errs) = split(read(
        "arr",
        Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
        &opts,
    ));
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(evs[0].raw.as_deref(), Some("{\"a\":1e15}"));
    assert_eq!(evs[1].raw.as_deref(), Some("{\"b\": 2}"));
}

#[test]
fn auditd_raw_text_stays_within_the_record_cap() {
    let mut text = String::new();
    for i in 0..20 {
        text.push_str(&format!(
            "type=PATH msg=audit(1700000000.1:9): item={i} name=\"/x{i}\"\n"
        ));
    }
    text.push_str("type=EOE msg=audit(1700000000.1:9): \n");
    let opts = Options {
        format: Some(Format::Auditd),
        max_record_size: 200,
        ..Options::default()
    };
    let (evs, _) = split(read(
        "audit",
        Box::new(std::io::Cursor::new(text.into_bytes())),
        &opts,
    ));
    assert_eq!(evs.len(), 1);
    assert!(evs[0].raw.as_deref().unwrap().len() <= 200);
}

/// Every item of `text` as its debug form, read by `take` from a fresh
/// stream.
fn items_of(
    text: &str,
    format: Option<Format>,
    take: impl Fn(&mut contraband_sources::Events) -> Vec<String>,
) -> Vec<String> {
    let opts = Options {
        format,
        ..Options::default()
    };
    let bytes = text.as_bytes().to_vec();
    let mut events = read("batches", Box::new(std::io::Cursor::new(bytes)), &opts);
    take(&mut events)
}

#[test]
fn batches_give_what_the_iterator_gives() {
    let show = |item: &Result<contraband_event::Event, contraband_sources::DecodeError>| match item
    {
        Ok(e) => format!("{:?} {:?} {:?}", e.time, e.raw, e.fields),
        Err(e) => e.to_string(),
    };
    let json = "{\"a\":1}\n[{\"b\":2},{\"c\":\"x\"}]\nnot json\n\n{\"d\":[1,{\"e\":3}]}\n";
    let mut audit = String::new();
    for (serial, pid) in [(1, 10), (2, 11), (3, 12)] {
        audit.push_str(&format!(
            "type=SYSCALL msg=audit(1700000000.1:{serial}): syscall=59 pid={pid}\n\
             type=EXECVE msg=audit(1700000000.1:{serial}): argc=1 a0=\"sh\"\n"
        ));
    }
    for (text, format) in [(json, None), (audit.as_str(), Some(Format::Auditd))] {
        let iterated = items_of(text, format, |ev| ev.map(|i| show(&i)).collect());
        assert!(iterated.len() >= 3, "{iterated:?}");
        let batched = items_of(text, format, |ev| {
            let mut all = Vec::new();
            while let Some(batch) = ev.next_batch() {
                assert!(!batch.is_empty());
                all.extend(batch.iter().map(show));
            }
            all
        });
        assert_eq!(batched, iterated, "{text}");
        // One item by `next`, then batches, then `next` again: nothing is
        // given twice or lost.
        let mixed = items_of(text, format, |ev| {
            let mut all: Vec<String> = ev.next().iter().map(show).collect();
            if let Some(batch) = ev.next_batch() {
                all.extend(batch.iter().map(show));
            }
            all.extend(ev.map(|i| show(&i)));
            all
        });
        assert_eq!(mixed, iterated, "{text}");
    }
}
