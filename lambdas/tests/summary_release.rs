//! A failed incremental run releases its claims in the summarize step
//! (moto S3: its conditional GetObject/DeleteObject; a temporary directory
//! as EFS): the next run takes the unfinished inputs at once, a claim
//! another run holds is left alone, finished inputs stay done.

mod common;

use std::collections::BTreeSet;

use batch_jobs::RunLayout;
use batch_jobs::layout::{DoneMarker, Stage, claim_key, done_key, ledger_prefix};
use batch_lambdas::prep::ledger::LedgerSummary;
use batch_lambdas::prep::{self, PrepDeps, PrepStatus};
use batch_lambdas::summary;
use common::{put_objects, s3_config};
use serde_json::{Value, json};

/// 30 objects, 10 per node, claims that hold an hour.
async fn setup(moto: &testkit::MotoServer, efs: &std::path::Path) -> (PrepDeps, Value) {
    let deps = common::prep_deps(moto);
    let keys: Vec<(String, usize)> = (0..30).map(|i| (format!("in/{i:03}.csv"), 10)).collect();
    put_objects(&deps.s3, "src", &keys).await;
    deps.s3.create_bucket().bucket("out").send().await.unwrap();
    let mut config = s3_config(efs, "src", "in/", ".csv", 10);
    config["source"]["incremental"] = json!(true);
    config["source"]["claim_ttl_seconds"] = json!(3600);
    (deps, config)
}

/// The claims in the ledger: id -> holder's run id.
async fn claims(s3: &aws_sdk_s3::Client) -> Vec<(String, String)> {
    let prefix = format!("{}claims/", ledger_prefix("results"));
    let listed = s3.list_objects_v2().bucket("out").prefix(&prefix).send().await.unwrap();
    let mut out = Vec::new();
    for object in listed.contents() {
        let key = object.key().unwrap();
        let got = s3.get_object().bucket("out").key(key).send().await.unwrap();
        let body: Value = serde_json::from_slice(&got.body.collect().await.unwrap().into_bytes()).unwrap();
        out.push((key.to_string(), body["run_id"].as_str().unwrap().to_string()));
    }
    out
}

/// What egress does for a finished node: its marker, its inputs' done
/// records, their claims deleted.
async fn finish_node(deps: &PrepDeps, layout: &RunLayout, index: u32) {
    let node = layout.node(index);
    for stage in Stage::ALL {
        node.write_done(&DoneMarker::new(layout.run_id(), index, stage, "fp".into())).unwrap();
    }
    let ledger = node.read_ledger().unwrap().unwrap();
    for input in ledger.inputs {
        let record = json!({"input": input.input, "run_id": layout.run_id(), "index": index});
        let done = done_key(&ledger.prefix, &input.id);
        deps.s3
            .put_object()
            .bucket("out")
            .key(done)
            .body(record.to_string().into_bytes().into())
            .send()
            .await
            .unwrap();
        let key = claim_key(&ledger.prefix, &input.id);
        deps.s3.delete_object().bucket("out").key(key).send().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_releases_only_its_own_unfinished_claims_and_the_next_run_takes_them() {
    let moto = testkit::MotoServer::start().unwrap();
    let efs = common::efs_dir();
    let (deps, config) = setup(&moto, efs.path()).await;
    let run = prep::handle(&deps, json!({"config": config, "overrides": {"run_id": "r1"}})).await.unwrap();
    assert_eq!((run.array_size, run.ledger.unwrap().claimed), (3, 30));
    let layout = RunLayout::new(efs.path(), "r1").unwrap();
    finish_node(&deps, &layout, 0).await;
    // One of node 2's claims was taken over by another run meanwhile.
    let taken = layout.node(2).read_ledger().unwrap().unwrap().inputs[0].id.clone();
    let taken_key = claim_key(&ledger_prefix("results"), &taken);
    let other = json!({"run_id": "other", "claimed_at": 1, "expires_at": 4_000_000_000u64,
                       "input": layout.node(2).read_ledger().unwrap().unwrap().inputs[0].input});
    deps.s3
        .put_object()
        .bucket("out")
        .key(&taken_key)
        .body(other.to_string().into_bytes().into())
        .send()
        .await
        .unwrap();

    // A second run now finds nothing: everything is claimed or done.
    let blocked =
        prep::handle(&deps, json!({"config": config, "overrides": {"run_id": "r2"}})).await.unwrap();
    assert_eq!(blocked.status, PrepStatus::NoWork);

    let event = json!({"action": "summarize", "config": config, "run": run, "execution": "r1",
                       "verdict": {"failed_indices": {"procurement": "1-2", "processing": "", "egress": ""},
                                   "rerun_indices": "1-2", "rerun_count": 2},
                       "failure": {"Error": "PipelineRunFailed", "Cause": "procurement FAILED: 2 of 3"}});
    let answer = serde_json::to_value(summary::handle(&deps, event.clone()).await.unwrap()).unwrap();
    assert_eq!(
        answer["claims"],
        json!({"inputs_unfinished": 20, "released": 19, "held_elsewhere": 1, "errors": []}),
        "{answer}"
    );
    assert_eq!(claims(&deps.s3).await, vec![(taken_key.clone(), "other".to_string())]);

    // Again (a retried summarize): nothing of its own is left to release.
    let again = serde_json::to_value(summary::handle(&deps, event).await.unwrap()).unwrap();
    assert_eq!(
        (again["claims"]["released"].as_u64(), again["claims"]["held_elsewhere"].as_u64()),
        (Some(0), Some(1))
    );

    // The next run takes the 19 at once, long before r1's claims expire;
    // node 0's inputs stay done.
    let r3 = prep::handle(&deps, json!({"config": config, "overrides": {"run_id": "r3"}})).await.unwrap();
    assert_eq!(
        r3.ledger,
        Some(LedgerSummary { listed: 30, done: 10, claimed_elsewhere: 1, taken_over: 0, claimed: 19 })
    );
    let holders: BTreeSet<String> = claims(&deps.s3).await.into_iter().map(|(_, run)| run).collect();
    assert_eq!(holders, BTreeSet::from(["other".to_string(), "r3".to_string()]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_successful_run_releases_nothing() {
    let moto = testkit::MotoServer::start().unwrap();
    let efs = common::efs_dir();
    let (deps, config) = setup(&moto, efs.path()).await;
    let run = prep::handle(&deps, json!({"config": config, "overrides": {"run_id": "r1"}})).await.unwrap();
    let event = json!({"action": "summarize", "config": config, "run": run, "execution": "r1"});
    let answer = serde_json::to_value(summary::handle(&deps, event).await.unwrap()).unwrap();
    assert!(answer.get("claims").is_none(), "{answer}");
    assert_eq!(claims(&deps.s3).await.len(), 30, "claims stay until egress records the inputs");
}
