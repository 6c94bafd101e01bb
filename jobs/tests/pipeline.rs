//! The three binaries as AWS Batch runs them (env, exit codes, JSON logs),
//! against moto S3 and a temp directory as EFS.
#![cfg(feature = "aws")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use batch_jobs::layout::{EgressSpec, NodeSlice, RunConfig, RunLayout, SourceSpec, Stage, SyntheticFormat};
use batch_jobs::transform::{RuleSetRef, TransformSpec};
use testkit::MotoServer;
use testkit::proxy::{self, Fault};

mod common;

/// S3's spelling of our file checksum: base64 of the 8 big-endian bytes.
fn s3_checksum(bytes: &[u8]) -> String {
    let hex = batch_jobs::checksum::crc64_hex(bytes);
    aws_smithy_types::base64::encode(batch_jobs::checksum::crc64_bytes(&hex).unwrap())
}

struct Env {
    moto: MotoServer,
    efs: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
}

impl Env {
    fn new() -> Env {
        let moto = MotoServer::start().unwrap();
        let efs = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let s3 = common::s3_client(&moto);
        Env { moto, efs, rt, s3 }
    }

    fn bucket(&self, name: &str) {
        self.rt.block_on(self.s3.create_bucket().bucket(name).send()).unwrap();
    }

    fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        self.rt
            .block_on(
                self.s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body.to_vec())).send(),
            )
            .unwrap();
    }

    fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.rt.block_on(async {
            let out = self.s3.get_object().bucket(bucket).key(key).send().await.unwrap();
            out.body.collect().await.unwrap().into_bytes().to_vec()
        })
    }

    /// HeadObject with checksum mode on, so S3's stored checksum is returned.
    fn head(&self, bucket: &str, key: &str) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
        self.rt
            .block_on(
                self.s3
                    .head_object()
                    .bucket(bucket)
                    .key(key)
                    .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
                    .send(),
            )
            .unwrap()
    }

    fn keys(&self, bucket: &str) -> Vec<String> {
        self.rt.block_on(async {
            let out = self.s3.list_objects_v2().bucket(bucket).send().await.unwrap();
            out.contents().iter().filter_map(|o| o.key().map(String::from)).collect()
        })
    }

    fn command(&self, stage: Stage, run_id: &str, index: u32) -> Command {
        common::stage_command(&self.moto, self.efs.path(), stage, run_id, index)
    }

    fn stage(&self, stage: Stage, run_id: &str, index: u32) -> Output {
        let out = self.command(stage, run_id, index).output().unwrap();
        check_logs(&out, run_id, stage, index);
        out
    }

    fn layout(&self, run_id: &str) -> RunLayout {
        RunLayout::new(self.efs.path(), run_id).unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every stderr line is JSON with run_id, stage and index.
fn check_logs(out: &Output, run_id: &str, stage: Stage, index: u32) {
    for line in stderr(out).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(v["span"]["run_id"], run_id, "{line}");
        assert_eq!(v["span"]["stage"], stage.as_str(), "{line}");
        assert_eq!(v["span"]["index"], index, "{line}");
    }
}

fn egress_spec(bucket: &str) -> EgressSpec {
    EgressSpec {
        bucket: bucket.into(),
        prefix: "out".into(),
        multipart_threshold_bytes: 16 << 20,
        part_size_bytes: 8 << 20,
    }
}

fn ghcn_config(run_id: &str, array_size: u32) -> RunConfig {
    RunConfig::new(
        run_id,
        array_size,
        SourceSpec::S3 { bucket: "source".into(), prefix: "noaa/incoming/".into() },
        TransformSpec::CsvValidate { rules: RuleSetRef::Builtin { builtin: "ghcn-daily".into() } },
        Some(egress_spec("egress")),
    )
}

const GOOD: &str = "USW00094728,20230101,TMAX,-12,,,W,0700\n";

fn assert_code(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", stderr(out));
}

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

#[test]
fn three_stages_in_sequence_for_several_nodes_then_rerun_is_a_no_op() {
    let env = Env::new();
    env.bucket("source");
    env.bucket("egress");
    let files = [
        ("noaa/incoming/1763.csv", format!("{GOOD}{GOOD}bad,row\n")),
        ("noaa/incoming/1764.csv", format!("{GOOD}USW00094728,20230231,TMAX,1,,,W,\n")),
        ("noaa/incoming/sub/1765.csv", GOOD.repeat(5)),
        ("noaa/incoming/1766.csv", String::new()),
    ];
    for (key, body) in &files {
        env.put("source", key, body.as_bytes());
    }
    let run = "run-a";
    let layout = env.layout(run);
    layout.create_run(&ghcn_config(run, 3)).unwrap();
    let slices = [
        vec![files[0].0.to_string(), files[1].0.to_string()],
        vec![files[2].0.to_string()],
        vec![files[3].0.to_string()],
    ];
    for (i, keys) in slices.iter().enumerate() {
        layout.write_node_slice(i as u32, keys).unwrap();
    }
    for index in 0..3 {
        for stage in Stage::ALL {
            let out = env.stage(stage, run, index);
            assert_code(&out, 0);
        }
    }
    // Node 0: two inputs, 3 clean and 2 rejected rows in total.
    let node = layout.node(0);
    assert_eq!(read(node.data_dir().join("1763.csv")), files[0].1.as_bytes());
    assert_eq!(read(node.results_dir().join("1763.csv")), GOOD.repeat(2).as_bytes());
    let rejects = String::from_utf8(read(node.results_dir().join("1764.csv.rejects.jsonl"))).unwrap();
    let reject: serde_json::Value = serde_json::from_str(rejects.trim()).unwrap();
    assert_eq!(reject["line"], 2);
    assert_eq!(reject["field"], "DATE");
    assert_eq!(reject["rule"], "type");
    let stats: serde_json::Value =
        serde_json::from_slice(&read(node.results_dir().join("1763.csv.stats.json"))).unwrap();
    assert_eq!(stats["records_in"], 3);
    assert_eq!(stats["records_clean"], 2);
    assert_eq!(stats["records_rejected"], 1);
    assert_eq!(stats["rejects_by_rule"]["fieldCount"], 1);
    let marker: serde_json::Value = serde_json::from_slice(&read(node.done_path(Stage::Processing))).unwrap();
    assert_eq!(marker["records_in"], 5);
    assert_eq!(marker["records_out"], 3);
    assert_eq!(marker["records_rejected"], 2);
    // Node 1 kept the nested key path under data/ and in S3.
    assert!(layout.node(1).data_dir().join("sub/1765.csv").is_file());
    let mut keys = env.keys("egress");
    keys.sort();
    assert!(keys.contains(&"out/run-a/1/sub/1765.csv".to_string()), "{keys:?}");
    assert_eq!(env.get("egress", "out/run-a/0/1763.csv"), GOOD.repeat(2).as_bytes());
    for i in 0..3 {
        assert!(keys.contains(&format!("out/run-a/{i}/_manifest.json")), "{keys:?}");
    }
    // Per node: 3 outputs per input + the manifest.
    assert_eq!(keys.len(), 3 * 4 + 3, "{keys:?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&env.get("egress", "out/run-a/0/_manifest.json")).unwrap();
    assert_eq!(manifest["records_in"], 5);
    assert_eq!(manifest["objects"].as_array().unwrap().len(), 6);
    let obj = &manifest["objects"][0];
    assert_eq!(obj["key"], "out/run-a/0/1763.csv");
    assert_eq!(obj["crc64nvme"], batch_jobs::checksum::crc64_hex(GOOD.repeat(2).as_bytes()));
    // S3 stored (and verified) the same checksum as its own.
    let head = env.head("egress", "out/run-a/0/1763.csv");
    assert_eq!(head.checksum_crc64_nvme(), Some(s3_checksum(GOOD.repeat(2).as_bytes()).as_str()));
    // Empty input: zero records, empty outputs, still a manifest.
    assert_eq!(read(layout.node(2).results_dir().join("1766.csv")), b"");

    // A rerun of every stage skips the work and changes nothing.
    let before: Vec<Vec<u8>> = Stage::ALL.iter().map(|s| read(node.done_path(*s))).collect();
    let mtime = std::fs::metadata(node.results_dir().join("1763.csv")).unwrap().modified().unwrap();
    for stage in Stage::ALL {
        let out = env.stage(stage, run, 0);
        assert_code(&out, 0);
        assert!(stderr(&out).contains("already done for this input; skipping"), "{}", stderr(&out));
    }
    let after: Vec<Vec<u8>> = Stage::ALL.iter().map(|s| read(node.done_path(*s))).collect();
    assert_eq!(before, after);
    assert_eq!(std::fs::metadata(node.results_dir().join("1763.csv")).unwrap().modified().unwrap(), mtime);
    assert_eq!(env.keys("egress").len(), keys.len());

    // Egress redone without its marker re-uses the identical objects.
    std::fs::remove_file(node.done_path(Stage::Egress)).unwrap();
    let out = env.stage(Stage::Egress, run, 0);
    assert_code(&out, 0);
    assert_eq!(read(node.done_path(Stage::Egress)), before[2], "egress marker is byte-identical");
    assert_eq!(env.keys("egress").len(), keys.len());
}

fn synthetic_run(env: &Env, run: &str, ids: u64, per_id: u32, egress: EgressSpec) -> RunLayout {
    let layout = env.layout(run);
    let mut config = RunConfig::new(
        run,
        1,
        SourceSpec::Synthetic { format: SyntheticFormat::YelpJsonl, records_per_id: per_id },
        TransformSpec::JsonlCalc { calculations: vec!["review_score = stars * review_count".into()] },
        Some(egress),
    );
    config.created_at = "2024-01-01T00:00:00Z".into();
    layout.create_run(&config).unwrap();
    layout.write_slice(&NodeSlice::range(0, 0, ids)).unwrap();
    layout
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for rel in batch_jobs::atomic::list_files_sorted(dir).unwrap() {
        let bytes = read(dir.join(&rel));
        out.push((rel, bytes));
    }
    out
}

/// Starts `stage` for node 0 of `run` and kills it as soon as it is
/// writing into `dir`; then checks that nothing half-written is visible:
/// only hidden temporaries, no done marker.
fn kill_while_writing(env: &Env, stage: Stage, layout: &RunLayout, dir: &Path) {
    let mut child = env.command(stage, layout.run_id(), 0).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_temp = false;
    while Instant::now() < deadline {
        let temps = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().contains(".tmp-")).count()
            })
            .unwrap_or(0);
        if temps > 0 {
            saw_temp = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(saw_temp, "{} finished before it could be killed", stage.as_str());
    assert!(!status.success());
    assert_eq!(batch_jobs::atomic::list_files_sorted(dir).unwrap(), Vec::<String>::new());
    assert!(!layout.node(0).done_path(stage).exists());
}

/// No temporaries are left in `dir` after a successful stage.
fn assert_no_temps(dir: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn node_killed_mid_write_then_retried_gives_identical_output() {
    let env = Env::new();
    env.bucket("egress");
    let reference = synthetic_run(&env, "reference", 60_000, 2, egress_spec("egress"));
    let victim = synthetic_run(&env, "victim", 60_000, 2, egress_spec("egress"));
    assert_code(&env.stage(Stage::Procurement, "reference", 0), 0);
    assert_code(&env.stage(Stage::Processing, "reference", 0), 0);
    let node = victim.node(0);

    // Procurement killed while writing its data, then retried.
    kill_while_writing(&env, Stage::Procurement, &victim, &node.data_dir());
    assert_code(&env.stage(Stage::Procurement, "victim", 0), 0);
    assert_eq!(tree(&node.data_dir()), tree(&reference.node(0).data_dir()), "retried data differs");
    assert_no_temps(&node.data_dir());

    // Processing killed while writing its results, then retried.
    kill_while_writing(&env, Stage::Processing, &victim, &node.results_dir());
    assert_code(&env.stage(Stage::Processing, "victim", 0), 0);
    let got = tree(&node.results_dir());
    assert_eq!(got.len(), 3);
    assert_eq!(
        got,
        tree(&reference.node(0).results_dir()),
        "retried output differs from an uninterrupted run"
    );
    assert_no_temps(&node.results_dir());
    let m1: serde_json::Value = serde_json::from_slice(&read(node.done_path(Stage::Processing))).unwrap();
    assert_eq!(m1["records_in"], 120_000);
    assert_eq!(m1["records_out"], 120_000);
}

#[test]
fn large_results_use_multipart_upload() {
    let env = Env::new();
    env.bucket("egress");
    let spec = EgressSpec {
        bucket: "egress".into(),
        prefix: "big/".into(),
        multipart_threshold_bytes: 5 << 20,
        part_size_bytes: 5 << 20,
    };
    let layout = synthetic_run(&env, "mp", 20_000, 2, spec);
    for stage in Stage::ALL {
        assert_code(&env.stage(stage, "mp", 0), 0);
    }
    let local = read(layout.node(0).results_dir().join("synthetic.jsonl"));
    assert!(local.len() > 10 << 20, "{} bytes is not above 2 parts", local.len());
    let remote = env.get("egress", "big/mp/0/synthetic.jsonl");
    assert_eq!(remote.len(), local.len());
    assert!(remote == local);
    let head = env.head("egress", "big/mp/0/synthetic.jsonl");
    assert!(head.e_tag().unwrap_or("").contains("-3"), "multipart etag: {:?}", head.e_tag());
    assert_eq!(head.metadata().unwrap().get("crc64nvme").unwrap(), &batch_jobs::checksum::crc64_hex(&local));
    // A full-object checksum: S3 checked the whole file against ours.
    assert_eq!(head.checksum_crc64_nvme(), Some(s3_checksum(&local).as_str()));
}

#[test]
fn permanent_and_retryable_failures_have_distinct_exit_codes() {
    let env = Env::new();
    env.bucket("source");
    env.bucket("egress");
    let layout = env.layout("fail");
    layout.create_run(&ghcn_config("fail", 3)).unwrap();
    layout.write_node_slice(0, &["noaa/incoming/missing.csv".into()]).unwrap();
    layout.write_node_slice(1, &["noaa/incoming/../../etc/passwd".into()]).unwrap();
    layout.write_node_slice(2, &["other/x.csv".into()]).unwrap();

    let out = env.stage(Stage::Procurement, "fail", 0);
    assert_code(&out, 66);
    assert!(stderr(&out).contains("NoSuchKey"), "{}", stderr(&out));

    let out = env.stage(Stage::Procurement, "fail", 1);
    assert_code(&out, 65);
    assert!(
        stderr(&out)
            .contains("unsafe prep slice item 0 \\\"../../etc/passwd\\\": has a '.' or '..' path component"),
        "{}",
        stderr(&out)
    );
    let out = env.stage(Stage::Procurement, "fail", 2);
    assert_code(&out, 65);
    assert!(stderr(&out).contains("is not under source.prefix"));

    // Processing before procurement finished: permanent, missing input.
    assert_code(&env.stage(Stage::Processing, "fail", 0), 66);
    // Index outside the array, unknown run.
    assert_code(&env.stage(Stage::Processing, "fail", 3), 64);
    assert_code(&env.stage(Stage::Processing, "nope", 0), 66);
    let out = env.command(Stage::Processing, "../x", 0).output().unwrap();
    assert_code(&out, 65);

    // S3 unreachable: retryable (node 0's slice still names its key).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = env
        .command(Stage::Procurement, "fail", 0)
        .env("AWS_ENDPOINT_URL", format!("http://{dead}"))
        .env("AWS_MAX_ATTEMPTS", "2")
        .output()
        .unwrap();
    assert_code(&out, 75);
    assert!(stderr(&out).contains("\"retryable\":true"), "{}", stderr(&out));
}

/// Data names that would clash with each other or with the files the
/// later stages write are refused before anything is downloaded.
#[test]
fn clashing_data_names_are_refused_before_any_download() {
    let env = Env::new();
    env.bucket("source");
    let p = "noaa/incoming/";
    let cases: [(&[&str], &str); 6] = [
        (&["a.csv", "a.csv"], "\\\"a.csv\\\" appears twice"),
        (&["a.csv", "a.csv.rejects.jsonl"], "ends with \\\".rejects.jsonl\\\""),
        (&["a.csv.stats.json"], "ends with \\\".stats.json\\\""),
        (&["sub/_manifest.json"], "is reserved for the pipeline's own files"),
        (&[".a.csv.tmp-1-0"], "is reserved for the pipeline's own files"),
        (&["x/y/z.csv", "x/y"], "\\\"x/y\\\" is also the directory of \\\"x/y/z.csv\\\""),
    ];
    let layout = env.layout("names");
    layout.create_run(&ghcn_config("names", cases.len() as u32)).unwrap();
    for (i, (names, _)) in cases.iter().enumerate() {
        for name in names.iter() {
            env.put("source", &format!("{p}{name}"), GOOD.as_bytes());
        }
        let keys: Vec<String> = names.iter().map(|n| format!("{p}{n}")).collect();
        layout.write_node_slice(i as u32, &keys).unwrap();
    }
    for (i, (_, message)) in cases.iter().enumerate() {
        let out = env.stage(Stage::Procurement, "names", i as u32);
        assert_code(&out, 65);
        assert!(stderr(&out).contains(message), "case {i}: {}", stderr(&out));
        assert!(walk_files(&layout.node(i as u32).data_dir()).is_empty(), "case {i} downloaded something");
    }
}

/// Bytes damaged on the way from S3 are never committed: the download
/// is checked against the checksum S3 stored, and the failure is
/// retryable (the damage may not recur). The same object through an
/// undamaging relay downloads fine, so it is the damage that is refused.
#[test]
fn a_download_damaged_on_the_way_is_refused() {
    let env = Env::new();
    env.bucket("source");
    let key = "noaa/incoming/1763.csv";
    env.rt
        .block_on(
            env.s3
                .put_object()
                .bucket("source")
                .key(key)
                .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc64Nvme)
                .body(ByteStream::from(GOOD.repeat(3).into_bytes()))
                .send(),
        )
        .unwrap();
    let moto: std::net::SocketAddr = env.moto.endpoint().trim_start_matches("http://").parse().unwrap();
    for (run, fault, code) in [("intact", Fault::None, 0), ("damaged", Fault::FlipLastBodyBit, 75)] {
        let relay = proxy::start(moto, fault).unwrap();
        let layout = env.layout(run);
        layout.create_run(&ghcn_config(run, 1)).unwrap();
        layout.write_node_slice(0, &[key.into()]).unwrap();
        let out = env
            .command(Stage::Procurement, run, 0)
            .env("AWS_ENDPOINT_URL", format!("http://{relay}"))
            .env("AWS_MAX_ATTEMPTS", "1")
            .output()
            .unwrap();
        assert_code(&out, code);
        let files = walk_files(&layout.node(0).data_dir());
        if fault == Fault::FlipLastBodyBit {
            assert!(stderr(&out).contains("checksum"), "{}", stderr(&out));
            assert!(files.is_empty(), "{files:?}");
        } else {
            assert_eq!(read(layout.node(0).data_dir().join("1763.csv")), GOOD.repeat(3).as_bytes());
        }
    }
}

/// Every file under `dir` (temporary ones included), or none if it is missing.
fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk_files(&path)) } else { out.push(path) }
    }
    out
}

#[test]
fn every_binary_has_help_and_usage_errors_exit_64() {
    for bin in
        [env!("CARGO_BIN_EXE_procurement"), env!("CARGO_BIN_EXE_processing"), env!("CARGO_BIN_EXE_egress")]
    {
        let out = Command::new(bin).arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("RUN_ID")
                && text.contains("AWS_BATCH_JOB_ARRAY_INDEX")
                && text.contains("PIPELINE_EFS_ROOT"),
            "{text}"
        );
        let out = Command::new(bin).env_clear().output().unwrap();
        assert_eq!(out.status.code(), Some(64));
        // The usage error is a JSON log line too, naming what is missing.
        let lines: Vec<serde_json::Value> =
            stderr(&out).lines().map(|l| serde_json::from_str(l).expect("stderr line is JSON")).collect();
        assert_eq!(lines.len(), 1, "{}", stderr(&out));
        assert_eq!(lines[0]["fields"]["exit_code"], 64);
        assert_eq!(lines[0]["fields"]["retryable"], false);
        assert!(lines[0]["fields"]["error"].as_str().is_some_and(|e| e.contains("RUN_ID")), "{}", lines[0]);
    }
}
