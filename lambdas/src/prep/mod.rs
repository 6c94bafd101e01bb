//! The prep function: run configuration in, run layout on EFS and array
//! size out. See docs/lambdas.md for the event and response contract.
//!
//! - [`request`]: the event (`config` + `overrides`), parsed and checked.
//! - [`run_id`]: which run this is (given, derived from the execution, or new).
//! - [`listing`]: the work items (S3 keys with sizes, or an id range).
//! - [`queue`]: a queue-fed source's work: S3 event notifications received
//!   from SQS ([`s3_event`] reads their bodies), sorted, de-duplicated.
//! - [`ledger`]: an incremental run's inputs: finished ones skipped, new
//!   ones claimed so that concurrent runs never share one.
//! - [`plan`]: how many array nodes, and which items each one gets.
//! - [`record`]: the result of a finished prep, kept in the run directory so
//!   a retried invocation answers the same without listing again.
//! - [`handler`]: the above in order, writing through `batch_jobs::layout`.

pub mod handler;
pub mod ledger;
pub mod listing;
pub mod plan;
pub mod queue;
pub mod record;
pub mod request;
pub mod response;
pub mod run_id;
pub mod s3_event;

pub use handler::{PrepDeps, handle};
pub use response::{Mode, PrepResponse, PrepStatus};
