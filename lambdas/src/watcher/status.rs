//! The verdict over what AWS Batch reported, as pure functions.
//!
//! AWS Batch job states: SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING
//! are not terminal; SUCCEEDED and FAILED are. An array parent becomes
//! terminal only when all its children are, so the parents' states decide
//! `finished`; their `statusSummary` gives the per-state child counts. A
//! job DescribeJobs does not return yet (Batch is eventually consistent
//! right after SubmitJob) is `NOT_VISIBLE`: the run is not finished, and
//! never successful.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_sdk_batch::types::JobDetail;
use serde::{Deserialize, Serialize};

use batch_jobs::ranges;

use crate::CONTRACT_VERSION;
use crate::watcher::explain::NodeFailure;
use crate::watcher::request::Deadline;

/// Every Batch job state, in lifecycle order.
pub const JOB_STATES: [&str; 7] =
    ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"];
/// The state reported for a job DescribeJobs did not return.
pub const NOT_VISIBLE: &str = "NOT_VISIBLE";
/// Most characters of one stage's failed indices quoted in `cause`.
const QUOTED_CHARS: usize = 200;
/// Most characters of `cause`: it becomes the execution's failure cause
/// (Step Functions allows 32,768) and a log line; the full lists are in
/// `failed_indices` / `rerun_indices`.
pub const MAX_CAUSE_CHARS: usize = 4096;

/// True for SUCCEEDED and FAILED only. Anything else, including a state
/// this build does not know, means "not yet".
pub fn is_terminal(state: &str) -> bool {
    matches!(state, "SUCCEEDED" | "FAILED")
}

/// What one parent job looks like to the watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentJob {
    /// Its id.
    pub job_id: String,
    /// Its state (`RUNNING`...).
    pub status: String,
    /// Batch's reason, if any.
    pub status_reason: Option<String>,
    /// Array size; `None` for a plain (single) job.
    pub array_size: Option<u32>,
    /// Children per state (array jobs), as Batch summarised them.
    pub summary: BTreeMap<String, u64>,
}

impl ParentJob {
    /// From a DescribeJobs entry. Missing fields become "unknown", not
    /// errors: Batch omits them in early states.
    pub fn from_detail(detail: &JobDetail) -> Self {
        let array = detail.array_properties();
        let array_size = array.and_then(|a| a.size()).and_then(|s| u32::try_from(s).ok());
        let summary = array
            .and_then(|a| a.status_summary())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), u64::try_from(*v).unwrap_or(0))).collect())
            .unwrap_or_default();
        ParentJob {
            job_id: detail.job_id().unwrap_or_default().to_string(),
            status: detail.status().map(|s| s.as_str().to_string()).unwrap_or_else(|| "UNKNOWN".into()),
            status_reason: detail.status_reason().map(str::to_string),
            array_size,
            summary,
        }
    }

    /// Children per state with every state present (0 where Batch said
    /// nothing). A single job counts as one child in its own state.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts: BTreeMap<String, u64> = JOB_STATES.iter().map(|s| (s.to_string(), 0)).collect();
        match self.array_size {
            Some(_) => {
                for (state, n) in &self.summary {
                    *counts.entry(state.clone()).or_insert(0) += n;
                }
            }
            None => *counts.entry(self.status.clone()).or_insert(0) += 1,
        }
        counts
    }
}

/// One stage in the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageReport {
    /// The parent job id the event named.
    pub job_id: String,
    /// The parent's state, or `NOT_VISIBLE`.
    pub status: String,
    /// Whether DescribeJobs returned the job.
    pub visible: bool,
    /// Array size (`null` for a single job or an invisible one).
    pub array_size: Option<u32>,
    /// Children per state (all seven states present).
    pub counts: BTreeMap<String, u64>,
    /// Batch's status reason, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status_reason: Option<String>,
}

/// The run's state in the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Some job is not terminal (or not visible yet). Poll again.
    Running,
    /// Every job SUCCEEDED.
    Succeeded,
    /// Every job is terminal and at least one FAILED.
    Failed,
}

/// The watcher's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchResponse {
    /// [`CONTRACT_VERSION`].
    pub contract_version: u32,
    /// The event's run id, if given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub run_id: Option<String>,
    /// All jobs visible and terminal.
    pub finished: bool,
    /// Finished and all SUCCEEDED.
    pub succeeded: bool,
    /// Not finished, and the request's deadline has passed: the state
    /// machine ends the run and terminates its jobs.
    #[serde(default)]
    pub timed_out: bool,
    /// RUNNING, SUCCEEDED or FAILED.
    pub status: RunStatus,
    /// Per stage.
    pub stages: BTreeMap<String, StageReport>,
    /// Per stage (every stage present), the array indices whose child
    /// FAILED, in compact range form (`"0-99,1203"`, `""` for none,
    /// `batch_jobs::ranges`); filled once that stage's parent has FAILED.
    /// Compact because a state's data is limited to 256 KiB: 10,000
    /// indices as JSON arrays would not fit beside the rest.
    pub failed_indices: BTreeMap<String, String>,
    /// The union of `failed_indices`, same form: what a rerun must submit.
    pub rerun_indices: String,
    /// How many indices `rerun_indices` holds.
    #[serde(default)]
    pub rerun_count: u64,
    /// Stages whose job DescribeJobs did not return.
    pub not_visible: Vec<String>,
    /// One line for a Fail state's `Cause` (or a progress line).
    pub cause: String,
    /// Per failed stage, why its first failed nodes failed (exit code,
    /// Batch's and ECS's reasons; see `explain`). Absent when none failed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<String, Vec<NodeFailure>>,
}

/// Builds the response from each stage's parent (`None` = not visible) and
/// the failed child indices found for failed parents.
pub fn verdict(
    run_id: Option<String>,
    stages: &BTreeMap<String, (String, Option<ParentJob>)>,
    failed_children: &BTreeMap<String, Vec<u32>>,
) -> WatchResponse {
    verdict_explained(run_id, stages, failed_children, BTreeMap::new())
}

/// [`verdict`], with what is known of why the first failed nodes failed
/// (`failures`, see `explain`): in the response, and the first one per
/// stage in the cause.
pub fn verdict_explained(
    run_id: Option<String>,
    stages: &BTreeMap<String, (String, Option<ParentJob>)>,
    failed_children: &BTreeMap<String, Vec<u32>>,
    failures: BTreeMap<String, Vec<NodeFailure>>,
) -> WatchResponse {
    let mut reports = BTreeMap::new();
    let mut failed_indices = BTreeMap::new();
    let mut not_visible = Vec::new();
    let mut all_terminal = true;
    let mut all_succeeded = true;
    for (stage, (job_id, parent)) in stages {
        let report = match parent {
            Some(p) => StageReport {
                job_id: job_id.clone(),
                status: p.status.clone(),
                visible: true,
                array_size: p.array_size,
                counts: p.counts(),
                status_reason: p.status_reason.clone(),
            },
            None => StageReport {
                job_id: job_id.clone(),
                status: NOT_VISIBLE.into(),
                visible: false,
                array_size: None,
                counts: JOB_STATES.iter().map(|s| (s.to_string(), 0)).collect(),
                status_reason: None,
            },
        };
        if !report.visible {
            not_visible.push(stage.clone());
        }
        all_terminal &= report.visible && is_terminal(&report.status);
        all_succeeded &= report.status == "SUCCEEDED";
        let mut failed = failed_children.get(stage).cloned().unwrap_or_default();
        failed.sort_unstable();
        failed.dedup();
        failed_indices.insert(stage.clone(), failed);
        reports.insert(stage.clone(), report);
    }
    let finished = all_terminal;
    let succeeded = finished && all_succeeded;
    let status = match (finished, succeeded) {
        (true, true) => RunStatus::Succeeded,
        (true, false) => RunStatus::Failed,
        _ => RunStatus::Running,
    };
    let mut rerun: Vec<u32> = failed_indices.values().flatten().copied().collect();
    rerun.sort_unstable();
    rerun.dedup();
    let cause = describe(status, run_id.as_deref(), &reports, &failed_indices, &failures, &not_visible);
    WatchResponse {
        contract_version: CONTRACT_VERSION,
        run_id,
        finished,
        succeeded,
        timed_out: false,
        status,
        stages: reports,
        failed_indices: failed_indices.iter().map(|(k, v)| (k.clone(), ranges::encode(v))).collect(),
        rerun_count: rerun.len() as u64,
        rerun_indices: ranges::encode(&rerun),
        not_visible,
        cause,
        failures,
    }
}

impl WatchResponse {
    /// Marks a run that is not finished at `now`, past its deadline, as
    /// timed out, and says so first in the cause. A finished run is left
    /// as it is: its verdict stands however late it came.
    pub fn apply_deadline(&mut self, deadline: Option<Deadline>, now: SystemTime) {
        let Some(deadline) = deadline else { return };
        if self.finished || now < deadline.at {
            return;
        }
        self.timed_out = true;
        self.cause = cap_chars(format!(
            "the run did not finish within timeout_seconds={}: {}",
            deadline.timeout_seconds, self.cause
        ));
    }
}

/// `text` cut to [`MAX_CAUSE_CHARS`] characters (ending in `...` when cut).
fn cap_chars(text: String) -> String {
    if text.chars().count() <= MAX_CAUSE_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_CAUSE_CHARS - 3).collect();
    cut.push_str("...");
    cut
}

/// `processing FAILED: 2 of 250 failed (indices 3,17); ...`, at most
/// [`MAX_CAUSE_CHARS`] characters; a failed run's cause names where the
/// full lists are.
fn describe(
    status: RunStatus,
    run_id: Option<&str>,
    reports: &BTreeMap<String, StageReport>,
    failed: &BTreeMap<String, Vec<u32>>,
    failures: &BTreeMap<String, Vec<NodeFailure>>,
    not_visible: &[String],
) -> String {
    let mut parts = Vec::new();
    for (stage, report) in reports {
        let total = report.array_size.map(u64::from).unwrap_or(1);
        let mut part = match report.status.as_str() {
            "FAILED" => {
                let n = report.counts.get("FAILED").copied().unwrap_or(0);
                format!("{stage} FAILED: {n} of {total} failed")
            }
            "SUCCEEDED" if status != RunStatus::Running => continue,
            s if report.visible => {
                let busy: Vec<String> = JOB_STATES
                    .iter()
                    .filter_map(|st| report.counts.get(*st).filter(|n| **n > 0).map(|n| format!("{n} {st}")))
                    .collect();
                format!("{stage} {s}: {}", if busy.is_empty() { "-".into() } else { busy.join(", ") })
            }
            _ => continue,
        };
        if let Some(indices) = failed.get(stage).filter(|v| !v.is_empty()) {
            part.push_str(&format!(
                " (indices {})",
                ranges::abbreviate(&ranges::encode(indices), QUOTED_CHARS)
            ));
        }
        if let Some(reason) = report.status_reason.as_deref().filter(|_| report.status == "FAILED") {
            part.push_str(&format!(" [{reason}]"));
        }
        if let Some(first) = failures.get(stage).and_then(|f| f.first()) {
            part.push_str(&format!(" [{}]", first.headline()));
        }
        parts.push(part);
    }
    if !not_visible.is_empty() {
        parts.push(format!("not visible yet: {}", not_visible.join(", ")));
    }
    let mut cause = match status {
        RunStatus::Succeeded => return "all stages SUCCEEDED".into(),
        _ => parts.join("; "),
    };
    if status == RunStatus::Failed {
        // The pointer goes first into the budget: it must survive the cut.
        let pointer = format!(
            " [full lists: failed_indices and rerun_indices of the last Watch output; runs/{}/failed_indices.json]",
            run_id.unwrap_or("<run_id>")
        );
        let room = MAX_CAUSE_CHARS.saturating_sub(pointer.chars().count());
        if cause.chars().count() > room {
            cause = cause.chars().take(room.saturating_sub(3)).collect::<String>() + "...";
        }
        cause.push_str(&pointer);
    }
    cap_chars(cause)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_batch::types::{ArrayPropertiesDetail, JobStatus};
    use std::collections::HashMap;

    fn array_detail(id: &str, status: JobStatus, size: i32, summary: &[(&str, i32)]) -> JobDetail {
        let map: HashMap<String, i32> = summary.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        JobDetail::builder()
            .job_id(id)
            .job_name("n")
            .job_queue("q")
            .job_definition("d")
            .started_at(0)
            .status(status)
            .array_properties(
                ArrayPropertiesDetail::builder().size(size).set_status_summary(Some(map)).build(),
            )
            .build()
    }

    fn stages(entries: Vec<(&str, Option<JobDetail>)>) -> BTreeMap<String, (String, Option<ParentJob>)> {
        entries
            .into_iter()
            .map(|(s, d)| (s.to_string(), (format!("{s}-id"), d.as_ref().map(ParentJob::from_detail))))
            .collect()
    }

    #[test]
    fn runnable_and_starting_are_not_finished() {
        for status in [
            JobStatus::Submitted,
            JobStatus::Pending,
            JobStatus::Runnable,
            JobStatus::Starting,
            JobStatus::Running,
        ] {
            let s = stages(vec![
                ("procurement", Some(array_detail("a", JobStatus::Succeeded, 3, &[("SUCCEEDED", 3)]))),
                (
                    "processing",
                    Some(array_detail("b", status.clone(), 3, &[("RUNNABLE", 2), ("SUCCEEDED", 1)])),
                ),
            ]);
            let v = verdict(None, &s, &BTreeMap::new());
            assert!(!v.finished && !v.succeeded, "{status:?}");
            assert_eq!(v.status, RunStatus::Running);
            assert_eq!(v.stages["processing"].counts["RUNNABLE"], 2);
            assert_eq!(v.stages["processing"].counts["FAILED"], 0);
        }
    }

    #[test]
    fn an_unknown_state_is_not_terminal() {
        let s = stages(vec![("egress", Some(array_detail("a", JobStatus::from("PAUSED"), 2, &[])))]);
        assert!(!verdict(None, &s, &BTreeMap::new()).finished);
    }

    #[test]
    fn all_succeeded() {
        let s = stages(vec![
            ("procurement", Some(array_detail("a", JobStatus::Succeeded, 3, &[("SUCCEEDED", 3)]))),
            ("egress", Some(array_detail("c", JobStatus::Succeeded, 3, &[("SUCCEEDED", 3)]))),
        ]);
        let v = verdict(Some("r".into()), &s, &BTreeMap::new());
        assert!(v.finished && v.succeeded);
        assert_eq!(v.status, RunStatus::Succeeded);
        assert_eq!(v.failed_indices["egress"], "");
        assert_eq!((v.rerun_indices.as_str(), v.rerun_count), ("", 0));
        assert_eq!(v.cause, "all stages SUCCEEDED");
    }

    #[test]
    fn a_failed_child_fails_the_run_with_its_indices() {
        let s = stages(vec![
            (
                "procurement",
                Some(array_detail("a", JobStatus::Failed, 4, &[("SUCCEEDED", 3), ("FAILED", 1)])),
            ),
            ("processing", Some(array_detail("b", JobStatus::Failed, 4, &[("SUCCEEDED", 2), ("FAILED", 2)]))),
        ]);
        let failed =
            BTreeMap::from([("procurement".to_string(), vec![2]), ("processing".to_string(), vec![3, 2])]);
        let v = verdict(None, &s, &failed);
        assert!(v.finished && !v.succeeded);
        assert_eq!(v.status, RunStatus::Failed);
        assert_eq!(v.failed_indices["processing"], "2-3");
        assert_eq!(v.rerun_indices, "2-3");
        assert_eq!(v.rerun_count, 2);
        assert!(v.cause.contains("procurement FAILED: 1 of 4 failed (indices 2)"), "{}", v.cause);
        assert!(v.cause.contains("processing FAILED: 2 of 4 failed (indices 2-3)"), "{}", v.cause);
        assert!(v.cause.ends_with("runs/<run_id>/failed_indices.json]"), "{}", v.cause);
    }

    #[test]
    fn a_failed_stage_with_others_running_is_not_finished() {
        let s = stages(vec![
            ("procurement", Some(array_detail("a", JobStatus::Failed, 2, &[("FAILED", 2)]))),
            ("processing", Some(array_detail("b", JobStatus::Pending, 2, &[("PENDING", 2)]))),
        ]);
        let v = verdict(None, &s, &BTreeMap::from([("procurement".to_string(), vec![0, 1])]));
        assert!(!v.finished && !v.succeeded);
        assert_eq!(v.failed_indices["procurement"], "0-1");
    }

    #[test]
    fn invisible_jobs_are_never_success() {
        let s = stages(vec![
            ("procurement", Some(array_detail("a", JobStatus::Succeeded, 2, &[("SUCCEEDED", 2)]))),
            ("egress", None),
        ]);
        let v = verdict(None, &s, &BTreeMap::new());
        assert!(!v.finished && !v.succeeded);
        assert_eq!(v.not_visible, ["egress"]);
        assert_eq!(v.stages["egress"].status, NOT_VISIBLE);
        assert!(v.cause.contains("not visible yet: egress"));
    }

    #[test]
    fn single_jobs_count_as_one_child() {
        let single = JobDetail::builder()
            .job_id("s")
            .job_name("n")
            .job_queue("q")
            .job_definition("d")
            .started_at(0)
            .status(JobStatus::Failed)
            .status_reason("Essential container in task exited")
            .build();
        let s = stages(vec![("procurement", Some(single))]);
        let v = verdict(None, &s, &BTreeMap::from([("procurement".to_string(), vec![0])]));
        assert_eq!(v.stages["procurement"].array_size, None);
        assert_eq!(v.stages["procurement"].counts["FAILED"], 1);
        assert!(v.finished && !v.succeeded);
        assert!(v.cause.contains("[Essential container in task exited]"), "{}", v.cause);
    }

    #[test]
    fn a_run_still_going_past_its_deadline_times_out_and_a_finished_one_does_not() {
        use std::time::Duration;
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let deadline = Some(Deadline { at, timeout_seconds: 60 });
        let running = stages(vec![(
            "processing",
            Some(array_detail("b", JobStatus::Running, 3, &[("RUNNING", 2), ("SUCCEEDED", 1)])),
        )]);
        let mut v = verdict(None, &running, &BTreeMap::new());
        v.apply_deadline(deadline, at - Duration::from_millis(1));
        assert!(!v.timed_out, "a millisecond early");
        v.apply_deadline(None, at + Duration::from_secs(5));
        assert!(!v.timed_out, "no deadline given");
        v.apply_deadline(deadline, at);
        assert!(v.timed_out && !v.finished);
        assert!(
            v.cause.starts_with("the run did not finish within timeout_seconds=60: processing RUNNING"),
            "{}",
            v.cause
        );
        let done = stages(vec![(
            "processing",
            Some(array_detail("b", JobStatus::Succeeded, 3, &[("SUCCEEDED", 3)])),
        )]);
        let mut v = verdict(None, &done, &BTreeMap::new());
        v.apply_deadline(deadline, at + Duration::from_secs(3600));
        assert!(!v.timed_out && v.succeeded);
        assert_eq!(v.cause, "all stages SUCCEEDED");
    }

    /// Every node of a 10,000-array failing in every stage, and the worst
    /// case for ranges (every other node): the verdict stays far under
    /// Step Functions' 256 KiB and the cause under its 4,096 characters,
    /// naming where the full lists are.
    #[test]
    fn a_10000_node_failure_fits_step_functions_limits() {
        let names = ["procurement", "processing", "egress"];
        for failed in [(0..10_000).collect::<Vec<u32>>(), (0..10_000).step_by(2).collect()] {
            let s = stages(
                names
                    .iter()
                    .map(|n| {
                        (
                            *n,
                            Some(array_detail(
                                n,
                                JobStatus::Failed,
                                10_000,
                                &[("FAILED", failed.len() as i32)],
                            )),
                        )
                    })
                    .collect(),
            );
            let by_stage = names.iter().map(|n| (n.to_string(), failed.clone())).collect();
            let mut v = verdict(Some("r".repeat(64)), &s, &by_stage);
            v.stages.values_mut().for_each(|r| r.status_reason = Some("x".repeat(2000)));
            let bytes = serde_json::to_vec(&v).unwrap().len();
            assert!(bytes < 128 * 1024, "{bytes} bytes");
            assert_eq!(v.rerun_count, failed.len() as u64);
            assert_eq!(ranges::decode(&v.rerun_indices).unwrap(), failed);
            assert!(v.cause.chars().count() <= MAX_CAUSE_CHARS, "{}", v.cause.len());
            assert!(v.cause.contains("/failed_indices.json]"), "{}", v.cause);
            if failed.len() == 10_000 {
                assert_eq!(v.failed_indices["egress"], "0-9999");
                assert!(
                    v.cause.contains("egress FAILED: 10000 of 10000 failed (indices 0-9999)"),
                    "{}",
                    v.cause
                );
            } else {
                assert!(v.cause.contains(",...)"), "abbreviated: {}", v.cause);
            }
        }
    }
}
