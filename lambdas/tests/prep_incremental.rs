//! Incremental prep against moto S3 (its conditional PutObject) and a
//! temporary directory as EFS: what a run takes from the ledger, and two
//! runs started together. Whole runs with egress writing the done records
//! are in runner/tests/incremental_run.rs.

mod common;

use std::collections::BTreeSet;

use batch_jobs::RunLayout;
use batch_jobs::layout::{InputIdentity, claim_key, done_key, ledger_prefix};
use batch_lambdas::ErrorKind;
use batch_lambdas::prep::ledger::LedgerSummary;
use batch_lambdas::prep::{self, PrepDeps, PrepStatus};
use common::{put_objects, s3_config, synthetic_config};
use serde_json::{Value, json};

fn incremental_config(efs: &std::path::Path, ttl: u32) -> Value {
    let mut config = s3_config(efs, "src", "in/", ".csv", 10);
    config["source"]["incremental"] = json!(true);
    config["source"]["claim_ttl_seconds"] = json!(ttl);
    config
}

fn event(config: &Value, run_id: &str) -> Value {
    json!({"config": config, "overrides": {"run_id": run_id}})
}

/// Every key in the run's slices.
fn slice_keys(efs: &std::path::Path, run_id: &str, array_size: u32) -> BTreeSet<String> {
    let layout = RunLayout::new(efs, run_id).unwrap();
    (0..array_size).flat_map(|i| layout.node(i).read_slice().unwrap().items).collect()
}

async fn etag(s3: &aws_sdk_s3::Client, key: &str) -> String {
    s3.head_object().bucket("src").key(key).send().await.unwrap().e_tag().unwrap().to_string()
}

/// Writes the done record egress would write for `key` (as it is now).
async fn record_done(s3: &aws_sdk_s3::Client, key: &str) {
    let input = InputIdentity::S3 { bucket: "src".into(), key: key.into(), etag: etag(s3, key).await };
    let body = json!({"input": input, "run_id": "earlier", "index": 0}).to_string();
    s3.put_object()
        .bucket("out")
        .key(done_key(&ledger_prefix("results"), &input.id()))
        .body(body.into_bytes().into())
        .send()
        .await
        .unwrap();
}

async fn claim_body(s3: &aws_sdk_s3::Client, key: &str) -> Value {
    let input = InputIdentity::S3 { bucket: "src".into(), key: key.into(), etag: etag(s3, key).await };
    let out =
        s3.get_object().bucket("out").key(claim_key(&ledger_prefix("results"), &input.id())).send().await;
    let bytes = out.unwrap().body.collect().await.unwrap().into_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

async fn setup(moto: &testkit::MotoServer, n: usize) -> PrepDeps {
    let deps = common::prep_deps(moto);
    let keys: Vec<(String, usize)> = (0..n).map(|i| (format!("in/{i:03}.csv"), 10)).collect();
    put_objects(&deps.s3, "src", &keys).await;
    deps.s3.create_bucket().bucket("out").send().await.unwrap();
    deps
}

/// Finished inputs (done records) are skipped, a changed object (new
/// ETag) is new again, every taken input is claimed with this run's id and
/// a node's ledger.json lists exactly its slice; all done is NO_WORK.
#[tokio::test(flavor = "multi_thread")]
async fn done_inputs_are_skipped_changed_ones_come_back_and_taken_ones_are_claimed() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = setup(&moto, 30).await;
    let efs = common::efs_dir();
    let config = incremental_config(efs.path(), 600);
    for i in 0..20 {
        record_done(&deps.s3, &format!("in/{i:03}.csv")).await;
    }
    // in/005.csv changed after it was processed: another ETag.
    put_objects(&deps.s3, "src", &[("in/005.csv".into(), 11)]).await;

    let r = prep::handle(&deps, event(&config, "r1")).await.unwrap();
    assert_eq!(r.status, PrepStatus::Ready);
    assert_eq!(
        r.ledger,
        Some(LedgerSummary { listed: 30, done: 19, claimed_elsewhere: 0, taken_over: 0, claimed: 11 })
    );
    let mut expected: BTreeSet<String> = (20..30).map(|i| format!("in/{i:03}.csv")).collect();
    expected.insert("in/005.csv".into());
    assert_eq!(slice_keys(efs.path(), "r1", r.array_size), expected);
    for key in &expected {
        let claim = claim_body(&deps.s3, key).await;
        assert_eq!(claim["run_id"], "r1", "{claim}");
        assert_eq!(claim["expires_at"].as_u64().unwrap() - claim["claimed_at"].as_u64().unwrap(), 600);
    }
    let layout = RunLayout::new(efs.path(), "r1").unwrap();
    for i in 0..r.array_size {
        let node = layout.node(i);
        let ledger = node.read_ledger().unwrap().expect("ledger.json");
        let listed: Vec<String> = ledger
            .inputs
            .iter()
            .map(|e| match &e.input {
                InputIdentity::S3 { key, .. } => key.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(listed, node.read_slice().unwrap().items);
        assert_eq!((ledger.bucket.as_str(), ledger.prefix.as_str()), ("out", "results/_ledger/"));
    }
    // A retried prep of the same run answers the same (its claims are its own).
    let again = prep::handle(&deps, event(&config, "r1")).await.unwrap();
    assert_eq!(again, r);

    // Another run now: r1's claims are live, everything else is done.
    let r2 = prep::handle(&deps, event(&config, "r2")).await.unwrap();
    assert_eq!(r2.status, PrepStatus::NoWork, "{r2:?}");
    assert_eq!(
        r2.ledger,
        Some(LedgerSummary { listed: 30, done: 19, claimed_elsewhere: 11, taken_over: 0, claimed: 0 })
    );
    assert!(!RunLayout::new(efs.path(), "r2").unwrap().run_dir().exists());
}

/// Two runs started together over 200 new objects: every object goes to
/// exactly one of them (S3's If-None-Match: * lets one create each claim).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runs_started_together_share_no_input_and_lose_none() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = setup(&moto, 200).await;
    let efs = common::efs_dir();
    let config = incremental_config(efs.path(), 600);
    let (a, b) =
        tokio::join!(prep::handle(&deps, event(&config, "a")), prep::handle(&deps, event(&config, "b")));
    let (a, b) = (a.unwrap(), b.unwrap());
    let keys = |r: &prep::PrepResponse| match r.status {
        PrepStatus::Ready => slice_keys(efs.path(), &r.run_id, r.array_size),
        _ => BTreeSet::new(),
    };
    let (ka, kb) = (keys(&a), keys(&b));
    assert!(ka.is_disjoint(&kb), "both runs took {:?}", ka.intersection(&kb).collect::<Vec<_>>());
    assert_eq!(ka.len() + kb.len(), 200, "a {:?} / b {:?}", a.ledger, b.ledger);
    let (la, lb) = (a.ledger.unwrap(), b.ledger.unwrap());
    assert_eq!(la.claimed + lb.claimed, 200);
    assert_eq!(la.claimed_elsewhere, lb.claimed, "what one skipped the other took");
    for key in ka.iter().take(5) {
        assert_eq!(claim_body(&deps.s3, key).await["run_id"], "a");
    }
}

/// A claim past its expiry (its run is over) is taken over; a live one of
/// another run is not; `overrides.full` reads no done record but still
/// respects live claims.
#[tokio::test(flavor = "multi_thread")]
async fn expired_claims_are_taken_over_and_full_reprocesses_finished_inputs() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = setup(&moto, 6).await;
    let efs = common::efs_dir();
    // Run "old" claims everything with the shortest TTL and dies.
    let short = incremental_config(efs.path(), 60);
    let old = prep::handle(&deps, event(&short, "old")).await.unwrap();
    assert_eq!(old.ledger.unwrap().claimed, 6);
    // Make its claims expired by rewriting them as they would look a
    // minute later (the test cannot wait a minute): same run, past expiry.
    let prefix = ledger_prefix("results");
    for i in 0..4 {
        let key = format!("in/{i:03}.csv");
        let mut claim = claim_body(&deps.s3, &key).await;
        claim["expires_at"] = json!(claim["claimed_at"].as_u64().unwrap() - 1);
        let input =
            InputIdentity::S3 { bucket: "src".into(), key: key.clone(), etag: etag(&deps.s3, &key).await };
        deps.s3
            .put_object()
            .bucket("out")
            .key(claim_key(&prefix, &input.id()))
            .body(claim.to_string().into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    let config = incremental_config(efs.path(), 600);
    let next = prep::handle(&deps, event(&config, "next")).await.unwrap();
    assert_eq!(
        next.ledger,
        Some(LedgerSummary { listed: 6, done: 0, claimed_elsewhere: 2, taken_over: 4, claimed: 4 })
    );
    assert_eq!(claim_body(&deps.s3, "in/000.csv").await["run_id"], "next");
    assert_eq!(claim_body(&deps.s3, "in/005.csv").await["run_id"], "old");

    // Everything done; a full run takes the inputs nobody holds.
    for i in 0..6 {
        record_done(&deps.s3, &format!("in/{i:03}.csv")).await;
    }
    let plain = prep::handle(&deps, event(&config, "plain")).await.unwrap();
    assert_eq!(plain.status, PrepStatus::NoWork);
    assert_eq!(plain.ledger.unwrap().done, 6);
    let full = prep::handle(&deps, json!({"config": config, "overrides": {"run_id": "full", "full": true}}))
        .await
        .unwrap();
    assert_eq!(
        full.ledger,
        Some(LedgerSummary { listed: 6, done: 0, claimed_elsewhere: 6, taken_over: 0, claimed: 0 }),
        "claims of runs still within their time keep even a full run off"
    );
}

/// Settings that cannot work are refused before any AWS call, naming the key.
#[tokio::test(flavor = "multi_thread")]
async fn incremental_settings_that_cannot_work_are_refused_by_name() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = common::prep_deps(&moto);
    let efs = common::efs_dir();
    let refuse = |event: Value| {
        let deps = deps.clone();
        async move { prep::handle(&deps, event).await.unwrap_err() }
    };
    let mut synthetic = synthetic_config(efs.path(), 10, 5);
    synthetic["source"]["incremental"] = json!(true);
    let err = refuse(json!({"config": synthetic})).await;
    assert_eq!(err.kind, ErrorKind::InvalidEvent);
    assert!(err.message.starts_with("config.source: incremental: only the s3 and sftp"), "{}", err.message);

    let plain = s3_config(efs.path(), "src", "in/", ".csv", 10);
    let err = refuse(json!({"config": plain, "overrides": {"full": true}})).await;
    assert!(err.message.starts_with("overrides.full: only applies"), "{}", err.message);

    let mut no_egress = incremental_config(efs.path(), 600);
    no_egress["stages"] = json!(["procurement", "processing"]);
    no_egress.as_object_mut().unwrap().remove("egress");
    let err = refuse(json!({"config": no_egress})).await;
    assert!(err.message.starts_with("config.source.incremental: needs the egress stage"), "{}", err.message);

    let err = refuse(json!({"config": incremental_config(efs.path(), 0)})).await;
    assert!(err.message.starts_with("config.source.claim_ttl_seconds: 0 must be"), "{}", err.message);
}

/// The ledger is read with listings, not a request per input: 2,100
/// finished inputs (three ListObjectsV2 pages of the source, three of the
/// done records) cost six requests and no GET, HEAD or PUT, and the run is
/// NO_WORK. (moto's recorder counts what prep sent.)
#[tokio::test(flavor = "multi_thread")]
async fn a_run_over_finished_inputs_costs_listings_only() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = setup(&moto, 2_100).await;
    let efs = common::efs_dir();
    let prefix = ledger_prefix("results");
    // The done records, as egress writes them (keys by identity).
    let mut listed = Vec::new();
    let mut pages = deps.s3.list_objects_v2().bucket("src").prefix("in/").into_paginator().send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents() {
            listed.push((o.key().unwrap().to_string(), o.e_tag().unwrap().to_string()));
        }
    }
    assert_eq!(listed.len(), 2_100);
    for chunk in listed.chunks(32) {
        let mut set = tokio::task::JoinSet::new();
        for (key, etag) in chunk {
            let input = InputIdentity::S3 { bucket: "src".into(), key: key.clone(), etag: etag.clone() };
            let put = deps
                .s3
                .put_object()
                .bucket("out")
                .key(done_key(&prefix, &input.id()))
                .body(b"{}".to_vec().into());
            set.spawn(async move { put.send().await });
        }
        while let Some(done) = set.join_next().await {
            done.unwrap().unwrap();
        }
    }
    moto.recorder("start-recording").unwrap();
    let r = prep::handle(&deps, event(&incremental_config(efs.path(), 600), "quiet")).await.unwrap();
    moto.recorder("stop-recording").unwrap();
    assert_eq!(r.status, PrepStatus::NoWork);
    assert_eq!(r.ledger.unwrap().done, 2_100);
    let recording = std::fs::read_to_string(moto.recording_path()).unwrap();
    let requests: Vec<(String, String)> = recording
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| {
            (e["method"].as_str().unwrap_or("").to_string(), e["url"].as_str().unwrap_or("").to_string())
        })
        .collect();
    let lists = requests.iter().filter(|(m, u)| m == "GET" && u.contains("list-type=2")).count();
    assert_eq!(lists, 6, "{requests:?}");
    assert_eq!(requests.len(), 6, "nothing but listings: {requests:?}");
}
