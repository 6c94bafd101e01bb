//! The watcher handler against moto's Batch (what it can show: arrays that
//! succeed, or fail entirely) and against a fake Batch endpoint answering
//! DescribeJobs/ListJobs JSON built in the test (RUNNABLE children, a few
//! failed children over several ListJobs pages, throttling).

mod common;

use std::sync::{Arc, Mutex};

use batch_lambdas::ErrorKind;
use batch_lambdas::watcher::{self, RunStatus, WatcherDeps};
use common::{OwnMoto, batch_queue, sdk_for, submit_run, use_simple_batch};
use serde_json::{Value, json};
use testkit::http::{Request, Response, Server};

fn jobs_event(ids: &[(String, String)]) -> Value {
    let jobs: serde_json::Map<String, Value> = ids.iter().map(|(s, id)| (s.clone(), json!(id))).collect();
    json!({"jobs": jobs, "run_id": "r1"})
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_arrays_that_succeed_and_jobs_not_yet_visible() {
    let moto = testkit::MotoServer::start().unwrap();
    use_simple_batch(&moto.endpoint());
    let deps = WatcherDeps::from_env(&sdk_for(&moto.endpoint()));
    let (queue, def) = batch_queue(&deps.batch).await;
    let ids = submit_run(&deps.batch, &queue, &def, 3).await;

    let v = watcher::handle(&deps, jobs_event(&ids)).await.unwrap();
    assert!(v.finished && v.succeeded, "{v:?}");
    assert_eq!(v.status, RunStatus::Succeeded);
    assert_eq!(v.run_id.as_deref(), Some("r1"));
    for stage in ["procurement", "processing", "egress"] {
        let s = &v.stages[stage];
        assert_eq!(
            (s.status.as_str(), s.array_size, s.counts["SUCCEEDED"], s.counts["FAILED"]),
            ("SUCCEEDED", Some(3), 3, 0)
        );
        assert!(v.failed_indices[stage].is_empty());
    }

    // An id Batch does not know (yet): never finished, never success.
    let mut partial = ids.clone();
    partial[2].1 = "00000000-0000-0000-0000-000000000000".into();
    let v = watcher::handle(&deps, jobs_event(&partial)).await.unwrap();
    assert!(!v.finished && !v.succeeded);
    assert_eq!(v.status, RunStatus::Running);
    assert_eq!(v.not_visible, ["egress"]);
    assert_eq!(v.stages["egress"].status, "NOT_VISIBLE");
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_arrays_that_fail_report_every_failed_index() {
    let moto = OwnMoto::start(&[("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")]);
    use_simple_batch(&moto.endpoint);
    let deps = WatcherDeps::from_env(&sdk_for(&moto.endpoint));
    let (queue, def) = batch_queue(&deps.batch).await;
    let ids = submit_run(&deps.batch, &queue, &def, 3).await;
    let single = deps
        .batch
        .submit_job()
        .job_name("single")
        .job_queue(&queue)
        .job_definition(&def)
        .send()
        .await
        .unwrap()
        .job_id()
        .unwrap_or_default()
        .to_string();

    let v = watcher::handle(&deps, jobs_event(&ids)).await.unwrap();
    assert!(v.finished && !v.succeeded, "{v:?}");
    assert_eq!(v.status, RunStatus::Failed);
    for stage in ["procurement", "processing", "egress"] {
        assert_eq!(v.stages[stage].counts["FAILED"], 3);
        assert_eq!(v.failed_indices[stage], "0-2", "{stage}");
    }
    assert_eq!((v.rerun_indices.as_str(), v.rerun_count), ("0-2", 3));
    assert!(v.cause.contains("egress FAILED: 3 of 3 failed (indices 0-2)"), "{}", v.cause);

    let v = watcher::handle(&deps, json!({"jobs": {"procurement": single}})).await.unwrap();
    assert!(v.finished && !v.succeeded);
    assert_eq!(v.stages["procurement"].array_size, None);
    assert_eq!(v.failed_indices["procurement"], "0");
}

/// A fake Batch endpoint: `describe` maps a job id to its JobDetail JSON;
/// ListJobs pages come from `children` (parent -> failed child indices),
/// `page` per call. Every request is recorded.
fn fake_batch(describe: Value, children: Value, page: usize) -> (Server, Arc<Mutex<Vec<Request>>>) {
    let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
    let log = seen.clone();
    let server = Server::start(move |req| {
        log.lock().unwrap().push(req.clone());
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        match req.path() {
            "/v1/describejobs" => {
                let ids = body["jobs"].as_array().cloned().unwrap_or_default();
                assert!(ids.len() <= 100, "DescribeJobs takes at most 100 ids, got {}", ids.len());
                let jobs: Vec<Value> = ids.iter().filter_map(|id| describe.get(id.as_str()?).cloned()).collect();
                Response::json(200, &json!({"jobs": jobs}))
            }
            "/v1/listjobs" => {
                assert_eq!(body["jobStatus"], "FAILED");
                let parent = body["arrayJobId"].as_str().unwrap_or_default();
                let all: Vec<u64> = children[parent].as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
                let from: usize = body["nextToken"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
                let to = (from + page).min(all.len());
                let list: Vec<Value> = all[from..to]
                    .iter()
                    .map(|i| json!({"jobId": format!("{parent}:{i}"), "jobName": "n", "status": "FAILED", "arrayProperties": {"index": i}}))
                    .collect();
                let mut out = json!({"jobSummaryList": list});
                if to < all.len() {
                    out["nextToken"] = json!(to.to_string());
                }
                Response::json(200, &out)
            }
            other => Response::json(404, &json!({"message": format!("no route {other}")})),
        }
    })
    .unwrap();
    (server, seen)
}

fn detail(id: &str, status: &str, size: Option<u32>, summary: Value) -> Value {
    let mut d = json!({"jobId": id, "jobName": "n", "jobQueue": "q", "jobDefinition": "d", "status": status, "startedAt": 0});
    if let Some(size) = size {
        d["arrayProperties"] = json!({"size": size, "statusSummary": summary});
    }
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn runnable_children_keep_the_run_going() {
    let describe = json!({
        "p": detail("p", "SUCCEEDED", Some(4), json!({"SUCCEEDED": 4})),
        "q": detail("q", "RUNNING", Some(4), json!({"RUNNABLE": 2, "STARTING": 1, "RUNNING": 1})),
        "e": detail("e", "PENDING", Some(4), json!({"PENDING": 4})),
    });
    let (server, seen) = fake_batch(describe, json!({}), 10);
    let deps = WatcherDeps::from_env(&sdk_for(&server.url()));
    let v = watcher::handle(&deps, json!({"jobs": {"procurement": "p", "processing": "q", "egress": "e"}}))
        .await
        .unwrap();
    assert!(!v.finished && !v.succeeded);
    assert_eq!(v.status, RunStatus::Running);
    let q = &v.stages["processing"].counts;
    assert_eq!((q["RUNNABLE"], q["STARTING"], q["RUNNING"], q["SUCCEEDED"]), (2, 1, 1, 0));
    assert_eq!(v.stages["egress"].counts["PENDING"], 4);
    assert!(v.cause.contains("processing RUNNING: 2 RUNNABLE, 1 STARTING, 1 RUNNING"), "{}", v.cause);
    let requests = seen.lock().unwrap();
    assert_eq!(requests.len(), 1, "one DescribeJobs call, no ListJobs while nothing failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_children_are_listed_across_pages() {
    let describe = json!({
        "p": detail("p", "FAILED", Some(2500), json!({"SUCCEEDED": 2497, "FAILED": 3})),
        "q": detail("q", "FAILED", Some(2500), json!({"SUCCEEDED": 2497, "FAILED": 3})),
        "e": detail("e", "FAILED", Some(2500), json!({"SUCCEEDED": 2497, "FAILED": 3})),
    });
    let children = json!({"p": [7, 1999, 2400], "q": [7, 1999, 2400], "e": [7, 1999, 2400]});
    let (server, seen) = fake_batch(describe, children, 2);
    let deps = WatcherDeps::from_env(&sdk_for(&server.url()));
    let v = watcher::handle(
        &deps,
        json!({"jobs": {"procurement": "p", "processing": {"JobId": "q"}, "egress": "e"}}),
    )
    .await
    .unwrap();
    assert!(v.finished && !v.succeeded);
    assert_eq!(v.failed_indices["processing"], "7,1999,2400");
    assert_eq!(v.rerun_indices, "7,1999,2400");
    let lists = seen.lock().unwrap().iter().filter(|r| r.path() == "/v1/listjobs").count();
    assert_eq!(lists, 6, "two ListJobs pages per failed parent");
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_jobs_batches_by_100() {
    let ids: Vec<String> = (0..250).map(|i| format!("job-{i}")).collect();
    let describe: serde_json::Map<String, Value> =
        ids.iter().map(|id| (id.clone(), detail(id, "RUNNING", Some(2), json!({"RUNNING": 2})))).collect();
    let (server, seen) = fake_batch(Value::Object(describe), json!({}), 10);
    let client = batch_lambdas::runtime::batch_client(&sdk_for(&server.url()));
    let mut with_duplicates = ids.clone();
    with_duplicates.extend(ids[..10].iter().cloned());
    let found = watcher::describe::describe_jobs(&client, &with_duplicates).await.unwrap();
    assert_eq!(found.len(), 250);
    let sizes: Vec<usize> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["jobs"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_with_backoff_then_reported_as_throttled() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let log = calls.clone();
    let server = Server::start(move |_req| {
        log.lock().unwrap().push(std::time::Instant::now());
        Response::aws_error(429, "TooManyRequestsException", "Too Many Requests")
    })
    .unwrap();
    let deps = WatcherDeps::from_env(&sdk_for(&server.url()));
    let err = watcher::handle(&deps, json!({"jobs": {"procurement": "p"}})).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Throttled, "{}", err.message);
    assert!(err.message.contains("TooManyRequestsException"), "{}", err.message);
    let times = calls.lock().unwrap();
    assert_eq!(times.len(), 4, "the SDK's 4 attempts");
    let waited = times[3].duration_since(times[0]);
    assert!(waited >= std::time::Duration::from_millis(50), "backoff between attempts: {waited:?}");
}

/// A failed node's report carries what ECS recorded for its task, which
/// Batch's own reason hides: the task stopped in moto's ECS with an image
/// pull error, Batch (the fake endpoint) only saying the container exited.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_nodes_report_carries_the_ecs_tasks_stopped_reason() {
    let moto = testkit::MotoServer::start().unwrap();
    let ecs = batch_lambdas::runtime::ecs_client(&sdk_for(&moto.endpoint()));
    ecs.create_cluster().cluster_name("batch-ce_Batch_1").send().await.unwrap();
    ecs.register_task_definition()
        .family("job")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder().name("default").image("x").memory(512).build(),
        )
        .send()
        .await
        .unwrap();
    let run = ecs
        .run_task()
        .cluster("batch-ce_Batch_1")
        .task_definition("job")
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .send()
        .await
        .unwrap();
    let task_arn = run.tasks()[0].task_arn().unwrap().to_string();
    ecs.stop_task()
        .cluster("batch-ce_Batch_1")
        .task(&task_arn)
        .reason("CannotPullContainerError: pull image manifest has been retried 5 time(s)")
        .send()
        .await
        .unwrap();

    let mut child = detail("q:7", "FAILED", None, json!({}));
    child["statusReason"] = json!("Essential container in task exited");
    child["attempts"] = json!([
        {"container": {"exitCode": 75, "reason": "Essential container in task exited", "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/batch-ce_Batch_1/old"}},
        {"container": {"exitCode": 1, "taskArn": task_arn}}
    ]);
    let mut gone = detail("q:9", "FAILED", None, json!({}));
    gone["attempts"] =
        json!([{"container": {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/batch-ce_Batch_1/0000"}}]);
    let describe = json!({
        "p": detail("p", "SUCCEEDED", Some(10), json!({"SUCCEEDED": 10})),
        "q": detail("q", "FAILED", Some(10), json!({"SUCCEEDED": 8, "FAILED": 2})),
        "q:7": child,
        "q:9": gone,
        "e": detail("e", "FAILED", Some(10), json!({"SUCCEEDED": 8, "FAILED": 2})),
    });
    let (server, _) = fake_batch(describe, json!({"q": [7, 9], "e": [7, 9]}), 10);
    let deps = WatcherDeps { batch: batch_lambdas::runtime::batch_client(&sdk_for(&server.url())), ecs };
    let v = watcher::handle(
        &deps,
        json!({"jobs": {"procurement": "p", "processing": "q", "egress": "e"}, "run_id": "r1"}),
    )
    .await
    .unwrap();
    assert_eq!(v.status, RunStatus::Failed);
    let processing = &v.failures["processing"];
    assert_eq!(processing.len(), 2);
    let first = &processing[0];
    assert_eq!((first.index, first.job_id.as_str(), first.exit_code), (7, "q:7", Some(1)));
    assert_eq!(first.task_arn.as_deref(), Some(task_arn.as_str()), "the last attempt's task");
    assert_eq!(
        first.task_stopped_reason.as_deref(),
        Some("CannotPullContainerError: pull image manifest has been retried 5 time(s)")
    );
    assert_eq!(first.note, None);
    // A task ECS no longer shows: a note, and the verdict unchanged.
    assert_eq!(processing[1].index, 9);
    assert!(
        processing[1].note.as_deref().is_some_and(|n| n.starts_with("ECS DescribeTasks")),
        "{:?}",
        processing[1]
    );
    // egress's children are unknown to DescribeJobs: said so.
    assert_eq!(v.failures["egress"][0].note.as_deref(), Some("DescribeJobs did not return this child"));
    assert!(!v.failures.contains_key("procurement"));
    assert!(
        v.cause.contains("processing FAILED: 2 of 10 failed (indices 7,9) [node 7 exit 1: CannotPullContainerError: pull image manifest"),
        "{}",
        v.cause
    );
    assert_eq!(v.rerun_indices, "7,9");
}
