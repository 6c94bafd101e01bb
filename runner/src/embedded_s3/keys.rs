//! Which keys the embedded S3 takes. S3 keys are plain names, and
//! `a/../b` is a key like any other in S3; here keys are file paths under
//! the bucket's directory, and s3s-fs's path rule (resolved under the S3
//! folder, not the bucket) let `../other-bucket/x` or `../../x` write into
//! another bucket or beside the buckets' own bookkeeping. A key with a
//! `.` or `..` segment is therefore refused, by every operation that names
//! one: in the request's path, as a copy's source, in a batch delete. The
//! pipeline's own keys never have one (the jobs refuse such names).

use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::{CopyObjectInput, CopySource, DeleteObjectsInput, UploadPartCopyInput};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};

/// The access rule of the embedded S3: signed requests only (s3s's
/// default) and keys that stay in their bucket.
pub struct KeysStayInTheirBucket;

/// Refuses `key` if a `/`-separated segment of it is `.` or `..`.
pub fn check_key(key: &str) -> S3Result<()> {
    if key.split('/').any(|segment| segment == "." || segment == "..") {
        return Err(s3_error!(
            InvalidArgument,
            "key {key:?} has a \".\" or \"..\" segment: the local runner's S3 keeps keys as file paths and refuses these (S3 itself takes them as plain names)"
        ));
    }
    Ok(())
}

fn check_copy_source(source: &CopySource) -> S3Result<()> {
    match source {
        CopySource::Bucket { key, .. } => check_key(key),
        CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => {
            Err(s3_error!(NotImplemented, "copies from an access point or an outpost"))
        }
    }
}

#[async_trait::async_trait]
impl S3Access for KeysStayInTheirBucket {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        }
        match cx.s3_path() {
            S3Path::Object { key, .. } => check_key(key),
            S3Path::Root | S3Path::Bucket { .. } => Ok(()),
        }
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        check_copy_source(&req.input.copy_source)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        check_copy_source(&req.input.copy_source)
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        req.input.delete.objects.iter().try_for_each(|object| check_key(&object.key))
    }
}

#[cfg(test)]
mod tests {
    use crate::embedded_s3::keys::check_key;

    #[test]
    fn dot_segments_are_refused_and_dots_in_names_are_not() {
        for key in ["..", ".", "../x", "a/../../x", "a/./b", "a/..", "./a"] {
            assert!(check_key(key).is_err(), "{key}");
        }
        for key in ["a.b", "..a", "a..", "a/...", ".hidden/x", "a/b.json", "a//b", ""] {
            assert!(check_key(key).is_ok(), "{key}");
        }
    }
}
