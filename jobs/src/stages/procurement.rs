//! procurement: the node's slice from `prep/` -> files in `data/` (from S3,
//! an SFTP server, or generated).

use std::io::{BufWriter, Write};
use std::sync::Arc;

use futures_util::StreamExt;

use crate::atomic::{AtomicFile, remove_stale_temps};
use crate::checksum::ChecksumWriter;
use crate::exit::{ExitCode, JobError, JobResult};
use crate::layout::{DoneMarker, FileEntry, SourceSpec, Stage, SyntheticFormat, Verify, check_data_names};
use crate::layout::{default_multipart_threshold, default_part_size};
use crate::safe_path::SafeRelPath;
use crate::sftp::{self, SftpClient};
use crate::stages::upload::{self, Destination, Upload};
use crate::stages::{JobContext, fingerprint, s3};
use crate::synthetic;

/// Runs procurement for the node; returns its done marker.
pub async fn run(ctx: &JobContext) -> JobResult<DoneMarker> {
    let node = &ctx.node;
    let slice = node.read_slice()?;
    let slice_bytes = std::fs::read(node.slice_path()).map_err(|e| JobError::io("slice", e))?;
    let source = serde_json::to_vec(&ctx.config.source).unwrap_or_default();
    let fp = fingerprint(&[("slice", &slice_bytes), ("source", &source)]);
    if let Ok(marker) = node.completed(Stage::Procurement, &fp, Verify::Sizes) {
        tracing::info!(files = marker.files.len(), "procurement already done for this input; skipping");
        return Ok(marker);
    }
    node.clear_done(Stage::Procurement)?;
    node.create_dirs()?;
    let data_dir = node.data_dir();
    node.reset_dir(&data_dir)?;
    let mut marker = DoneMarker::new(node.run_id(), node.index(), Stage::Procurement, fp);
    match &ctx.config.source {
        SourceSpec::S3 { bucket, prefix } => {
            let keys = slice.item_strings();
            let mut jobs = Vec::with_capacity(keys.len());
            for (i, key) in keys.iter().enumerate() {
                let field = format!("prep slice item {i}");
                let rel = key.strip_prefix(prefix.as_str()).ok_or_else(|| {
                    JobError::data(format!("{field} {key:?} is not under source.prefix {prefix:?}"))
                })?;
                let rel = SafeRelPath::new(&field, rel)?;
                jobs.push((key.clone(), rel));
            }
            check_data_names(jobs.iter().map(|(_, rel)| rel.as_str()))
                .map_err(|e| JobError::data(format!("prep slice: {e}")))?;
            let client = Arc::new(s3::client().await);
            let concurrency = ctx.config.s3_concurrency as usize;
            let node_dir = node.dir().to_path_buf();
            let results: Vec<JobResult<FileEntry>> = futures_util::stream::iter(jobs)
                .map(|(key, rel)| {
                    let client = Arc::clone(&client);
                    let bucket = bucket.clone();
                    let target = rel.join_onto(&data_dir);
                    let rel_name = format!("data/{rel}");
                    async move {
                        s3::with_retries(&format!("download s3://{bucket}/{key}"), 4, || {
                            download(&client, &bucket, &key, &target, &rel_name)
                        })
                        .await
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            for r in results {
                marker.files.push(r?);
            }
            marker.records_in = keys.len() as u64;
            marker.records_out = marker.files.len() as u64;
            let _ = node_dir;
        }
        SourceSpec::Sftp(source) => {
            let files = &slice.files;
            if files.is_empty() && !slice.is_empty() {
                return Err(JobError::data("prep slice: an sftp source's slice lists files, not items"));
            }
            let mut jobs = Vec::with_capacity(files.len());
            for (i, file) in files.iter().enumerate() {
                jobs.push((file, SafeRelPath::new(&format!("prep slice file {i}"), &file.path)?));
            }
            check_data_names(jobs.iter().map(|(_, rel)| rel.as_str()))
                .map_err(|e| JobError::data(format!("prep slice: {e}")))?;
            let client = SftpClient::from_source(source).await?;
            // One connection, one file at a time: SFTP servers limit
            // sessions per user, and a node's files share the link anyway.
            let mut session = None;
            for (file, rel) in jobs {
                let target = rel.join_onto(&data_dir);
                marker.files.push(
                    sftp::download(&client, &mut session, file, &target, &format!("data/{rel}")).await?,
                );
            }
            drop(session);
            if let Some(bucket) = &source.archive_bucket {
                archive(ctx, bucket, &source.archive_prefix, &marker.files).await?;
            }
            marker.records_in = files.len() as u64;
            marker.records_out = marker.files.len() as u64;
        }
        SourceSpec::Synthetic { format, records_per_id } => {
            let name = match format {
                SyntheticFormat::YelpJsonl => "synthetic.jsonl",
                SyntheticFormat::GhcnCsv => "synthetic.csv",
            };
            let target = data_dir.join(name);
            let file = AtomicFile::create(&target).map_err(|e| JobError::io(target.display(), e))?;
            let mut out = BufWriter::with_capacity(1 << 20, ChecksumWriter::new(file));
            let mut records = 0u64;
            // A range is walked, not expanded: its size does not cost memory.
            slice.for_each_item(|id| {
                for n in 0..*records_per_id {
                    match format {
                        SyntheticFormat::YelpJsonl => synthetic::yelp_line(&mut out, id, n),
                        SyntheticFormat::GhcnCsv => synthetic::ghcn_row(&mut out, id, n),
                    }
                    .map_err(|e| JobError::io(target.display(), e))?;
                    records += 1;
                }
                Ok::<(), JobError>(())
            })?;
            let hashing = out.into_inner().map_err(|e| JobError::io(target.display(), e.into_error()))?;
            let (file, bytes, crc64nvme) = hashing.finish();
            file.commit().map_err(|e| JobError::io(target.display(), e))?;
            marker.files.push(FileEntry { path: format!("data/{name}"), bytes, crc64nvme });
            marker.records_in = slice.len();
            marker.records_out = records;
        }
    }
    remove_stale_temps(&data_dir).map_err(|e| JobError::io(data_dir.display(), e))?;
    node.write_done(&marker)?;
    tracing::info!(
        files = marker.files.len(),
        records_in = marker.records_in,
        records_out = marker.records_out,
        "procurement done"
    );
    Ok(marker)
}

/// Uploads the node's downloaded files, as fetched, to
/// `s3://<bucket>/<prefix><path below the SFTP directory>` with the
/// CRC64-NVME computed while downloading, which S3 checks. Before the done
/// marker: a node whose archive failed is retried whole, and the retry PUTs
/// the same bytes to the same keys.
async fn archive(ctx: &JobContext, bucket: &str, prefix: &str, files: &[FileEntry]) -> JobResult<()> {
    let node = &ctx.node;
    let mut uploads = Vec::with_capacity(files.len());
    for file in files {
        let rel = file.path.strip_prefix("data/").ok_or_else(|| {
            JobError::new(ExitCode::Software, format!("downloaded {:?} outside data/", file.path))
        })?;
        let rel = SafeRelPath::new("archived file", rel)?;
        uploads.push(Upload {
            key: format!("{prefix}{rel}"),
            path: rel.join_onto(&node.data_dir()),
            entry: file.clone(),
        });
    }
    let dest = Destination {
        bucket: bucket.to_string(),
        multipart_threshold_bytes: ctx
            .config
            .egress
            .as_ref()
            .map_or_else(default_multipart_threshold, |e| e.multipart_threshold_bytes),
        part_size_bytes: ctx.config.egress.as_ref().map_or_else(default_part_size, |e| e.part_size_bytes),
    };
    let client = s3::client().await;
    let objects = upload::upload_all(&client, &dest, uploads, ctx.config.s3_concurrency as usize).await?;
    tracing::info!(bucket, prefix, objects = objects.len(), "archived the raw files");
    Ok(())
}

/// Streams one object to `target` atomically, checksumming it on the way and
/// checking the length S3 announced.
async fn download(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    target: &std::path::Path,
    rel_name: &str,
) -> JobResult<FileEntry> {
    let what = format!("s3://{bucket}/{key}");
    let response = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .map_err(|e| s3::classify(&format!("get {what}"), e))?;
    let expected = response.content_length();
    // With checksum mode on, the SDK checks the bytes against the checksum
    // S3 stored (CRC64-NVME by default for uploads since 2025, or the one
    // an uploader chose) as the body ends, and fails the stream otherwise;
    // objects stored without one are checked by length only.
    let stored_checksum = response.checksum_crc64_nvme().is_some()
        || response.checksum_crc32().is_some()
        || response.checksum_crc32_c().is_some()
        || response.checksum_sha1().is_some()
        || response.checksum_sha256().is_some();
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| JobError::io(parent.display(), e))?;
    }
    let file = AtomicFile::create(target).map_err(|e| JobError::io(target.display(), e))?;
    let mut out = ChecksumWriter::new(file);
    let mut body = response.body;
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => out.write_all(&chunk).map_err(|e| JobError::io(target.display(), e))?,
            Ok(None) => break,
            Err(e) => {
                // The whole chain: the outer error says only "streaming error".
                let e = aws_smithy_types::error::display::DisplayErrorContext(&e);
                return Err(JobError::new(ExitCode::TempFail, format!("reading body of {what}: {e}")));
            }
        }
    }
    let (file, bytes, crc64nvme) = out.finish();
    if let Some(len) = expected
        && len >= 0
        && len as u64 != bytes
    {
        return Err(JobError::retryable(format!("{what}: got {bytes} bytes, S3 announced {len}")));
    }
    file.commit().map_err(|e| JobError::io(target.display(), e))?;
    tracing::debug!(key, bytes, stored_checksum, "downloaded");
    Ok(FileEntry { path: rel_name.to_string(), bytes, crc64nvme })
}
