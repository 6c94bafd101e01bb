//! The local Batch schedules job queues as AWS Batch does: with one queue
//! for all three stages, nodes run in the order they became RUNNABLE, so
//! later stages wait behind every procurement node; with the pipeline's
//! second, higher-priority queue for processing and egress, a node whose
//! dependency is met takes the next free slot. Real child processes (a
//! shell command per node) on one slot, so the order is exact.

use std::path::Path;

use batch_runner::batch::{
    BatchConfig, FIRST_STAGE_PRIORITY, LATER_STAGES_PRIORITY, LocalBatch, STAGES, Status,
};
use serde_json::json;

const NODES: u32 = 6;

fn write_stage_commands(bin: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(bin).unwrap();
    for stage in STAGES {
        let path = bin.join(stage);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Runs the three stages, each sent to its queue, on one slot; returns
/// (stage, index) in the order they started, and the queues' priorities.
async fn run_order(queues: [&str; 3]) -> (Vec<(String, u32)>, Vec<(String, i32)>) {
    let dir = tempfile::tempdir().unwrap();
    write_stage_commands(&dir.path().join("bin"));
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let batch = LocalBatch::new(BatchConfig {
        bin_dir: dir.path().join("bin"),
        efs_dir: dir.path().join("efs"),
        log_dir: dir.path().join("logs"),
        concurrency: 1,
        default_attempts: 1,
        rerun_only: None,
        inject: Vec::new(),
        progress: false,
        default_env: Vec::new(),
    });
    let mut previous: Option<String> = None;
    // All three submitted before a slot runs anything, as Step Functions
    // submits them within a second of each other.
    for (stage, queue) in STAGES.iter().zip(queues) {
        let mut params = json!({
            "JobName": format!("{stage}-t"), "JobQueue": queue, "JobDefinition": format!("t-{stage}:1"),
            "ArrayProperties": {"Size": NODES},
            "ContainerOverrides": {"Environment": [{"Name": "RUN_ID", "Value": "t"}]},
        });
        if let Some(id) = &previous {
            params["DependsOn"] = json!([{"JobId": id, "Type": "N_TO_N"}]);
        }
        previous = batch.submit(&params).unwrap()["JobId"].as_str().map(str::to_string);
    }
    let workers = batch.start_workers();
    batch.wait_all_terminal().await;
    batch.shutdown();
    for w in workers {
        w.await.unwrap();
    }
    let g = batch.lock();
    let mut started = Vec::new();
    for job in &g.jobs {
        for (i, c) in job.children.iter().enumerate() {
            assert_eq!(c.status, Status::Succeeded, "{} {i}: {:?}", job.stage, c.reason);
            started.push((c.started.unwrap(), job.stage.clone(), i as u32));
        }
    }
    started.sort();
    drop(g);
    (started.into_iter().map(|(_, s, i)| (s, i)).collect(), batch.queue_priorities())
}

fn node(stage: &str, i: u32) -> (String, u32) {
    (stage.to_string(), i)
}

#[tokio::test]
async fn one_queue_runs_later_stages_only_after_every_procurement_node() {
    let (order, priorities) = run_order(["p-queue"; 3]).await;
    let expected: Vec<_> = STAGES.iter().flat_map(|s| (0..NODES).map(move |i| node(s, i))).collect();
    assert_eq!(order, expected);
    assert_eq!(priorities, vec![("p-queue".to_string(), FIRST_STAGE_PRIORITY)]);
}

#[tokio::test]
async fn the_later_stages_queue_runs_a_node_as_soon_as_its_dependency_is_met() {
    let (order, priorities) = run_order(["p-queue", "p-stages-queue", "p-stages-queue"]).await;
    let expected: Vec<_> = (0..NODES).flat_map(|i| STAGES.iter().map(move |s| node(s, i))).collect();
    assert_eq!(order, expected);
    assert_eq!(
        priorities,
        vec![
            ("p-queue".to_string(), FIRST_STAGE_PRIORITY),
            ("p-stages-queue".to_string(), LATER_STAGES_PRIORITY)
        ]
    );
}

/// The priorities the runner gives the queues are the provider's defaults,
/// so a definition the provider emits runs locally as it would on AWS.
#[test]
fn default_priorities_are_the_providers() {
    use provider::aws::pipeline::schema::default_of;
    let default = |attr| default_of("queue", attr).and_then(|v| v.as_i64());
    assert_eq!(default("priority"), Some(i64::from(FIRST_STAGE_PRIORITY)));
    assert_eq!(default("later_stages_priority"), Some(i64::from(LATER_STAGES_PRIORITY)));
}
