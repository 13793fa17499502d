//! Helpers every test suite of the workspace needs, kept in one place.

use std::path::{Path, PathBuf};

/// The workspace root: where `Cargo.toml`, `samples/` and `detections/` live.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The public corpora (`../shared/corpora` from the workspace root), found
/// by walking up so a worktree anywhere below it works too. Tests use the
/// corpora in place; they are never copied into the repository. Missing
/// corpora fail the test loudly rather than let it pass on nothing.
pub fn corpora() -> PathBuf {
    let mut dir = workspace();
    loop {
        let candidate = dir.join("shared/corpora");
        if candidate.is_dir() {
            return candidate;
        }
        assert!(
            dir.pop(),
            "no shared/corpora above {}",
            workspace().display()
        );
    }
}
