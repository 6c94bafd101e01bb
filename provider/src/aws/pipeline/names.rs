//! Names of the AWS objects of one pipeline, all derived from its name, so a
//! re-apply after a failed create finds (adopts) what exists instead of
//! making duplicates.

pub const NAME_TAG: &str = "batch-pipeline:name";

pub struct Names {
    pub pipeline: String,
}

impl Names {
    pub fn new(pipeline: &str) -> Self {
        Names { pipeline: pipeline.to_string() }
    }
    pub fn compute_environment(&self) -> String {
        format!("{}-ce", self.pipeline)
    }
    pub fn job_queue(&self) -> String {
        format!("{}-queue", self.pipeline)
    }
    pub fn job_definition(&self, stage: &str) -> String {
        format!("{}-{stage}", self.pipeline)
    }
    /// EFS creation token: CreateFileSystem with the same token returns the
    /// existing file system instead of a second one.
    pub fn efs_creation_token(&self) -> String {
        format!("batch-pipeline-{}", self.pipeline)
    }
    pub fn access_point(&self) -> String {
        format!("{}-ap", self.pipeline)
    }
}
