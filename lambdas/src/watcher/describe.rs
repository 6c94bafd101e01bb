//! The AWS Batch reads. The SDK client retries throttling and transient
//! errors with exponential backoff and jitter
//! ([`crate::runtime::retry_config`]); what is left becomes a `Throttled`
//! or `AwsUnavailable` error for the state machine to retry.

use std::collections::HashMap;

use aws_sdk_batch::types::{JobDetail, JobStatus};

use crate::error::LambdaError;

/// DescribeJobs' limit on ids per call.
pub const DESCRIBE_BATCH: usize = 100;
/// ListJobs page size (the API's maximum).
const LIST_PAGE: i32 = 1000;

/// DescribeJobs for `ids` (deduplicated, 100 per call). Ids Batch does not
/// return are absent from the map (not visible yet, or unknown).
pub async fn describe_jobs(
    client: &aws_sdk_batch::Client,
    ids: &[String],
) -> Result<HashMap<String, JobDetail>, LambdaError> {
    let mut unique: Vec<&String> = ids.iter().collect();
    unique.sort();
    unique.dedup();
    let mut found = HashMap::new();
    for chunk in unique.chunks(DESCRIBE_BATCH) {
        let out = client
            .describe_jobs()
            .set_jobs(Some(chunk.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .map_err(|e| LambdaError::from_sdk("DescribeJobs", e))?;
        for job in out.jobs() {
            if let Some(id) = job.job_id() {
                found.insert(id.to_string(), job.clone());
            }
        }
    }
    Ok(found)
}

/// The indices of `parent`'s FAILED children (ListJobs with `arrayJobId`
/// and status FAILED, all pages), ascending. A child's index is its
/// `arrayProperties.index`, else the `:<index>` suffix of its id.
pub async fn failed_children(client: &aws_sdk_batch::Client, parent: &str) -> Result<Vec<u32>, LambdaError> {
    let what = format!("ListJobs arrayJobId={parent} FAILED");
    let mut pages = client
        .list_jobs()
        .array_job_id(parent)
        .job_status(JobStatus::Failed)
        .max_results(LIST_PAGE)
        .into_paginator()
        .send();
    let mut indices = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| LambdaError::from_sdk(&what, e))?;
        for child in page.job_summary_list() {
            let index = child
                .array_properties()
                .and_then(|a| a.index())
                .and_then(|i| u32::try_from(i).ok())
                .or_else(|| child.job_id().and_then(index_from_child_id));
            match index {
                Some(i) => indices.push(i),
                None => tracing::warn!(parent, child = child.job_id(), "failed child without an index"),
            }
        }
    }
    indices.sort_unstable();
    indices.dedup();
    Ok(indices)
}

/// `<parent>:<index>` -> index.
pub fn index_from_child_id(id: &str) -> Option<u32> {
    id.rsplit_once(':').and_then(|(_, i)| i.parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn child_ids_carry_the_index() {
        assert_eq!(super::index_from_child_id("8b1e-42:17"), Some(17));
        assert_eq!(super::index_from_child_id("8b1e-42"), None);
    }
}
