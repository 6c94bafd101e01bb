//! Keeping the tags of parts that already exist in step with the
//! configuration. Tags are sent with every create, but a change of `tags`
//! (or of the provider's `default_tags`) must reach the parts made before.
//!
//! Tags AWS reserves (`aws:`) are left alone; every other tag not wanted
//! any more is removed, as `tags_all` in the state promises.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_efs::types::Tag;

use super::wait::aws_error;
use crate::tfplugin::Diagnostics;

/// What to add (or change) and what to remove to turn `current` into
/// `wanted`.
fn plan<'a>(
    current: impl IntoIterator<Item = (&'a str, &'a str)>,
    wanted: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let current: BTreeMap<&str, &str> = current.into_iter().collect();
    let set = wanted
        .iter()
        .filter(|(k, v)| current.get(k.as_str()) != Some(&v.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = current
        .keys()
        .filter(|k| !wanted.contains_key(**k) && !k.starts_with("aws:"))
        .map(|k| k.to_string())
        .collect();
    (set, remove)
}

/// An AWS Batch resource (compute environment, queue, job definition).
pub async fn sync_batch(
    batch: &aws_sdk_batch::Client,
    arn: &str,
    wanted: &BTreeMap<String, String>,
) -> Result<(), Diagnostics> {
    let out = batch
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error("ListTagsForResource", e))?;
    let current = out.tags().map(|t| t.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (set, remove) = plan(current.into_iter().flatten(), wanted);
    if !remove.is_empty() {
        batch
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| aws_error("UntagResource", e))?;
    }
    if !set.is_empty() {
        batch
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(set.into_iter().collect::<HashMap<_, _>>()))
            .send()
            .await
            .map_err(|e| aws_error("TagResource", e))?;
    }
    Ok(())
}

/// An EFS file system or access point (by id).
pub async fn sync_efs(
    efs: &aws_sdk_efs::Client,
    id: &str,
    wanted: &BTreeMap<String, String>,
) -> Result<(), Diagnostics> {
    let out = efs
        .list_tags_for_resource()
        .resource_id(id)
        .send()
        .await
        .map_err(|e| aws_error("ListTagsForResource", e))?;
    let (set, remove) = plan(out.tags().iter().map(|t| (t.key(), t.value())), wanted);
    if !remove.is_empty() {
        efs.untag_resource()
            .resource_id(id)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| aws_error("UntagResource", e))?;
    }
    if !set.is_empty() {
        let tags = efs_tag_list(&set)?;
        efs.tag_resource()
            .resource_id(id)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error("TagResource", e))?;
    }
    Ok(())
}

/// Tags as EFS takes them.
pub fn efs_tag_list(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, Diagnostics> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| aws_error("Tag", e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_and_new_tags_are_set_stale_ones_removed_and_aws_ones_kept() {
        let wanted: BTreeMap<String, String> = [("team", "data"), ("owner", "ops")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let current = [("team", "data"), ("owner", "tests"), ("old", "x"), ("aws:cloudformation:stack", "s")];
        let (set, remove) = plan(current, &wanted);
        assert_eq!(set.into_iter().collect::<Vec<_>>(), vec![("owner".to_string(), "ops".to_string())]);
        assert_eq!(remove, vec!["old".to_string()]);
    }
}
