//! Jobs killed at random moments (issue 19, scenario 3): each stage of a
//! node is started, SIGKILLed after a delay drawn from a seed (anywhere in
//! its run, or just after it), and run again as Batch's retry would. The
//! retried attempt must leave exactly what an uninterrupted run leaves:
//! the same files byte for byte, no temporaries, the same counts in the
//! done marker, and (egress) the same S3 objects.
//!
//! `make test` kills each stage `KILLS_PER_STAGE` (default 4) times;
//! `make chaos` 100 times (`KILL_SEED` picks the moments).
#![cfg(feature = "aws")]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use batch_jobs::layout::{EgressSpec, NodeSlice, RunConfig, RunLayout, SourceSpec, Stage, SyntheticFormat};
use batch_jobs::transform::TransformSpec;
use testkit::MotoServer;
use testkit::faults::seeded_unit;

mod common;

struct Env {
    moto: MotoServer,
    efs: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
}

impl Env {
    fn command(&self, stage: Stage, run_id: &str) -> Command {
        let mut cmd = common::stage_command(&self.moto, self.efs.path(), stage, run_id, 0);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        cmd
    }

    /// Runs `stage` of `run_id` to the end; returns how long it took.
    fn complete(&self, stage: Stage, run_id: &str) -> Duration {
        let started = Instant::now();
        let out = self.command(stage, run_id).output().unwrap();
        assert!(
            out.status.success(),
            "{} of {run_id}: {}",
            stage.as_str(),
            String::from_utf8_lossy(&out.stderr)
        );
        started.elapsed()
    }

    fn layout(&self, run_id: &str) -> RunLayout {
        RunLayout::new(self.efs.path(), run_id).unwrap()
    }

    /// The run's objects under `out/<run_id>/`: relative key -> bytes, the
    /// manifest's mentions of the run id made neutral.
    fn objects(&self, run_id: &str) -> BTreeMap<String, Vec<u8>> {
        let root = format!("out/{run_id}/");
        self.rt.block_on(async {
            let mut out = BTreeMap::new();
            let listed = self.s3.list_objects_v2().bucket("egress").prefix(&root).send().await.unwrap();
            for key in listed.contents().iter().filter_map(|o| o.key()) {
                let got = self.s3.get_object().bucket("egress").key(key).send().await.unwrap();
                let body = got.body.collect().await.unwrap().into_bytes().to_vec();
                let body = String::from_utf8_lossy(&body).replace(run_id, "<run_id>").into_bytes();
                out.insert(key[root.len()..].to_string(), body);
            }
            out
        })
    }

    fn delete_objects(&self, run_id: &str) {
        self.rt.block_on(async {
            let listed = self
                .s3
                .list_objects_v2()
                .bucket("egress")
                .prefix(format!("out/{run_id}/"))
                .send()
                .await
                .unwrap();
            for key in listed.contents().iter().filter_map(|o| o.key()) {
                self.s3.delete_object().bucket("egress").key(key).send().await.unwrap();
            }
        })
    }
}

fn synthetic_run(env: &Env, run: &str) {
    let layout = env.layout(run);
    let egress = EgressSpec {
        bucket: "egress".into(),
        prefix: "out".into(),
        multipart_threshold_bytes: 16 << 20,
        part_size_bytes: 8 << 20,
    };
    let mut config = RunConfig::new(
        run,
        1,
        SourceSpec::Synthetic { format: SyntheticFormat::YelpJsonl, records_per_id: 2 },
        TransformSpec::JsonlCalc { calculations: vec!["review_score = stars * review_count".into()] },
        Some(egress),
    );
    config.created_at = "2024-01-01T00:00:00Z".into();
    layout.create_run(&config).unwrap();
    layout.write_slice(&NodeSlice::range(0, 0, 20_000)).unwrap();
}

/// Every file under `dir` (relative path -> bytes); temporaries included,
/// so a leftover one shows up as a difference.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The counts of a done marker (its timings differ between attempts), the
/// run id made neutral.
fn marker_counts(path: &Path, run_id: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap().replace(run_id, "<run_id>");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let counts: serde_json::Map<_, _> = v
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| {
            k.starts_with("records")
                || k.starts_with("bytes")
                || k.as_str() == "objects"
                || k.as_str() == "files"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::Value::Object(counts)
}

/// What a stage leaves behind: its output directory (EFS) or objects (S3),
/// and its marker's counts.
fn outcome(env: &Env, stage: Stage, run_id: &str) -> (BTreeMap<String, Vec<u8>>, serde_json::Value) {
    let node = env.layout(run_id).node(0);
    let files = match stage {
        Stage::Procurement => tree(&node.data_dir()),
        Stage::Processing => tree(&node.results_dir()),
        Stage::Egress => env.objects(run_id),
    };
    (files, marker_counts(&node.done_path(stage), run_id))
}

/// Undoes `stage` of the victim, so the next kill lands on a fresh attempt.
fn reset(env: &Env, stage: Stage, run_id: &str) {
    let node = env.layout(run_id).node(0);
    let _ = std::fs::remove_file(node.done_path(stage));
    match stage {
        Stage::Procurement => drop(std::fs::remove_dir_all(node.data_dir())),
        Stage::Processing => drop(std::fs::remove_dir_all(node.results_dir())),
        Stage::Egress => env.delete_objects(run_id),
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn a_stage_killed_at_any_moment_then_retried_leaves_what_an_uninterrupted_run_leaves() {
    let kills: u64 = env_or("KILLS_PER_STAGE", 4);
    let seed: u64 = env_or("KILL_SEED", 1);
    let moto = MotoServer::start().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = common::s3_client(&moto);
    rt.block_on(s3.create_bucket().bucket("egress").send()).unwrap();
    let env = Env { moto, efs: tempfile::tempdir().unwrap(), rt, s3 };
    synthetic_run(&env, "reference");
    synthetic_run(&env, "victim");
    let mut report = vec![];
    for (s, stage) in [Stage::Procurement, Stage::Processing, Stage::Egress].into_iter().enumerate() {
        let reference_took = env.complete(stage, "reference");
        let want = outcome(&env, stage, "reference");
        // The first run of a stage pays for warming caches; the kills land
        // within the shorter of it and one clean run of the victim.
        reset(&env, stage, "victim");
        let took = reference_took.min(env.complete(stage, "victim"));
        assert!(!want.0.is_empty(), "{}: the reference left nothing", stage.as_str());
        let (mut killed, mut finished_first) = (0, 0);
        for k in 0..kills {
            reset(&env, stage, "victim");
            // Anywhere from the start to a little past the clean run's end.
            let delay = took.mul_f64(1.2 * seeded_unit(seed, s as u64 * 1_000_000 + k));
            let mut child = env.command(stage, "victim").stderr(Stdio::null()).spawn().unwrap();
            std::thread::sleep(delay);
            if child.try_wait().unwrap().is_some() {
                finished_first += 1;
            } else {
                child.kill().unwrap();
                killed += 1;
            }
            let _ = child.wait();
            env.complete(stage, "victim");
            let got = outcome(&env, stage, "victim");
            assert_eq!(
                got.0.keys().collect::<Vec<_>>(),
                want.0.keys().collect::<Vec<_>>(),
                "{} killed after {delay:?} (kill {k}): other files",
                stage.as_str()
            );
            for (name, bytes) in &want.0 {
                assert!(
                    got.0[name] == *bytes,
                    "{} killed after {delay:?} (kill {k}): {name} differs",
                    stage.as_str()
                );
            }
            assert_eq!(got.1, want.1, "{} killed after {delay:?} (kill {k}): counts", stage.as_str());
        }
        report.push(format!(
            "{}: {killed} killed, {finished_first} finished before the kill (clean run {took:?})",
            stage.as_str()
        ));
        // The next stage starts from a finished one.
        reset(&env, stage, "victim");
        env.complete(stage, "victim");
    }
    eprintln!("{}", report.join("\n"));
}
