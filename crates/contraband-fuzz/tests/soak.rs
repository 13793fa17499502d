//! A poor man's fuzzer for machines without nightly: mutate the saved
//! corpus at random for a while and run every target on the results.
//! Ignored by default; run it with
//!
//!     CONTRABAND_SOAK_SECS=60 cargo test -p contraband-fuzz --test soak -- --ignored --nocapture
//!
//! Failing inputs are written to `target/soak-failures/<target>/` for adding
//! to the corpus (see docs/fuzzing.md).

use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::time::{Duration, Instant};

use contraband_fuzz::TARGETS;

/// Random numbers from std's randomly keyed SipHash over a counter.
struct Rng(RandomState, u64);

impl Rng {
    fn new() -> Rng {
        Rng(RandomState::new(), 0)
    }
    fn next(&mut self) -> u64 {
        self.1 += 1;
        self.0.hash_one(self.1)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\n",
    b"\\",
    b"1e15",
    b"-0",
    b"null",
    b"*",
    b"?",
    b"|re",
    b"|contains",
    b"|all",
    b"|base64offset",
    b"|windash",
    b"|cidr",
    b"&a",
    b"*a",
    b"!!",
    b"---\n",
    b"1 of ",
    b"not ",
    b" and ",
    b"(",
    b")",
    b"type=EOE msg=audit(1.1:1): ",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\x00",
];

fn mutate(rng: &mut Rng, base: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] = rng.next() as u8;
            }
            1 if at < v.len() => {
                let end = (at + 1 + rng.below(16)).min(v.len());
                v.drain(at..end);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            3 => v.truncate(at),
            4 if !other.is_empty() => {
                // Splice in a piece of another input.
                let from = rng.below(other.len());
                let to = (from + rng.below(256)).min(other.len());
                v.splice(at..at, other[from..to].iter().copied());
            }
            _ => {
                // Repeat a piece (nesting, long lines, many records).
                if at < v.len() {
                    let end = (at + 1 + rng.below(8)).min(v.len());
                    let piece = v[at..end].to_vec();
                    for _ in 0..rng.below(64) {
                        v.splice(at..at, piece.iter().copied());
                    }
                }
            }
        }
    }
    v.truncate(16 * 1024);
    v
}

#[test]
#[ignore = "minutes of random inputs; run by hand"]
fn soak() {
    let secs: u64 = std::env::var("CONTRABAND_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let only = std::env::var("CONTRABAND_SOAK_TARGET").ok();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/soak-failures");
    let mut failures = 0;
    for (name, target) in TARGETS {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(root.join(name))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        let mut rng = Rng::new();
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut runs = 0;
        while Instant::now() < deadline {
            let base = &seeds[rng.below(seeds.len())];
            let other = &seeds[rng.below(seeds.len())];
            let data = mutate(&mut rng, base, other);
            runs += 1;
            let started = Instant::now();
            let result = std::panic::catch_unwind(|| target(&data))
                .unwrap_or_else(|_| Err("panicked".into()));
            let slow = started.elapsed() > Duration::from_secs(10);
            if result.is_err() || slow {
                failures += 1;
                let dir = out.join(name);
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join(format!("failure-{runs}"));
                std::fs::write(&file, &data).unwrap();
                eprintln!(
                    "{name}: {} ({})",
                    result
                        .err()
                        .unwrap_or_else(|| format!("slow: {:?}", started.elapsed())),
                    file.display()
                );
            }
        }
        eprintln!("{name}: {runs} inputs in {secs} s");
    }
    assert_eq!(failures, 0, "see target/soak-failures/");
}
