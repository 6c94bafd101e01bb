//! One file from EFS to S3 with the CRC64-NVME its done marker recorded,
//! as S3's own checksum (a full-object checksum for multipart uploads), so
//! S3 refuses an object whose bytes differ from what the stage wrote.
//! egress uploads results with it, procurement the SFTP archive.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart};
use futures_util::StreamExt;
use tokio::sync::Semaphore;

use crate::checksum::{FILE_CHECKSUM, crc64_bytes};
use crate::exit::{ExitCode, JobError, JobResult};
use crate::layout::{EgressSpec, FileEntry, MAX_S3_CONCURRENCY, ObjectEntry};
use crate::stages::s3;

/// Metadata key holding the hex CRC64-NVME of an uploaded object (S3's
/// own checksum header is base64; the metadata matches the marker).
pub const CHECKSUM_METADATA: &str = FILE_CHECKSUM;

/// Where files go and when they go in parts.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The bucket.
    pub bucket: String,
    /// Files at least this large are multipart uploads.
    pub multipart_threshold_bytes: u64,
    /// Part size of multipart uploads.
    pub part_size_bytes: u64,
}

impl From<&EgressSpec> for Destination {
    fn from(spec: &EgressSpec) -> Self {
        Destination {
            bucket: spec.bucket.clone(),
            multipart_threshold_bytes: spec.multipart_threshold_bytes,
            part_size_bytes: spec.part_size_bytes,
        }
    }
}

/// One file to upload: its key, where it is, and its marker entry (size
/// and checksum).
#[derive(Debug, Clone)]
pub struct Upload {
    /// The object key.
    pub key: String,
    /// The file on EFS.
    pub path: std::path::PathBuf,
    /// What its done marker says of it.
    pub entry: FileEntry,
}

/// Uploads every file, `concurrency` requests in flight in all (PUTs and
/// parts share one budget: files go `concurrency` at a time and so do the
/// parts of each one, which would otherwise make concurrency² requests),
/// each retried on throttling and 5xx; the objects in completion order.
pub async fn upload_all(
    client: &aws_sdk_s3::Client,
    dest: &Destination,
    files: Vec<Upload>,
    concurrency: usize,
) -> JobResult<Vec<ObjectEntry>> {
    let requests = Semaphore::new(concurrency);
    let requests = &requests;
    let results: Vec<JobResult<ObjectEntry>> = futures_util::stream::iter(files)
        .map(|file| async move {
            s3::with_retries(&format!("upload {}", file.key), 4, || {
                upload(client, dest, &file.key, &file.path, &file.entry, requests)
            })
            .await
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Uploads one file unless an identical object is already there.
async fn upload(
    client: &aws_sdk_s3::Client,
    dest: &Destination,
    key: &str,
    path: &Path,
    entry: &FileEntry,
    requests: &Semaphore,
) -> JobResult<ObjectEntry> {
    let object = ObjectEntry { key: key.to_string(), bytes: entry.bytes, crc64nvme: entry.crc64nvme.clone() };
    let checksum = s3_checksum(entry)?;
    let multipart = entry.bytes >= dest.multipart_threshold_bytes;
    // Only a large object is worth a HEAD first: a small one costs one PUT
    // either way, and PUTting the same bytes to the same key is idempotent,
    // so a retried node simply overwrites it (a HEAD would double the
    // requests of a typical node: three small results files).
    if multipart && already_uploaded(client, dest, key, entry).await? {
        tracing::debug!(key, "already uploaded; skipping");
        return Ok(object);
    }
    if multipart {
        upload_multipart(client, dest, key, path, entry, &checksum, requests).await?;
    } else {
        let _permit = request_permit(requests).await?;
        let body = put_body(path, entry.bytes).await?;
        client
            .put_object()
            .bucket(&dest.bucket)
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

/// Files up to this size are read into memory in one call on the job's own
/// thread; larger ones (up to the multipart threshold) are streamed. The
/// one thread also drives the other uploads' requests, so a read must stay
/// short on EFS too: 256 KiB is a few milliseconds there.
const READ_WHOLE_BYTES: u64 = 256 << 10;

/// The body of a single PUT. A small file (a node's typical results: the
/// data, its rejects and its stats, a few KB each) is read in one blocking
/// call: streaming it through tokio's file API costs a thread of the
/// blocking pool and two thread handoffs per read, which was more CPU
/// than the read itself (issue #18: 10,000 egress processes).
async fn put_body(path: &Path, bytes: u64) -> JobResult<ByteStream> {
    let read_error = |e: std::io::Error| JobError::retryable(format!("reading {}: {e}", path.display()));
    if bytes <= READ_WHOLE_BYTES {
        return std::fs::read(path).map(ByteStream::from).map_err(read_error);
    }
    ByteStream::from_path(path).await.map_err(|e| read_error(std::io::Error::other(e)))
}

/// True if `key` already holds this file (same size and checksum metadata).
async fn already_uploaded(
    client: &aws_sdk_s3::Client,
    dest: &Destination,
    key: &str,
    entry: &FileEntry,
) -> JobResult<bool> {
    match client.head_object().bucket(&dest.bucket).key(key).send().await {
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
    dest: &Destination,
    key: &str,
    path: &Path,
    entry: &FileEntry,
    checksum: &str,
    requests: &Semaphore,
) -> JobResult<()> {
    let created = client
        .create_multipart_upload()
        .bucket(&dest.bucket)
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
    let part_size = dest.part_size_bytes;
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
                        .bucket(&dest.bucket)
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
                .bucket(&dest.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            return Err(e);
        }
    };
    client
        .complete_multipart_upload()
        .bucket(&dest.bucket)
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
