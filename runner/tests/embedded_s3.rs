//! `--s3-dir`: the data plane's S3 served by the runner itself. A small
//! pipeline runs through it without moto, and what it leaves is read back
//! through the same server: every object, its bytes against the checksum
//! egress sent, and the run summary. The server refuses what S3 refuses:
//! a body that does not match its checksum, a request signed with another
//! secret; and what it cannot store as files: keys with `.` or `..`
//! segments, which s3s-fs would have resolved outside their bucket.

mod binaries;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use batch_jobs::checksum::{crc64_bytes, crc64_hex};
use batch_runner::embedded_s3::EmbeddedS3;
use binaries::{build_binaries, definition, outcome, run_command};
use serde_json::{Value, json};

const KEY_ID: &str = "embedded-key";
const SECRET: &str = "embedded-secret";

fn client(endpoint: &str, secret: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(KEY_ID, secret, None, None, "test"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[test]
fn a_pipeline_runs_through_the_embedded_s3_with_its_checksums() {
    build_binaries();
    let dir = tempfile::tempdir().unwrap();
    let s3_dir = dir.path().join("s3");
    // The egress bucket, as Terraform would have made it: a folder.
    std::fs::create_dir_all(s3_dir.join("out")).unwrap();
    let input = dir.path().join("input.json");
    let config = json!({
        "version": 1, "pipeline": "t", "efs_mount_path": "/mnt/efs",
        "source": {"type": "synthetic", "count": 400, "format": "yelp-jsonl"},
        "items_per_node": 40,
        "transform": {"kind": "jsonl_calc", "calculations": ["review_score = stars * review_count"]},
        "egress": {"bucket": "out", "prefix": "results"},
    });
    std::fs::write(&input, json!({"config": config, "overrides": {}}).to_string()).unwrap();
    let summary = dir.path().join("summary.json");
    // No moto: nothing but the embedded S3 answers for AWS here.
    let out = run_command(&definition(), &input, &dir.path().join("efs"), &summary)
        .arg("--s3-dir")
        .arg(&s3_dir)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_PROFILE")
        .envs([("AWS_ACCESS_KEY_ID", KEY_ID), ("AWS_SECRET_ACCESS_KEY", SECRET), ("AWS_REGION", "us-east-1")])
        .output()
        .unwrap();
    let (ok, s, stderr) = outcome(&out, &summary);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["records_in"], 400);
    assert_eq!(s["records_clean"].as_u64().unwrap() + s["records_rejected"].as_u64().unwrap(), 400);
    let objects = s["output_objects"].as_u64().unwrap();
    assert!(objects >= 10, "{s:#}");
    let run_id = s["run_id"].as_str().unwrap().to_string();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let server = EmbeddedS3::start(&s3_dir, KEY_ID, SECRET).await.unwrap();
        let s3 = client(&server.endpoint(), SECRET);
        let mut keys = vec![];
        let mut pages = s3.list_objects_v2().bucket("out").prefix("results/").into_paginator().send();
        while let Some(page) = pages.next().await {
            keys.extend(page.unwrap().contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        let summary_key = format!("results/{run_id}/_run_summary.json");
        assert!(keys.contains(&summary_key), "{keys:?}");
        // Each node's manifest (written last, without a checksum) and its results.
        let manifests = keys.iter().filter(|k| k.ends_with("/_manifest.json")).count();
        assert_eq!(manifests, 10, "{keys:?}");
        let results: Vec<_> =
            keys.iter().filter(|k| **k != summary_key && !k.ends_with("/_manifest.json")).collect();
        assert_eq!(results.len() as u64, objects, "{keys:?}");
        for key in results {
            let got = s3
                .get_object()
                .bucket("out")
                .key(key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap_or_else(|e| panic!("get {key}: {e:?}"));
            // What egress sent: the marker's checksum as metadata and as
            // S3's own CRC64-NVME; the server kept both.
            let marker = got.metadata().and_then(|m| m.get("crc64nvme")).cloned().expect("checksum metadata");
            let stored = got.checksum_crc64_nvme().map(str::to_string).expect("stored CRC64-NVME");
            let body = got.body.collect().await.unwrap().into_bytes();
            assert_eq!(crc64_hex(&body), marker, "{key}");
            let sent = aws_smithy_types::base64::encode(crc64_bytes(&marker).unwrap());
            assert_eq!(stored, sent, "{key}");
        }
        // The Summarize step wrote the same bytes as on EFS.
        let got = s3.get_object().bucket("out").key(&summary_key).send().await.unwrap();
        let on_efs = std::fs::read(s["run_summary"]["summary_path"].as_str().unwrap()).unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), on_efs);
        let file: Value = serde_json::from_slice(&on_efs).unwrap();
        assert_eq!(file["status"], "SUCCEEDED");

        // A body that is not what its checksum says is refused, and
        // nothing of it is kept (the next test checks the key stays absent).
        let body = b"the bytes on EFS".to_vec();
        let wrong = aws_smithy_types::base64::encode(crc64_bytes(&crc64_hex(b"other bytes")).unwrap());
        let err = s3
            .put_object()
            .bucket("out")
            .key("results/corrupt")
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .checksum_crc64_nvme(wrong)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect_err("a wrong checksum must be refused");
        assert_eq!(err.code(), Some("BadDigest"), "{err:?}");
        // The right one is taken.
        let right = aws_smithy_types::base64::encode(crc64_bytes(&crc64_hex(&body)).unwrap());
        s3.put_object()
            .bucket("out")
            .key("results/good")
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .checksum_crc64_nvme(right)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();

        // A request signed with another secret is refused.
        let err = client(&server.endpoint(), "not-the-secret")
            .get_object()
            .bucket("out")
            .key("results/good")
            .send()
            .await
            .expect_err("a bad signature must be refused");
        assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err:?}");
    });
}

/// GetObject of `key` in the test bucket with the stored checksums.
async fn get_with_checksums(
    s3: &aws_sdk_s3::Client,
    key: &str,
) -> aws_sdk_s3::operation::get_object::GetObjectOutput {
    let got = s3.get_object().bucket("data").key(key).checksum_mode(ChecksumMode::Enabled).send().await;
    got.unwrap_or_else(|e| panic!("get {key}: {e:?}"))
}

async fn get_bytes(s3: &aws_sdk_s3::Client, key: &str) -> Result<Vec<u8>, String> {
    match s3.get_object().bucket("data").key(key).send().await {
        Ok(got) => Ok(got.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(e) => Err(e.code().unwrap_or("no code").to_string()),
    }
}

/// The small object's body (the server's own path).
const SMALL: &[u8] = b"{\"x\": 1}\n";

/// The server's own PutObject (src/embedded_s3/store.rs) writes what
/// s3s-fs reads: HEAD, GET with checksum mode and the listing see each
/// object as S3 would, whichever path stored it (a body over
/// INLINE_PUT_BYTES goes to s3s-fs). A refused PUT leaves nothing, and
/// `If-None-Match: *` lets exactly one of concurrent writers win.
#[test]
fn objects_put_by_the_server_read_back_as_s3_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let s3_dir = dir.path().join("s3");
    std::fs::create_dir_all(s3_dir.join("data")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let server = EmbeddedS3::start(&s3_dir, KEY_ID, SECRET).await.unwrap();
        let s3 = client(&server.endpoint(), SECRET);

        // Small (the server's path) and large (s3s-fs's): metadata, type,
        // ETag (the MD5) and the CRC64-NVME sent, all read back.
        let large = batch_runner::embedded_s3::INLINE_PUT_BYTES as usize + 1;
        for (key, body) in [("small/a.json", SMALL.to_vec()), ("large/b.bin", vec![7u8; large])] {
            let crc = aws_smithy_types::base64::encode(crc64_bytes(&crc64_hex(&body)).unwrap());
            let put = s3
                .put_object()
                .bucket("data")
                .key(key)
                .content_type("application/json")
                .metadata("crc64nvme", crc64_hex(&body))
                .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
                .checksum_crc64_nvme(&crc)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
            let md5 = format!("\"{:032x}\"", md5_of(&body));
            assert_eq!(put.e_tag(), Some(md5.as_str()), "{key}");
            let head = s3.head_object().bucket("data").key(key).send().await.unwrap();
            assert_eq!(head.content_type(), Some("application/json"), "{key}");
            assert_eq!(head.content_length(), Some(body.len() as i64), "{key}");
            assert_eq!(head.e_tag(), Some(md5.as_str()), "{key}");
            assert_eq!(head.metadata().and_then(|m| m.get("crc64nvme")), Some(&crc64_hex(&body)), "{key}");
            let got = get_with_checksums(&s3, key).await;
            // A single PUT keeps its checksum on either path (only s3s-fs's
            // multipart uploads keep none).
            assert_eq!(got.checksum_crc64_nvme(), Some(crc.as_str()), "{key}");
            assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), body, "{key}");
        }
        // The side files: what the server wrote for the small object has
        // the same contents as what s3s-fs wrote for the large one.
        let side = |key: &str, kind: &str| -> Value {
            let encode = |s: &str| base64_simd::URL_SAFE_NO_PAD.encode_to_string(s);
            let name = format!(".bucket-{}.object-{}.{kind}.json", encode("data"), encode(key));
            serde_json::from_slice(&std::fs::read(s3_dir.join(name)).unwrap()).unwrap()
        };
        for kind in ["internal", "metadata"] {
            let (ours, theirs) = (side("small/a.json", kind), side("large/b.bin", kind));
            let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(&ours), keys(&theirs), "{kind}: {ours} against s3s-fs's {theirs}");
        }
        assert_eq!(side("small/a.json", "internal")["e_tag"], format!("{:032x}", md5_of(SMALL)));
        assert_eq!(side("small/a.json", "metadata")["user_metadata"]["crc64nvme"], crc64_hex(SMALL));
        // The SDK's own default checksum (no value given) is checked and
        // kept too, for a body in memory and for one streamed from a file
        // (aws-chunked, its checksum in the trailer).
        let file = dir.path().join("streamed");
        std::fs::write(&file, b"streamed bytes").unwrap();
        for (key, body) in [
            ("small/plain", ByteStream::from_static(b"plain")),
            ("small/streamed", ByteStream::from_path(&file).await.unwrap()),
        ] {
            s3.put_object().bucket("data").key(key).body(body).send().await.unwrap();
            let got = get_with_checksums(&s3, key).await;
            assert!(got.checksum_crc32().is_some(), "{key}: {got:?}");
        }
        assert_eq!(get_bytes(&s3, "small/plain").await.unwrap(), b"plain");
        assert_eq!(get_bytes(&s3, "small/streamed").await.unwrap(), b"streamed bytes");
        let listed = s3.list_objects_v2().bucket("data").send().await.unwrap();
        let mut keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
        keys.sort();
        assert_eq!(keys, ["large/b.bin", "small/a.json", "small/plain", "small/streamed"]);

        // Refused for its checksum: nothing written, not even over an
        // existing key.
        let wrong = aws_smithy_types::base64::encode(crc64_bytes(&crc64_hex(b"other")).unwrap());
        for key in ["small/refused", "small/a.json"] {
            let err = s3
                .put_object()
                .bucket("data")
                .key(key)
                .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
                .checksum_crc64_nvme(&wrong)
                .body(ByteStream::from_static(b"these bytes"))
                .send()
                .await
                .expect_err("a wrong checksum must be refused");
            assert_eq!(err.code(), Some("BadDigest"), "{err:?}");
        }
        assert_eq!(get_bytes(&s3, "small/refused").await, Err("NoSuchKey".to_string()));
        assert_eq!(get_bytes(&s3, "small/a.json").await.unwrap(), SMALL);

        // If-None-Match: * from eight writers at once: one wins, the
        // others get 412, and the key holds the winner's bytes.
        let puts = (0..8).map(|i| {
            let s3 = s3.clone();
            async move {
                let r = s3
                    .put_object()
                    .bucket("data")
                    .key("claims/one")
                    .if_none_match("*")
                    .body(ByteStream::from(format!("writer {i}").into_bytes()))
                    .send()
                    .await;
                (i, r.map(|_| ()).map_err(|e| e.code().unwrap_or("no code").to_string()))
            }
        });
        let results: Vec<_> = futures_util::future::join_all(puts.map(tokio::spawn))
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let won: Vec<_> = results.iter().filter(|(_, r)| r.is_ok()).map(|(i, _)| *i).collect();
        assert_eq!(won.len(), 1, "{results:?}");
        for (_, r) in results.iter().filter(|(_, r)| r.is_err()) {
            assert_eq!(r.as_ref().unwrap_err(), "PreconditionFailed", "{results:?}");
        }
        assert_eq!(get_bytes(&s3, "claims/one").await.unwrap(), format!("writer {}", won[0]).into_bytes());
        // Nothing is left of the losers' temporary files.
        let leftovers: Vec<_> = std::fs::read_dir(&s3_dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(".tmp."))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        // A key that climbs out of its bucket is refused by every
        // operation that names one, whatever the body's size, and nothing
        // is written outside its bucket.
        for (key, body) in [
            ("../../escaped-small", b"out".to_vec()),
            ("a/../../escaped-large", vec![1u8; large]),
            ("../data2/escaped", b"out".to_vec()),
            ("small/./a.json", b"out".to_vec()),
        ] {
            let err = s3
                .put_object()
                .bucket("data")
                .key(key)
                .body(ByteStream::from(body))
                .send()
                .await
                .expect_err("a key with a dot segment must be refused");
            assert_eq!(err.code(), Some("InvalidArgument"), "{key}: {err:?}");
        }
        let err = s3.get_object().bucket("data").key("../data/small/a.json").send().await.expect_err("get");
        assert_eq!(err.code(), Some("InvalidArgument"), "{err:?}");
        let err = s3
            .copy_object()
            .bucket("data")
            .key("copied")
            .copy_source("data/small/../../outside")
            .send()
            .await
            .expect_err("copy");
        assert_eq!(err.code(), Some("InvalidArgument"), "{err:?}");
        let delete = aws_sdk_s3::types::Delete::builder()
            .objects(aws_sdk_s3::types::ObjectIdentifier::builder().key("../x").build().unwrap())
            .build()
            .unwrap();
        let err = s3.delete_objects().bucket("data").delete(delete).send().await.expect_err("delete");
        assert_eq!(err.code(), Some("InvalidArgument"), "{err:?}");
        let outside: Vec<_> = walk(dir.path())
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains("escaped")))
            .collect();
        assert!(outside.is_empty(), "{outside:?}");
        // Dots inside names are names.
        s3.put_object()
            .bucket("data")
            .key("small/..a.b")
            .body(ByteStream::from_static(b"ok"))
            .send()
            .await
            .unwrap();
        assert_eq!(get_bytes(&s3, "small/..a.b").await.unwrap(), b"ok");
    });
}

/// Every file under `root`.
fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

/// MD5, S3's ETag of a single PUT.
fn md5_of(body: &[u8]) -> u128 {
    use s3s::crypto::Checksum as _;
    u128::from_be_bytes(s3s::crypto::Md5::checksum(body))
}
