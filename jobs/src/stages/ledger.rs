//! An incremental run's last step of egress: recording the node's inputs
//! as done in the ledger (`prep/ledger.json`, written by prep;
//! docs/incremental.md). It runs after the node's results and manifest
//! are uploaded, both when egress uploaded now and when a retried egress
//! found its work done, so an input is recorded only once its results are
//! in S3, and a retry after a failed write writes it then.
//!
//! Each input gets `_ledger/done/<id>.json` (its identity, the run and
//! node), then its claim `_ledger/claims/<id>.json` is deleted: the done
//! record is what keeps the next runs off it, so the claim is no longer
//! needed, and deleting it second means no moment exists where an input
//! has neither. Both requests are idempotent; a node that fails for good
//! never gets here, and its inputs' claims lapse at their expiry, after
//! which the next run takes them again.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use futures_util::StreamExt;
use serde::Serialize;

use crate::exit::{ExitCode, JobError, JobResult};
use crate::layout::{InputIdentity, claim_key, done_key};
use crate::stages::{JobContext, s3};

/// A done record's body.
#[derive(Debug, Serialize)]
struct DoneRecord<'a> {
    input: &'a InputIdentity,
    run_id: &'a str,
    index: u32,
}

/// What [`record_finished`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Inputs recorded as done.
    pub done: usize,
}

/// Records the node's inputs as done and releases their claims; nothing
/// for a run that is not incremental. A throttled or failed request is
/// retryable (75).
pub async fn record_finished(ctx: &JobContext) -> JobResult<Recorded> {
    let Some(ledger) = ctx.node.read_ledger()? else { return Ok(Recorded::default()) };
    if ledger.inputs.is_empty() {
        return Ok(Recorded::default());
    }
    let client = Arc::new(s3::client().await);
    let run_id = ctx.node.run_id().to_string();
    let index = ctx.node.index();
    let concurrency = ctx.config.s3_concurrency as usize;
    let bucket = Arc::new(ledger.bucket.clone());
    let prefix = Arc::new(ledger.prefix.clone());
    let results: Vec<JobResult<()>> = futures_util::stream::iter(ledger.inputs.iter())
        .map(|entry| {
            let client = Arc::clone(&client);
            let bucket = Arc::clone(&bucket);
            let prefix = Arc::clone(&prefix);
            let run_id = run_id.clone();
            async move {
                let record = DoneRecord { input: &entry.input, run_id: &run_id, index };
                let mut body = serde_json::to_vec(&record)
                    .map_err(|e| JobError::new(ExitCode::Software, format!("done record: {e}")))?;
                body.push(b'\n');
                let done = done_key(&prefix, &entry.id);
                s3::with_retries(&format!("put {done}"), 4, || {
                    let request = client
                        .put_object()
                        .bucket(bucket.as_str())
                        .key(&done)
                        .content_type("application/json")
                        .body(ByteStream::from(body.clone()));
                    let done = done.clone();
                    async move {
                        request.send().await.map(|_| ()).map_err(|e| s3::classify(&format!("put {done}"), e))
                    }
                })
                .await?;
                let claim = claim_key(&prefix, &entry.id);
                s3::with_retries(&format!("delete {claim}"), 4, || {
                    let request = client.delete_object().bucket(bucket.as_str()).key(&claim);
                    let claim = claim.clone();
                    async move {
                        request
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| s3::classify(&format!("delete {claim}"), e))
                    }
                })
                .await
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut recorded = Recorded::default();
    for result in results {
        result?;
        recorded.done += 1;
    }
    tracing::info!(done = recorded.done, ledger = %format!("s3://{}/{}", ledger.bucket, ledger.prefix), "inputs recorded in the ledger");
    Ok(recorded)
}
