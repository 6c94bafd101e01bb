//! The run layout on EFS and the three pipeline stages.
//!
//! - [`layout`]: the contract with the prep Lambda: `runs/<run_id>/run.json`,
//!   per-node `prep/`, `data/`, `results/` and done markers
//!   (docs/run-layout.md). Built without the AWS SDK when the crate is used
//!   with `default-features = false`.
//! - [`atomic`], [`safe_path`], [`checksum`], [`exit`]: the rules every
//!   write, path and exit follows.
//! - [`transform`]: the processing transforms (CSV validation with a Table
//!   Schema rule set, JSON-lines calculation), as pure streaming functions.
//! - `sdk_config` (feature `sftp`, part of `aws`): the AWS SDK configuration
//!   the job clients share.
//! - `sftp` (feature `sftp`, part of `aws`): the SFTP source's client,
//!   shared by procurement and the prep Lambda.
//! - `stages` (feature `aws`): procurement, processing and egress, as run
//!   by the binaries.

pub mod atomic;
pub mod checksum;
pub mod exit;
pub mod file_transform;
pub mod layout;
pub mod ranges;
pub mod safe_path;
#[cfg(feature = "sftp")]
pub mod sdk_config;
#[cfg(feature = "sftp")]
pub mod sftp;
pub mod synthetic;
pub mod transform;

#[cfg(feature = "aws")]
pub mod stages;

pub use exit::{ExitCode, JobError, JobResult};
pub use layout::{
    CreateOutcome, DoneMarker, EgressSpec, FailedIndices, LAYOUT_VERSION, NodeLayout, NodeSlice, RunConfig,
    RunLayout, SourceSpec, Stage, SyntheticFormat,
};
pub use transform::TransformSpec;
