//! Helpers every test suite of the workspace needs, kept in one place.

use std::path::{Path, PathBuf};

pub mod events;

/// The workspace root: where `Cargo.toml`, `samples/` and `detections/` live.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Where the corpora live on this machine when the checkout is elsewhere
/// (a CI clone in a temporary directory).
const MACHINE_CORPORA: &str = "/work/shared/corpora";

/// The public corpora: `$CONTRABAND_CORPORA` if set, else `shared/corpora`
/// in the nearest directory above the workspace (`../shared/corpora` from a
/// checkout beside it, at any depth for worktrees), else this machine's
/// copy. Tests use the corpora in place; they are never copied into the
/// repository. Missing corpora fail the test loudly rather than let it pass
/// on nothing.
pub fn corpora() -> PathBuf {
    if let Some(dir) = std::env::var_os("CONTRABAND_CORPORA") {
        return PathBuf::from(dir);
    }
    let mut dir = workspace();
    loop {
        let candidate = dir.join("shared/corpora");
        if candidate.is_dir() {
            return candidate;
        }
        if !dir.pop() {
            break;
        }
    }
    let fallback = PathBuf::from(MACHINE_CORPORA);
    assert!(
        fallback.is_dir(),
        "no shared/corpora above {} and none at {MACHINE_CORPORA}; set CONTRABAND_CORPORA",
        workspace().display()
    );
    fallback
}
