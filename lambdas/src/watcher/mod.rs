//! The watcher function: the run's array jobs' status in, a verdict out.
//! See docs/lambdas.md for the event and response contract.
//!
//! - [`request`]: the event (`jobs`: stage name -> job id), checked.
//! - [`describe`]: the AWS Batch calls (DescribeJobs in batches of 100,
//!   ListJobs for failed children), with the SDK's backoff on throttling.
//! - [`explain`]: why the first failed nodes failed (Batch's attempt, the
//!   ECS task's stopped reason), best effort.
//! - [`status`]: the pure verdict over what Batch said, tested without AWS.
//! - [`handler`]: the above in order.

pub mod describe;
pub mod explain;
pub mod handler;
pub mod request;
pub mod status;

pub use handler::{WatcherDeps, handle};
pub use status::{RunStatus, StageReport, WatchResponse};
