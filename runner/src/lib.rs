//! The local runner: executes a pipeline's Step Functions definition (the
//! ASL JSON the provider's `batch_state_machine_definition` produces) on
//! this machine. See docs/runner.md.

pub mod asl;
pub mod batch;
pub mod embedded_s3;
pub mod interp;
pub mod lambda;
pub mod limits;
pub mod path;
pub mod run;
pub mod states_error;
pub mod template;
