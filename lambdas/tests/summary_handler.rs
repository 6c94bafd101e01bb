//! The prep function's summarize mode against moto S3 and a temporary
//! directory as EFS: a run prepared by prep, done markers as the jobs write
//! them, then the summary on EFS and in the egress bucket.

mod common;

use batch_jobs::RunLayout;
use batch_jobs::layout::{DoneMarker, FileEntry, ObjectEntry, Stage};
use batch_lambdas::prep::{self, PrepDeps};
use batch_lambdas::summary;
use common::synthetic_config;
use serde_json::{Value, json};

/// Node `i`'s marker for `stage`: 10 + i records in, 2 rejected, one file
/// of 100 bytes (and, for egress, one object of 100 bytes).
fn write_marker(layout: &RunLayout, i: u32, stage: Stage) {
    let mut m = DoneMarker::new(layout.run_id(), i, stage, "fp".into());
    m.records_in = 10 + i as u64;
    m.records_out = 8 + i as u64;
    m.records_rejected = 2;
    m.files = vec![FileEntry { path: format!("data/{i}.jsonl"), bytes: 100, crc64nvme: "0".repeat(16) }];
    if stage == Stage::Egress {
        m.objects = vec![ObjectEntry {
            key: format!("results/r/{i}/x.jsonl"),
            bytes: 100,
            crc64nvme: "0".repeat(16),
        }];
    }
    layout.node(i).write_done(&m).unwrap();
}

/// Prepares `run_id` with `nodes` nodes of 40 ids (egress to s3://out/results).
async fn prepare(deps: &PrepDeps, efs: &std::path::Path, run_id: &str, nodes: u64) -> Value {
    let config = synthetic_config(efs, nodes * 40, 40);
    let run = prep::handle(deps, json!({"config": config, "overrides": {"run_id": run_id}})).await.unwrap();
    assert_eq!(run.array_size as u64, nodes);
    json!({"action": "summarize", "config": config, "run": run, "execution": "exec-1",
           "started": "2026-12-06T12:00:00.000Z"})
}

async fn object(deps: &PrepDeps, key: &str) -> Vec<u8> {
    let got = deps.s3.get_object().bucket("out").key(key).send().await.unwrap();
    got.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_is_summarized_on_efs_and_in_s3_the_same_and_again_the_same() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = common::prep_deps(&moto);
    deps.s3.create_bucket().bucket("out").send().await.unwrap();
    let efs = common::efs_dir();
    let mut event = prepare(&deps, efs.path(), "r1", 4).await;
    let layout = RunLayout::new(efs.path(), "r1").unwrap();
    // Node 2 failed in processing: no processing or egress marker.
    for i in 0..4 {
        write_marker(&layout, i, Stage::Procurement);
        if i != 2 {
            write_marker(&layout, i, Stage::Processing);
            write_marker(&layout, i, Stage::Egress);
        }
    }
    // Node 3's egress marker is damaged: counted as not done, and named.
    std::fs::write(layout.node(3).done_path(Stage::Egress), b"{").unwrap();
    event["verdict"] = json!({"failed_indices": {"procurement": "", "processing": "2", "egress": ""},
                              "rerun_indices": "2", "rerun_count": 1, "finished": true});
    event["failure"] =
        json!({"Error": "PipelineRunFailed", "Cause": "processing FAILED: 1 of 4 failed (indices 2)"});

    let answer = summary::handle(&deps, event.clone()).await.unwrap();
    let answer = serde_json::to_value(answer).unwrap();
    assert_eq!(answer["status"], "FAILED");
    assert_eq!(answer["summary_bucket"], "out");
    assert_eq!(answer["summary_key"], "results/r1/_run_summary.json");
    assert_eq!((answer["nodes"].as_u64(), answer["nodes_succeeded"].as_u64()), (Some(4), Some(2)));
    assert_eq!(answer["nodes_failed"], 1);
    // Processing ran on nodes 0, 1, 3: records 10+11+13 in.
    assert_eq!((answer["records_in"].as_u64(), answer["records_rejected"].as_u64()), (Some(34), Some(6)));
    // Egress markers readable on 0 and 1 only.
    assert_eq!((answer["objects"].as_u64(), answer["object_bytes"].as_u64()), (Some(2), Some(200)));
    assert_eq!((answer["inputs_listed"].as_u64(), answer["inputs_processed"].as_u64()), (Some(160), Some(2)));
    // Small: totals and the key, nothing per node.
    assert!(serde_json::to_vec(&answer).unwrap().len() < 1024);

    let path = layout.run_dir().join("run_summary.json");
    let on_efs = std::fs::read(&path).unwrap();
    assert_eq!(answer["summary_path"], path.display().to_string());
    assert_eq!(object(&deps, "results/r1/_run_summary.json").await, on_efs, "the S3 object is the EFS file");
    let s: Value = serde_json::from_slice(&on_efs).unwrap();
    assert_eq!(s["run_id"], "r1");
    assert_eq!(s["pipeline"], "test");
    assert_eq!(s["error"], "PipelineRunFailed");
    assert_eq!(s["stages"]["processing"]["succeeded"], 3);
    assert_eq!(s["stages"]["processing"]["failed"], 1);
    assert_eq!(s["stages"]["processing"]["failed_indices"], "2");
    assert_eq!(s["stages"]["egress"]["succeeded"], 2);
    assert_eq!(s["stages"]["egress"]["not_finished"], 2);
    assert_eq!(s["stages"]["procurement"]["succeeded"], 4);
    assert_eq!(s["unreadable_markers"], 1);
    assert!(s["unreadable_examples"][0].as_str().unwrap().contains("nodes/3/egress.done.json"), "{s}");
    assert_eq!(s["started_at"], "2026-12-06T12:00:00.000Z");
    assert!(s["last_done_at"].is_string() && s["elapsed_seconds"].is_u64(), "{s}");
    // The failed indices for a person and --rerun-failed.
    let failed = layout.read_failed_indices().unwrap().unwrap();
    assert_eq!((failed.rerun_indices.as_str(), failed.execution.as_str()), ("2", "exec-1"));

    // Idempotent: the same event again writes the same bytes, both places.
    summary::handle(&deps, event).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), on_efs);
    assert_eq!(object(&deps, "results/r1/_run_summary.json").await, on_efs);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_without_its_layout_or_bucket_is_a_clear_error() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = common::prep_deps(&moto);
    let efs = common::efs_dir();
    let event = prepare(&deps, efs.path(), "r2", 2).await;
    // No egress bucket: the PUT fails, naming the object.
    let err = summary::handle(&deps, event.clone()).await.unwrap_err();
    assert!(err.message.contains("s3://out/results/r2/_run_summary.json"), "{}", err.message);
    // No run directory: named.
    let mut missing = event;
    missing["run"]["run_id"] = json!("nope");
    let err = summary::handle(&deps, missing).await.unwrap_err();
    assert!(err.message.contains("runs/nope/run.json"), "{}", err.message);
}

/// 10,000 nodes of three stages: the figure docs/lambdas.md quotes
/// (printed, not asserted: speed is measured, not unit-tested).
#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_nodes_are_summarized() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = common::prep_deps(&moto);
    deps.s3.create_bucket().bucket("out").send().await.unwrap();
    let efs = common::efs_dir();
    let event = prepare(&deps, efs.path(), "big", 10_000).await;
    let layout = RunLayout::new(efs.path(), "big").unwrap();
    for i in 0..10_000 {
        for stage in Stage::ALL {
            write_marker(&layout, i, stage);
        }
    }
    let started = std::time::Instant::now();
    let answer = serde_json::to_value(summary::handle(&deps, event).await.unwrap()).unwrap();
    eprintln!("summarize 10,000 nodes x 3 markers: {:?}", started.elapsed());
    assert_eq!(answer["status"], "SUCCEEDED");
    assert_eq!(answer["nodes_succeeded"], 10_000);
    assert_eq!(answer["records_in"], (0..10_000u64).map(|i| 10 + i).sum::<u64>());
    assert_eq!(answer["objects"], 10_000);
    assert_eq!(answer["inputs_processed"], 10_000);
}
