//! Shared helpers for corpus tests.
#![allow(dead_code)]

pub mod windows;

use std::path::{Path, PathBuf};

/// The directory holding `shared/corpora`, found by walking up from the crate.
pub fn corpora() -> Option<PathBuf> {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    loop {
        let c = dir.join("shared/corpora/sigma");
        if c.is_dir() {
            return Some(c);
        }
        if !dir.pop() {
            return None;
        }
    }
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

/// Load the three SigmaHQ rule folders.
pub fn load_corpus(root: &Path) -> contraband_sigma::LoadReport {
    let mut loader = contraband_sigma::Loader::new(contraband_sigma::LoadOptions::default());
    for dir in ["rules", "rules-threat-hunting", "rules-emerging-threats"] {
        for f in yaml_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&f).unwrap();
            let rel = f.strip_prefix(root).unwrap().display().to_string();
            loader.add_source(&rel, &text);
        }
    }
    loader.finish()
}
