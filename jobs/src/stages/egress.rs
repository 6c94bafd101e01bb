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

use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::checksum::{FILE_CHECKSUM, crc64_bytes};
use crate::exit::{ExitCode, JobError, JobResult};
use crate::layout::{
    DoneMarker, EgressSpec, FileEntry, LAYOUT_VERSION, MAX_S3_CONCURRENCY, ObjectEntry, Stage, Verify,
};
use crate::safe_path::SafeRelPath;
use crate::stages::{JobContext, fingerprint, ledger, queue, s3};

/// Metadata key holding the hex CRC64-NVME of an uploaded object (S3's
/// own checksum header is base64; the metadata matches the marker).
pub const CHECKSUM_METADATA: &str = FILE_CHECKSUM;
/// The manifest's name under the node prefix.
pub use crate::layout::MANIFEST_NAME;

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
        uploads.push((format!("{prefix}{rel}"), rel.join_onto(&node.results_dir()), file.clone()));
    }
    let concurrency = ctx.config.s3_concurrency as usize;
    // One budget for every request in flight, PUTs and parts alike: files
    // are uploaded `concurrency` at a time and so are the parts of each
    // one, which would otherwise make concurrency² requests.
    let requests = Arc::new(Semaphore::new(concurrency));
    let results: Vec<JobResult<ObjectEntry>> = futures_util::stream::iter(uploads)
        .map(|(key, path, entry)| {
            let client = Arc::clone(&client);
            let spec = spec.clone();
            let requests = Arc::clone(&requests);
            async move {
                s3::with_retries(&format!("upload {key}"), 4, || {
                    upload(&client, &spec, &key, &path, &entry, &requests)
                })
                .await
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut marker = DoneMarker::new(node.run_id(), node.index(), Stage::Egress, fp);
    for r in results {
        marker.objects.push(r?);
    }
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

/// Uploads one file unless an identical object is already there.
async fn upload(
    client: &aws_sdk_s3::Client,
    spec: &EgressSpec,
    key: &str,
    path: &Path,
    entry: &FileEntry,
    requests: &Semaphore,
) -> JobResult<ObjectEntry> {
    let object = ObjectEntry { key: key.to_string(), bytes: entry.bytes, crc64nvme: entry.crc64nvme.clone() };
    let checksum = s3_checksum(entry)?;
    let multipart = entry.bytes >= spec.multipart_threshold_bytes;
    // Only a large object is worth a HEAD first: a small one costs one PUT
    // either way, and PUTting the same bytes to the same key is idempotent,
    // so a retried node simply overwrites it (a HEAD would double the
    // requests of a typical node: three small results files).
    if multipart && already_uploaded(client, spec, key, entry).await? {
        tracing::debug!(key, "already uploaded; skipping");
        return Ok(object);
    }
    if multipart {
        upload_multipart(client, spec, key, path, entry, &checksum, requests).await?;
    } else {
        let _permit = request_permit(requests).await?;
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| JobError::retryable(format!("reading {}: {e}", path.display())))?;
        client
            .put_object()
            .bucket(&spec.bucket)
            .key(key)
            .metadata(CHECKSUM_METADATA, &entry.crc64nvme)
            // The value is given, so the SDK does not compute one; the
            // algorithm names it (S3 stand-ins key on that header).
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .checksum_crc64_nvme(&checksum)
            .body(body)
            .send()
            .await
            .map_err(|e| s3::classify(&format!("put {key}"), e))?;
    }
    tracing::debug!(key, bytes = entry.bytes, "uploaded");
    Ok(object)
}

/// True if `key` already holds this file (same size and checksum metadata).
async fn already_uploaded(
    client: &aws_sdk_s3::Client,
    spec: &EgressSpec,
    key: &str,
    entry: &FileEntry,
) -> JobResult<bool> {
    match client.head_object().bucket(&spec.bucket).key(key).send().await {
        Ok(head) => {
            let same_size = head.content_length() == Some(entry.bytes as i64);
            let same_sum =
                head.metadata().and_then(|m| m.get(CHECKSUM_METADATA)).is_some_and(|s| *s == entry.crc64nvme);
            Ok(same_size && same_sum)
        }
        Err(e) => {
            let err = s3::classify(&format!("head {key}"), e);
            if head_says_absent(err.exit) { Ok(false) } else { Err(err) }
        }
    }
}

/// Whether a failed HEAD means "not uploaded yet". S3 answers a HEAD of a
/// missing key with 403, not 404, when the caller may not list the bucket
/// at that key: the module's job role may list only under the egress
/// prefix, and a HEAD carries no prefix. If writing is really denied, the
/// upload that follows says so.
fn head_says_absent(exit: ExitCode) -> bool {
    matches!(exit, ExitCode::NoInput | ExitCode::NoPermission)
}

/// S3's form of the marker's checksum: base64 of the 8 big-endian bytes.
fn s3_checksum(entry: &FileEntry) -> JobResult<String> {
    let bytes = crc64_bytes(&entry.crc64nvme).ok_or_else(|| {
        JobError::data(format!("processing marker: {:?} has a malformed checksum", entry.path))
    })?;
    Ok(aws_smithy_types::base64::encode(bytes))
}

/// Waits for a slot in the node's budget of S3 requests in flight.
async fn request_permit(requests: &Semaphore) -> JobResult<tokio::sync::SemaphorePermit<'_>> {
    requests.acquire().await.map_err(|e| JobError::new(ExitCode::Software, format!("request budget: {e}")))
}

/// Multipart upload, parts streamed from disk (memory is bounded by the
/// requests in flight, not by file size). Aborted on failure so no
/// incomplete upload is left behind.
async fn upload_multipart(
    client: &aws_sdk_s3::Client,
    spec: &EgressSpec,
    key: &str,
    path: &Path,
    entry: &FileEntry,
    checksum: &str,
    requests: &Semaphore,
) -> JobResult<()> {
    let created = client
        .create_multipart_upload()
        .bucket(&spec.bucket)
        .key(key)
        .metadata(CHECKSUM_METADATA, &entry.crc64nvme)
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .map_err(|e| s3::classify(&format!("create multipart {key}"), e))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| JobError::retryable(format!("create multipart {key}: no upload id")))?
        .to_string();
    let part_size = spec.part_size_bytes;
    let parts = entry.bytes.div_ceil(part_size).max(1);
    let result: JobResult<Vec<CompletedPart>> = async {
        let uploaded: Vec<JobResult<CompletedPart>> = futures_util::stream::iter(0..parts)
            .map(|i| {
                let upload_id = upload_id.clone();
                async move {
                    let _permit = request_permit(requests).await?;
                    let offset = i * part_size;
                    let length = part_size.min(entry.bytes - offset);
                    let body = ByteStream::read_from()
                        .path(path)
                        .offset(offset)
                        .length(aws_sdk_s3::primitives::Length::Exact(length))
                        .build()
                        .await
                        .map_err(|e| JobError::retryable(format!("reading {}: {e}", path.display())))?;
                    let part_number = i as i32 + 1;
                    let done = client
                        .upload_part()
                        .bucket(&spec.bucket)
                        .key(key)
                        .upload_id(&upload_id)
                        .part_number(part_number)
                        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| s3::classify(&format!("upload part {part_number} of {key}"), e))?;
                    Ok(CompletedPart::builder()
                        .part_number(part_number)
                        .set_e_tag(done.e_tag().map(String::from))
                        .set_checksum_crc64_nvme(done.checksum_crc64_nvme().map(String::from))
                        .build())
                }
            })
            // Parts wait for the shared budget; this only caps how many
            // wait.
            .buffer_unordered(MAX_S3_CONCURRENCY as usize)
            .collect()
            .await;
        let mut parts: Vec<CompletedPart> = uploaded.into_iter().collect::<JobResult<_>>()?;
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }
    .await;
    let parts = match result {
        Ok(parts) => parts,
        Err(e) => {
            let _ = client
                .abort_multipart_upload()
                .bucket(&spec.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            return Err(e);
        }
    };
    client
        .complete_multipart_upload()
        .bucket(&spec.bucket)
        .key(key)
        .upload_id(&upload_id)
        .checksum_type(ChecksumType::FullObject)
        .checksum_crc64_nvme(checksum)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .map_err(|e| s3::classify(&format!("complete multipart {key}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_refused_for_lack_of_list_permission_means_not_uploaded() {
        assert!(head_says_absent(ExitCode::NoInput));
        assert!(head_says_absent(ExitCode::NoPermission));
        assert!(!head_says_absent(ExitCode::TempFail), "throttling and 5xx are retried, not skipped");
        assert!(!head_says_absent(ExitCode::Config));
    }
}
