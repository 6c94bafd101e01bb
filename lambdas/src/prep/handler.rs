//! The prep handler: parse, pick the run id, replay a finished prep or list
//! the work, plan the nodes, write the layout, answer.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use batch_jobs::layout::{EgressSpec, RunConfig, SourceSpec};
use batch_jobs::{ExitCode, NodeSlice, RunLayout};
use serde_json::Value;

use crate::CONTRACT_VERSION;
use crate::error::{ErrorKind, LambdaError};
use crate::prep::listing::{SourceObject, head_keys, list_s3};
use crate::prep::plan::{byte_slices, count_slices, node_count, range_slices};
use crate::prep::request::{Balance, PrepRequest, WorkSource, run_config_error};
use crate::prep::response::{Mode, NodeItems, PrepResponse, PrepStatus};
use crate::prep::{record, run_id};

/// What prep needs besides the event, built once per container.
#[derive(Debug, Clone)]
pub struct PrepDeps {
    /// S3 client (listing an S3 source).
    pub s3: aws_sdk_s3::Client,
    /// This function's EFS mount point (`PIPELINE_EFS_ROOT`), if it differs
    /// from `config.efs_mount_path`.
    pub efs_root: Option<PathBuf>,
}

impl PrepDeps {
    /// Clients from `sdk`, `PIPELINE_EFS_ROOT` from the environment.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Self {
        PrepDeps {
            s3: crate::runtime::s3_client(sdk),
            efs_root: std::env::var_os("PIPELINE_EFS_ROOT").filter(|v| !v.is_empty()).map(PathBuf::from),
        }
    }
}

/// The work found.
enum Work {
    Objects(Vec<SourceObject>),
    Range { start: u64, count: u64 },
}

impl Work {
    fn len(&self) -> u64 {
        match self {
            Work::Objects(o) => o.len() as u64,
            Work::Range { count, .. } => *count,
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
    if let Some(previous) = blocking(move || record::replay(&replay_layout, &fingerprint)).await? {
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
    };
    let listed_ms = started.elapsed().as_millis() as u64;
    let source = request.source.describe();
    let bytes = match &work {
        Work::Objects(objects) => Some(objects.iter().map(|o| o.size).sum::<u64>()),
        Work::Range { .. } => None,
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
        });
    }

    let array_size = node_count(items, request.items_per_node, request.config.max_nodes);
    let slices = match work {
        Work::Objects(objects) => match request.config.balance {
            Balance::Count => count_slices(objects, array_size),
            Balance::Bytes => byte_slices(objects, array_size),
        },
        Work::Range { start, count } => range_slices(start, count, array_size),
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
    };

    let write_started = Instant::now();
    let fingerprint = request.fingerprint.clone();
    let written = response.clone();
    blocking(move || {
        discard_unfinished(&layout)?;
        write_layout(&layout, &run_config, &slices, &fingerprint, &written)
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
        WorkSource::S3 { bucket, prefix, .. } => {
            SourceSpec::S3 { bucket: bucket.clone(), prefix: prefix.clone() }
        }
        WorkSource::Synthetic { format, records_per_id, .. } => {
            SourceSpec::Synthetic { format: *format, records_per_id: *records_per_id }
        }
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
    record::write(layout, fingerprint, response)
}

/// Runs file-system work off the async thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LambdaError> + Send + 'static,
) -> Result<T, LambdaError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| LambdaError::internal(format!("layout writer task failed: {e}")))?
}
