//! What the runner's end-to-end tests share: the runner binary, the other
//! packages' binaries it runs (built once into the same target directory),
//! and the provider's definition.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn runner() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_batch-pipeline"))
}

/// The other packages' binaries, built into the same target directory.
pub fn build_binaries() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = runner().parent().and_then(Path::parent).map(Path::to_path_buf).expect("target dir");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "batch-lambdas", "-p", "batch-jobs", "--bin", "prep", "--bin", "watcher"])
            .args(["--bin", "procurement", "--bin", "processing", "--bin", "egress", "--target-dir"])
            .arg(&target)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo build");
        assert!(status.success(), "building prep/watcher/jobs failed");
    });
}

/// The state machine definition the provider emits (golden fixture).
pub fn definition() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/definition.json")
}
