//! A whole run under faults (issue 19, scenario 5): prep, the watcher and
//! the jobs reach moto's S3 and the local Batch through fault proxies that
//! throttle, fail, reset (before and after the call reached moto) and
//! delay a share of their requests. The run must succeed with exactly the
//! results of a clean run of the same inputs: the same objects, byte for
//! byte, the same counts.
//!
//! `make test` runs one seed at 10%; `make chaos` runs `CHAOS_RUNS` seeds
//! (from `CHAOS_SEED`, default 1) at `CHAOS_RATE`.

mod binaries;

use std::collections::BTreeMap;
use std::process::Stdio;

use binaries::{definition, moto_with_buckets, outcome, run_command};
use serde_json::{Value, json};

struct Pipeline {
    moto: testkit::MotoServer,
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
}

impl Pipeline {
    fn start(inputs: usize) -> Pipeline {
        let (moto, rt, s3) = moto_with_buckets(&["src", "out"]);
        rt.block_on(async {
            // Inputs of different sizes and contents; every tenth line is
            // not a review the calculation accepts, so rejects are compared too.
            for i in 0..inputs {
                let body: String = (0..20 + i * 7)
                    .map(|n| match n % 10 {
                        9 => format!("{{\"stars\": \"many\", \"review_count\": {n}}}\n"),
                        _ => format!("{{\"stars\": {}, \"review_count\": {}}}\n", n % 5 + 1, i * 100 + n),
                    })
                    .collect();
                s3.put_object()
                    .bucket("src")
                    .key(format!("in/{i:03}.jsonl"))
                    .body(body.into_bytes().into())
                    .send()
                    .await
                    .expect("put input");
            }
        });
        Pipeline { moto, dir: tempfile::tempdir().unwrap(), rt, s3 }
    }

    /// One run of the incremental S3 source (its claims and ledger are
    /// conditional writes: the calls a reset-after makes ambiguous),
    /// writing under `out/<prefix>/`.
    fn run(&self, prefix: &str, args: &[&str]) -> (bool, Value, String) {
        let config = json!({
            "version": 1,
            "pipeline": "t",
            "efs_mount_path": "/mnt/efs",
            "source": {"type": "s3", "bucket": "src", "prefix": "in/", "suffix": ".jsonl", "incremental": true},
            "items_per_node": 2,
            "transform": {"kind": "jsonl_calc", "calculations": ["review_score = stars * review_count"]},
            "egress": {"bucket": "out", "prefix": prefix},
        });
        let input = self.dir.path().join(format!("input-{prefix}.json"));
        std::fs::write(&input, json!({"config": config, "overrides": {}}).to_string()).unwrap();
        let summary = self.dir.path().join(format!("summary-{prefix}.json"));
        let efs = self.dir.path().join(format!("efs-{prefix}"));
        let child = run_command(&definition(), &input, &efs, &summary)
            .arg("--no-progress")
            .args(args)
            .envs(self.moto.aws_env())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        outcome(&child.wait_with_output().unwrap(), &summary)
    }

    /// The run's objects under `out/<prefix>/<run_id>/`: key (without that
    /// part) -> contents, a manifest's mentions of the run's prefix and id
    /// made neutral (they are all that may differ between two runs). The
    /// run summary is left out (it holds timings).
    fn results(&self, prefix: &str, run_id: &str) -> BTreeMap<String, Vec<u8>> {
        let root = format!("{prefix}/{run_id}/");
        self.rt.block_on(async {
            let mut out = BTreeMap::new();
            let mut pages = self.s3.list_objects_v2().bucket("out").prefix(&root).into_paginator().send();
            while let Some(page) = pages.next().await {
                for key in page.unwrap().contents().iter().filter_map(|o| o.key()) {
                    if key.ends_with("_run_summary.json") {
                        continue;
                    }
                    let got = self.s3.get_object().bucket("out").key(key).send().await.unwrap();
                    let mut body = got.body.collect().await.unwrap().into_bytes().to_vec();
                    if key.ends_with("_manifest.json") {
                        let text = String::from_utf8(body).unwrap();
                        body = text.replace(&root, "<run>/").replace(run_id, "<run_id>").into_bytes();
                    }
                    out.insert(key[root.len()..].to_string(), body);
                }
            }
            out
        })
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn a_run_under_faults_gives_exactly_what_a_clean_run_gives() {
    let runs: u64 = env_or("CHAOS_RUNS", 1);
    let first_seed: u64 = env_or("CHAOS_SEED", 1);
    let rate: f64 = env_or("CHAOS_RATE", 0.1);
    let p = Pipeline::start(24);
    let (ok, clean, stderr) = p.run("clean", &[]);
    assert!(ok, "the clean run failed: {stderr}\n{clean:#}");
    let want = p.results("clean", clean["run_id"].as_str().unwrap());
    assert!(want.keys().any(|k| k.ends_with(".rejects.jsonl")), "{:?}", want.keys());
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for seed in first_seed..first_seed + runs {
        let prefix = format!("faulty-{seed}");
        let spec = format!("seed={seed},rate={rate},latency={rate},latency-ms=20,services=s3+batch");
        let (ok, s, stderr) = p.run(&prefix, &["--faults", &spec]);
        let faults = &s["faults"];
        assert!(ok, "seed {seed}: the run under faults failed: {stderr}\n{s:#}");
        for key in
            ["status", "array_size", "records_in", "records_clean", "records_rejected", "output_objects"]
        {
            assert_eq!(s[key], clean[key], "seed {seed}: {key}\n{faults:#}");
        }
        let got = p.results(&prefix, s["run_id"].as_str().unwrap());
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "seed {seed}: other objects\n{faults:#}"
        );
        for (key, body) in &want {
            assert!(
                got[key] == *body,
                "seed {seed}: {key} differs from the clean run's:\n{}\n{}\n{faults:#}",
                String::from_utf8_lossy(&got[key]),
                String::from_utf8_lossy(body)
            );
        }
        for proxy in ["aws", "batch"] {
            for (kind, n) in faults[proxy]["injected"].as_object().unwrap() {
                *totals.entry(format!("{proxy} {kind}")).or_default() += n.as_u64().unwrap();
            }
            *totals.entry(format!("{proxy} requests")).or_default() +=
                faults[proxy]["requests"].as_u64().unwrap();
        }
        for st in ["procurement", "processing", "egress"] {
            *totals.entry("node retries".into()).or_default() +=
                s["stages"][st]["retries"].as_u64().unwrap_or(0);
        }
        eprintln!("seed {seed}: {faults}");
    }
    eprintln!("{runs} run(s) under faults at rate {rate}: {totals:?}");
    assert_eq!(clean["jobs_submitted"], 3);
    // Not a vacuous pass: S3 calls met every kind of fault.
    for kind in ["throttle", "error", "reset-before", "reset-after", "latency"] {
        assert!(totals[&format!("aws {kind}")] > 0, "no {kind} injected: {totals:?}");
    }
}

/// A run that must fail (node 5's processing exits 1, a permanent failure)
/// fails under faults exactly as it fails without: the same failed
/// indices per stage, the same status, nothing else lost, one array per
/// stage.
#[test]
fn a_failing_run_under_faults_fails_exactly_as_without() {
    let seed: u64 = env_or("CHAOS_SEED", 1);
    let rate: f64 = env_or("CHAOS_RATE", 0.1);
    let p = Pipeline::start(24);
    let failing = ["--inject-failure", "processing:5:1"];
    let (ok, clean, stderr) = p.run("clean", &failing);
    assert!(!ok, "{stderr}");
    assert_eq!(clean["failed_indices"]["processing"], "5", "{clean:#}");
    let spec = format!("seed={seed},rate={rate},latency={rate},latency-ms=20,services=s3+batch");
    let (ok, s, stderr) = p.run("faulty", &[failing[0], failing[1], "--faults", &spec]);
    assert!(!ok, "{stderr}");
    for key in ["status", "failed_indices", "rerun_indices", "array_size", "jobs_submitted"] {
        assert_eq!(s[key], clean[key], "{key}\n{:#}", s["faults"]);
    }
    for st in ["procurement", "processing", "egress"] {
        for key in ["succeeded", "failed", "records_in", "records_out", "records_rejected", "objects"] {
            assert_eq!(s["stages"][st][key], clean["stages"][st][key], "{st} {key}\n{:#}", s["faults"]);
        }
    }
}
