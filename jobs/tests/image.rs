//! Builds the images with buildah, checks each image's user and entry
//! point, unpacks its root filesystem and runs the binary from it:
//! `--help`, then the three stages for real on a temp EFS, egress
//! uploading to moto. Then pushes them (`make push-images`) to a registry
//! on a loopback port (Debian's docker-registry, the CNCF distribution
//! server ECR speaks the protocol of) and checks that the Terraform
//! snippet it prints names what the registry serves.
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
    // In the same test: a second build running beside the first would
    // fight over buildah's store and cargo's target dir.
    push_to_a_local_registry(repo);
}

/// A registry on a free loopback port, stopped on drop.
struct Registry {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let bin = Path::new("/usr/bin/docker-registry");
        assert!(bin.is_file(), "{} is missing: make setup installs Debian's docker-registry", bin.display());
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let registry = Registry { child, addr, _dir: dir };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while registry.status(&format!("http://{}/v2/", registry.addr)) != "200" {
            assert!(std::time::Instant::now() < deadline, "the registry on {} did not answer", registry.addr);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        registry
    }

    fn status(&self, url: &str) -> String {
        sh(&format!("curl -s -o /dev/null -w '%{{http_code}}' {url} || true"))
    }

    /// The digest the registry reports for `reference` (a tag or digest)
    /// of `name`, as `docker pull` and AWS Batch would resolve it.
    fn manifest_digest(&self, name: &str, reference: &str) -> String {
        let headers = sh(&format!(
            "curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
             -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
             http://{}/v2/{name}/manifests/{reference}",
            self.addr
        ));
        headers
            .lines()
            .find_map(|l| {
                let (key, value) = l.split_once(':')?;
                key.eq_ignore_ascii_case("docker-content-digest").then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no Docker-Content-Digest for {name}:{reference} in\n{headers}"))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `make push-images` against a loopback registry: each image lands under
/// its name and tag, and the printed `stages = { ... }` block pins each by
/// the digest the registry serves for that tag.
fn push_to_a_local_registry(repo: &Path) {
    let registry = Registry::start();
    let pushed = sh(&format!(
        "cd {} && make -s push-images BUILDER=buildah REGISTRY={} REGISTRY_TLS_VERIFY=false IMAGE_TAG=pushtest",
        repo.display(),
        registry.addr
    ));
    assert!(pushed.contains(&format!("# Pushed to {}.", registry.addr)), "{pushed}");
    let block: Vec<&str> =
        pushed.lines().skip_while(|l| *l != "stages = {").take_while(|l| *l != "}").skip(1).collect();
    assert_eq!(block.len(), 3, "one line per stage in\n{pushed}");
    for (line, bin) in block.iter().zip(["procurement", "processing", "egress"]) {
        // `  procurement = { image = "127.0.0.1:5000/batch-jobs-procurement:pushtest@sha256:..." }`
        let image = line.split('"').nth(1).unwrap_or_else(|| panic!("no quoted image in {line:?}"));
        assert!(line.trim_start().starts_with(&format!("{bin} ")), "{line}");
        let (reference, digest) = image.split_once('@').unwrap_or_else(|| panic!("not pinned: {image}"));
        let name = format!("batch-jobs-{bin}");
        assert_eq!(reference, format!("{}/{name}:pushtest", registry.addr));
        assert_eq!(
            registry.manifest_digest(&name, "pushtest"),
            digest,
            "{bin}: the tag resolves to another digest"
        );
        assert_eq!(registry.manifest_digest(&name, digest), digest, "{bin}: the digest is not served");
    }
    let refused = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "cd {} && PUSH=1 REGISTRY=123456789012.dkr.ecr.eu-west-1.amazonaws.com REGISTRY_TLS_VERIFY=false bash jobs/build-images.sh",
            repo.display()
        ))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only for a registry on this machine"));
}
