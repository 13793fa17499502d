// Shared test helpers (included with `mod common;`).
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};

use contraband_event::Event;
use contraband_sources::{open, DecodeError, Format, Options};

pub use contraband_testkit::corpora;

pub fn decode(path: &Path, format: Option<Format>) -> (Vec<Event>, Vec<DecodeError>) {
    let opts = Options {
        format,
        ..Options::default()
    };
    split(open(path, &opts))
}

pub fn split(
    items: impl Iterator<Item = Result<Event, DecodeError>>,
) -> (Vec<Event>, Vec<DecodeError>) {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        match item {
            Ok(e) => events.push(e),
            Err(e) => errors.push(e),
        }
    }
    (events, errors)
}

pub fn s(ev: &Event, field: &str) -> String {
    ev.get_str(field)
        .unwrap_or_else(|| panic!("no field {field} in {:?}", ev.fields))
        .into_owned()
}

pub fn all(ev: &Event, field: &str) -> Vec<String> {
    let mut out = Vec::new();
    let _ = ev.visit(field, &mut |v| {
        out.push(match v.as_str() {
            Some(s) => s.to_string(),
            None => v.to_value().to_string(),
        });
        std::ops::ControlFlow::Continue(())
    });
    out
}

pub fn ls(ev: &Event) -> (Option<&str>, Option<&str>, Option<&str>) {
    (
        ev.logsource.product.as_deref(),
        ev.logsource.category.as_deref(),
        ev.logsource.service.as_deref(),
    )
}

pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
