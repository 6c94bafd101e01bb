//! Handlers for the prep and watcher Lambda functions of a pipeline run.
//!
//! - [`prep`]: turns the run configuration (the `batch_pipeline` resource's
//!   `run_config`) into a run on EFS: lists the work, splits it into array
//!   nodes and writes `runs/<run_id>/` through the shared layout library
//!   (`batch_jobs::layout`), then tells the state machine the array size.
//! - [`watcher`]: reads the three array jobs' status from AWS Batch and
//!   gives the state machine a verdict (finished? succeeded? which indices
//!   failed?).
//!
//! Both are plain async functions over parsed events and prebuilt SDK
//! clients, so tests call them directly; `src/bin/` wraps each in
//! `lambda_runtime` ([`runtime`]). The event and response shapes are the
//! contract with the state machine definition: docs/lambdas.md.

pub mod error;
pub mod event;
pub mod prep;
pub mod runtime;
pub mod summary;
pub mod watcher;

pub use error::{ErrorKind, LambdaError};

/// Version of the event/response contracts in docs/lambdas.md. Responses
/// carry it as `contract_version`. (The run configuration in prep's event
/// has its own, `contract::run_config::RUN_CONFIG_VERSION`.)
pub const CONTRACT_VERSION: u32 = 1;
