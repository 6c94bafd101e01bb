//! Why failed nodes failed, for the person reading the failure. AWS
//! Batch's reason for a child is often only "Essential container in task
//! exited" or nothing at all, while ECS recorded the real cause on the
//! task it ran: `CannotPullContainerError` (a wrong image or no route to
//! the registry), `ResourceInitializationError` (the EFS mount failed), an
//! `OutOfMemoryError` of the container. For the first few failed indices
//! of each failed stage this reads the child's last attempt (exit code,
//! Batch's reasons) and, when it ran as an ECS task, that task's
//! `stoppedReason`, `stopCode` and its container's reason.
//!
//! Best effort: these reads never change the verdict. A read that fails
//! (permissions, a task ECS no longer shows, about an hour after it
//! stopped) leaves a `note` instead.

use std::collections::BTreeMap;

use aws_sdk_batch::types::JobDetail;
use serde::{Deserialize, Serialize};

use crate::watcher::describe::describe_jobs;

/// Failed indices explained per failed stage.
pub const EXPLAINED_PER_STAGE: usize = 3;
/// Most characters kept of one reason (the response travels in the state
/// machine's 256 KiB payload).
const MAX_REASON_CHARS: usize = 300;
/// DescribeTasks' limit on tasks per call.
const DESCRIBE_TASKS_BATCH: usize = 100;

/// One failed node, as far as AWS Batch and ECS tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFailure {
    /// The array index (0 for a single job).
    pub index: u32,
    /// The child job's id (`<parent>:<index>`, or the job's own).
    pub job_id: String,
    /// The container's exit code in the last attempt (the jobs' exit
    /// codes, docs/jobs.md), when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Batch's reason for the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Batch's reason for the last attempt's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_reason: Option<String>,
    /// The ECS task of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// ECS's `stoppedReason` for that task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_stopped_reason: Option<String>,
    /// ECS's `stopCode` (`TaskFailedToStart`, `EssentialContainerExited`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_stop_code: Option<String>,
    /// ECS's reason for the task's container (e.g. `OutOfMemoryError`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_container_reason: Option<String>,
    /// Why something above is missing (a read that failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl NodeFailure {
    /// The most telling reason, for the one-line cause: what ECS saw, else
    /// Batch's container reason, else Batch's job reason.
    pub fn headline(&self) -> String {
        let reason = [
            &self.task_container_reason,
            &self.task_stopped_reason,
            &self.container_reason,
            &self.status_reason,
        ]
        .into_iter()
        .flatten()
        .find(|r| !is_generic(r));
        let mut line = format!("node {}", self.index);
        if let Some(code) = self.exit_code {
            line.push_str(&format!(" exit {code}"));
        }
        if let Some(reason) = reason.or(self.status_reason.as_ref()) {
            line.push_str(&format!(": {reason}"));
        }
        line
    }
}

/// Reasons that say a container stopped, not why.
fn is_generic(reason: &str) -> bool {
    reason.starts_with("Essential container in task exited") || reason.is_empty()
}

/// The child job id of `index` under `parent` (`None` for a single job).
fn child_id(parent: &str, array_size: Option<u32>, index: u32) -> String {
    match array_size {
        Some(_) => format!("{parent}:{index}"),
        None => parent.to_string(),
    }
}

/// A failed stage to explain: its parent id, array size and failed indices.
pub struct FailedStage<'a> {
    /// The parent job id.
    pub parent: &'a str,
    /// Array size; `None` for a single job.
    pub array_size: Option<u32>,
    /// Failed indices, ascending.
    pub indices: &'a [u32],
}

/// Explains the first [`EXPLAINED_PER_STAGE`] failed indices of each stage.
pub async fn explain_failures(
    batch: &aws_sdk_batch::Client,
    ecs: &aws_sdk_ecs::Client,
    stages: &BTreeMap<String, FailedStage<'_>>,
) -> BTreeMap<String, Vec<NodeFailure>> {
    let mut wanted: Vec<(String, NodeFailure)> = Vec::new();
    for (stage, failed) in stages {
        for &index in failed.indices.iter().take(EXPLAINED_PER_STAGE) {
            let job_id = child_id(failed.parent, failed.array_size, index);
            wanted.push((stage.clone(), NodeFailure { index, job_id, ..NodeFailure::default() }));
        }
    }
    if wanted.is_empty() {
        return BTreeMap::new();
    }
    let ids: Vec<String> = wanted.iter().map(|(_, f)| f.job_id.clone()).collect();
    match describe_jobs(batch, &ids).await {
        Ok(details) => {
            for (_, failure) in &mut wanted {
                match details.get(&failure.job_id) {
                    Some(detail) => from_batch(failure, detail),
                    None => failure.note = Some("DescribeJobs did not return this child".into()),
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e.message, "could not describe failed children");
            for (_, failure) in &mut wanted {
                failure.note = Some(cap(&e.message));
            }
        }
    }
    add_ecs_reasons(ecs, wanted.iter_mut().map(|(_, f)| f)).await;
    let mut out: BTreeMap<String, Vec<NodeFailure>> = BTreeMap::new();
    for (stage, failure) in wanted {
        out.entry(stage).or_default().push(failure);
    }
    out
}

/// What Batch says about the child: its reason and its last attempt's.
fn from_batch(failure: &mut NodeFailure, detail: &JobDetail) {
    failure.status_reason = detail.status_reason().map(cap);
    let attempt = detail.attempts().last().and_then(|a| a.container());
    failure.exit_code =
        attempt.and_then(|c| c.exit_code()).or_else(|| detail.container().and_then(|c| c.exit_code()));
    failure.container_reason =
        attempt.and_then(|c| c.reason()).or_else(|| detail.container().and_then(|c| c.reason())).map(cap);
    failure.task_arn = attempt
        .and_then(|c| c.task_arn())
        .or_else(|| detail.container().and_then(|c| c.task_arn()))
        .map(str::to_string);
}

/// The cluster in a task ARN of the long format
/// (`arn:aws:ecs:<region>:<account>:task/<cluster>/<task id>`), which every
/// account has used since 2021.
pub fn cluster_of_task(task_arn: &str) -> Option<&str> {
    let resource = task_arn.split_once(":task/")?.1;
    let (cluster, id) = resource.split_once('/')?;
    (!cluster.is_empty() && !id.is_empty()).then_some(cluster)
}

/// DescribeTasks per cluster for the failures with a task, filling in
/// what ECS recorded.
async fn add_ecs_reasons<'a>(ecs: &aws_sdk_ecs::Client, failures: impl Iterator<Item = &'a mut NodeFailure>) {
    let mut by_cluster: BTreeMap<String, Vec<&'a mut NodeFailure>> = BTreeMap::new();
    for failure in failures {
        let Some(arn) = failure.task_arn.clone() else { continue };
        match cluster_of_task(&arn) {
            Some(cluster) => by_cluster.entry(cluster.to_string()).or_default().push(failure),
            None => failure.note = Some(format!("task ARN {arn:?} does not name its cluster")),
        }
    }
    for (cluster, mut failures) in by_cluster {
        for chunk in failures.chunks_mut(DESCRIBE_TASKS_BATCH) {
            let arns: Vec<String> = chunk.iter().filter_map(|f| f.task_arn.clone()).collect();
            let described = ecs.describe_tasks().cluster(&cluster).set_tasks(Some(arns)).send().await;
            let out = match described {
                Ok(out) => out,
                Err(e) => {
                    let message = crate::error::LambdaError::from_sdk("ECS DescribeTasks", e).message;
                    tracing::warn!(cluster, error = message, "could not read the failed tasks' reasons");
                    for failure in chunk.iter_mut() {
                        failure.note = Some(cap(&message));
                    }
                    continue;
                }
            };
            for failure in chunk.iter_mut() {
                let task = out.tasks().iter().find(|t| t.task_arn() == failure.task_arn.as_deref());
                match task {
                    Some(task) => {
                        failure.task_stopped_reason = task.stopped_reason().map(cap);
                        failure.task_stop_code = task.stop_code().map(|c| c.as_str().to_string());
                        failure.task_container_reason =
                            task.containers().iter().find_map(|c| c.reason()).map(cap);
                    }
                    None => {
                        let why = out
                            .failures()
                            .iter()
                            .find(|f| f.arn() == failure.task_arn.as_deref())
                            .and_then(|f| f.reason())
                            .unwrap_or("not returned");
                        failure.note = Some(format!(
                            "ECS DescribeTasks: {why} (ECS shows a stopped task for about an hour)"
                        ));
                    }
                }
            }
        }
    }
}

/// `text` cut to [`MAX_REASON_CHARS`] characters.
fn cap(text: &str) -> String {
    if text.chars().count() <= MAX_REASON_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_REASON_CHARS - 3).collect();
    cut.push_str("...");
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_comes_from_a_long_task_arn() {
        assert_eq!(
            cluster_of_task("arn:aws:ecs:eu-west-1:123456789012:task/batch-ce_Batch_1/0a1b2c"),
            Some("batch-ce_Batch_1")
        );
        assert_eq!(cluster_of_task("arn:aws:ecs:eu-west-1:123456789012:task/0a1b2c"), None);
        assert_eq!(cluster_of_task("not an arn"), None);
    }

    #[test]
    fn the_headline_prefers_what_ecs_saw_over_generic_reasons() {
        let mut f = NodeFailure {
            index: 3,
            exit_code: Some(65),
            status_reason: Some("Essential container in task exited".into()),
            ..NodeFailure::default()
        };
        assert_eq!(f.headline(), "node 3 exit 65: Essential container in task exited");
        f.task_stopped_reason = Some("CannotPullContainerError: pull access denied".into());
        assert_eq!(f.headline(), "node 3 exit 65: CannotPullContainerError: pull access denied");
        f.task_container_reason = Some("OutOfMemoryError: Container killed due to memory usage".into());
        assert_eq!(f.headline(), "node 3 exit 65: OutOfMemoryError: Container killed due to memory usage");
        assert_eq!(NodeFailure { index: 1, ..NodeFailure::default() }.headline(), "node 1");
        assert_eq!(cap(&"x".repeat(1000)).chars().count(), MAX_REASON_CHARS);
    }
}
