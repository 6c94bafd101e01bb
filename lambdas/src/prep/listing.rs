//! The run's work items. For S3: every object under the prefix whose key
//! ends with the suffix, with its size, sorted by key (S3 lists in that
//! order already; sorting again makes the split independent of any
//! listing quirk, so a retry computes the same slices).

use batch_jobs::layout::check_data_names;
use batch_jobs::safe_path::SafeRelPath;

use crate::error::{ErrorKind, LambdaError};

/// One S3 object to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceObject {
    /// Full key (starts with the prefix).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
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
            objects.push(SourceObject { key: key.to_string(), size });
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
                    found.push((i, SourceObject { key, size }));
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
