//! `--s3-dir`: the data plane's S3 served by the runner itself. A small
//! pipeline runs through it without moto, and what it leaves is read back
//! through the same server: every object, its bytes against the checksum
//! egress sent, and the run summary. The server refuses what S3 refuses:
//! a body that does not match its checksum, a request signed with another
//! secret.

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

        // A body that is not what its checksum says is refused (s3s-fs has
        // written it by then and leaves it: docs/runner.md, what differs).
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
