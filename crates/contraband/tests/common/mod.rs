//! Helpers for running the real `contraband` binary in tests.
#![allow(dead_code, unused_imports)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

pub use contraband_testkit::{corpora, workspace};

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Each stdout line parsed as a JSON alert.
    pub fn alerts(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

pub fn contraband(args: &[&str]) -> Run {
    contraband_with_stdin(args, None)
}

pub fn contraband_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_contraband"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run contraband");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The file name (no directory) an alert's event came from.
pub fn file_name(alert: &Value) -> String {
    let source = alert["source"]["source"].as_str().unwrap_or_default();
    source.rsplit('/').next().unwrap_or_default().to_string()
}

/// (rule title, file name) pairs of the alerts, sorted.
pub fn fired(alerts: &[Value]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            let file = a["source"]["source"].as_str().unwrap_or_default();
            let file = file.rsplit('/').next().unwrap_or_default().to_string();
            (
                a["rule"]["title"].as_str().unwrap_or_default().to_string(),
                file,
            )
        })
        .collect();
    v.sort();
    v
}
