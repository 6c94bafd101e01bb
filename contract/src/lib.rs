//! The pipeline's contract: the facts the provider (which writes the job
//! definitions and the state machine definition), the Lambdas, the jobs and
//! the local runner must agree on, each written once here instead of once
//! per part and held equal by tests.
//!
//! - [`stage`]: the three stages and their names.
//! - [`naming`]: job definition and job names, and AWS Batch's rule for them.
//! - [`retry`]: what the state machine and the job definitions retry.
//! - [`run_config`]: the run configuration the provider gives prep.

pub mod naming;
pub mod retry;
pub mod run_config;
pub mod stage;

pub use stage::{STAGE_NAMES, Stage};
