//! A run of one node whose data/ holds the given files, as procurement
//! leaves it (done marker included), processed by the real processing
//! binary: what the tests that compare the stage with `batch-transform`
//! share.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use batch_jobs::checksum::checksum_file;
use batch_jobs::layout::{DoneMarker, FileEntry, NodeLayout, RunConfig, RunLayout, SourceSpec, Stage};
use batch_jobs::transform::TransformSpec;

/// Writes `inputs` (name under data/, bytes) into node 0 of run `run`
/// under `efs`, runs processing on it, and returns its output and the node.
pub fn run_processing(
    efs: &Path,
    run: &str,
    spec: TransformSpec,
    inputs: &[(&str, &[u8])],
) -> (Output, NodeLayout) {
    let layout = RunLayout::new(efs, run).unwrap();
    let mut config =
        RunConfig::new(run, 1, SourceSpec::S3 { bucket: "b".into(), prefix: String::new() }, spec, None);
    config.stages = vec![Stage::Procurement, Stage::Processing];
    layout.create_run(&config).unwrap();
    let node = layout.node(0);
    node.create_dirs().unwrap();
    let mut marker = DoneMarker::new(run, 0, Stage::Procurement, "test".into());
    for (name, body) in inputs {
        let data = node.data_dir().join(name);
        std::fs::create_dir_all(data.parent().unwrap()).unwrap();
        std::fs::write(&data, body).unwrap();
        let (bytes, crc64nvme) = checksum_file(&data).unwrap();
        marker.files.push(FileEntry { path: format!("data/{name}"), bytes, crc64nvme });
    }
    node.write_done(&marker).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_processing"))
        .env_clear()
        .env("RUN_ID", run)
        .env("AWS_BATCH_JOB_ARRAY_INDEX", "0")
        .env("PIPELINE_EFS_ROOT", efs)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out, node)
}
