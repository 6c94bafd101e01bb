//! The delete order and the waiters, against a stand-in that answers like
//! AWS Batch and unlike moto: transitions take time (UPDATING, DELETING,
//! then gone), an enabled queue cannot be deleted, and a compute
//! environment cannot be deleted while a queue still uses it. The stand-in
//! records every call, so the test checks the exact sequence.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use testkit::http::{self, Request, Response};

use super::compute;
use super::names::Names;

/// One Batch object's life: state, status, and how many more describes
/// until the current transition ends.
#[derive(Clone)]
struct Obj {
    enabled: bool,
    status: &'static str,
    settle_in: u32,
    deleted: bool,
    /// Set: the object ends every transition INVALID with this reason.
    invalid_reason: Option<&'static str>,
}

#[derive(Default)]
struct Batch {
    queues: BTreeMap<String, Obj>,
    environments: BTreeMap<String, Obj>,
    calls: Vec<String>,
}

const TRANSITION_DESCRIBES: u32 = 2;

fn tick(o: &mut Obj) {
    if o.settle_in > 0 {
        o.settle_in -= 1;
        if o.settle_in == 0 {
            if o.status == "DELETING" && o.invalid_reason.is_some() {
                // AWS could not delete it (e.g. its service role may not
                // remove the ECS cluster).
                o.status = "INVALID";
            } else if o.status == "DELETING" {
                o.deleted = true;
            } else if o.invalid_reason.is_some() {
                o.status = "INVALID";
            } else {
                o.status = "VALID";
            }
        }
    }
}

fn transition(o: &mut Obj, status: &'static str) {
    o.status = status;
    o.settle_in = TRANSITION_DESCRIBES;
}

impl Batch {
    fn handle(&mut self, op: &str, body: &Json) -> Result<Json, String> {
        let name = |key: &str| body[key].as_str().unwrap_or_default().to_string();
        match op {
            // List/Tag/UntagResource (GET/POST/DELETE /v1/tags/{arn}): no
            // tags, nothing to change.
            op if op.starts_with("tags/") => {
                self.calls.push("Tags".into());
                Ok(json!({ "tags": {} }))
            }
            "describejobqueues" => {
                self.calls.push("DescribeJobQueues".into());
                let mut out = vec![];
                for q in self.queues.values_mut() {
                    tick(q);
                }
                // As AWS: only the queues asked for.
                let asked: Vec<&str> =
                    body["jobQueues"].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
                for (n, q) in &self.queues {
                    if !q.deleted && (asked.is_empty() || asked.contains(&n.as_str())) {
                        out.push(json!({
                            "jobQueueName": n, "jobQueueArn": format!("arn:aws:batch:us-east-1:1:job-queue/{n}"),
                            "state": if q.enabled { "ENABLED" } else { "DISABLED" }, "status": q.status,
                            "priority": 1, "computeEnvironmentOrder": [],
                        }));
                    }
                }
                Ok(json!({ "jobQueues": out }))
            }
            "updatejobqueue" => {
                let n = name("jobQueue");
                self.calls.push(format!("UpdateJobQueue {}", body["state"].as_str().unwrap_or("")));
                let q = self.queues.get_mut(&n).filter(|q| !q.deleted).ok_or("no such queue")?;
                q.enabled = body["state"] == "ENABLED";
                transition(q, "UPDATING");
                Ok(json!({ "jobQueueName": n, "jobQueueArn": "arn" }))
            }
            "deletejobqueue" => {
                let n = name("jobQueue");
                self.calls.push("DeleteJobQueue".into());
                let q = self.queues.get_mut(&n).filter(|q| !q.deleted).ok_or("no such queue")?;
                if q.enabled || q.status != "VALID" {
                    return Err(format!(
                        "Cannot delete job queue {n}: it must be DISABLED and VALID (is {})",
                        q.status
                    ));
                }
                transition(q, "DELETING");
                Ok(json!({}))
            }
            "describecomputeenvironments" => {
                self.calls.push("DescribeComputeEnvironments".into());
                for e in self.environments.values_mut() {
                    tick(e);
                }
                let out: Vec<Json> = self
                    .environments
                    .iter()
                    .filter(|(_, e)| !e.deleted)
                    .map(|(n, e)| {
                        json!({
                            "computeEnvironmentName": n,
                            "computeEnvironmentArn": format!("arn:aws:batch:us-east-1:1:compute-environment/{n}"),
                            "state": if e.enabled { "ENABLED" } else { "DISABLED" }, "status": e.status,
                            "statusReason": e.invalid_reason, "type": "MANAGED",
                        })
                    })
                    .collect();
                Ok(json!({ "computeEnvironments": out }))
            }
            "updatecomputeenvironment" => {
                let n = name("computeEnvironment");
                self.calls.push(format!("UpdateComputeEnvironment {}", body["state"].as_str().unwrap_or("")));
                let e = self.environments.get_mut(&n).filter(|e| !e.deleted).ok_or("no such environment")?;
                e.enabled = body["state"] == "ENABLED";
                transition(e, "UPDATING");
                Ok(json!({ "computeEnvironmentName": n, "computeEnvironmentArn": "arn" }))
            }
            "deletecomputeenvironment" => {
                let n = name("computeEnvironment");
                self.calls.push("DeleteComputeEnvironment".into());
                if self.queues.values().any(|q| !q.deleted) {
                    return Err(format!("Cannot delete, found existing JobQueue relationship for {n}"));
                }
                let e = self.environments.get_mut(&n).filter(|e| !e.deleted).ok_or("no such environment")?;
                if e.enabled || e.status != "VALID" {
                    return Err(format!(
                        "Cannot delete {n}: it must be DISABLED and VALID (is {})",
                        e.status
                    ));
                }
                transition(e, "DELETING");
                Ok(json!({}))
            }
            other => Err(format!("unexpected operation {other}")),
        }
    }
}

/// Serves the stand-in on 127.0.0.1 (the test kit's HTTP/1.1 server) for
/// the rest of the test; AWS's JSON protocol: the operation is the path
/// after `/v1/`, a refusal is a 400 ClientException.
async fn serve(state: Arc<Mutex<Batch>>) -> String {
    let (addr, _serving) = http::serve(move |request: Request| {
        let state = state.clone();
        async move {
            let body: Json = serde_json::from_slice(&request.body).unwrap_or(Json::Null);
            let result = state.lock().unwrap().handle(request.target.trim_start_matches("/v1/"), &body);
            match result {
                Ok(answer) => Response::aws_json(&answer),
                Err(message) => Response::aws_error(400, "ClientException", &message),
            }
        }
    })
    .await
    .unwrap();
    format!("http://{addr}")
}

fn client(endpoint: &str) -> aws_sdk_batch::Client {
    let conf = aws_sdk_batch::config::Builder::new()
        .behavior_version(aws_sdk_batch::config::BehaviorVersion::latest())
        .region(aws_sdk_batch::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_batch::config::Credentials::new("a", "b", None, None, "test"))
        .build();
    aws_sdk_batch::Client::from_conf(conf)
}

fn live(enabled: bool) -> Obj {
    Obj { enabled, status: "VALID", settle_in: 0, deleted: false, invalid_reason: None }
}

#[tokio::test]
async fn destroy_disables_waits_and_deletes_in_aws_order() {
    let names = Names::new("p");
    let state = Arc::new(Mutex::new(Batch::default()));
    state.lock().unwrap().queues.insert(names.job_queue(), live(true));
    state.lock().unwrap().queues.insert(names.later_stages_job_queue(), live(true));
    state.lock().unwrap().environments.insert(names.compute_environment(), live(true));
    let batch = client(&serve(state.clone()).await);
    let deadline = Instant::now() + Duration::from_secs(60);

    compute::delete_queues_and_environment(&batch, &names, deadline).await.expect("all deleted");

    let calls = state.lock().unwrap().calls.clone();
    let first = |what: &str| {
        calls.iter().position(|c| c == what).unwrap_or_else(|| panic!("no {what} in {calls:#?}"))
    };
    let last = |what: &str| calls.iter().rposition(|c| c == what).unwrap_or_else(|| panic!("no {what}"));
    // Each queue: disabled, settled (described until VALID), deleted,
    // gone; only then the environment: disabled, settled, deleted, gone.
    assert_eq!(calls.iter().filter(|c| *c == "DeleteJobQueue").count(), 2, "{calls:#?}");
    assert_eq!(calls.iter().filter(|c| *c == "UpdateJobQueue DISABLED").count(), 2, "{calls:#?}");
    assert!(first("UpdateJobQueue DISABLED") < first("DeleteJobQueue"));
    assert!(last("UpdateJobQueue DISABLED") < last("DeleteJobQueue"));
    assert!(last("DeleteJobQueue") < first("UpdateComputeEnvironment DISABLED"));
    assert!(first("UpdateComputeEnvironment DISABLED") < first("DeleteComputeEnvironment"));
    let describes_between =
        |a: &str, b: &str, what: &str| calls[first(a)..first(b)].iter().filter(|c| *c == what).count();
    assert!(describes_between("UpdateJobQueue DISABLED", "DeleteJobQueue", "DescribeJobQueues") >= 2);
    assert!(
        calls[last("DeleteJobQueue")..first("UpdateComputeEnvironment DISABLED")]
            .iter()
            .filter(|c| *c == "DescribeJobQueues")
            .count()
            >= 2
    );
    assert!(
        describes_between(
            "UpdateComputeEnvironment DISABLED",
            "DeleteComputeEnvironment",
            "DescribeComputeEnvironments"
        ) >= 2
    );
    // No call was refused: nothing was deleted out of order.
    let s = state.lock().unwrap();
    assert!(s.queues.values().all(|q| q.deleted) && s.environments.values().all(|e| e.deleted));
    assert_eq!(calls.last().map(String::as_str), Some("DescribeComputeEnvironments"), "waited until gone");
}

#[tokio::test]
async fn the_stand_in_refuses_what_aws_refuses() {
    // The orders the code avoids really are refused (unlike moto), so the
    // test above would catch a regression in the order.
    let names = Names::new("p");
    let state = Arc::new(Mutex::new(Batch::default()));
    state.lock().unwrap().queues.insert(names.job_queue(), live(true));
    state.lock().unwrap().environments.insert(names.compute_environment(), live(false));
    let batch = client(&serve(state.clone()).await);
    let deadline = Instant::now() + Duration::from_secs(60);
    let err = compute::delete_compute_environment(&batch, &names, deadline).await.unwrap_err();
    let text = format!("{:?}", err.0);
    assert!(text.contains("JobQueue relationship"), "{text}");
    let err = batch.delete_job_queue().job_queue(names.job_queue()).send().await.unwrap_err();
    assert!(format!("{err:?}").contains("must be DISABLED"), "{err:?}");
}

/// Pipeline `p` whose queue stays UPDATING for far longer than any wait.
async fn stuck_queue() -> (Names, Arc<Mutex<Batch>>, aws_sdk_batch::Client) {
    let names = Names::new("p");
    let state = Arc::new(Mutex::new(Batch::default()));
    state.lock().unwrap().queues.insert(
        names.job_queue(),
        Obj { enabled: false, status: "UPDATING", settle_in: 10_000, deleted: false, invalid_reason: None },
    );
    let batch = client(&serve(state.clone()).await);
    (names, state, batch)
}

#[tokio::test]
async fn a_wait_gives_up_at_the_deadline_with_the_last_state() {
    let (names, state, batch) = stuck_queue().await;
    let deadline = Instant::now() + Duration::from_millis(1500);
    let err = compute::delete_queue(&batch, &names.job_queue(), deadline).await.unwrap_err();
    let d = &err.0[0];
    assert!(d.summary.starts_with("Timed out waiting for job queue p-queue"), "{d:?}");
    assert!(d.detail.contains("Updating"), "{d:?}");
    assert!(!state.lock().unwrap().calls.contains(&"DeleteJobQueue".to_string()));
}

#[tokio::test]
async fn a_stop_request_ends_a_wait_with_what_it_saw() {
    let (names, state, batch) = stuck_queue().await;
    let signal = crate::aws::stop::StopSignal::default();
    let requester = signal.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        requester.request();
    });
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    let err = crate::aws::stop::scoped(signal, compute::delete_queue(&batch, &names.job_queue(), deadline))
        .await
        .unwrap_err();
    let d = &err.0[0];
    assert!(d.summary.starts_with("Stopped while waiting for job queue p-queue"), "{d:?}");
    assert!(d.detail.contains("Updating"), "{d:?}");
    // That the sleep between polls is cut short, not waited out, is
    // wait::tests::a_stop_request_cuts_the_sleep_between_polls_short (on
    // tokio's paused clock, so no wall-clock bound is needed here).
    assert!(!state.lock().unwrap().calls.contains(&"DeleteJobQueue".to_string()));
}

#[tokio::test]
async fn an_environment_aws_cannot_delete_fails_with_its_reason_not_a_timeout() {
    let names = Names::new("p");
    let state = Arc::new(Mutex::new(Batch::default()));
    let reason = "CLIENT_ERROR - not authorized to delete the ECS cluster";
    state.lock().unwrap().environments.insert(
        names.compute_environment(),
        Obj { enabled: false, status: "VALID", settle_in: 0, deleted: false, invalid_reason: Some(reason) },
    );
    let batch = client(&serve(state.clone()).await);
    let started = Instant::now();
    let err = compute::delete_compute_environment(&batch, &names, started + Duration::from_secs(600))
        .await
        .unwrap_err();
    let d = &err.0[0];
    assert_eq!(d.summary, "deletion of compute environment p-ce failed", "{d:?}");
    assert!(d.detail.contains("INVALID while deleting") && d.detail.contains(reason), "{d:?}");
    // Not a timeout: the summary above is the failure's, and the wait had
    // 600 s left, so it gave up on the INVALID status, not on the clock.
}

#[tokio::test]
async fn an_invalid_environment_fails_with_aws_reason() {
    let names = Names::new("p");
    let state = Arc::new(Mutex::new(Batch::default()));
    let reason = "CLIENT_ERROR - The subnet ID 'subnet-0bad' does not exist";
    state.lock().unwrap().environments.insert(
        names.compute_environment(),
        Obj { enabled: true, status: "VALID", settle_in: 0, deleted: false, invalid_reason: Some(reason) },
    );
    let batch = client(&serve(state.clone()).await);
    let compute = super::spec::Compute {
        kind: super::spec::ComputeType::Fargate,
        max_vcpus: 8,
        min_vcpus: 0,
        subnet_ids: vec!["subnet-0bad".into()],
        security_group_ids: vec!["sg-1".into()],
        instance_types: vec![],
        instance_role: None,
        allocation_strategy: None,
        bid_percentage: None,
        service_role_arn: None,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = compute::ensure_compute_environment(&batch, &names, &compute, &BTreeMap::new(), deadline)
        .await
        .unwrap_err();
    let d = &err.0[0];
    assert_eq!(d.summary, "compute environment p-ce failed");
    assert!(d.detail.contains("INVALID") && d.detail.contains(reason), "{d:?}");
}
