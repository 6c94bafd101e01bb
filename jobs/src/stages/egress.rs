//! egress: the files processing listed in its done marker -> S3 under
//! `<prefix>/<run_id>/<index>/<path under results/>`, then a per-node
//! manifest `<prefix>/<run_id>/<index>/_manifest.json` (written last: its
//! presence means the node's upload is complete).
//!
//! Re-runs are idempotent: every key is a pure function of run id, index
//! and file name, so nothing duplicates; a small file is PUT again (same
//! bytes, same key), a multipart-sized one that already exists with the
//! same size and `crc64nvme` metadata is not uploaded again.
//!
//! Every upload carries the CRC64-NVME processing recorded in its marker
//! as S3's own checksum (a full-object checksum for multipart uploads),
//! so S3 refuses an object whose bytes differ from what processing wrote.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use serde::Serialize;

use crate::exit::{ExitCode, JobError, JobResult};
use crate::layout::{DoneMarker, EgressSpec, LAYOUT_VERSION, ObjectEntry, Stage, Verify};
use crate::safe_path::SafeRelPath;
use crate::stages::upload::{self, Destination, Upload};
use crate::stages::{JobContext, fingerprint, ledger, queue, s3};

/// The manifest's name under the node prefix.
pub use crate::layout::MANIFEST_NAME;
pub use crate::stages::upload::CHECKSUM_METADATA;

/// The per-node manifest uploaded last.
#[derive(Debug, Serialize)]
pub struct Manifest<'a> {
    /// [`LAYOUT_VERSION`].
    pub layout_version: u32,
    /// The run.
    pub run_id: &'a str,
    /// The node.
    pub index: u32,
    /// Record counts from processing.
    pub records_in: u64,
    /// Records in the main outputs.
    pub records_out: u64,
    /// Records in the rejects files.
    pub records_rejected: u64,
    /// Every uploaded object.
    pub objects: &'a [ObjectEntry],
}

/// The key prefix of node `index`: `<prefix>/<run_id>/<index>/`.
pub fn node_prefix(spec: &EgressSpec, run_id: &str, index: u32) -> String {
    let prefix = spec.prefix.trim_end_matches('/');
    if prefix.is_empty() { format!("{run_id}/{index}/") } else { format!("{prefix}/{run_id}/{index}/") }
}

/// Runs egress for the node, then deletes the queue messages of a
/// queue-fed run whose objects are done and records an incremental run's
/// inputs in the ledger; returns its done marker.
pub async fn run(ctx: &JobContext) -> JobResult<DoneMarker> {
    let marker = upload_results(ctx).await?;
    queue::delete_finished(ctx).await?;
    ledger::record_finished(ctx).await?;
    Ok(marker)
}

/// Uploads the node's results (or finds them uploaded); returns its done
/// marker.
async fn upload_results(ctx: &JobContext) -> JobResult<DoneMarker> {
    let node = &ctx.node;
    let spec = ctx.config.egress.clone().ok_or_else(|| JobError::config("run.json has no egress section"))?;
    let upstream = ctx.upstream_marker_bytes(Stage::Processing)?;
    let spec_json = serde_json::to_vec(&spec).unwrap_or_default();
    let fp = fingerprint(&[("processing", &upstream), ("egress", &spec_json)]);
    if let Ok(marker) = node.completed(Stage::Egress, &fp, Verify::Sizes) {
        tracing::info!(objects = marker.objects.len(), "egress already done for this input; skipping");
        return Ok(marker);
    }
    let processing: DoneMarker =
        serde_json::from_slice(&upstream).map_err(|e| JobError::data(format!("processing marker: {e}")))?;
    // The outputs must still be what processing recorded.
    processing
        .check(
            node.run_id(),
            node.index(),
            Stage::Processing,
            &processing.input_fingerprint,
            node.dir(),
            Verify::Sizes,
        )
        .map_err(|m| JobError::data(format!("results/ no longer match the processing marker: {m:?}")))?;
    node.clear_done(Stage::Egress)?;
    let prefix = node_prefix(&spec, node.run_id(), node.index());
    let client = Arc::new(s3::client().await);
    let mut uploads = Vec::new();
    for file in &processing.files {
        let rel = file.path.strip_prefix("results/").ok_or_else(|| {
            JobError::data(format!("processing marker lists {:?} outside results/", file.path))
        })?;
        let rel = SafeRelPath::new("results file", rel)?;
        uploads.push(Upload {
            key: format!("{prefix}{rel}"),
            path: rel.join_onto(&node.results_dir()),
            entry: file.clone(),
        });
    }
    let uploaded =
        upload::upload_all(&client, &Destination::from(&spec), uploads, ctx.config.s3_concurrency as usize)
            .await?;
    let mut marker = DoneMarker::new(node.run_id(), node.index(), Stage::Egress, fp);
    marker.objects = uploaded;
    marker.objects.sort_by(|a, b| a.key.cmp(&b.key));
    marker.records_in = processing.records_in;
    marker.records_out = processing.records_out;
    marker.records_rejected = processing.records_rejected;
    let manifest = Manifest {
        layout_version: LAYOUT_VERSION,
        run_id: node.run_id(),
        index: node.index(),
        records_in: marker.records_in,
        records_out: marker.records_out,
        records_rejected: marker.records_rejected,
        objects: &marker.objects,
    };
    let mut body = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| JobError::new(ExitCode::Software, format!("manifest: {e}")))?;
    body.push(b'\n');
    let manifest_key = format!("{prefix}{MANIFEST_NAME}");
    s3::with_retries("upload manifest", 4, || {
        let client = Arc::clone(&client);
        let body = body.clone();
        let bucket = spec.bucket.clone();
        let key = manifest_key.clone();
        async move {
            client
                .put_object()
                .bucket(&bucket)
                .key(&key)
                .content_type("application/json")
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| s3::classify(&format!("put {key}"), e))
                .map(|_| ())
        }
    })
    .await?;
    node.write_done(&marker)?;
    tracing::info!(objects = marker.objects.len(), manifest = %manifest_key, "egress done");
    Ok(marker)
}
