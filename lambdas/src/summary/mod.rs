//! The prep function's second mode, `{"action": "summarize", ...}`: the
//! state machine's last step on every path that submitted jobs. It reads
//! the run's done markers on EFS (prep already mounts EFS; the watcher
//! does not), writes `runs/<run_id>/run_summary.json` and PUTs the same
//! bytes to `<egress prefix>/<run_id>/_run_summary.json`, and answers the
//! totals and the key, which become part of the execution's output.
//! docs/lambdas.md ("summarize"), docs/run-layout.md (the file).
//!
//! - [`request`]: the event, parsed and checked.
//! - [`collect`]: every node's done markers, read with bounded parallelism.
//! - [`document`]: the summary and the small answer, from what was read.
//! - [`handler`]: the above in order, then the two writes, then (a failed
//!   incremental run) [`release`] of its claims and (`config.retention`)
//!   [`retention`] of old run directories.

pub mod collect;
pub mod document;
pub mod handler;
pub mod release;
pub mod request;
pub mod retention;

pub use handler::handle;

/// The summary file's name in the run directory on EFS: written by
/// [`handler`], read by [`retention`] (a run's summary says it is finished)
/// and removed by prep when a rerun starts.
pub const SUMMARY_FILE: &str = "run_summary.json";
pub use request::is_summarize;
