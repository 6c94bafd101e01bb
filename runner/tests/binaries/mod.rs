//! What the runner's end-to-end tests share: the runner binary, the other
//! packages' binaries it runs (built once into the same target directory),
//! and the provider's definition.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

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

/// `batch-pipeline run` of `definition` over `input`, EFS in `efs`, the
/// summary written to `summary` (an old one removed first, so a run that
/// writes none is never read as this one's), 4 nodes at a time.
pub fn run_command(definition: &Path, input: &Path, efs: &Path, summary: &Path) -> Command {
    let _ = std::fs::remove_file(summary);
    let mut command = Command::new(runner());
    command
        .arg("run")
        .arg("--definition")
        .arg(definition)
        .arg("--input")
        .arg(input)
        .arg("--efs-dir")
        .arg(efs)
        .arg("--summary-json")
        .arg(summary)
        .args(["--concurrency", "4"]);
    command
}

/// A finished run: (succeeded, its summary, its stderr); a run that wrote
/// no summary fails the test, showing its stderr.
pub fn outcome(out: &Output, summary: &Path) -> (bool, Value, String) {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let s: Value = serde_json::from_slice(&std::fs::read(summary).unwrap_or_default())
        .unwrap_or_else(|_| panic!("no summary: {stderr}"));
    (out.status.success(), s, stderr)
}

/// moto, with `buckets` made, an S3 client for it (path style) and the
/// runtime to drive that client: where the S3-sourced runs start.
#[allow(dead_code)] // the tests of synthetic runs need no bucket
pub fn moto_with_buckets(
    buckets: &[&str],
) -> (testkit::MotoServer, tokio::runtime::Runtime, aws_sdk_s3::Client) {
    build_binaries();
    let moto = testkit::MotoServer::start().expect("moto");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let conf = testkit::aws::sdk_config(&moto);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build(),
    );
    rt.block_on(async {
        for bucket in buckets {
            s3.create_bucket().bucket(*bucket).send().await.expect("create bucket");
        }
    });
    (moto, rt, s3)
}
