//! Shared helpers for corpus tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use contraband_event::Event;

/// SigmaHQ's corpus (`shared/corpora/sigma`).
pub fn corpora() -> PathBuf {
    contraband_testkit::corpora().join("sigma")
}

/// The events of a SigmaHQ regression-data JSON file (Windows events
/// rendered as JSON), through the real Windows decoder and its mapping.
pub fn windows_events(path: &Path) -> Vec<Event> {
    let opts = contraband_sources::Options {
        format: Some(contraband_sources::Format::WindowsJson),
        ..Default::default()
    };
    contraband_sources::open(path, &opts)
        .map(|e| e.unwrap_or_else(|err| panic!("{}: {err}", path.display())))
        .collect()
}

/// Every `.yml` file under `root`, sorted.
pub fn yaml_files(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    out.sort();
    out
}

/// The three SigmaHQ rule folders' files: (path relative to `root`, text).
pub fn corpus_sources(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["rules", "rules-threat-hunting", "rules-emerging-threats"] {
        for f in yaml_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&f).unwrap();
            out.push((f.strip_prefix(root).unwrap().display().to_string(), text));
        }
    }
    out
}

/// Load the three SigmaHQ rule folders.
pub fn load_corpus(root: &Path) -> contraband_sigma::LoadReport {
    let mut loader = contraband_sigma::Loader::new(contraband_sigma::LoadOptions::default());
    for (path, text) in corpus_sources(root) {
        loader.add_source(&path, &text);
    }
    loader.finish()
}

/// Every event of the regression data, decoded.
pub fn regression_events(root: &Path) -> Vec<Event> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root.join("regression_data"))
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .collect();
    files.sort();
    files.iter().flat_map(|f| windows_events(f)).collect()
}
