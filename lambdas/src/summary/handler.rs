//! Summarize: read the run, write the summary on EFS, PUT it to S3, answer.

use std::time::{Instant, SystemTime};

use batch_jobs::{FailedIndices, RunLayout};
use serde_json::Value;

use crate::CONTRACT_VERSION;
use crate::error::{ErrorKind, LambdaError};
use crate::prep::PrepDeps;
use crate::summary::SUMMARY_FILE;
use crate::summary::collect::collect;
use crate::summary::document::{Location, SUMMARY_OBJECT, SummarizeResponse, build};
use crate::summary::release::{release, unfinished_inputs};
use crate::summary::request::SummarizeRequest;

/// The summary's key in the egress bucket: beside the run's results
/// (`<prefix>/<run_id>/<index>/...`), as egress names them.
pub fn summary_key(prefix: &str, run_id: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        format!("{run_id}/{SUMMARY_OBJECT}")
    } else {
        format!("{prefix}/{run_id}/{SUMMARY_OBJECT}")
    }
}

/// Handles one summarize event. Idempotent: the summary holds nothing that
/// depends on when it was made, the file is replaced atomically and the
/// object PUT to the same key, so a retried or repeated call writes the
/// same bytes.
pub async fn handle(deps: &PrepDeps, event: Value) -> Result<SummarizeResponse, LambdaError> {
    let request = SummarizeRequest::from_event(event)?;
    let started = Instant::now();
    let efs_root = request.efs_root(deps.efs_root.as_ref());
    let layout =
        RunLayout::new(&efs_root, &request.run.run_id).map_err(|e| LambdaError::invalid_event(e.message))?;
    let req = request.clone();
    let (summary, bytes) = tokio::task::spawn_blocking(move || summarize_on_efs(&layout, &req))
        .await
        .map_err(|e| LambdaError::internal(format!("summary task failed: {e}")))??;
    let read_ms = started.elapsed().as_millis() as u64;
    if let (Some(bucket), Some(key)) = (&summary.location.bucket, &summary.location.key) {
        deps.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| LambdaError::from_sdk(&format!("PutObject s3://{bucket}/{key}"), e))?;
    }
    // After the summary: a failed incremental run lets its unfinished
    // inputs go at once rather than at the claims' expiry.
    let claims = if request.failure.is_some() && request.incremental {
        let layout = RunLayout::new(&efs_root, &request.run.run_id)
            .map_err(|e| LambdaError::invalid_event(e.message))?;
        let array_size = summary.array_size;
        let unfinished = tokio::task::spawn_blocking(move || unfinished_inputs(&layout, array_size))
            .await
            .map_err(|e| LambdaError::internal(format!("claim release task failed: {e}")))?;
        Some(release(&deps.s3, &request.run.run_id, unfinished).await)
    } else {
        None
    };
    // Last, now that this run has its summary: old runs' directories.
    let retention = match request.retention {
        Some(retention) => {
            let (root, current) = (efs_root.clone(), request.run.run_id.clone());
            Some(
                tokio::task::spawn_blocking(move || {
                    crate::summary::retention::apply(&root, &current, &retention, SystemTime::now())
                })
                .await
                .map_err(|e| LambdaError::internal(format!("retention task failed: {e}")))?,
            )
        }
        None => None,
    };
    tracing::info!(
        run_id = summary.run_id,
        status = summary.status,
        nodes = summary.totals.nodes,
        nodes_succeeded = summary.totals.nodes_succeeded,
        nodes_failed = summary.totals.nodes_failed,
        unreadable_markers = summary.unreadable_markers,
        read_ms,
        total_ms = started.elapsed().as_millis() as u64,
        key = summary.location.key.as_deref().unwrap_or(""),
        "run summarized"
    );
    Ok(SummarizeResponse {
        contract_version: CONTRACT_VERSION,
        run_id: summary.run_id,
        status: summary.status,
        summary_bucket: summary.location.bucket,
        summary_key: summary.location.key,
        summary_path: summary.location.efs_path,
        totals: summary.totals,
        claims,
        retention,
    })
}

/// Reads run.json and every marker, writes `run_summary.json` (and, for a
/// run with failed nodes, `failed_indices.json`, which the watcher's cause
/// points to and `--rerun-failed` reads) atomically; returns the summary
/// and its bytes.
pub fn summarize_on_efs(
    layout: &RunLayout,
    request: &SummarizeRequest,
) -> Result<(crate::summary::document::RunSummary, Vec<u8>), LambdaError> {
    let config = layout.read_config().map_err(|e| LambdaError::from_layout(e, ErrorKind::StorageFailed))?;
    let tally = collect(layout, config.array_size, &config.stages);
    let efs_path = layout.run_dir().join(SUMMARY_FILE);
    let location = Location {
        efs_path: efs_path.display().to_string(),
        bucket: config.egress.as_ref().map(|e| e.bucket.clone()),
        key: config.egress.as_ref().map(|e| summary_key(&e.prefix, layout.run_id())),
    };
    let summary = build(request, config.array_size, &tally, location);
    let mut bytes = serde_json::to_vec_pretty(&summary).map_err(|e| LambdaError::internal(e.to_string()))?;
    bytes.push(b'\n');
    batch_jobs::atomic::write_atomic(&efs_path, &bytes)
        .map_err(|e| crate::prep::record::storage_error(&efs_path, e))?;
    if let Some(verdict) = request.verdict.as_ref().filter(|v| !v.rerun_indices.is_empty()) {
        let failed = FailedIndices {
            run_id: layout.run_id().to_string(),
            execution: request.execution.clone(),
            failed_indices: verdict.failed_indices.clone(),
            rerun_indices: verdict.rerun_indices.clone(),
            rerun_count: verdict.rerun_count,
        };
        layout
            .write_failed_indices(&failed)
            .map_err(|e| LambdaError::from_layout(e, ErrorKind::StorageFailed))?;
    }
    Ok((summary, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_sits_beside_the_runs_results() {
        assert_eq!(summary_key("results/", "r1"), "results/r1/_run_summary.json");
        assert_eq!(summary_key("a/b", "r1"), "a/b/r1/_run_summary.json");
        assert_eq!(summary_key("", "r1"), "r1/_run_summary.json");
    }
}
