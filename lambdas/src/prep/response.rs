//! What prep returns to the state machine (docs/lambdas.md, "prep response").

use serde::{Deserialize, Serialize};

/// `status`: whether there is a run to submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PrepStatus {
    /// The layout is written; submit the jobs.
    Ready,
    /// The source has no items; nothing was written. End the execution.
    NoWork,
}

/// `mode`: how the state machine submits the three jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Array jobs of `array_size` (2..=10000), N_TO_N dependencies.
    Array,
    /// One item: plain jobs (no `ArrayProperties`), plain dependencies; the
    /// jobs run as index 0.
    Single,
    /// Nothing to submit (`NO_WORK`).
    None,
}

/// Smallest and largest number of items any node got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeItems {
    /// Fewest items on a node (>= 1 whenever status is READY).
    pub min: u64,
    /// Most items on a node.
    pub max: u64,
}

/// The response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepResponse {
    /// [`crate::CONTRACT_VERSION`].
    pub contract_version: u32,
    /// `READY` or `NO_WORK`.
    pub status: PrepStatus,
    /// The run id (`RUN_ID` of every job).
    pub run_id: String,
    /// The run id as AWS Batch job names allow it (the state machine names
    /// jobs `<stage>-<job_name_id>`): see [`crate::prep::run_id::job_name_id`].
    /// A record written before this field existed gets it on replay.
    #[serde(default)]
    pub job_name_id: String,
    /// Nodes: 2..=10000 for `array`, 1 for `single`, 0 for `NO_WORK`.
    pub array_size: u32,
    /// How to submit.
    pub mode: Mode,
    /// Work items found.
    pub items: u64,
    /// Their total size (S3 source only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bytes: Option<u64>,
    /// Items per node actually given.
    pub node_items: NodeItems,
    /// `s3://bucket/prefix[*suffix]` or `synthetic:start..end`.
    pub source: String,
    /// `<efs_root>/runs/<run_id>` (absent for NO_WORK: nothing is written).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub run_dir: Option<String>,
    /// A queue-fed run's receive: messages received, kept, duplicates,
    /// deleted without work, left for the dead-letter queue.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub queue: Option<crate::prep::queue::QueueSummary>,
    /// Incremental sources only: what the ledger skipped and what this run
    /// claimed (docs/incremental.md).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ledger: Option<crate::prep::ledger::LedgerSummary>,
}
