//! The embedded S3's storage: s3s-fs for every operation, except the
//! PutObject of a whole body up to [`INLINE_PUT_BYTES`], which is written
//! here with plain blocking file calls on the server's own thread.
//!
//! Why: s3s-fs does each file operation through tokio's file API, so one
//! small PUT (object, attributes and internal info: a temporary file, its
//! writes, a flush, a directory creation and a rename each) made about
//! fifteen round trips to tokio's blocking pool, each a futex wake and two
//! context switches. At 10,000 nodes (40,000 PUTs) those handoffs were
//! about a third of the runner's CPU (perf, BENCHMARKS.md "Local
//! runner"), far more than the file calls themselves, which take
//! microseconds on the local folder this serves.
//!
//! What is written is exactly what s3s-fs writes (the same files, names
//! and JSON), so its GetObject, HeadObject, ListObjectsV2 and the rest
//! read these objects as their own: tests/embedded_s3.rs checks that
//! round trip. Two things are closer to S3 than s3s-fs: a PUT refused for
//! its checksum writes nothing (s3s-fs checks after writing), and
//! `If-None-Match: *` is atomic (a hard link, which fails if the key
//! exists). Bodies beyond [`INLINE_PUT_BYTES`], directory keys, `Expires`
//! and conditional writes on an ETag (If-Match) go to s3s-fs unchanged.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::TryStreamExt;
use path_absolutize::Absolutize;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use serde::Serialize;

/// The largest body written here (the jobs' small results, manifests and
/// ledger records); larger ones stream through s3s-fs to disk instead of
/// being held in memory.
pub const INLINE_PUT_BYTES: i64 = 8 << 20;

/// s3s-fs's storage with the fast PutObject.
pub struct Store {
    fs: s3s_fs::FileSystem,
    /// The canonical root, as s3s-fs resolves it.
    root: PathBuf,
    tmp_counter: AtomicU64,
}

impl Store {
    /// The buckets under `root` (created by the caller).
    pub fn new(root: &Path) -> anyhow::Result<Self> {
        let fs = s3s_fs::FileSystem::new(root)
            .map_err(|e| anyhow::anyhow!("opening the S3 directory {}: {e:?}", root.display()))?;
        // As s3s_fs::FileSystem::new resolves it.
        let root = std::env::current_dir()?.join(root).canonicalize()?;
        Ok(Store { fs, root, tmp_counter: AtomicU64::new(0) })
    }

    /// A path under the root, refused if it would leave it (s3s-fs's rule;
    /// it keeps a path under the root, not under its bucket: keys.rs
    /// refuses the keys that would leave their bucket before they get here).
    fn resolve(&self, path: impl AsRef<Path>) -> S3Result<PathBuf> {
        match path.as_ref().absolutize_virtually(&self.root) {
            Ok(p) => Ok(p.into_owned()),
            Err(e) => Err(s3_error!(e, InvalidArgument, "the path leaves the S3 folder")),
        }
    }

    /// s3s-fs's side files: `.bucket-<b64>.object-<b64>.<kind>.json`.
    fn side_file(&self, bucket: &str, key: &str, kind: &str) -> S3Result<PathBuf> {
        let encode = |s: &str| base64_simd::URL_SAFE_NO_PAD.encode_to_string(s);
        self.resolve(format!(".bucket-{}.object-{}.{kind}.json", encode(bucket), encode(key)))
    }

    /// Writes `chunks` to `dest` through a temporary file, as s3s-fs's
    /// `prepare_file_write`/`done` (its temporary names too, so that s3s-fs
    /// removes leftovers of a crash when it starts). `create_only`: the
    /// file is linked to `dest` instead of renamed over it, which fails if
    /// `dest` exists: S3's atomic `If-None-Match: *`, which s3s-fs checks
    /// before writing (two claims could both win). `Ok(false)`: `dest`
    /// existed and nothing was written.
    fn write_atomically(&self, dest: &Path, chunks: &[&[u8]], create_only: bool) -> std::io::Result<bool> {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self.root.join(format!(".tmp.put-{n}.internal.part"));
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            for chunk in chunks {
                file.write_all(chunk)?;
            }
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if !create_only {
                return std::fs::rename(&tmp, dest).map(|()| true);
            }
            match std::fs::hard_link(&tmp, dest) {
                // Only the link's own refusal means the key exists (a
                // directory creation can fail the same way for other causes).
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                linked => linked.map(|()| true),
            }
        })();
        if written.is_err() || create_only {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// PutObject of an in-memory body; `Err` hands the request back for
    /// s3s-fs to serve.
    async fn put_inline(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> Result<S3Result<S3Response<PutObjectOutput>>, S3Request<PutObjectInput>> {
        let input = &req.input;
        let inline = input.body.is_some()
            && input.content_length.is_some_and(|n| n <= INLINE_PUT_BYTES)
            && !input.key.ends_with('/')
            && input.if_match.is_none()
            && input.expires.is_none();
        if !inline {
            return Err(req);
        }
        Ok(self.put_whole(req).await)
    }

    async fn put_whole(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let mut input = req.input;
        if let Some(class) = &input.storage_class
            && !["STANDARD", "REDUCED_REDUNDANCY"].contains(&class.as_str())
        {
            return Err(s3_error!(InvalidStorageClass));
        }
        let Some(mut body) = input.body.take() else { return Err(s3_error!(IncompleteBody)) };
        let object_path = self.resolve(Path::new(&input.bucket).join(&input.key))?;
        let create_only = input.if_none_match.as_ref().is_some_and(|c| c.is_any());
        if create_only && object_path.exists() {
            return Err(s3_error!(PreconditionFailed, "Object already exists"));
        }
        // Each checksum the request gives, and the one it names.
        let mut checksum = ChecksumHasher {
            crc32: input.checksum_crc32.as_ref().map(|_| Default::default()),
            crc32c: input.checksum_crc32c.as_ref().map(|_| Default::default()),
            sha1: input.checksum_sha1.as_ref().map(|_| Default::default()),
            sha256: input.checksum_sha256.as_ref().map(|_| Default::default()),
            crc64nvme: input.checksum_crc64nvme.as_ref().map(|_| Default::default()),
        };
        if let Some(alg) = &input.checksum_algorithm {
            match alg.as_str() {
                ChecksumAlgorithm::CRC32 => checksum.crc32 = Some(Default::default()),
                ChecksumAlgorithm::CRC32C => checksum.crc32c = Some(Default::default()),
                ChecksumAlgorithm::SHA1 => checksum.sha1 = Some(Default::default()),
                ChecksumAlgorithm::SHA256 => checksum.sha256 = Some(Default::default()),
                ChecksumAlgorithm::CRC64NVME => checksum.crc64nvme = Some(Default::default()),
                _ => return Err(s3_error!(NotImplemented, "Unsupported checksum algorithm")),
            }
        }
        // The body arrives from the socket: gathered asynchronously, then
        // checked and written in one go; never more than the length the
        // request announced (for a streamed body, its decoded length, which
        // the decoder does not enforce).
        let limit = input.content_length.unwrap_or(0).max(0) as usize;
        let mut chunks: Vec<bytes::Bytes> = Vec::new();
        let mut size = 0usize;
        let mut md5 = Md5::new();
        while let Some(chunk) = body.try_next().await.map_err(body_error)? {
            size += chunk.len();
            if size > limit {
                return Err(s3_error!(
                    InvalidRequest,
                    "the body is longer than its Content-Length ({limit} bytes)"
                ));
            }
            md5.update(&chunk);
            checksum.update(&chunk);
            chunks.push(chunk);
        }
        let md5_sum = hex_simd::encode_to_string(md5.finalize(), hex_simd::AsciiCase::Lower);
        if let Some(content_md5) = &input.content_md5 {
            let given =
                base64_simd::STANDARD.decode_to_vec(content_md5).map_err(|_| s3_error!(InvalidArgument))?;
            if hex_simd::encode_to_string(given, hex_simd::AsciiCase::Lower) != md5_sum {
                return Err(s3_error!(BadDigest, "content_md5 mismatch"));
            }
        }
        // A streamed (aws-chunked) body's checksum comes after it, in the
        // trailer, which the body's end has made available.
        if let Some(trailers) = req.trailing_headers.and_then(|t| t.take()) {
            for (header, field) in [
                ("x-amz-checksum-crc32", &mut input.checksum_crc32),
                ("x-amz-checksum-crc32c", &mut input.checksum_crc32c),
                ("x-amz-checksum-sha1", &mut input.checksum_sha1),
                ("x-amz-checksum-sha256", &mut input.checksum_sha256),
                ("x-amz-checksum-crc64nvme", &mut input.checksum_crc64nvme),
            ] {
                if let Some(value) = trailers.get(header) {
                    *field = Some(value.to_str().map_err(|_| s3_error!(InvalidArgument))?.to_owned());
                }
            }
        }
        // Each sum must be what the request gave; the ones computed go in
        // the internal info beside the ETag, as s3s-fs keeps them.
        let sums = checksum.finalize();
        let mut info = serde_json::Map::new();
        info.insert("e_tag".into(), md5_sum.clone().into());
        for (name, given, got) in [
            ("crc32", &input.checksum_crc32, &sums.checksum_crc32),
            ("crc32c", &input.checksum_crc32c, &sums.checksum_crc32c),
            ("sha1", &input.checksum_sha1, &sums.checksum_sha1),
            ("sha256", &input.checksum_sha256, &sums.checksum_sha256),
            ("crc64nvme", &input.checksum_crc64nvme, &sums.checksum_crc64nvme),
        ] {
            if given != got {
                return Err(s3_error!(
                    BadDigest,
                    "checksum_{name} mismatch: expected `{}`, got `{}`",
                    given.as_deref().unwrap_or_default(),
                    got.as_deref().unwrap_or_default()
                ));
            }
            if let Some(sum) = got {
                info.insert(format!("checksum_{name}"), sum.clone().into());
            }
        }
        let PutObjectInput {
            bucket,
            key,
            metadata,
            content_encoding,
            content_type,
            content_disposition,
            content_language,
            cache_control,
            website_redirect_location,
            ..
        } = input;
        let attributes = ObjectAttributes {
            user_metadata: metadata,
            content_encoding,
            content_type,
            content_disposition,
            content_language,
            cache_control,
            expires: None,
            website_redirect_location,
        };
        let attributes = serde_json::to_vec(&attributes).map_err(|e| s3_error!(e, InternalError))?;
        let info = serde_json::to_vec(&info).map_err(|e| s3_error!(e, InternalError))?;
        let (metadata_path, info_path) =
            (self.side_file(&bucket, &key, "metadata")?, self.side_file(&bucket, &key, "internal")?);
        // s3s-fs's order: the object, its attributes, its internal info.
        // Nothing is written before the checks above: a refused PUT leaves
        // the key as it was, as in S3.
        let data: Vec<&[u8]> = chunks.iter().map(|c| c.as_ref()).collect();
        let write = |path: &Path, chunks: &[&[u8]], create_only: bool| {
            self.write_atomically(path, chunks, create_only)
                .map_err(|e| s3_error!(e, InternalError, "writing {}", path.display()))
        };
        if !write(&object_path, &data, create_only)? {
            return Err(s3_error!(PreconditionFailed, "Object already exists"));
        }
        write(&metadata_path, &[&attributes], false)?;
        write(&info_path, &[&info], false)?;
        tracing::debug!(path = %object_path.display(), size, "embedded S3: put");
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(md5_sum)),
            checksum_crc32: sums.checksum_crc32,
            checksum_crc32c: sums.checksum_crc32c,
            checksum_sha1: sums.checksum_sha1,
            checksum_sha256: sums.checksum_sha256,
            checksum_crc64nvme: sums.checksum_crc64nvme,
            ..Default::default()
        }))
    }
}

/// An error of the request's body: the decoder's own S3 error as it is (a
/// bad chunk signature stays `SignatureDoesNotMatch`), else the body ended
/// early.
fn body_error(e: s3s::StdError) -> s3s::S3Error {
    match e.downcast::<s3s::S3Error>() {
        Ok(e) => *e,
        Err(e) => s3_error!(IncompleteBody, "reading the body: {e}"),
    }
}

/// s3s-fs's `ObjectAttributes` (private to it): the same fields, names and
/// omissions, so its reads parse what is written here.
#[derive(Serialize)]
struct ObjectAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_metadata: Option<Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    website_redirect_location: Option<String>,
}

/// Every operation s3s-fs implements, passed to it; PutObject first tries
/// the inline path.
#[async_trait::async_trait]
impl S3 for Store {
    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        match self.put_inline(req).await {
            Ok(done) => done,
            Err(req) => self.fs.put_object(req).await,
        }
    }
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }
    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        self.fs.copy_object(req).await
    }
    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.fs.delete_bucket(req).await
    }
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.fs.delete_object(req).await
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.fs.delete_objects(req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.fs.get_bucket_location(req).await
    }
    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        self.fs.get_object(req).await
    }
    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }
    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        self.fs.head_object(req).await
    }
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.fs.list_buckets(req).await
    }
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.fs.list_objects(req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.fs.list_objects_v2(req).await
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.fs.create_multipart_upload(req).await
    }
    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        self.fs.upload_part(req).await
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.fs.upload_part_copy(req).await
    }
    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        self.fs.list_parts(req).await
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.fs.complete_multipart_upload(req).await
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.fs.abort_multipart_upload(req).await
    }
}
