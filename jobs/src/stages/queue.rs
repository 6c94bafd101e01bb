//! A queue-fed run's last step of egress: deleting the queue messages
//! whose objects this node has finished (`prep/messages.json`, written by
//! prep). It runs after the node's egress done marker is written, both
//! when egress uploaded now and when a retried egress found its work
//! done, so a message is deleted only once its node's results are in S3,
//! and a retry after a failed delete deletes it then.
//!
//! A message whose objects are on several nodes is deleted by the node
//! that finds every one of them done; each node checks after writing its
//! own marker, so the last to finish always does. A node that fails for
//! good never gets here: its messages come back after their visibility
//! timeout and, after the queue's `maxReceiveCount`, move to the
//! dead-letter queue.

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;

use crate::exit::{JobError, JobResult};
use crate::layout::{QueueMessage, Stage};
use crate::stages::{JobContext, s3};

/// Most entries one DeleteMessageBatch takes (SQS's limit).
const DELETE_BATCH: usize = 10;

/// What [`delete_finished`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Messages deleted now.
    pub deleted: usize,
    /// Messages whose receipt handle SQS no longer accepts (deleted
    /// before, or received again after the visibility timeout).
    pub stale: usize,
    /// Messages left for another node that has not finished.
    pub waiting: usize,
}

/// Deletes this node's finished messages; nothing for a run that is not
/// queue-fed. A throttled or failed delete is retryable (75).
pub async fn delete_finished(ctx: &JobContext) -> JobResult<Deleted> {
    let Some(file) = ctx.node.read_messages()? else { return Ok(Deleted::default()) };
    let mut done = Deleted::default();
    let ready: Vec<&QueueMessage> = file
        .messages
        .iter()
        .filter(|m| {
            let all_done = m
                .nodes
                .iter()
                .all(|&n| n == ctx.node.index() || ctx.layout.node(n).done_path(Stage::Egress).exists());
            if !all_done {
                done.waiting += 1;
            }
            all_done
        })
        .collect();
    if ready.is_empty() {
        return Ok(done);
    }
    let client = client().await;
    for chunk in ready.chunks(DELETE_BATCH) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt_handle)
                    .build()
                    .map_err(|e| JobError::data(format!("messages.json: {e}")))
            })
            .collect::<JobResult<Vec<_>>>()?;
        let what = format!("DeleteMessageBatch {}", file.queue_url);
        let out = client
            .delete_message_batch()
            .queue_url(&file.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| s3::classify(&what, e))?;
        done.deleted += out.successful().len();
        for failed in out.failed() {
            let message = failed.id().parse::<usize>().ok().and_then(|i| chunk.get(i));
            let message_id = message.map(|m| m.message_id.as_str()).unwrap_or("?");
            if failed.code() == "ReceiptHandleIsInvalid" {
                // Deleted by an earlier attempt of this egress, or the
                // visibility ran out and another run has it now (that run
                // deletes it when it finishes).
                tracing::warn!(
                    message_id,
                    code = failed.code(),
                    "message not deleted: its receipt handle is no longer valid"
                );
                done.stale += 1;
            } else {
                return Err(JobError::retryable(format!(
                    "{what}: message {message_id}: {} ({})",
                    failed.code(),
                    failed.message().unwrap_or("")
                )));
            }
        }
    }
    tracing::info!(
        deleted = done.deleted,
        stale = done.stale,
        waiting = done.waiting,
        "queue messages deleted"
    );
    Ok(done)
}

/// An SQS client from the standard chain (`AWS_ENDPOINT_URL` reaches moto
/// in the tests).
async fn client() -> aws_sdk_sqs::Client {
    let shared = crate::sdk_config::load(crate::sdk_config::Service::Sqs).await;
    aws_sdk_sqs::Client::new(&shared)
}
