//! The prep handler: parse, pick the run id, replay a finished prep or list
//! the work, plan the nodes, write the layout, answer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use batch_jobs::layout::{EgressSpec, RunConfig, SourceSpec};
use batch_jobs::layout::{InputIdentity, LedgerInput, NodeLedger, NodeMessages, QueueMessage, ledger_prefix};
use batch_jobs::{ExitCode, NodeSlice, RunLayout};
use serde_json::Value;

use crate::CONTRACT_VERSION;
use crate::error::{ErrorKind, LambdaError};
use crate::prep::ledger::{LedgerSpec, LedgerSummary, take_new};
use crate::prep::listing::{SourceObject, head_keys, list_s3, list_sftp};
use crate::prep::plan::{byte_slices, count_slices, node_count, range_slices};
use crate::prep::queue::{QueueSpec, QueueWork, receive_work};
use crate::prep::request::{Balance, PrepRequest, WorkSource, run_config_error};
use crate::prep::response::{Mode, NodeItems, PrepResponse, PrepStatus};
use crate::prep::{record, run_id};

/// What prep needs besides the event, built once per container.
#[derive(Debug, Clone)]
pub struct PrepDeps {
    /// S3 client (listing an S3 source).
    pub s3: aws_sdk_s3::Client,
    /// SQS client (a queue-fed source).
    pub sqs: aws_sdk_sqs::Client,
    /// Secrets Manager client (an SFTP source's private key).
    pub secrets: aws_sdk_secretsmanager::Client,
    /// This function's EFS mount point (`PIPELINE_EFS_ROOT`), if it differs
    /// from `config.efs_mount_path`.
    pub efs_root: Option<PathBuf>,
}

impl PrepDeps {
    /// Clients from `sdk`, `PIPELINE_EFS_ROOT` from the environment.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Self {
        PrepDeps {
            s3: crate::runtime::s3_client(sdk),
            sqs: crate::runtime::sqs_client(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            efs_root: std::env::var_os("PIPELINE_EFS_ROOT").filter(|v| !v.is_empty()).map(PathBuf::from),
        }
    }
}

/// The work found.
enum Work {
    Objects(Vec<SourceObject>),
    Range { start: u64, count: u64 },
    Queue(QueueWork),
}

impl Work {
    fn len(&self) -> u64 {
        match self {
            Work::Objects(o) => o.len() as u64,
            Work::Range { count, .. } => *count,
            Work::Queue(q) => q.objects.len() as u64,
        }
    }
}

/// Handles one prep event.
pub async fn handle(deps: &PrepDeps, event: Value) -> Result<PrepResponse, LambdaError> {
    let request = PrepRequest::from_event(event)?;
    let (run_id, id_source) = run_id::resolve(
        request.overrides.run_id.as_deref(),
        request.execution.as_deref(),
        SystemTime::now(),
    )?;
    let efs_root = request.efs_root(deps.efs_root.as_ref());
    let layout = RunLayout::new(&efs_root, &run_id).map_err(|e| LambdaError::invalid_event(e.message))?;
    tracing::info!(
        run_id,
        run_id_from = ?id_source,
        pipeline = request.config.pipeline.as_deref().unwrap_or(""),
        trigger = request.overrides.trigger.as_deref().unwrap_or(""),
        source = request.source.describe(),
        items_per_node = request.items_per_node,
        efs_root = %efs_root.display(),
        "prep started"
    );

    // Everything run.json will hold is checked now, with a one-node
    // stand-in for the array size, before any listing: a bad setting is
    // reported even when the source turns out empty, and costs no
    // ListObjectsV2 pages.
    run_config(&request, &run_id, 1)?;

    let replay_layout = layout.clone();
    let fingerprint = request.fingerprint.clone();
    if let Some(previous) = blocking(move || {
        let previous = record::replay(&replay_layout, &fingerprint)?;
        if previous.is_some() {
            reopen(&replay_layout)?;
        }
        Ok(previous)
    })
    .await?
    {
        tracing::info!(
            run_id,
            array_size = previous.array_size,
            "run already prepared; returning its result"
        );
        let job_name_id = run_id::job_name_id(&previous.run_id);
        return Ok(PrepResponse { job_name_id, ..previous });
    }

    let started = Instant::now();
    let work = match &request.source {
        WorkSource::S3 { bucket, prefix, keys: Some(keys), .. } => {
            Work::Objects(head_keys(&deps.s3, bucket, prefix, keys).await?)
        }
        WorkSource::S3 { bucket, prefix, suffix, keys: None } => {
            Work::Objects(list_s3(&deps.s3, bucket, prefix, suffix).await?)
        }
        WorkSource::Synthetic { start, count, .. } => Work::Range { start: *start, count: *count },
        WorkSource::Sqs { queue_url, bucket, prefix, suffix, max_messages, visibility_timeout_seconds } => {
            let spec = QueueSpec {
                queue_url,
                bucket,
                prefix,
                suffix,
                max_messages: *max_messages,
                visibility_timeout_seconds: *visibility_timeout_seconds,
            };
            Work::Queue(receive_work(&deps.sqs, &deps.s3, &spec).await?)
        }
        WorkSource::Sftp(source) => Work::Objects(list_sftp(&deps.secrets, source).await?),
    };
    let (work, ledger) = match (work, request.config.source.incremental()) {
        (Work::Objects(objects), Some(incremental)) => {
            let (objects, entries, summary) =
                take_new_inputs(deps, &request, &run_id, incremental, objects).await?;
            (Work::Objects(objects), Some((entries, summary)))
        }
        (work, _) => (work, None),
    };
    let ledger_summary = ledger.as_ref().map(|(_, summary)| *summary);
    let listed_ms = started.elapsed().as_millis() as u64;
    let source = request.source.describe();
    let bytes = match &work {
        Work::Objects(objects) => Some(objects.iter().map(|o| o.size).sum::<u64>()),
        Work::Queue(queue) => Some(queue.objects.iter().map(|o| o.size).sum::<u64>()),
        Work::Range { .. } => None,
    };
    let queue_summary = match &work {
        Work::Queue(queue) => Some(queue.summary),
        _ => None,
    };
    let items = work.len();
    if items == 0 {
        tracing::info!(run_id, source, "no work: nothing written");
        return Ok(PrepResponse {
            contract_version: CONTRACT_VERSION,
            status: PrepStatus::NoWork,
            job_name_id: run_id::job_name_id(&run_id),
            run_id,
            array_size: 0,
            mode: Mode::None,
            items: 0,
            bytes,
            node_items: NodeItems { min: 0, max: 0 },
            source,
            run_dir: None,
            queue: queue_summary,
            ledger: ledger_summary,
        });
    }

    let array_size = node_count(items, request.items_per_node, request.config.max_nodes);
    let balance = |objects| match request.config.balance {
        Balance::Count => count_slices(objects, array_size),
        Balance::Bytes => byte_slices(objects, array_size),
    };
    let (slices, queue) = match work {
        Work::Objects(objects) => (balance(objects), None),
        Work::Queue(queue) => {
            let slices = balance(queue.objects.clone());
            let messages = node_messages(&request.source, &slices, &queue);
            (slices, Some((messages, queue)))
        }
        Work::Range { start, count } => (range_slices(start, count, array_size), None),
    };
    let node_items = NodeItems {
        min: slices.iter().map(NodeSlice::len).min().unwrap_or(0),
        max: slices.iter().map(NodeSlice::len).max().unwrap_or(0),
    };
    if node_items.min == 0 {
        return Err(LambdaError::internal(format!(
            "planned an empty node ({items} items, {array_size} nodes)"
        )));
    }
    let run_config = run_config(&request, &run_id, array_size)?;
    let response = PrepResponse {
        contract_version: CONTRACT_VERSION,
        status: PrepStatus::Ready,
        run_id: run_id.clone(),
        job_name_id: run_id::job_name_id(&run_id),
        array_size,
        mode: if array_size == 1 { Mode::Single } else { Mode::Array },
        items,
        bytes,
        node_items,
        source,
        run_dir: Some(layout.run_dir().display().to_string()),
        queue: queue_summary,
        ledger: ledger_summary,
    };
    let node_ledgers = ledger.map(|(entries, _)| node_ledgers(&request, &slices, entries));

    let write_started = Instant::now();
    let fingerprint = request.fingerprint.clone();
    let written = response.clone();
    blocking(move || {
        discard_unfinished(&layout)?;
        write_layout(
            &layout,
            &run_config,
            &slices,
            queue.as_ref(),
            node_ledgers.as_deref(),
            &fingerprint,
            &written,
        )
    })
    .await?;
    tracing::info!(
        run_id,
        array_size,
        items,
        min_items = node_items.min,
        max_items = node_items.max,
        list_ms = listed_ms,
        write_ms = write_started.elapsed().as_millis() as u64,
        "run prepared"
    );
    Ok(response)
}

/// A prepared run is starting again (a rerun by its id, or a retried
/// prep): its summary goes, so it counts as running until the Summarize
/// step writes the new one. Retention (summary::retention) never removes
/// a run without a summary.
fn reopen(layout: &RunLayout) -> Result<(), LambdaError> {
    let path = layout.run_dir().join(crate::summary::SUMMARY_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => {
            tracing::info!(run_id = layout.run_id(), "a finished run starts again; its summary is removed");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(record::storage_error(&path, e)),
    }
}

/// Removes what an earlier attempt of this prep left in the run directory
/// without finishing (there is no prep record, or it would have been
/// replayed). Nothing can have used it: the state machine submits the
/// jobs only after prep has answered, which it does after the record. So
/// a retry lays the run out afresh from today's listing, instead of
/// meeting a half-written run.json or slices of an older listing as a
/// conflict forever.
fn discard_unfinished(layout: &RunLayout) -> Result<(), LambdaError> {
    let dir = layout.run_dir();
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {
            tracing::warn!(run_id = layout.run_id(), "removed an unfinished earlier prep of this run");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(record::storage_error(dir, e)),
    }
}

/// run.json for this request.
pub fn run_config(request: &PrepRequest, run_id: &str, array_size: u32) -> Result<RunConfig, LambdaError> {
    let source = match &request.source {
        // A queue-fed run fetches the announced objects as an S3 run
        // fetches listed ones: procurement needs no queue of its own.
        WorkSource::S3 { bucket, prefix, .. } | WorkSource::Sqs { bucket, prefix, .. } => {
            SourceSpec::S3 { bucket: bucket.clone(), prefix: prefix.clone() }
        }
        WorkSource::Synthetic { format, records_per_id, .. } => {
            SourceSpec::Synthetic { format: *format, records_per_id: *records_per_id }
        }
        WorkSource::Sftp(source) => SourceSpec::Sftp(source.clone()),
    };
    let mut config = RunConfig::new(
        run_id,
        array_size,
        source,
        request.config.transform.clone(),
        request.config.egress.clone().map(EgressSpec::from),
    );
    config.stages = request.config.stages.clone();
    if let Some(c) = request.config.s3_concurrency {
        config.s3_concurrency = c;
    }
    config.validate().map_err(run_config_error)?;
    Ok(config)
}

/// run.json, every slice, then the prep record, each through the layout
/// library. Existing identical files are kept (a retry after a crash);
/// different ones are a `LayoutConflict`.
fn write_layout(
    layout: &RunLayout,
    config: &RunConfig,
    slices: &[NodeSlice],
    queue: Option<&(Vec<NodeMessages>, QueueWork)>,
    ledgers: Option<&[NodeLedger]>,
    fingerprint: &str,
    response: &PrepResponse,
) -> Result<(), LambdaError> {
    match layout.read_config() {
        Ok(existing) if !existing.same_run_as(config) => {
            return Err(LambdaError::new(
                ErrorKind::LayoutConflict,
                format!(
                    "{} already describes a different run (array_size {} vs {}, or another source, transform \
                     or egress); runs are immutable, use another run id",
                    layout.run_json_path().display(),
                    existing.array_size,
                    config.array_size
                ),
            ));
        }
        Ok(_) => {}
        Err(e) if e.exit == ExitCode::NoInput => {}
        Err(e) => return Err(LambdaError::from_layout(e, ErrorKind::LayoutConflict)),
    }
    let outcome =
        layout.create_run(config).map_err(|e| LambdaError::from_layout(e, ErrorKind::LayoutConflict))?;
    tracing::debug!(?outcome, "run.json");
    layout.write_node_slices(slices).map_err(|e| LambdaError::from_layout(e, ErrorKind::LayoutConflict))?;
    if let Some((messages, work)) = queue {
        for node_messages in messages {
            layout
                .node(node_messages.index)
                .write_messages(node_messages)
                .map_err(|e| LambdaError::from_layout(e, ErrorKind::LayoutConflict))?;
        }
        write_queue_record(layout, work)?;
    }
    for ledger in ledgers.unwrap_or_default() {
        layout
            .node(ledger.index)
            .write_ledger(ledger)
            .map_err(|e| LambdaError::from_layout(e, ErrorKind::LayoutConflict))?;
    }
    record::write(layout, fingerprint, response)
}

/// `runs/<run_id>/queue.json`: the receive's counts and every message or
/// record the run did not process, with the reason (the record of what
/// prep deleted without work, and of what it left for the dead-letter
/// queue).
fn write_queue_record(layout: &RunLayout, work: &QueueWork) -> Result<(), LambdaError> {
    let record = serde_json::json!({
        "layout_version": batch_jobs::layout::LAYOUT_VERSION,
        "summary": work.summary,
        "skipped": work.skips,
    });
    let mut bytes = serde_json::to_vec_pretty(&record).map_err(|e| LambdaError::internal(e.to_string()))?;
    bytes.push(b'\n');
    let path = layout.run_dir().join(QUEUE_RECORD);
    batch_jobs::atomic::write_atomic(&path, &bytes).map_err(|e| record::storage_error(&path, e))
}

/// File name of the queue record inside the run directory.
pub const QUEUE_RECORD: &str = "queue.json";

/// Each node's messages: a message goes to every node holding one of its
/// keys, and lists them all (egress deletes it once all are done).
fn node_messages(source: &WorkSource, slices: &[NodeSlice], queue: &QueueWork) -> Vec<NodeMessages> {
    let WorkSource::Sqs { queue_url, .. } = source else { return Vec::new() };
    let node_of: std::collections::HashMap<&str, u32> =
        slices.iter().flat_map(|s| s.items.iter().map(move |k| (k.as_str(), s.index))).collect();
    let mut per_node: Vec<Vec<QueueMessage>> = vec![Vec::new(); slices.len()];
    for message in &queue.messages {
        let mut nodes: Vec<u32> =
            message.keys.iter().filter_map(|k| node_of.get(k.as_str()).copied()).collect();
        nodes.sort_unstable();
        nodes.dedup();
        for &node in &nodes {
            per_node[node as usize].push(QueueMessage {
                message_id: message.message_id.clone(),
                receipt_handle: message.receipt_handle.clone(),
                nodes: nodes.clone(),
            });
        }
    }
    per_node.into_iter().enumerate().map(|(i, m)| NodeMessages::new(i as u32, queue_url, m)).collect()
}

/// An incremental source's listing cut to the inputs this run takes
/// (prep/ledger.rs), with their ledger entries by key.
async fn take_new_inputs(
    deps: &PrepDeps,
    request: &PrepRequest,
    run_id: &str,
    incremental: contract::run_config::Incremental,
    objects: Vec<SourceObject>,
) -> Result<(Vec<SourceObject>, HashMap<String, LedgerInput>, LedgerSummary), LambdaError> {
    let egress = request.config.egress.as_ref().ok_or_else(|| {
        LambdaError::invalid_event("config.source.incremental: needs config.egress (the ledger's bucket)")
    })?;
    let spec = LedgerSpec {
        bucket: egress.bucket.clone(),
        prefix: ledger_prefix(&egress.prefix),
        run_id: run_id.to_string(),
        claim_ttl_seconds: incremental.claim_ttl_seconds,
        full: request.overrides.full.unwrap_or(false),
    };
    let identity = |object: &SourceObject| -> InputIdentity {
        match &request.source {
            WorkSource::Sftp(sftp) => InputIdentity::Sftp {
                host: sftp.host.clone(),
                port: sftp.port,
                path: format!("{}/{}", sftp.directory.trim_end_matches('/'), object.key),
                size: object.size,
                mtime: object.mtime.unwrap_or(0),
            },
            WorkSource::S3 { bucket, .. } | WorkSource::Sqs { bucket, .. } => InputIdentity::S3 {
                bucket: bucket.clone(),
                key: object.key.clone(),
                etag: object.etag.clone().unwrap_or_default(),
            },
            // Never incremental (`Source::incremental` is `None` for it and
            // for sqs); an identity by key keeps the closure total.
            WorkSource::Synthetic { .. } => {
                InputIdentity::S3 { bucket: String::new(), key: object.key.clone(), etag: String::new() }
            }
        }
    };
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (taken, summary) = take_new(&deps.s3, &spec, objects, identity, now).await?;
    let mut entries = HashMap::with_capacity(taken.len());
    let mut objects = Vec::with_capacity(taken.len());
    for (object, entry) in taken {
        entries.insert(object.key.clone(), entry);
        objects.push(object);
    }
    Ok((objects, entries, summary))
}

/// Each node's `prep/ledger.json`: the entries of the inputs its slice holds.
fn node_ledgers(
    request: &PrepRequest,
    slices: &[NodeSlice],
    mut entries: HashMap<String, LedgerInput>,
) -> Vec<NodeLedger> {
    let Some(egress) = request.config.egress.as_ref() else { return Vec::new() };
    let prefix = ledger_prefix(&egress.prefix);
    slices
        .iter()
        .map(|slice| {
            let keys =
                slice.items.iter().map(String::as_str).chain(slice.files.iter().map(|f| f.path.as_str()));
            let inputs = keys.filter_map(|key| entries.remove(key)).collect();
            NodeLedger::new(slice.index, &egress.bucket, &prefix, inputs)
        })
        .collect()
}

/// Runs file-system work off the async thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LambdaError> + Send + 'static,
) -> Result<T, LambdaError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| LambdaError::internal(format!("layout writer task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prep::queue::KeptMessage;

    /// A message goes to every node holding one of its objects, and each
    /// copy names all of them: egress deletes it only when all are done.
    #[test]
    fn a_message_goes_to_each_node_holding_one_of_its_objects() {
        let source = WorkSource::Sqs {
            queue_url: "https://q".into(),
            bucket: "b".into(),
            prefix: String::new(),
            suffix: String::new(),
            max_messages: 10,
            visibility_timeout_seconds: 60,
        };
        let slices =
            vec![NodeSlice::items(0, vec!["a".into(), "b".into()]), NodeSlice::items(1, vec!["c".into()])];
        let message = |id: &str, keys: &[&str]| KeptMessage {
            message_id: id.into(),
            receipt_handle: format!("h-{id}"),
            keys: keys.iter().map(|k| k.to_string()).collect(),
        };
        let queue = QueueWork {
            messages: vec![message("m1", &["a"]), message("m2", &["c", "a"]), message("m3", &["c"])],
            ..QueueWork::default()
        };
        let files = node_messages(&source, &slices, &queue);
        let summary: Vec<Vec<(String, Vec<u32>)>> = files
            .iter()
            .map(|f| f.messages.iter().map(|m| (m.message_id.clone(), m.nodes.clone())).collect())
            .collect();
        assert_eq!(
            summary,
            [
                vec![("m1".to_string(), vec![0]), ("m2".to_string(), vec![0, 1])],
                vec![("m2".to_string(), vec![0, 1]), ("m3".to_string(), vec![1])],
            ]
        );
        assert!(files.iter().all(|f| f.queue_url == "https://q"));
        assert_eq!(files[1].messages[1].receipt_handle, "h-m3");
        // Another source: no message files.
        let s3 =
            WorkSource::S3 { bucket: "b".into(), prefix: String::new(), suffix: String::new(), keys: None };
        assert!(node_messages(&s3, &slices, &queue).is_empty());
    }
}
