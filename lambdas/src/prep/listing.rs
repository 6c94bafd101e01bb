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
