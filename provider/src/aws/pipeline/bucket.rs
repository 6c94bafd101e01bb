//! The egress bucket: created encrypted with public access blocked, or an
//! existing one used as is. Deleted (with its objects) only on force_destroy.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};

use super::names::NAME_TAG;
use super::wait::aws_error;
use crate::tfplugin::{AttributePath, Diagnostic, Diagnostics};

pub async fn exists(s3: &Client, name: &str) -> Result<bool, Diagnostics> {
    match s3.head_bucket().bucket(name).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
        Err(e) => Err(aws_error(&format!("HeadBucket {name}"), e)),
    }
}

pub async fn ensure(
    s3: &Client,
    name: &str,
    create: bool,
    region: &str,
    tags: &BTreeMap<String, String>,
) -> Result<String, Diagnostics> {
    let arn = format!("arn:aws:s3:::{name}");
    if exists(s3, name).await? {
        if !create {
            return Ok(arn);
        }
        check_owner(s3, name, tags).await?;
    } else if !create {
        return Err(Diagnostic::error(
            "Egress bucket not found",
            format!("egress_bucket.name {name:?} does not exist and egress_bucket.create is false."),
        )
        .into());
    } else {
        let mut request = s3.create_bucket().bucket(name);
        if region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        request.send().await.map_err(|e| aws_error(&format!("CreateBucket {name}"), e))?;
        // Tagged first: the tag is how a later apply knows the bucket is
        // this pipeline's (see `check_owner`). An untagged bucket would be
        // refused by every retry, so if tagging fails the bucket, still
        // empty, goes again.
        if let Err(d) = put_tags(s3, name, tags).await {
            let _ = s3.delete_bucket().bucket(name).send().await;
            return Err(d);
        }
    }
    // Applied on every converge: a created bucket keeps these settings.
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .map_err(|e| aws_error("ServerSideEncryptionByDefault", e))?,
        )
        .build();
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| aws_error("Encryption", e))?,
        )
        .send()
        .await
        .map_err(|e| aws_error("PutBucketEncryption", e))?;
    s3.put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("PutPublicAccessBlock", e))?;
    put_tags(s3, name, tags).await?;
    Ok(arn)
}

async fn put_tags(s3: &Client, name: &str, tags: &BTreeMap<String, String>) -> Result<(), Diagnostics> {
    if tags.is_empty() {
        return Ok(());
    }
    let tag_set = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(|e| aws_error("Tag", e)))
        .collect::<Result<Vec<_>, _>>()?;
    s3.put_bucket_tagging()
        .bucket(name)
        .tagging(Tagging::builder().set_tag_set(Some(tag_set)).build().map_err(|e| aws_error("Tagging", e))?)
        .send()
        .await
        .map_err(|e| aws_error("PutBucketTagging", e))?;
    Ok(())
}

/// The pipeline a bucket belongs to: its `batch-pipeline:name` tag.
async fn owner_of(s3: &Client, name: &str) -> Result<Option<String>, Diagnostics> {
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(out.tag_set().iter().find(|t| t.key() == NAME_TAG).map(|t| t.value().to_string())),
        Err(e) if e.as_service_error().and_then(|s| s.meta().code()) == Some("NoSuchTagSet") => Ok(None),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
        Err(e) => Err(aws_error(&format!("GetBucketTagging {name}"), e)),
    }
}

/// Whether the bucket exists and belongs to the pipeline `pipeline`.
pub async fn owned_by(s3: &Client, name: &str, pipeline: &str) -> Result<bool, Diagnostics> {
    if !exists(s3, name).await? {
        return Ok(false);
    }
    Ok(owner_of(s3, name).await?.as_deref() == Some(pipeline))
}

/// With `create = true`, a bucket that already exists is adopted only if
/// this pipeline made it (an earlier apply that failed later, or a destroy
/// that kept it): the pipeline would rewrite its encryption, public access
/// block and tags, and `force_destroy` would delete it with its objects.
async fn check_owner(s3: &Client, name: &str, tags: &BTreeMap<String, String>) -> Result<(), Diagnostics> {
    let Some(pipeline) = tags.get(NAME_TAG) else { return Ok(()) };
    let owner = owner_of(s3, name).await?;
    if owner.as_ref() == Some(pipeline) {
        return Ok(());
    }
    let found = match &owner {
        Some(other) => format!("it belongs to the pipeline {other:?}"),
        None => format!("it has no tag {NAME_TAG} = {pipeline:?}"),
    };
    Err(Diagnostic::error(
        "Egress bucket already exists",
        format!(
            "egress_bucket.name {name:?} exists and was not created by this pipeline ({found}). With egress_bucket.create = true the pipeline would take it over (encryption, public access block, tags) and force_destroy would delete it with its objects. Set egress_bucket.create = false to use it as it is, or choose another name."
        ),
    )
    .with_path(AttributePath::attr("egress_bucket").then_index(0).then_attr("name"))
    .into())
}

/// Empties (every version) and deletes the bucket.
pub async fn delete(s3: &Client, name: &str) -> Result<(), Diagnostics> {
    if !exists(s3, name).await? {
        return Ok(());
    }
    loop {
        let page = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1000)
            .send()
            .await
            .map_err(|e| aws_error("ListObjectVersions", e))?;
        let mut ids = Vec::new();
        for v in page.versions() {
            ids.push((v.key().unwrap_or_default().to_string(), v.version_id().map(str::to_string)));
        }
        for m in page.delete_markers() {
            ids.push((m.key().unwrap_or_default().to_string(), m.version_id().map(str::to_string)));
        }
        if ids.is_empty() {
            break;
        }
        let objects = ids
            .into_iter()
            .map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version)
                    .build()
                    .map_err(|e| aws_error("ObjectIdentifier", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        s3.delete_objects()
            .bucket(name)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(|e| aws_error("Delete", e))?,
            )
            .send()
            .await
            .map_err(|e| aws_error("DeleteObjects", e))?;
    }
    s3.delete_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(|e| aws_error(&format!("DeleteBucket {name}"), e))?;
    Ok(())
}
