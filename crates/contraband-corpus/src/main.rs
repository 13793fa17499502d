//! `contraband-corpus`: deterministic benchmark corpora for contraband and its peers.
//!
//! The same `--kind`, `--events`, `--attacks` and `--seed` always give byte-identical output.
//! Besides the corpus, a manifest `OUT.planted.jsonl` lists every planted attack (line number,
//! event identity and the rules it is meant to fire), so a benchmark can report recall as well as
//! agreement between engines.

mod auditd;
mod common;
mod docker;
mod k8s;
mod linux;
mod linux_templates;
mod rng;
mod vocab;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Kind {
    /// Linux process creation in Sigma field names, with container and k8s context.
    Linux,
    /// Kubernetes audit events (audit.k8s.io/v1).
    K8s,
    /// Docker Engine events (`docker events --format '{{json .}}'`).
    Docker,
    /// Raw auditd records (SYSCALL/EXECVE/CWD/PATH/PROCTITLE per execution; not JSON).
    Auditd,
}

/// Generate a deterministic benchmark corpus (JSON lines; auditd: raw audit.log records).
#[derive(Debug, Parser)]
#[command(name = "contraband-corpus", version)]
struct Args {
    #[arg(long, value_enum, default_value = "linux")]
    kind: Kind,
    /// Number of events.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Number of planted attacks (default: 3 per 10,000 events, at least 1).
    #[arg(long)]
    attacks: Option<u64>,
    /// PRNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file (`-` for standard output).
    #[arg(long, short, default_value = "-")]
    out: PathBuf,
    /// Planted-attacks manifest (default: OUT.planted.jsonl; none when writing to stdout).
    #[arg(long)]
    manifest: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let opts = common::Opts {
        events: args.events,
        attacks: args
            .attacks
            .unwrap_or_else(|| (args.events * 3 / 10_000).max(1)),
        seed: args.seed,
    };
    let to_stdout = args.out.as_os_str() == "-";
    let mut out: Box<dyn Write> = if to_stdout {
        Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))
    } else {
        let f =
            File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
        Box::new(BufWriter::with_capacity(1 << 20, f))
    };
    let manifest = args.manifest.clone().or_else(|| {
        (!to_stdout).then(|| {
            let mut p = args.out.clone().into_os_string();
            p.push(".planted.jsonl");
            PathBuf::from(p)
        })
    });
    let mut planted: Box<dyn Write> = match &manifest {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::sink()),
    };
    match args.kind {
        Kind::Linux => linux::generate(&opts, &mut out, &mut planted)?,
        Kind::K8s => k8s::generate(&opts, &mut out, &mut planted)?,
        Kind::Docker => docker::generate(&opts, &mut out, &mut planted)?,
        Kind::Auditd => auditd::generate(&opts, &mut out, &mut planted)?,
    }
    out.flush()?;
    planted.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Gen = fn(&common::Opts, &mut Vec<u8>, &mut Vec<u8>) -> Result<()>;

    fn run(kind: Gen, seed: u64) -> (Vec<u8>, Vec<u8>) {
        let opts = common::Opts {
            events: 3000,
            attacks: 40,
            seed,
        };
        let (mut out, mut planted) = (Vec::new(), Vec::new());
        kind(&opts, &mut out, &mut planted).unwrap();
        (out, planted)
    }

    #[test]
    fn every_kind_is_deterministic_valid_json_with_the_planted_count() {
        for kind in [
            linux::generate as Gen,
            k8s::generate as Gen,
            docker::generate as Gen,
        ] {
            let (a, pa) = run(kind, 5);
            let (b, pb) = run(kind, 5);
            assert_eq!(a, b, "same seed, same bytes");
            assert_eq!(pa, pb);
            assert_ne!(a, run(kind, 6).0, "another seed, another corpus");
            let text = String::from_utf8(a).unwrap();
            assert_eq!(text.lines().count(), 3000);
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert!(v.is_object());
            }
            let planted = String::from_utf8(pa).unwrap();
            assert_eq!(planted.lines().count(), 40);
            for p in planted.lines() {
                let p: serde_json::Value = serde_json::from_str(p).unwrap();
                let line = p["line"].as_u64().unwrap() as usize;
                assert!((1..=3000).contains(&line));
                assert!(!p["tags"].as_array().unwrap().is_empty());
            }
        }
    }

    #[test]
    fn auditd_is_deterministic_six_records_per_execution() {
        let (a, pa) = run(auditd::generate as Gen, 5);
        assert_eq!((a.clone(), pa.clone()), run(auditd::generate as Gen, 5));
        let text = String::from_utf8(a).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6 * 3000);
        for (i, l) in lines.iter().enumerate() {
            let want = ["SYSCALL", "EXECVE", "CWD", "PATH", "PATH", "PROCTITLE"][i % 6];
            assert!(l.contains(&format!(" type={want} msg=audit(")), "{l}");
        }
        for p in String::from_utf8(pa).unwrap().lines() {
            let p: serde_json::Value = serde_json::from_str(p).unwrap();
            let line = p["line"].as_u64().unwrap() as usize;
            assert!(lines[line - 1].contains(" type=SYSCALL "));
        }
    }

    #[test]
    fn linux_events_carry_their_identity_and_the_sigma_fields() {
        let (out, _) = run(linux::generate as Gen, 1);
        for (i, line) in String::from_utf8(out).unwrap().lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["event_id"].as_u64(), Some(i as u64));
            for f in [
                "Image",
                "CommandLine",
                "ParentImage",
                "User",
                "CurrentDirectory",
            ] {
                assert!(v[f].is_string(), "{f} in {line}");
            }
            assert!(v["ProcessId"].is_u64() && v["ParentProcessId"].is_u64());
        }
    }
}
