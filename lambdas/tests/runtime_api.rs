//! The compiled `prep` and `watcher` binaries, driven through a stand-in of
//! the Lambda Runtime API exactly as Lambda drives `bootstrap`: one
//! process per test serves many events (good, retried, malformed,
//! throttled) and must answer each with a response or a typed error, and
//! stay alive.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    FunctionProcess, batch_queue, efs_dir, put_objects, s3_config, sdk_for, submit_run, synthetic_config,
    use_simple_batch,
};
use serde_json::{Value, json};
use testkit::http::{Response, Server};
use testkit::lambda_runtime::blocking::RuntimeApi;

const PREP: &str = env!("CARGO_BIN_EXE_prep");
const WATCHER: &str = env!("CARGO_BIN_EXE_watcher");

fn with(mut v: Value, path: &[&str], x: Value) -> Value {
    let mut at = &mut v;
    for p in &path[..path.len() - 1] {
        at = at.get_mut(*p).unwrap();
    }
    at[path[path.len() - 1]] = x;
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn prep_binary_answers_good_retried_and_malformed_events() {
    let moto = testkit::MotoServer::start().unwrap();
    let s3 = batch_lambdas::runtime::s3_client(&testkit::aws::sdk_config(&moto));
    let keys: Vec<(String, usize)> = (0..25).map(|i| (format!("in/{i:03}.csv"), 8)).collect();
    put_objects(&s3, "src", &keys).await;
    let efs = efs_dir();
    let api = RuntimeApi::start().unwrap();
    let mut function = FunctionProcess::start(PREP, &api.host_port(), &moto.endpoint(), &[]);
    let config = s3_config(efs.path(), "src", "in/", ".csv", 10);

    // A good event, then the same event again (a Step Functions retry).
    let good = json!({"config": config, "overrides": {"trigger": "manual"}, "execution": "exec-42"});
    let first = api.invoke(good.clone());
    let answer = first.response().clone();
    assert_eq!(answer["status"], "READY");
    assert_eq!(answer["run_id"], "exec-42");
    assert_eq!(answer["array_size"], 3);
    assert_eq!(answer["mode"], "array");
    assert_eq!(answer["items"], 25);
    assert_eq!(answer["contract_version"], 1);
    let run_json = std::fs::read(efs.path().join("runs/exec-42/run.json")).unwrap();
    let slice = std::fs::read(efs.path().join("runs/exec-42/nodes/2/prep/slice.json")).unwrap();
    assert_eq!(api.invoke(good.clone()), first, "a retry gets the same answer");
    assert_eq!(std::fs::read(efs.path().join("runs/exec-42/run.json")).unwrap(), run_json);
    assert_eq!(std::fs::read(efs.path().join("runs/exec-42/nodes/2/prep/slice.json")).unwrap(), slice);

    // Same run id, different config.
    let conflict =
        json!({"config": with(config.clone(), &["items_per_node"], json!(5)), "execution": "exec-42"});
    assert_eq!(api.invoke(conflict).error_type(), "LayoutConflict");

    // Malformed events: each a typed error naming the field.
    let malformed = [
        (json!({}), "missing field `config`"),
        (json!([1, 2]), "event: expected a JSON object"),
        (json!({"config": "yes"}), "config: invalid type"),
        (json!({"config": with(config.clone(), &["items_per_node"], json!(0))}), "config.items_per_node: 0"),
        (
            json!({"config": with(config.clone(), &["items_per_node"], json!(true))}),
            "config.items_per_node: invalid type",
        ),
        (json!({"config": with(config.clone(), &["max_nodes"], json!(0))}), "config.max_nodes: 0"),
        (json!({"config": with(config.clone(), &["max_nodes"], json!(1))}), "config.max_nodes: 1"),
        (json!({"config": with(config.clone(), &["max_nodes"], json!(10_001))}), "config.max_nodes: 10001"),
        (
            json!({"config": with(config.clone(), &["source", "bucket"], json!(["src"]))}),
            "config.source: bucket: invalid type",
        ),
        (json!({"config": config.clone(), "overrides": {"run_id": "../etc"}}), "overrides.run_id"),
        (
            json!({"config": config.clone(), "overrides": {"items_per_node": "ten"}}),
            "overrides.items_per_node: invalid type",
        ),
        (json!({"config": with(config.clone(), &["version"], json!(9))}), "config.version: 9"),
    ];
    for (event, want) in malformed {
        let outcome = api.invoke(event.clone());
        assert_eq!(outcome.error_type(), "InvalidEvent", "{event}");
        assert!(outcome.error_message().contains(want), "{event}: {}", outcome.error_message());
    }

    // Work of 0, 1 and 10,001 items.
    let none =
        api.invoke(json!({"config": synthetic_config(efs.path(), 0, 10), "overrides": {"run_id": "zero"}}));
    assert_eq!(none.response()["status"], "NO_WORK");
    assert_eq!(none.response()["array_size"], 0);
    assert_eq!(none.response()["mode"], "none");
    let one =
        api.invoke(json!({"config": synthetic_config(efs.path(), 1, 10), "overrides": {"run_id": "one"}}));
    assert_eq!(
        (one.response()["array_size"].as_u64(), one.response()["mode"].as_str()),
        (Some(1), Some("single"))
    );
    let many = api
        .invoke(json!({"config": synthetic_config(efs.path(), 10_001, 1), "overrides": {"run_id": "many"}}));
    assert_eq!(many.response()["array_size"], 10_000);
    assert_eq!(many.response()["node_items"], json!({"min": 1, "max": 2}));

    assert!(function.alive(), "the function survives every error: {}", function.stderr());
    let logs = function.stderr();
    assert!(!logs.contains("panicked"), "{logs}");
    let line = logs.lines().find(|l| l.contains("run prepared")).expect("a JSON log line");
    let parsed: Value = serde_json::from_str(line).expect("logs are JSON lines");
    assert_eq!(parsed["level"], "INFO");
}

#[tokio::test(flavor = "multi_thread")]
async fn prep_binary_reports_s3_throttling_as_throttled() {
    let hits = Arc::new(Mutex::new(0u32));
    let counter = hits.clone();
    let s3 = Server::start(move |_req| {
        *counter.lock().unwrap() += 1;
        Response::new(
            503,
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
        )
        .with_header("Content-Type", "application/xml")
    })
    .unwrap();
    let efs = efs_dir();
    let api = RuntimeApi::start().unwrap();
    let mut function = FunctionProcess::start(PREP, &api.host_port(), &s3.url(), &[]);
    let outcome = api.invoke(json!({"config": s3_config(efs.path(), "src", "in/", "", 10)}));
    assert_eq!(outcome.error_type(), "Throttled", "{outcome:?}");
    assert!(outcome.error_message().contains("SlowDown"), "{}", outcome.error_message());
    assert_eq!(*hits.lock().unwrap(), 4, "four attempts with backoff before giving up");
    assert!(function.alive());
}

#[tokio::test(flavor = "multi_thread")]
async fn watcher_binary_against_moto_and_a_throttling_batch() {
    let moto = testkit::MotoServer::start().unwrap();
    use_simple_batch(&moto.endpoint());
    let batch = batch_lambdas::runtime::batch_client(&sdk_for(&moto.endpoint()));
    let (queue, def) = batch_queue(&batch).await;
    let ids = submit_run(&batch, &queue, &def, 2).await;
    let api = RuntimeApi::start().unwrap();
    let mut function = FunctionProcess::start(WATCHER, &api.host_port(), &moto.endpoint(), &[]);

    let jobs: serde_json::Map<String, Value> = ids.iter().map(|(s, id)| (s.clone(), json!(id))).collect();
    let done = api.invoke(json!({"jobs": jobs, "run_id": "r"}));
    let v = done.response();
    assert_eq!(
        (v["finished"].as_bool(), v["succeeded"].as_bool(), v["status"].as_str()),
        (Some(true), Some(true), Some("SUCCEEDED"))
    );
    assert_eq!(v["stages"]["egress"]["counts"]["SUCCEEDED"], 2);
    assert_eq!(v["failed_indices"]["processing"], json!(""));
    assert_eq!(v["rerun_indices"], json!(""));

    let unseen = api.invoke(json!({"jobs": {"procurement": "not-submitted-yet"}}));
    assert_eq!(unseen.response()["finished"], false);
    assert_eq!(unseen.response()["succeeded"], false);
    assert_eq!(unseen.response()["not_visible"], json!(["procurement"]));

    for (event, want) in [
        (json!({"jobs": {}}), "at least one"),
        (json!({"jobs": {"egress": 5}}), "jobs.egress"),
        (json!({"job": {"egress": "x"}}), "missing field `jobs`"),
    ] {
        let outcome = api.invoke(event.clone());
        assert_eq!(outcome.error_type(), "InvalidEvent", "{event}");
        assert!(outcome.error_message().contains(want), "{event}: {}", outcome.error_message());
    }
    assert!(function.alive());
    drop(function);

    // Batch throttling every call.
    let throttle =
        Server::start(|_req| Response::aws_error(429, "TooManyRequestsException", "Too Many Requests"))
            .unwrap();
    let api = RuntimeApi::start().unwrap();
    let _function = FunctionProcess::start(WATCHER, &api.host_port(), &throttle.url(), &[]);
    let outcome = api.invoke(json!({"jobs": {"procurement": "p"}}));
    assert_eq!(outcome.error_type(), "Throttled");
}

#[test]
fn without_a_lambda_environment_the_binaries_exit_with_a_message_not_a_panic() {
    for bin in [PREP, WATCHER] {
        let out = std::process::Command::new(bin).env_clear().output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("AWS_LAMBDA_RUNTIME_API"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn the_first_call_is_get_next() {
    let api = RuntimeApi::start().unwrap();
    let _function = FunctionProcess::start(WATCHER, &api.host_port(), "http://127.0.0.1:9", &[]);
    // How soon it asks is a figure for the cold-init bench
    // (lambdas/bench), not something this test can judge on a shared host;
    // the 10 s only bounds the wait.
    api.wait_first_next(Duration::from_secs(10)).expect("the function asks for an event");
    assert_eq!(api.next_calls(), 1);
    assert_eq!(api.init_error(), None);
}
