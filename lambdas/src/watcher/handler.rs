//! The watcher handler: describe the parents, list failed children of the
//! failed ones, give the verdict.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::LambdaError;
use crate::watcher::describe::{describe_jobs, failed_children};
use crate::watcher::request::WatchRequest;
use crate::watcher::status::{ParentJob, WatchResponse, verdict};

/// What the watcher needs besides the event, built once per container.
#[derive(Debug, Clone)]
pub struct WatcherDeps {
    /// AWS Batch client.
    pub batch: aws_sdk_batch::Client,
}

impl WatcherDeps {
    /// Clients from `sdk`.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Self {
        WatcherDeps { batch: crate::runtime::batch_client(sdk) }
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
                Some(_) => failed_children(&deps.batch, id).await?,
                None => vec![0],
            };
            failed.insert(stage.clone(), indices);
        }
        stages.insert(stage.clone(), (id.clone(), parent));
    }
    let response = verdict(request.run_id, &stages, &failed);
    tracing::info!(
        run_id = response.run_id.as_deref().unwrap_or(""),
        finished = response.finished,
        succeeded = response.succeeded,
        status = ?response.status,
        failed = response.rerun_indices.len(),
        cause = response.cause,
        "watched"
    );
    Ok(response)
}
