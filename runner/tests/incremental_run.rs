//! Incremental runs end to end: an S3 source with `incremental`, moto's
//! S3 (its conditional PutObject), the real prep/watcher/job binaries
//! through `batch-pipeline run`, a temp dir as EFS. A scheduled run must
//! process only what no earlier run finished: new objects and changed ones
//! (new ETag), and what a failed run left unfinished, never what it
//! finished.

mod binaries;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use binaries::{definition, moto_with_buckets, outcome, run_command};
use serde_json::{Value, json};

struct Pipeline {
    moto: testkit::MotoServer,
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
}

impl Pipeline {
    fn start() -> Pipeline {
        let (moto, rt, s3) = moto_with_buckets(&["src", "out"]);
        Pipeline { moto, dir: tempfile::tempdir().unwrap(), rt, s3 }
    }

    /// Puts `in/<name>.jsonl` with `records` JSON lines.
    fn put(&self, name: &str, records: usize) {
        let body = "{\"stars\": 4, \"review_count\": 10}\n".repeat(records);
        self.rt.block_on(async {
            self.s3
                .put_object()
                .bucket("src")
                .key(format!("in/{name}.jsonl"))
                .body(body.into_bytes().into())
                .send()
                .await
                .unwrap();
        });
    }

    fn keys(&self, prefix: &str) -> BTreeSet<String> {
        self.rt.block_on(async {
            let mut keys = BTreeSet::new();
            let mut pages = self.s3.list_objects_v2().bucket("out").prefix(prefix).into_paginator().send();
            while let Some(page) = pages.next().await {
                keys.extend(page.unwrap().contents().iter().filter_map(|o| o.key().map(String::from)));
            }
            keys
        })
    }

    /// The names (`<name>.jsonl`) of the inputs whose results a run uploaded.
    fn processed(&self, run_id: &str) -> BTreeSet<String> {
        self.keys(&format!("results/{run_id}/"))
            .iter()
            .filter(|k| k.ends_with(".jsonl") && !k.ends_with(".rejects.jsonl"))
            .filter_map(|k| k.rsplit('/').next().map(String::from))
            .collect()
    }

    /// One `batch-pipeline run` of the incremental S3 source; returns
    /// (succeeded, summary, stderr).
    fn run(&self, overrides: Value, claim_ttl_seconds: u32, args: &[&str]) -> (bool, Value, String) {
        let source = json!({"type": "s3", "bucket": "src", "prefix": "in/", "suffix": ".jsonl",
                            "incremental": true, "claim_ttl_seconds": claim_ttl_seconds});
        self.run_source(source, overrides, args)
    }

    /// One `batch-pipeline run` of `source`.
    fn run_source(&self, source: Value, overrides: Value, args: &[&str]) -> (bool, Value, String) {
        self.finish(self.start_run(source, overrides, args))
    }

    /// Starts a `batch-pipeline run` of `source` (its input and summary
    /// files named by the run id, so runs can go side by side).
    fn start_run(&self, source: Value, overrides: Value, args: &[&str]) -> (std::process::Child, PathBuf) {
        self.start_run_with(source, None, overrides, args)
    }

    /// [`Self::start_run`] with the run configuration's `retention`.
    fn start_run_with(
        &self,
        source: Value,
        retention: Option<Value>,
        overrides: Value,
        args: &[&str],
    ) -> (std::process::Child, PathBuf) {
        let mut config = json!({
            "version": 1,
            "pipeline": "t",
            "efs_mount_path": "/mnt/efs",
            "source": source,
            "items_per_node": 2,
            "transform": {"kind": "jsonl_calc", "calculations": ["review_score = stars * review_count"]},
            "egress": {"bucket": "out", "prefix": "results"},
        });
        if let Some(retention) = retention {
            config["retention"] = retention;
        }
        let name = overrides["run_id"].as_str().unwrap_or("run").to_string();
        let input = self.dir.path().join(format!("input-{name}.json"));
        std::fs::write(&input, json!({"config": config, "overrides": overrides}).to_string()).unwrap();
        let summary = self.dir.path().join(format!("summary-{name}.json"));
        let child = run_command(&definition(), &input, &self.dir.path().join("efs"), &summary)
            .arg("--no-progress")
            .args(args)
            .envs(self.moto.aws_env())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (child, summary)
    }

    /// Waits for a started run; returns (succeeded, summary, stderr).
    fn finish(&self, (child, summary): (std::process::Child, PathBuf)) -> (bool, Value, String) {
        outcome(&child.wait_with_output().unwrap(), &summary)
    }
}

impl Pipeline {
    /// Checks every request moto recorded since `start-recording` against
    /// AWS's service models (tests/contract/aws_contract.py): moto accepts
    /// conditional writes S3 would refuse. Returns the checker's report.
    fn check_contract(&self) -> String {
        self.moto.recorder("stop-recording").expect("stop recording");
        let checker = testkit::paths::repo_root().join("tests/contract/aws_contract.py");
        let python = testkit::paths::tools_venv().join("bin/python");
        let out =
            Command::new(python).arg(checker).arg(self.moto.recording_path()).output().expect("checker");
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "requests AWS would refuse:\n{report}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        report
    }
}

fn names(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| format!("{n}.jsonl")).collect()
}

/// The whole life of a scheduled incremental pipeline: a first run takes
/// everything; the second only the new and the changed objects; a run
/// with nothing new is NO_WORK; a run that fails half-way leaves its
/// finished inputs done and releases its unfinished ones, which the next
/// run takes at once (not after the claims' expiry; expired claims are
/// lambdas/tests/prep_incremental.rs's); `overrides.full` processes
/// everything again.
#[test]
fn each_run_processes_only_what_no_earlier_run_finished() {
    let p = Pipeline::start();
    for name in ["a", "b", "c", "d"] {
        p.put(name, 2);
    }
    p.moto.recorder("start-recording").expect("record");
    let (ok, s, stderr) = p.run(json!({"run_id": "first"}), 600, &[]);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(p.processed("first"), names(&["a", "b", "c", "d"]));
    assert_eq!(p.keys("results/_ledger/done/").len(), 4);
    assert!(p.keys("results/_ledger/claims/").is_empty(), "egress released every claim");

    // Prep's listings and conditional claims, egress's done records and
    // claim deletions, each as AWS's models allow them.
    let report = p.check_contract();
    for op in ["s3.ListObjectsV2", "s3.PutObject", "s3.DeleteObject"] {
        assert!(report.contains(&format!("  {op}\n")), "{op} was never checked:\n{report}");
    }

    // Two new objects and a changed one (new ETag).
    p.put("e", 1);
    p.put("f", 1);
    p.put("b", 3);
    let (ok, s, stderr) = p.run(json!({"run_id": "second"}), 600, &[]);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(p.processed("second"), names(&["b", "e", "f"]));
    assert_eq!(s["prep"]["ledger"]["done"], 3, "{s:#}");
    assert_eq!(p.keys("results/_ledger/done/").len(), 7, "b's old and new versions are both recorded");

    // Nothing new: NO_WORK, nothing submitted.
    let (ok, s, stderr) = p.run(json!({"run_id": "idle"}), 600, &[]);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["final_state"], "NoWork", "{s:#}");

    // Four new objects on two nodes; node 1 fails for good. Its claims
    // would hold for ten minutes; the run's Summarize step releases them.
    for name in ["g", "h", "i", "j"] {
        p.put(name, 1);
    }
    let (ok, s, stderr) = p.run(json!({"run_id": "broken"}), 600, &["--inject-failure", "processing:1:65"]);
    assert!(!ok, "{stderr}");
    assert_eq!(s["failed_indices"]["processing"], "1", "{s:#}");
    let finished = p.processed("broken");
    assert_eq!(finished, names(&["g", "h"]), "node 0 uploaded, node 1 did not");
    assert_eq!(
        s["run_summary"]["claims"],
        json!({"inputs_unfinished": 2, "released": 2, "held_elsewhere": 0, "errors": []}),
        "{s:#}"
    );
    assert!(p.keys("results/_ledger/claims/").is_empty(), "node 1's claims released");

    // The next run takes exactly the unfinished ones at once.
    let (ok, s, stderr) = p.run(json!({"run_id": "after"}), 600, &[]);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(p.processed("after"), names(&["i", "j"]));
    assert_eq!(s["prep"]["ledger"]["done"], 8, "a to h: {s:#}");
    assert_eq!(
        (s["prep"]["ledger"]["claimed"].as_u64(), s["prep"]["ledger"]["taken_over"].as_u64()),
        (Some(2), Some(0))
    );
    assert!(p.keys("results/_ledger/claims/").is_empty());

    // A full run processes everything again.
    let (ok, s, stderr) = p.run(json!({"run_id": "full", "full": true}), 600, &[]);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(p.processed("full"), names(&["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]));
}

/// Retention through the runner (the real prep binary's Summarize step):
/// with `keep_runs = 1` the third run removes the first run's directory,
/// keeps the failed second one (for its rerun) and its own.
#[test]
fn retention_removes_old_successful_runs_and_keeps_failed_and_current_ones() {
    let p = Pipeline::start();
    for name in ["a", "b", "c", "d"] {
        p.put(name, 1);
    }
    let source = json!({"type": "s3", "bucket": "src", "prefix": "in/", "suffix": ".jsonl"});
    let runs = p.dir.path().join("efs/runs");
    let (ok, s, stderr) = p.run_source(source.clone(), json!({"run_id": "one"}), &[]);
    assert!(ok, "{stderr}\n{s:#}");
    let (ok, s, stderr) =
        p.run_source(source.clone(), json!({"run_id": "two"}), &["--inject-failure", "processing:1:65"]);
    assert!(!ok, "{stderr}\n{s:#}");
    assert!(runs.join("one").is_dir() && runs.join("two").is_dir());

    let keep_one = Some(json!({"keep_runs": 1}));
    let (ok, s, stderr) = p.finish(p.start_run_with(source, keep_one, json!({"run_id": "three"}), &[]));
    assert!(ok, "{stderr}\n{s:#}");
    let report = &s["run_summary"]["retention"];
    assert_eq!(report["removed"], json!(["one"]), "{s:#}");
    assert_eq!(report["runs_kept"], 2, "{s:#}");
    let mut left: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".trash", "three", "two"]);
    // The results in S3 are not retention's: the first run's are still there.
    assert_eq!(p.processed("one").len(), 4);
}

/// The SFTP source, incremental, through the real procurement (a real
/// OpenSSH server): the second run fetches only the new file and the files
/// whose size or mtime changed.
#[test]
fn an_incremental_sftp_run_fetches_only_new_or_changed_files() {
    let p = Pipeline::start();
    let sshd = testkit::SshServer::start().expect("sshd");
    let key_arn = p.rt.block_on(async {
        let conf = testkit::aws::sdk_config(&p.moto);
        let secrets = aws_sdk_secretsmanager::Client::new(&conf);
        let out = secrets
            .create_secret()
            .name("feed-key")
            .secret_string(sshd.client_key().private.clone())
            .send()
            .await
            .unwrap();
        out.arn().unwrap().to_string()
    });
    let write = |name: &str, records: usize| {
        let body = "{\"stars\": 4, \"review_count\": 10}\n".repeat(records);
        std::fs::write(sshd.root().join(format!("{name}.jsonl")), body).unwrap();
    };
    for name in ["a", "b", "c"] {
        write(name, 1);
    }
    let source = json!({
        "type": "sftp", "host": "127.0.0.1", "port": sshd.port(), "user": sshd.user(),
        "private_key_secret_arn": key_arn, "host_key": sshd.known_hosts_line(),
        "directory": sshd.root().display().to_string(), "glob": "*.jsonl", "incremental": true,
    });
    let (ok, s, stderr) = p.run_source(source.clone(), json!({"run_id": "night-1"}), &[]);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(p.processed("night-1"), names(&["a", "b", "c"]));
    assert_eq!(p.keys("results/_ledger/done/").len(), 3);

    write("b", 2); // another size
    let c = std::fs::File::options().write(true).open(sshd.root().join("c.jsonl")).unwrap();
    c.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600)).unwrap(); // another mtime
    write("d", 1); // new
    let (ok, s, stderr) = p.run_source(source.clone(), json!({"run_id": "night-2"}), &[]);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(p.processed("night-2"), names(&["b", "c", "d"]));
    assert_eq!(s["prep"]["ledger"]["done"], 1, "{s:#}");

    let (ok, s, stderr) = p.run_source(source, json!({"run_id": "night-3"}), &[]);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["final_state"], "NoWork", "{s:#}");
}

/// Two scheduled runs started together over 400 new objects (enough that
/// their claims, 32 at a time, interleave): each object is processed by
/// exactly one of them, none is lost, and each is recorded done once.
#[test]
fn two_runs_started_together_process_each_input_once() {
    let p = Pipeline::start();
    let all: Vec<String> = (0..400).map(|i| format!("o{i:03}")).collect();
    for name in &all {
        p.put(name, 1);
    }
    let source =
        json!({"type": "s3", "bucket": "src", "prefix": "in/", "suffix": ".jsonl", "incremental": true});
    let a = p.start_run(source.clone(), json!({"run_id": "left", "items_per_node": 50}), &[]);
    let b = p.start_run(source, json!({"run_id": "right", "items_per_node": 50}), &[]);
    let ((ok_a, sa, err_a), (ok_b, sb, err_b)) = (p.finish(a), p.finish(b));
    assert!(ok_a && ok_b, "{err_a}\n{err_b}\n{sa:#}\n{sb:#}");
    let (left, right) = (p.processed("left"), p.processed("right"));
    assert!(left.is_disjoint(&right), "processed twice: {:?}", left.intersection(&right).collect::<Vec<_>>());
    let union: BTreeSet<String> = left.union(&right).cloned().collect();
    let split = format!("{} / {}", sa["prep"]["ledger"], sb["prep"]["ledger"]);
    assert_eq!(
        union,
        all.iter().map(|n| format!("{n}.jsonl")).collect::<BTreeSet<_>>(),
        "none lost: {split}"
    );
    assert_eq!(p.keys("results/_ledger/done/").len(), 400);
    assert!(p.keys("results/_ledger/claims/").is_empty());
}
