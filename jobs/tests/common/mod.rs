//! What the integration tests that talk to S3 share.

use std::path::Path;
use std::process::{Command, Stdio};

use batch_jobs::layout::Stage;
use testkit::MotoServer;

/// An S3 client for `moto` with its dummy credentials (path-style: a
/// local server has no per-bucket host names).
pub fn s3_client(moto: &MotoServer) -> aws_sdk_s3::Client {
    let creds = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(creds)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A stage's binary as AWS Batch starts it for node `index` of `run_id`:
/// only what Batch and the job definition give it (moto's AWS settings,
/// the run id, the array index, the EFS root), stdin closed.
#[allow(dead_code)] // image.rs uses only the S3 client
pub fn stage_command(moto: &MotoServer, efs: &Path, stage: Stage, run_id: &str, index: u32) -> Command {
    let bin = match stage {
        Stage::Procurement => env!("CARGO_BIN_EXE_procurement"),
        Stage::Processing => env!("CARGO_BIN_EXE_processing"),
        Stage::Egress => env!("CARGO_BIN_EXE_egress"),
    };
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .envs(moto.aws_env())
        .env("RUN_ID", run_id)
        .env("AWS_BATCH_JOB_ARRAY_INDEX", index.to_string())
        .env("PIPELINE_EFS_ROOT", efs)
        .stdin(Stdio::null());
    cmd
}
