//! Retention of run directories (`config.retention`), applied by the
//! summarize mode after it wrote its run's summary: runs prepared by prep
//! and summarized by summarize in a temporary directory as EFS, summaries
//! in moto S3. Each rule of docs/operations.md ("Run directories on EFS").

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use batch_lambdas::prep::{self, PrepDeps};
use batch_lambdas::summary;
use batch_lambdas::summary::retention::{TRASH_DIR, apply, apply_with_budget};
use common::synthetic_config;
use contract::run_config::Retention;
use serde_json::{Value, json};

const DAY: u64 = 86_400;

async fn setup(moto: &testkit::MotoServer) -> PrepDeps {
    let deps = common::prep_deps(moto);
    deps.s3.create_bucket().bucket("out").send().await.unwrap();
    deps
}

/// Prepares `run_id` (3 nodes); the summarize event for it.
async fn prepare(deps: &PrepDeps, efs: &Path, run_id: &str) -> Value {
    let config = synthetic_config(efs, 120, 40);
    let run = prep::handle(deps, json!({"config": config, "overrides": {"run_id": run_id}})).await.unwrap();
    json!({"action": "summarize", "config": config, "run": run, "execution": run_id,
           "started": "2026-12-06T12:00:00.000Z"})
}

/// Prepares and summarizes `run_id` (FAILED unless `succeeded`), without
/// retention, and dates its summary `age_days` back.
async fn finished(deps: &PrepDeps, efs: &Path, run_id: &str, succeeded: bool, age_days: u64) {
    let mut event = prepare(deps, efs, run_id).await;
    if !succeeded {
        event["failure"] = json!({"Error": "PipelineRunFailed", "Cause": "node 1 failed"});
    }
    summary::handle(deps, event).await.unwrap();
    age(&efs.join("runs").join(run_id).join("run_summary.json"), age_days);
}

/// Sets `path`'s modification time `days` (and a minute) back.
fn age(path: &Path, days: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(days * DAY + 60)).unwrap();
}

fn runs(efs: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(efs.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn trash(efs: &Path) -> PathBuf {
    efs.join("runs").join(TRASH_DIR)
}

fn trash_entries(efs: &Path) -> usize {
    std::fs::read_dir(trash(efs)).map(|d| d.count()).unwrap_or(0)
}

/// keep_runs: the newest successful runs stay (the current one takes a
/// place), older successful ones go; a failed run and a running one (no
/// summary) are neither counted nor removed; a second pass changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn keep_runs_keeps_the_newest_successes_and_never_a_failed_running_or_current_run() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = setup(&moto).await;
    let efs = common::efs_dir();
    let root = efs.path();
    // a (oldest) .. d (newest) succeeded; e failed, older than all; f runs.
    for (run, days) in [("a", 5), ("b", 4), ("c", 3), ("d", 2)] {
        finished(&deps, root, run, true, days).await;
    }
    finished(&deps, root, "e", false, 9).await;
    prepare(&deps, root, "f").await;

    let mut event = prepare(&deps, root, "g").await;
    event["config"]["retention"] = json!({"keep_runs": 2});
    let answer = serde_json::to_value(summary::handle(&deps, event.clone()).await.unwrap()).unwrap();
    assert_eq!(runs(root), vec![TRASH_DIR, "d", "e", "f", "g"]);
    let report = &answer["retention"];
    assert_eq!(report["runs_removed"], 3, "{answer}");
    assert_eq!(report["removed"], json!(["c", "b", "a"]), "newest first");
    assert_eq!((report["runs_kept"].as_u64(), report["runs_unfinished"].as_u64()), (Some(4), Some(1)));
    assert_eq!(report["errors"], json!([]));
    assert_eq!(trash_entries(root), 0, "nothing left half-removed");
    assert!(answer.get("claims").is_none(), "not incremental: {answer}");

    // Idempotent: the same summarize again removes nothing more.
    let again = serde_json::to_value(summary::handle(&deps, event).await.unwrap()).unwrap();
    assert_eq!(again["retention"]["runs_removed"], 0);
    assert_eq!(runs(root), vec![TRASH_DIR, "d", "e", "f", "g"]);
}

/// max_age_days: finished runs older than the limit go, failed ones too;
/// a run without a summary stays however old, and so does a failed run
/// being rerun (prep's replay removes its summary: it runs again).
#[tokio::test(flavor = "multi_thread")]
async fn max_age_removes_old_finished_runs_but_not_running_or_rerun_ones() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = setup(&moto).await;
    let efs = common::efs_dir();
    let root = efs.path();
    finished(&deps, root, "old-ok", true, 10).await;
    finished(&deps, root, "old-failed", false, 10).await;
    finished(&deps, root, "rerun", false, 10).await;
    finished(&deps, root, "new-ok", true, 1).await;
    prepare(&deps, root, "old-running").await;
    age(&root.join("runs/old-running/run.json"), 30);
    // The failed run is started again by its id: prep replays it and its
    // summary goes.
    let again = prepare(&deps, root, "rerun").await;
    assert_eq!(again["run"]["run_id"], "rerun");
    assert!(!root.join("runs/rerun/run_summary.json").exists());

    let report =
        apply(root, "current", &Retention { keep_runs: None, max_age_days: Some(7) }, SystemTime::now());
    let mut removed = report.removed.clone();
    removed.sort();
    assert_eq!(removed, vec!["old-failed", "old-ok"]);
    assert_eq!(report.runs_unfinished, 2, "{report:?}");
    assert_eq!(runs(root), vec![TRASH_DIR, "new-ok", "old-running", "rerun"]);
}

/// A pass that stopped half way (crashed, or out of time) leaves its
/// directory in `.trash/`, where no run is looked for; the next pass
/// finishes it. A pass with no time left removes nothing and loses nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_half_removed_run_is_finished_by_the_next_pass_and_never_taken_for_a_run() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = setup(&moto).await;
    let efs = common::efs_dir();
    let root = efs.path();
    finished(&deps, root, "a", true, 3).await;
    finished(&deps, root, "b", true, 2).await;
    finished(&deps, root, "c", true, 1).await;
    // A pass that crashed after renaming "a" and removing node 0.
    std::fs::create_dir_all(trash(root)).unwrap();
    let moved = trash(root).join("a.1-2");
    std::fs::rename(root.join("runs/a"), &moved).unwrap();
    std::fs::remove_dir_all(moved.join("nodes/0")).unwrap();
    let keep_one = Retention { keep_runs: Some(1), max_age_days: None };

    // No time: nothing is touched.
    let report = apply_with_budget(root, "current", &keep_one, SystemTime::now(), Duration::ZERO);
    assert_eq!((report.runs_removed, report.trash_finished, report.trash_left), (0, 0, 1));
    assert_eq!(runs(root), vec![TRASH_DIR, "b", "c"]);
    assert!(moved.join("nodes/1").is_dir());

    let report = apply(root, "current", &keep_one, SystemTime::now());
    assert_eq!(report.trash_finished, 1);
    assert_eq!(report.removed, vec!["b"], "a was not counted as a run");
    assert_eq!(runs(root), vec![TRASH_DIR, "c"]);
    assert_eq!(trash_entries(root), 0);
}

/// Two passes at once over the same runs: every run is removed by exactly
/// one of them, none is left, neither reports an error.
#[tokio::test(flavor = "multi_thread")]
async fn two_passes_at_once_remove_each_run_once() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = setup(&moto).await;
    let efs = common::efs_dir();
    let root = efs.path().to_path_buf();
    for i in 0..20 {
        finished(&deps, &root, &format!("r{i:02}"), true, 2).await;
    }
    let rule = Retention { keep_runs: None, max_age_days: Some(1) };
    let passes: Vec<_> = ["x", "y"]
        .into_iter()
        .map(|current| {
            let root = root.clone();
            std::thread::spawn(move || apply(&root, current, &rule, SystemTime::now()))
        })
        .collect();
    let reports: Vec<_> = passes.into_iter().map(|p| p.join().unwrap()).collect();
    for r in &reports {
        assert!(r.errors.is_empty(), "{r:?}");
    }
    assert_eq!(reports.iter().map(|r| r.runs_removed).sum::<u64>(), 20, "{reports:?}");
    assert_eq!(runs(&root), vec![TRASH_DIR]);
    assert_eq!(trash_entries(&root), 0);
}
