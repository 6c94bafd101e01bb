//! The watcher handler: describe the parents, list failed children of the
//! failed ones, give the verdict.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{ErrorKind, LambdaError};
use crate::watcher::describe::{describe_jobs, failed_children};
use crate::watcher::explain::{FailedStage, explain_failures};
use crate::watcher::request::WatchRequest;
use crate::watcher::status::{ParentJob, WatchResponse, verdict_explained};

/// What the watcher needs besides the event, built once per container.
#[derive(Debug, Clone)]
pub struct WatcherDeps {
    /// AWS Batch client.
    pub batch: aws_sdk_batch::Client,
    /// ECS client: the stopped reasons of failed nodes' tasks.
    pub ecs: aws_sdk_ecs::Client,
}

impl WatcherDeps {
    /// Clients from `sdk`.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Self {
        WatcherDeps { batch: crate::runtime::batch_client(sdk), ecs: crate::runtime::ecs_client(sdk) }
    }
}

/// Handles one watcher event.
pub async fn handle(deps: &WatcherDeps, event: Value) -> Result<WatchResponse, LambdaError> {
    let request = WatchRequest::from_event(event)?;
    let ids: Vec<String> = request.jobs.values().cloned().collect();
    let details = describe_jobs(&deps.batch, &ids).await?;
    let mut stages = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for (stage, id) in &request.jobs {
        let parent = details.get(id).map(ParentJob::from_detail);
        if let Some(p) = parent.as_ref().filter(|p| p.status == "FAILED") {
            let indices = match p.array_size {
                Some(size) => {
                    let listed = failed_children(&deps.batch, id).await?;
                    let summarised = p.summary.get("FAILED").copied().unwrap_or(0);
                    complete_failed_indices(id, listed, summarised, size)?
                }
                None => vec![0],
            };
            failed.insert(stage.clone(), indices);
        }
        stages.insert(stage.clone(), (id.clone(), parent));
    }
    let to_explain = failed
        .iter()
        .filter_map(|(stage, indices)| {
            let (parent, job) = stages.get(stage)?;
            let array_size = job.as_ref().and_then(|j| j.array_size);
            Some((stage.clone(), FailedStage { parent, array_size, indices }))
        })
        .collect();
    let failures = explain_failures(&deps.batch, &deps.ecs, &to_explain).await;
    let mut response = verdict_explained(request.run_id, &stages, &failed, failures);
    response.apply_deadline(request.deadline, std::time::SystemTime::now());
    tracing::info!(
        run_id = response.run_id.as_deref().unwrap_or(""),
        finished = response.finished,
        succeeded = response.succeeded,
        timed_out = response.timed_out,
        status = ?response.status,
        failed = response.rerun_count,
        cause = response.cause,
        "watched"
    );
    Ok(response)
}

/// The failed indices of a FAILED array parent, checked against the
/// parent's own count of FAILED children, since a verdict is final and a
/// rerun submits only these:
/// - ListJobs listing fewer than the count has not caught up with the
///   parent: a retryable error, so the state machine asks again shortly
///   (rather than a verdict that leaves failed nodes out of the rerun);
/// - an array that failed with no failed child at all (cancelled before
///   its children ran) names every index: none is known to have run, and
///   a rerun of a node that did finish is a no-op (done markers).
pub fn complete_failed_indices(
    parent: &str,
    listed: Vec<u32>,
    summarised: u64,
    array_size: u32,
) -> Result<Vec<u32>, LambdaError> {
    if (listed.len() as u64) < summarised {
        return Err(LambdaError::new(
            ErrorKind::AwsUnavailable,
            format!(
                "ListJobs lists {} of the {summarised} failed children of {parent}; not consistent yet",
                listed.len()
            ),
        ));
    }
    if listed.is_empty() {
        return Ok((0..array_size).collect());
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_indices_are_checked_against_the_parents_count() {
        assert_eq!(complete_failed_indices("p", vec![3, 7], 2, 10).unwrap(), [3, 7]);
        // ListJobs behind the parent's summary: ask again, no verdict.
        let err = complete_failed_indices("p", vec![3], 2, 10).unwrap_err();
        assert_eq!(err.kind, ErrorKind::AwsUnavailable);
        assert!(err.kind.is_retryable());
        assert!(err.message.contains("1 of the 2 failed children of p"), "{}", err.message);
        // Failed with no failed child: every index is rerun.
        assert_eq!(complete_failed_indices("p", vec![], 0, 4).unwrap(), [0, 1, 2, 3]);
        // More listed than summarised (the summary lags instead): the list.
        assert_eq!(complete_failed_indices("p", vec![1, 2], 1, 4).unwrap(), [1, 2]);
    }
}
