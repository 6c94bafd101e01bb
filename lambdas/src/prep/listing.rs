//! The run's work items. For S3: every object under the prefix whose key
//! ends with the suffix, with its size, sorted by key (S3 lists in that
//! order already; sorting again makes the split independent of any
//! listing quirk, so a retry computes the same slices). For SFTP: every
//! regular file in the directory whose name matches the glob, with its
//! size and mtime, sorted by path.

use batch_jobs::layout::{SftpSource, check_data_names};
use batch_jobs::safe_path::SafeRelPath;
use batch_jobs::sftp::SftpClient;
use batch_jobs::{ExitCode, JobError};

use crate::error::{ErrorKind, LambdaError};

/// One S3 object or SFTP file to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceObject {
    /// Full key (starts with the prefix), or the path below the SFTP
    /// directory.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, Unix seconds (SFTP files: procurement refuses a
    /// file whose size or mtime differs from the listing's).
    pub mtime: Option<u64>,
    /// The S3 object's ETag (an incremental run's identity of it).
    pub etag: Option<String>,
}

/// How many unsafe keys an error message quotes.
const QUOTED_BAD_KEYS: usize = 5;

/// Lists `s3://bucket/prefix*suffix` (all pages), skipping folder markers
/// (keys ending in `/`). Fails with `InvalidSource` if a key could not be
/// stored under `data/` safely (the jobs would refuse it anyway, after
/// the run had started).
pub async fn list_s3(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    suffix: &str,
) -> Result<Vec<SourceObject>, LambdaError> {
    let what = format!("ListObjectsV2 s3://{bucket}/{prefix}");
    let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    let mut objects = Vec::new();
    let mut bad = Vec::new();
    let mut bad_count = 0usize;
    let mut page_count = 0u32;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| LambdaError::from_sdk(&what, e))?;
        page_count += 1;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            if key.ends_with('/') || !key.ends_with(suffix) {
                continue;
            }
            let Some(relative) = key.strip_prefix(prefix).filter(|r| !r.is_empty()) else { continue };
            if let Err(e) = SafeRelPath::new("source key", relative) {
                bad_count += 1;
                if bad.len() < QUOTED_BAD_KEYS {
                    bad.push(format!("{key:?} ({})", e.reason));
                }
                continue;
            }
            let size = object.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
            let etag = object.e_tag().map(str::to_string);
            objects.push(SourceObject { key: key.to_string(), size, mtime: None, etag });
        }
    }
    if bad_count > 0 {
        return Err(LambdaError::new(
            ErrorKind::InvalidSource,
            format!(
                "{bad_count} key(s) under s3://{bucket}/{prefix} cannot be stored as files under a node's data/: {}",
                bad.join(", ")
            ),
        ));
    }
    // Names the jobs would refuse together (one that is another's
    // directory) or beside their own files (`*.rejects.jsonl`,
    // `_manifest.json`, ...): refused here, for the whole listing, rather
    // than by procurement at some index after the run has started.
    check_data_names(objects.iter().map(|o| &o.key[prefix.len()..])).map_err(|e| {
        LambdaError::new(ErrorKind::InvalidSource, format!("source s3://{bucket}/{prefix}: {e}"))
    })?;
    objects.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    tracing::info!(bucket, prefix, suffix, pages = page_count, objects = objects.len(), "listed source");
    Ok(objects)
}

/// Lists the SFTP source's directory (one connection, closed after). Names
/// the jobs could not store under `data/` are refused for the whole
/// listing, as for S3.
pub async fn list_sftp(
    secrets: &aws_sdk_secretsmanager::Client,
    source: &SftpSource,
) -> Result<Vec<SourceObject>, LambdaError> {
    let client = SftpClient::load(secrets, source).await.map_err(sftp_error)?;
    let session = client.connect().await.map_err(sftp_error)?;
    let files = session.list(&source.directory, &source.glob, source.recursive).await.map_err(sftp_error)?;
    drop(session);
    let server = client.server();
    let mut bad = Vec::new();
    let mut bad_count = 0usize;
    for file in &files {
        // The SFTP client decodes names lossily: a name that is not UTF-8
        // on the server arrives with U+FFFD and could not be opened again.
        let reason = if file.path.contains('\u{FFFD}') {
            Some("is not valid UTF-8 on the server")
        } else {
            SafeRelPath::new("source file", &file.path).err().map(|e| e.reason)
        };
        if let Some(reason) = reason {
            bad_count += 1;
            if bad.len() < QUOTED_BAD_KEYS {
                bad.push(format!("{:?} ({reason})", file.path));
            }
        }
    }
    if bad_count > 0 {
        return Err(LambdaError::new(
            ErrorKind::InvalidSource,
            format!(
                "{bad_count} file(s) in {server}:{} cannot be stored as files under a node's data/: {}",
                source.directory,
                bad.join(", ")
            ),
        ));
    }
    check_data_names(files.iter().map(|f| f.path.as_str())).map_err(|e| {
        LambdaError::new(ErrorKind::InvalidSource, format!("source {server}:{}: {e}", source.directory))
    })?;
    tracing::info!(
        server,
        directory = source.directory,
        glob = source.glob,
        files = files.len(),
        "listed source"
    );
    Ok(files
        .into_iter()
        .map(|f| SourceObject { key: f.path, size: f.size, mtime: Some(f.mtime), etag: None })
        .collect())
}

/// The SFTP client's exit-code classes as prep error types: a server that
/// cannot be reached now is retried like an unavailable AWS API; a
/// setting (host key, private key) is the event's fault; a refused key, a
/// missing directory or an unusable file is the source's.
fn sftp_error(e: JobError) -> LambdaError {
    let kind = match e.exit {
        ExitCode::TempFail => ErrorKind::AwsUnavailable,
        ExitCode::Config | ExitCode::Usage => ErrorKind::InvalidEvent,
        ExitCode::NoPermission | ExitCode::NoInput | ExitCode::DataError => ErrorKind::InvalidSource,
        ExitCode::Success | ExitCode::Software => ErrorKind::Internal,
    };
    LambdaError::new(kind, e.message)
}

/// HeadObjects in flight at once for [`head_keys`].
const HEAD_CONCURRENCY: usize = 32;

/// The objects `overrides.keys` names (relative to `prefix`; already
/// checked and sorted), with their sizes. A key that does not exist fails
/// the whole run with `InvalidSource` naming it (and up to four more), so
/// a typo is not silently a smaller run.
pub async fn head_keys(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    keys: &[String],
) -> Result<Vec<SourceObject>, LambdaError> {
    let mut objects = Vec::with_capacity(keys.len());
    let mut missing = Vec::new();
    let mut missing_count = 0usize;
    for chunk in keys.chunks(HEAD_CONCURRENCY) {
        let mut heads = tokio::task::JoinSet::new();
        for (i, rel) in chunk.iter().enumerate() {
            let key = format!("{prefix}{rel}");
            let request = client.head_object().bucket(bucket).key(&key);
            heads.spawn(async move { (i, key, request.send().await) });
        }
        let mut found = Vec::with_capacity(chunk.len());
        while let Some(joined) = heads.join_next().await {
            let (i, key, result) =
                joined.map_err(|e| LambdaError::internal(format!("HeadObject task: {e}")))?;
            match result {
                Ok(head) => {
                    let size = head.content_length().and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
                    let etag = head.e_tag().map(str::to_string);
                    found.push((i, SourceObject { key, size, mtime: None, etag }));
                }
                Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {
                    missing_count += 1;
                    if missing.len() < QUOTED_BAD_KEYS {
                        missing.push(format!("{:?}", chunk[i]));
                    }
                }
                Err(e) => return Err(LambdaError::from_sdk(&format!("HeadObject s3://{bucket}/{key}"), e)),
            }
        }
        // Back in the (sorted) order given, whatever order the calls ended in.
        found.sort_unstable_by_key(|(i, _)| *i);
        objects.extend(found.into_iter().map(|(_, object)| object));
    }
    if missing_count > 0 {
        missing.sort();
        return Err(LambdaError::new(
            ErrorKind::InvalidSource,
            format!(
                "overrides.keys: {missing_count} key(s) not found under s3://{bucket}/{prefix}: {}",
                missing.join(", ")
            ),
        ));
    }
    tracing::info!(bucket, prefix, objects = objects.len(), "found the keys named in overrides.keys");
    Ok(objects)
}
