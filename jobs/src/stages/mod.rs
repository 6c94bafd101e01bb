//! The three stages as the binaries run them, and what they share: the
//! job context from the environment, S3 access, and the process harness
//! (CLI, JSON logs, exit codes).

pub mod egress;
pub mod ledger;
pub mod processing;
pub mod procurement;
pub mod queue;
pub mod runner;
pub mod s3;
pub mod upload;

use std::path::PathBuf;

use crate::checksum::sha256_hex;
use crate::exit::{ExitCode, JobError, JobResult};
use crate::layout::{NodeLayout, RunConfig, RunLayout, Stage};

/// Environment variable with the EFS mount path.
pub const EFS_ROOT_ENV: &str = "PIPELINE_EFS_ROOT";
/// Environment variable with the run id.
pub const RUN_ID_ENV: &str = "RUN_ID";
/// Environment variable AWS Batch sets on array children.
pub const ARRAY_INDEX_ENV: &str = "AWS_BATCH_JOB_ARRAY_INDEX";
/// Default EFS mount path in the job definitions.
pub const DEFAULT_EFS_ROOT: &str = "/mnt/efs";

/// Everything a stage needs to know about its node.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The run's layout.
    pub layout: RunLayout,
    /// This node's directories.
    pub node: NodeLayout,
    /// run.json.
    pub config: RunConfig,
    /// Which stage runs.
    pub stage: Stage,
}

impl JobContext {
    /// Loads run.json for (`efs_root`, `run_id`) and checks `index` against
    /// the array size and `stage` against the run's stages.
    pub fn load(efs_root: PathBuf, run_id: &str, index: u32, stage: Stage) -> JobResult<Self> {
        let layout = RunLayout::new(&efs_root, run_id)?;
        let config = layout.read_config()?;
        if index >= config.array_size {
            return Err(JobError::new(
                ExitCode::Usage,
                format!("{ARRAY_INDEX_ENV}={index} is outside the run's array_size {}", config.array_size),
            ));
        }
        if !config.stages.contains(&stage) {
            return Err(JobError::config(format!("run.json stages do not include {stage}")));
        }
        let node = layout.node(index);
        Ok(JobContext { layout, node, config, stage })
    }

    /// The raw bytes of an upstream stage's done marker, which the next
    /// stage fingerprints: a redone upstream stage changes downstream
    /// fingerprints, so downstream work is redone too.
    pub fn upstream_marker_bytes(&self, upstream: Stage) -> JobResult<Vec<u8>> {
        let path = self.node.done_path(upstream);
        std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                JobError::new(
                    ExitCode::NoInput,
                    format!(
                        "{upstream} has not completed for node {} ({} is missing)",
                        self.node.index(),
                        path.display()
                    ),
                )
            } else {
                JobError::io(path.display(), e)
            }
        })
    }
}

/// SHA-256 over labelled parts, each length-prefixed so that no two
/// different inputs give the same byte stream.
pub fn fingerprint(parts: &[(&str, &[u8])]) -> String {
    let mut buf = Vec::new();
    for (label, bytes) in parts {
        buf.extend_from_slice(label.as_bytes());
        buf.push(0);
        buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        buf.extend_from_slice(bytes);
    }
    sha256_hex(&buf)
}
