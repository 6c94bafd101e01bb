//! The run summary (`run_summary.json` on EFS, `_run_summary.json` in the
//! egress bucket, the same bytes) and the small answer that goes into the
//! execution's output. Nothing in it depends on when it was written, so a
//! second summarize of the same run writes the same bytes (idempotent).

use std::collections::BTreeMap;

use batch_jobs::layout::rfc3339_from_unix;
use serde::Serialize;

use crate::summary::collect::RunTally;
use crate::summary::request::SummarizeRequest;

/// Version of the summary's shape; an added field does not change it.
pub const SUMMARY_VERSION: u32 = 1;

/// The summary object's name beside the run's results in S3.
pub const SUMMARY_OBJECT: &str = "_run_summary.json";

/// One stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageSummary {
    pub nodes: u64,
    /// Nodes with the stage's done marker.
    pub succeeded: u64,
    /// Nodes AWS Batch reported FAILED (from the watcher).
    pub failed: u64,
    /// Neither: never started (their dependency failed), cancelled, or
    /// still running when the run ended.
    pub not_finished: u64,
    pub failed_indices: String,
    pub records_in: u64,
    pub records_out: u64,
    pub records_rejected: u64,
    pub files: u64,
    pub file_bytes: u64,
    pub objects: u64,
    pub object_bytes: u64,
    pub first_done_at: Option<String>,
    pub last_done_at: Option<String>,
}

/// The totals: what the execution's output carries too.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub nodes: u64,
    /// Nodes whose last stage is done.
    pub nodes_succeeded: u64,
    /// Nodes that failed in some stage (the union of the failed indices).
    pub nodes_failed: u64,
    /// The processing stage's sums (records through the transform).
    pub records_in: u64,
    pub records_out: u64,
    pub records_rejected: u64,
    /// Result objects egress uploaded (manifests not counted), and bytes.
    pub objects: u64,
    pub object_bytes: u64,
    /// Inputs prep listed, and those whose node finished every stage.
    pub inputs_listed: u64,
    pub inputs_processed: u64,
    pub input_bytes_processed: u64,
}

/// Where the summary is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Location {
    pub efs_path: String,
    /// `None` for a run without egress.
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// The whole summary.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub summary_version: u32,
    pub pipeline: Option<String>,
    pub run_id: String,
    pub execution: String,
    /// SUCCEEDED or FAILED.
    pub status: &'static str,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The execution's start.
    pub started_at: Option<String>,
    /// When the last node of the last stage that ran finished.
    pub last_done_at: Option<String>,
    /// From `started_at` to `last_done_at`.
    pub elapsed_seconds: Option<u64>,
    pub array_size: u32,
    pub input_bytes_listed: Option<u64>,
    pub totals: Totals,
    pub stages: BTreeMap<String, StageSummary>,
    pub rerun_indices: String,
    pub unreadable_markers: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable_examples: Vec<String>,
    pub location: Location,
}

/// The answer into the state: totals and the key, small whatever the run's
/// size (no per-node lists; a state's data is limited to 256 KiB).
#[derive(Debug, Clone, Serialize)]
pub struct SummarizeResponse {
    pub contract_version: u32,
    pub run_id: String,
    pub status: &'static str,
    pub summary_bucket: Option<String>,
    pub summary_key: Option<String>,
    pub summary_path: String,
    #[serde(flatten)]
    pub totals: Totals,
    /// A failed incremental run: its claims released.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<crate::summary::release::ReleaseReport>,
    /// `config.retention`: old run directories removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::summary::retention::RetentionReport>,
}

/// The summary of a run of `array_size` nodes from its markers' tally.
pub fn build(
    request: &SummarizeRequest,
    array_size: u32,
    tally: &RunTally,
    location: Location,
) -> RunSummary {
    let verdict = request.verdict.clone().unwrap_or_default();
    let nodes = array_size as u64;
    let time = |t: Option<u64>| t.map(rfc3339_from_unix);
    let mut stages = BTreeMap::new();
    for (stage, t) in &tally.stages {
        let failed_indices = verdict.failed_indices.get(stage.as_str()).cloned().unwrap_or_default();
        let failed = count_indices(&failed_indices);
        stages.insert(
            stage.as_str().to_string(),
            StageSummary {
                nodes,
                succeeded: t.done,
                failed,
                not_finished: nodes.saturating_sub(t.done + failed),
                failed_indices,
                records_in: t.records_in,
                records_out: t.records_out,
                records_rejected: t.records_rejected,
                files: t.files,
                file_bytes: t.file_bytes,
                objects: t.objects,
                object_bytes: t.object_bytes,
                first_done_at: time(t.first_done),
                last_done_at: time(t.last_done),
            },
        );
    }
    let of = |name: &str| tally.stages.iter().find(|(s, _)| s.as_str() == name).map(|(_, t)| t.clone());
    let processing = of("processing").unwrap_or_default();
    let egress = of("egress").unwrap_or_default();
    let last_done = tally.stages.iter().filter_map(|(_, t)| t.last_done).max();
    let started = request.started.as_deref().and_then(unix_seconds);
    let totals = Totals {
        nodes,
        nodes_succeeded: tally.nodes_done,
        nodes_failed: verdict.rerun_count.max(count_indices(&verdict.rerun_indices)),
        records_in: processing.records_in,
        records_out: processing.records_out,
        records_rejected: processing.records_rejected,
        objects: egress.objects,
        object_bytes: egress.object_bytes,
        inputs_listed: request.run.items,
        inputs_processed: tally.inputs_processed,
        input_bytes_processed: tally.input_bytes_processed,
    };
    RunSummary {
        summary_version: SUMMARY_VERSION,
        pipeline: request.pipeline.clone(),
        run_id: request.run.run_id.clone(),
        execution: request.execution.clone(),
        status: if request.failure.is_some() { "FAILED" } else { "SUCCEEDED" },
        error: request.failure.as_ref().map(|f| f.error.clone()),
        cause: request.failure.as_ref().map(|f| f.cause.clone()),
        started_at: request.started.clone(),
        last_done_at: time(last_done),
        elapsed_seconds: started.zip(last_done).map(|(s, l)| l.saturating_sub(s)),
        array_size,
        input_bytes_listed: request.run.bytes,
        totals,
        stages,
        rerun_indices: verdict.rerun_indices,
        unreadable_markers: tally.unreadable,
        unreadable_examples: tally.problems.clone(),
        location,
    }
}

/// How many indices a compact range list (`"0-9,12"`) holds; 0 for one
/// that does not parse (the watcher wrote it, so it does).
fn count_indices(ranges: &str) -> u64 {
    batch_jobs::ranges::decode(ranges).map(|v| v.len() as u64).unwrap_or(0)
}

/// `2026-12-06T12:00:00.123Z` -> Unix seconds.
fn unix_seconds(text: &str) -> Option<u64> {
    aws_smithy_types::DateTime::from_str(text, aws_smithy_types::date_time::Format::DateTime)
        .ok()
        .and_then(|t| u64::try_from(t.secs()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_ranges_and_start_times_are_read() {
        assert_eq!(count_indices(""), 0);
        assert_eq!(count_indices("0-9,12"), 11);
        assert_eq!(unix_seconds("1970-01-01T00:01:40.500Z"), Some(100));
        assert_eq!(unix_seconds("yesterday"), None);
    }
}
