//! The work of a queue-fed run: up to `max_messages` S3 event
//! notifications received from SQS, sorted into what the run processes and
//! what it does not.
//!
//! Every received message ends in exactly one of:
//! - **kept**: it announces at least one object the run processes; egress
//!   of the node(s) holding those objects deletes it.
//! - **done without work** (deleted here, each logged as a skip record):
//!   S3's `s3:TestEvent`; records that are not `ObjectCreated:*` or whose
//!   key is outside the prefix/suffix filters (the notification's own
//!   filters are the same, so these only come from a notification set up
//!   by hand); an object deleted since (HeadObject 404): there is nothing
//!   left to process, and keeping the message would only move it to the
//!   dead-letter queue.
//! - **left** (never deleted, not in the run): a body that is not an S3
//!   notification, an event of another bucket, a key the jobs cannot store
//!   safely. Made visible again at once; after the queue's
//!   `maxReceiveCount` receives they move to the dead-letter queue, where a
//!   person can look at them.
//!
//! Several messages may announce the same object (S3 retries, or the
//! object written twice): the object is processed once, and every such
//! message is kept with it, so all are deleted together.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, MessageSystemAttributeName,
};
use batch_jobs::layout::check_data_names;
use batch_jobs::safe_path::SafeRelPath;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::error::{ErrorKind, LambdaError};
use crate::prep::listing::SourceObject;
use crate::prep::s3_event::{Body, parse_body};

/// Most messages one ReceiveMessage returns (SQS's limit).
const RECEIVE_BATCH: u32 = 10;
/// HeadObject calls in flight.
const HEAD_CONCURRENCY: usize = 16;

/// What the queue source is.
#[derive(Debug, Clone)]
pub struct QueueSpec<'a> {
    /// Queue URL.
    pub queue_url: &'a str,
    /// The bucket events must be about.
    pub bucket: &'a str,
    /// Prefix filter.
    pub prefix: &'a str,
    /// Suffix filter.
    pub suffix: &'a str,
    /// Most messages to take.
    pub max_messages: u32,
    /// Visibility timeout set on receive.
    pub visibility_timeout_seconds: u32,
}

/// A received message the run keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptMessage {
    /// SQS message id.
    pub message_id: String,
    /// This receive's handle.
    pub receipt_handle: String,
    /// The keys it announced that the run processes.
    pub keys: BTreeSet<String>,
}

/// A message or record the run does not process, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// SQS message id.
    pub message_id: String,
    /// The key, when the skip is about one record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Why.
    pub reason: String,
    /// `deleted` (done without work) or `left` (for the dead-letter queue).
    pub action: SkipAction,
}

/// What happened to a skipped message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipAction {
    /// Deleted by prep: nothing to process.
    Deleted,
    /// Not deleted: it comes back and eventually reaches the dead-letter queue.
    Left,
    /// One record of a kept message, ignored (the message stays with its
    /// other objects).
    Ignored,
}

/// Counts of a prep's receive (the response's `queue`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct QueueSummary {
    /// Messages received.
    pub received: u64,
    /// Kept for the run.
    pub kept: u64,
    /// Kept, but announcing only objects another message announced too.
    pub duplicates: u64,
    /// Deleted by prep (test events, filtered, objects deleted since).
    pub deleted: u64,
    /// Left for the dead-letter queue (malformed, foreign bucket, unsafe key).
    pub left: u64,
}

/// The run's work from the queue.
#[derive(Debug, Default)]
pub struct QueueWork {
    /// Objects to process, one per key, sorted by key.
    pub objects: Vec<SourceObject>,
    /// The messages kept, in receive order.
    pub messages: Vec<KeptMessage>,
    /// What was not processed, and why.
    pub skips: Vec<Skip>,
    /// Counts.
    pub summary: QueueSummary,
}

/// One received message.
struct Received {
    message_id: String,
    receipt_handle: String,
    body: String,
    receive_count: String,
}

/// Receives up to `spec.max_messages` messages, sorts them, checks the
/// objects still exist and deletes what needs no work. Short polling: an
/// empty answer ends the receive (SQS samples some of its servers, so a
/// run may take fewer messages than the queue holds; the next run takes
/// the rest).
pub async fn receive_work(
    sqs: &aws_sdk_sqs::Client,
    s3: &aws_sdk_s3::Client,
    spec: &QueueSpec<'_>,
) -> Result<QueueWork, LambdaError> {
    let received = receive(sqs, spec).await?;
    let mut work = QueueWork::default();
    work.summary.received = received.len() as u64;
    let mut to_delete: Vec<(String, String)> = Vec::new();
    let mut to_release: Vec<(String, String)> = Vec::new();
    let mut seen_keys = BTreeSet::new();
    for message in received {
        let mut skip = |key: Option<&str>, reason: String, action: SkipAction| {
            tracing::warn!(
                message_id = message.message_id,
                key,
                receive_count = message.receive_count,
                ?action,
                "{reason}"
            );
            work.skips.push(Skip {
                message_id: message.message_id.clone(),
                key: key.map(str::to_string),
                reason,
                action,
            });
        };
        match sort_message(&message.body, spec) {
            Sorted::Left(reason) => {
                skip(None, reason, SkipAction::Left);
                work.summary.left += 1;
                to_release.push((message.message_id.clone(), message.receipt_handle.clone()));
            }
            Sorted::Done(reason) => {
                skip(None, reason, SkipAction::Deleted);
                to_delete.push((message.message_id.clone(), message.receipt_handle.clone()));
            }
            Sorted::Keep { keys, ignored } => {
                for (key, reason) in ignored {
                    skip(Some(&key), reason, SkipAction::Ignored);
                }
                let fresh = keys.iter().filter(|k| !seen_keys.contains(*k)).count();
                if fresh == 0 {
                    work.summary.duplicates += 1;
                }
                seen_keys.extend(keys.iter().cloned());
                work.messages.push(KeptMessage {
                    message_id: message.message_id,
                    receipt_handle: message.receipt_handle,
                    keys,
                });
            }
        }
    }
    let conflicts = name_conflicts(&seen_keys, spec.prefix);
    let sizes = head_objects(s3, spec.bucket, seen_keys.iter().filter(|k| !conflicts.contains(*k))).await?;
    let mut kept = Vec::with_capacity(work.messages.len());
    for mut message in std::mem::take(&mut work.messages) {
        if let Some(key) = message.keys.iter().find(|k| conflicts.contains(*k)) {
            let reason = format!(
                "key {key:?} is also the folder of another key in this run; left for the dead-letter queue"
            );
            tracing::warn!(message_id = message.message_id, "{reason}");
            work.skips.push(Skip {
                message_id: message.message_id.clone(),
                key: Some(key.clone()),
                reason,
                action: SkipAction::Left,
            });
            work.summary.left += 1;
            to_release.push((message.message_id, message.receipt_handle));
            continue;
        }
        let gone: Vec<String> = message.keys.iter().filter(|k| !sizes.contains_key(*k)).cloned().collect();
        for key in gone {
            let reason = "the object no longer exists (HeadObject 404): nothing to process".to_string();
            tracing::warn!(message_id = message.message_id, key, "{reason}");
            message.keys.remove(&key);
            work.skips.push(Skip {
                message_id: message.message_id.clone(),
                key: Some(key),
                reason,
                action: if message.keys.is_empty() { SkipAction::Deleted } else { SkipAction::Ignored },
            });
        }
        if message.keys.is_empty() {
            to_delete.push((message.message_id, message.receipt_handle));
        } else {
            kept.push(message);
        }
    }
    work.messages = kept;
    work.summary.kept = work.messages.len() as u64;
    work.summary.deleted = to_delete.len() as u64;
    work.objects =
        sizes.into_iter().map(|(key, size)| SourceObject { key, size, mtime: None, etag: None }).collect();
    delete_now(sqs, spec.queue_url, &to_delete).await;
    release_now(sqs, spec.queue_url, &to_release).await;
    tracing::info!(
        queue_url = spec.queue_url,
        received = work.summary.received,
        kept = work.summary.kept,
        duplicates = work.summary.duplicates,
        deleted = work.summary.deleted,
        left = work.summary.left,
        objects = work.objects.len(),
        "received from the queue"
    );
    Ok(work)
}

/// What one message is for the run.
#[derive(Debug, PartialEq, Eq)]
enum Sorted {
    /// Not processable: left for the dead-letter queue.
    Left(String),
    /// Nothing to process: deleted.
    Done(String),
    /// Keys to process, and the records ignored.
    Keep { keys: BTreeSet<String>, ignored: Vec<(String, String)> },
}

fn sort_message(body: &str, spec: &QueueSpec<'_>) -> Sorted {
    let records = match parse_body(body) {
        Ok(Body::TestEvent) => return Sorted::Done("s3:TestEvent: nothing to process".into()),
        Ok(Body::Records(records)) => records,
        Err(reason) => return Sorted::Left(reason),
    };
    let mut keys = BTreeSet::new();
    let mut ignored = Vec::new();
    for record in records {
        if record.bucket != spec.bucket {
            return Sorted::Left(format!(
                "event of bucket {:?}, not the source bucket {:?}",
                record.bucket, spec.bucket
            ));
        }
        if !record.is_object_created() {
            ignored.push((record.key, format!("{} is not an ObjectCreated event", record.event_name)));
            continue;
        }
        let Some(relative) = record.key.strip_prefix(spec.prefix).filter(|r| !r.is_empty()) else {
            ignored.push((record.key, format!("outside the prefix {:?}", spec.prefix)));
            continue;
        };
        if record.key.ends_with('/') || !record.key.ends_with(spec.suffix) {
            ignored.push((record.key, format!("a folder or not ending with {:?}", spec.suffix)));
            continue;
        }
        if let Err(e) = SafeRelPath::new("source key", relative) {
            return Sorted::Left(format!("key {:?} cannot be stored under data/: {}", record.key, e.reason));
        }
        if let Err(e) = check_data_names([relative]) {
            return Sorted::Left(format!("key {:?}: {e}", record.key));
        }
        keys.insert(record.key);
    }
    if keys.is_empty() {
        let reasons: Vec<String> = ignored.into_iter().map(|(k, r)| format!("{k:?}: {r}")).collect();
        return Sorted::Done(format!("no object to process ({})", reasons.join("; ")));
    }
    Sorted::Keep { keys, ignored }
}

/// Keys whose name under the prefix is the folder of another key's (`a`
/// and `a/b`): the two cannot both be files under `data/`. The shorter
/// is left out of the run (its message comes back; alone in a later run
/// it is processed).
fn name_conflicts(keys: &BTreeSet<String>, prefix: &str) -> BTreeSet<String> {
    let mut conflicts = BTreeSet::new();
    for key in keys {
        for (at, _) in key.match_indices('/') {
            if at > prefix.len() && keys.contains(&key[..at]) {
                conflicts.insert(key[..at].to_string());
            }
        }
    }
    conflicts
}

async fn receive(sqs: &aws_sdk_sqs::Client, spec: &QueueSpec<'_>) -> Result<Vec<Received>, LambdaError> {
    let what = format!("ReceiveMessage {}", spec.queue_url);
    let mut received = Vec::new();
    while (received.len() as u32) < spec.max_messages {
        let want = RECEIVE_BATCH.min(spec.max_messages - received.len() as u32);
        let out = sqs
            .receive_message()
            .queue_url(spec.queue_url)
            .max_number_of_messages(want as i32)
            .visibility_timeout(spec.visibility_timeout_seconds as i32)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| LambdaError::from_sdk(&what, e))?;
        let batch = out.messages();
        if batch.is_empty() {
            break;
        }
        for m in batch {
            let (Some(id), Some(handle)) = (m.message_id(), m.receipt_handle()) else {
                return Err(LambdaError::new(
                    ErrorKind::AwsRequestFailed,
                    format!("{what}: a message without id or receipt handle"),
                ));
            };
            let receive_count = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .cloned()
                .unwrap_or_default();
            received.push(Received {
                message_id: id.to_string(),
                receipt_handle: handle.to_string(),
                body: m.body().unwrap_or_default().to_string(),
                receive_count,
            });
        }
    }
    Ok(received)
}

/// HeadObject of every key: its size, or absent when S3 says 404.
async fn head_objects<'k>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    keys: impl Iterator<Item = &'k String>,
) -> Result<BTreeMap<String, u64>, LambdaError> {
    let mut sizes = BTreeMap::new();
    let mut tasks = JoinSet::new();
    let mut keys = keys.cloned();
    loop {
        while tasks.len() < HEAD_CONCURRENCY {
            let Some(key) = keys.next() else { break };
            let (s3, bucket) = (s3.clone(), bucket.to_string());
            tasks.spawn(async move {
                let result = s3.head_object().bucket(&bucket).key(&key).send().await;
                (key, bucket, result)
            });
        }
        let Some(done) = tasks.join_next().await else { break };
        let (key, bucket, result) =
            done.map_err(|e| LambdaError::internal(format!("HeadObject task: {e}")))?;
        match result {
            Ok(head) => {
                let size = head.content_length().and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
                sizes.insert(key, size);
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {}
            Err(e) => return Err(LambdaError::from_sdk(&format!("HeadObject s3://{bucket}/{key}"), e)),
        }
    }
    Ok(sizes)
}

/// Makes the messages left out of the run visible again at once
/// (visibility 0, after the receive loop, so not to this run): each later
/// receive counts towards the queue's `maxReceiveCount`, so a message no
/// run can process reaches the dead-letter queue (and its alarm) after a
/// few schedule ticks rather than after `maxReceiveCount` run-long
/// visibility timeouts. A failure is logged: the message then comes back
/// after the visibility timeout, which is only slower.
async fn release_now(sqs: &aws_sdk_sqs::Client, queue_url: &str, messages: &[(String, String)]) {
    for chunk in messages.chunks(RECEIVE_BATCH as usize) {
        let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, (_, handle))| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        match sqs
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(out) => {
                for failed in out.failed() {
                    tracing::warn!(
                        entry = failed.id(),
                        code = failed.code(),
                        "could not release a message left out of the run; it comes back after its visibility timeout"
                    );
                }
            }
            Err(e) => {
                let e = LambdaError::from_sdk(&format!("ChangeMessageVisibilityBatch {queue_url}"), e);
                tracing::warn!(error = %e.message, "could not release the messages left out of the run; they come back after their visibility timeout");
            }
        }
    }
}

/// Deletes messages that needed no work. A failure is logged, not
/// returned: such a message comes back and the next run deletes it.
async fn delete_now(sqs: &aws_sdk_sqs::Client, queue_url: &str, messages: &[(String, String)]) {
    for chunk in messages.chunks(RECEIVE_BATCH as usize) {
        let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, (_, handle))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .build()
                    .ok()
            })
            .collect();
        match sqs.delete_message_batch().queue_url(queue_url).set_entries(Some(entries)).send().await {
            Ok(out) => {
                for failed in out.failed() {
                    tracing::warn!(
                        entry = failed.id(),
                        code = failed.code(),
                        "could not delete a message that needed no work; the next run will"
                    );
                }
            }
            Err(e) => {
                let e = LambdaError::from_sdk(&format!("DeleteMessageBatch {queue_url}"), e);
                tracing::warn!(error = %e.message, "could not delete messages that needed no work; the next run will");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> QueueSpec<'static> {
        QueueSpec {
            queue_url: "u",
            bucket: "src",
            prefix: "in/",
            suffix: ".csv",
            max_messages: 10,
            visibility_timeout_seconds: 60,
        }
    }

    fn event(bucket: &str, name: &str, key: &str) -> String {
        serde_json::json!({"Records": [{"eventName": name, "s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": "e"}}}]}).to_string()
    }

    #[test]
    fn messages_sort_into_kept_done_and_left() {
        let keep = sort_message(&event("src", "ObjectCreated:Put", "in/a+b.csv"), &spec());
        assert_eq!(keep, Sorted::Keep { keys: ["in/a b.csv".to_string()].into(), ignored: vec![] });
        assert!(
            matches!(sort_message(&event("src", "ObjectCreated:Put", "other/a.csv"), &spec()), Sorted::Done(r) if r.contains("outside the prefix"))
        );
        assert!(
            matches!(sort_message(&event("src", "ObjectCreated:Put", "in/a.json"), &spec()), Sorted::Done(r) if r.contains("not ending with"))
        );
        assert!(
            matches!(sort_message(&event("src", "ObjectRemoved:Delete", "in/a.csv"), &spec()), Sorted::Done(r) if r.contains("not an ObjectCreated"))
        );
        assert!(matches!(sort_message(r#"{"Event":"s3:TestEvent"}"#, &spec()), Sorted::Done(_)));
        assert!(
            matches!(sort_message("not json", &spec()), Sorted::Left(r) if r.contains("line 1, column 2"))
        );
        assert!(
            matches!(sort_message(&event("evil", "ObjectCreated:Put", "in/a.csv"), &spec()), Sorted::Left(r) if r.contains("\"evil\""))
        );
        assert!(
            matches!(sort_message(&event("src", "ObjectCreated:Put", "in/../a.csv"), &spec()), Sorted::Left(r) if r.contains("cannot be stored"))
        );
        assert!(matches!(
            sort_message(&event("src", "ObjectCreated:Put", "in/x.stats.json.csv"), &spec()),
            Sorted::Keep { .. }
        ));
        assert!(
            matches!(sort_message(&event("src", "ObjectCreated:Put", "in/_manifest.json"), &QueueSpec { suffix: "", ..spec() }), Sorted::Left(r) if r.contains("reserved"))
        );
    }

    #[test]
    fn a_key_that_is_another_keys_folder_conflicts() {
        let keys: BTreeSet<String> =
            ["in/a", "in/a/b.csv", "in/c.csv"].into_iter().map(String::from).collect();
        assert_eq!(name_conflicts(&keys, "in/"), ["in/a".to_string()].into());
    }
}
