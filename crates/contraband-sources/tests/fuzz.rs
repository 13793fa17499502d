//! Random and mutated input through every decoder: errors are fine, panics
//! are not. A small deterministic generator keeps this fast and repeatable.

mod common;

use common::*;
use contraband_sources::{read, Decoder, Format, Options};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\\",
    "\n",
    " ",
    "type=",
    "msg=audit(",
    "1700000000.1:",
    ")",
    ": ",
    "a0=",
    "a1_len=",
    "a1[0]=",
    "a1[",
    "=",
    "'",
    "msg='",
    "\u{1d}",
    "EOE",
    "SYSCALL",
    "EXECVE",
    "ff",
    "é",
    "\u{0}",
    "\"Event\"",
    "\"System\"",
    "\"kind\"",
    "\"Event\"",
    "\"verb\"",
    "\"process_exec\"",
    "\"Actor\"",
    "\"HostConfig\"",
    "\"Binds\"",
    "\"/:/mnt\"",
    "\"Status\"",
    "\"Type\"",
    "\"items\"",
    "\"EventList\"",
    "null",
    "true",
    "12345678901234567890123",
    "-1",
    "1e999",
    "sha256:",
    "@",
    "/docker/",
];

fn random_doc(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(200) {
        if rng.below(20) == 0 {
            out.push(rng.next() as u8);
        } else {
            out.extend_from_slice(TOKENS[rng.below(TOKENS.len())].as_bytes());
        }
    }
    out
}

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(8) {
        if v.is_empty() {
            break;
        }
        let at = rng.below(v.len());
        match rng.below(4) {
            0 => v[at] = rng.next() as u8,
            1 => {
                v.remove(at);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                v.splice(at..at, t.iter().copied());
            }
            _ => v.truncate(at),
        }
    }
    v
}

#[test]
fn random_and_mutated_input_never_panics() {
    let seeds: Vec<Vec<u8>> = [
        "laurel/src/testdata/record-execve-long.txt",
        "laurel/src/testdata/shell-proc-trace-reordered.txt",
        "falco/test/trace_files/k8s_audit/create_nginx_pod_sensitive_mount.json",
        "tetragon/testdata/events.json",
        "tetragon/docs/security-observability-with-ebpf/03_chapter/00_process_lifecycle/nc_process_connect.json",
    ]
    .iter()
    .map(|p| std::fs::read(corpora().join(p)).unwrap())
    .collect();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let opts = Options {
        max_record_size: 64 * 1024,
        auditd_max_pending: 8,
        ..Options::default()
    };
    let mut items = 0usize;
    for round in 0..600 {
        let doc = if round % 2 == 0 {
            random_doc(&mut rng)
        } else {
            let base = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, base)
        };
        // auto-detected, and forced through each format
        let formats: Vec<Option<Format>> = std::iter::once(None)
            .chain(Format::ALL.into_iter().map(Some))
            .collect();
        for format in formats {
            let o = Options {
                format,
                ..opts.clone()
            };
            items += read("fuzz", Box::new(std::io::Cursor::new(doc.clone())), &o).count();
            // line by line through the live decoder too
            if let Some(f) = format {
                let mut d = Decoder::new(f, "fuzz", &o);
                for line in String::from_utf8_lossy(&doc).lines() {
                    items += d.feed(line, None, None).len();
                }
                items += d.flush().len();
            }
        }
        // and gzip-wrapped, truncated at a random point
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &doc).unwrap();
        let mut gz = gz.finish().unwrap();
        gz.truncate(rng.below(gz.len() + 1));
        items += read("fuzz.gz", Box::new(std::io::Cursor::new(gz)), &opts).count();
    }
    assert!(items > 0);
}
