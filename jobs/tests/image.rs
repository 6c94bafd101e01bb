//! Builds the images with buildah, checks each image's user and entry
//! point, unpacks its root filesystem and runs the binary from it:
//! `--help`, then the three stages for real on a temp EFS, egress
//! uploading to moto.
//! Ignored in plain `cargo test` (it needs buildah and a release build);
//! `make test` runs it with `--ignored` after scripts/setup-tools.sh has
//! installed buildah.
#![cfg(feature = "aws")]

use std::path::Path;
use std::process::Command;

use batch_jobs::layout::{NodeSlice, RunConfig, RunLayout, SourceSpec, SyntheticFormat};
use batch_jobs::transform::TransformSpec;
use testkit::MotoServer;

mod common;

fn sh(cmd: &str) -> String {
    let out = Command::new("bash").arg("-c").arg(cmd).output().unwrap();
    assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The summary table's row for `tag`: its size and digest.
fn summary_row(built: &str, tag: &str) -> (String, String) {
    let row = built
        .lines()
        .find(|l| l.split_whitespace().next() == Some(tag))
        .unwrap_or_else(|| panic!("no summary row for {tag} in\n{built}"));
    let fields: Vec<&str> = row.split_whitespace().collect();
    // IMAGE, then the size as buildah writes it ("17.4 MB"), then the digest.
    assert_eq!(fields.len(), 4, "{row}");
    (format!("{} {}", fields[1], fields[2]), fields[3].to_string())
}

#[test]
#[ignore = "needs buildah and a static release build: make test runs it"]
fn images_build_and_their_binaries_run() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // buildah even where a docker daemon answers: the test copies the
    // root file system out of buildah's storage.
    let built = sh(&format!("cd {} && BUILDER=buildah bash jobs/build-images.sh", repo.display()));
    assert!(built.contains("images built with buildah:\n"), "no summary in\n{built}");
    let moto = MotoServer::start().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = common::s3_client(&moto);
    rt.block_on(s3.create_bucket().bucket("image-test").send()).unwrap();
    let efs = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(efs.path(), "img").unwrap();
    layout
        .create_run(&RunConfig::new(
            "img",
            1,
            SourceSpec::Synthetic { format: SyntheticFormat::YelpJsonl, records_per_id: 1 },
            TransformSpec::JsonlCalc { calculations: vec!["s = stars * review_count".into()] },
            Some(
                serde_json::from_value(serde_json::json!({ "bucket": "image-test", "prefix": "results" }))
                    .unwrap(),
            ),
        ))
        .unwrap();
    layout.write_slice(&NodeSlice::range(0, 0, 100)).unwrap();
    for bin in ["procurement", "processing", "egress"] {
        let tag = built
            .lines()
            .find_map(|l| l.strip_prefix("built ").and_then(|r| r.split_whitespace().next()))
            .map(|t| t.replace("procurement", bin))
            .unwrap();
        // The summary at the end of the build names the image with its
        // size and the digest buildah holds for it.
        let digest = sh(&format!(
            "buildah --storage-driver vfs inspect --type image --format '{{{{.FromImageDigest}}}}' {tag}"
        ));
        let (size, summary_digest) = summary_row(&built, &tag);
        assert!(size.ends_with("MB") || size.ends_with("kB"), "{bin}: size {size:?} in\n{built}");
        assert!(
            summary_digest.starts_with("sha256:") && summary_digest.len() == 71,
            "{bin}: {summary_digest}"
        );
        assert_eq!(summary_digest, digest.trim(), "{bin}: summary digest in\n{built}");
        // What Batch runs: the entry point, as the unprivileged user.
        let config = sh(&format!("buildah --storage-driver vfs inspect --type image {tag}"));
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        assert_eq!(config["OCIv1"]["config"]["User"], "65532:65532", "{bin}");
        assert_eq!(
            config["OCIv1"]["config"]["Entrypoint"],
            serde_json::json!(["/usr/local/bin/job"]),
            "{bin}"
        );
        let root = tempfile::tempdir().unwrap();
        sh(&format!(
            "c=$(buildah --storage-driver vfs from {tag}) && m=$(buildah --storage-driver vfs mount $c) \
             && cp -a $m/. {root} && buildah --storage-driver vfs rm $c >/dev/null",
            root = root.path().display()
        ));
        let job = root.path().join("usr/local/bin/job");
        let help = Command::new(&job).arg("--help").output().unwrap();
        assert!(help.status.success());
        assert!(String::from_utf8_lossy(&help.stdout).contains("RUN_ID"));
        assert!(root.path().join("etc/ssl/certs/ca-certificates.crt").is_file());
        // Each stage for real, in order; egress talks to S3 (moto) from
        // the image's static binary.
        let out = Command::new(&job)
            .env_clear()
            .envs(moto.aws_env())
            .env("RUN_ID", "img")
            .env("PIPELINE_EFS_ROOT", efs.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{bin}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(layout.node(0).results_dir().join("synthetic.jsonl").is_file());
    let listed = rt.block_on(s3.list_objects_v2().bucket("image-test").send()).unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.contains(&"results/img/0/synthetic.jsonl"), "{keys:?}");
    assert!(keys.contains(&"results/img/0/_manifest.json"), "{keys:?}");
}
