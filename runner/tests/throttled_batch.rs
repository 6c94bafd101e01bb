//! Throttled Batch calls are retried, under the error names Step Functions
//! really raises: the provider's own definition, run by the runner's
//! interpreter against a Batch that throttles the first call of each
//! SubmitJob and TerminateJob. Through the optimised `batch:submitJob`
//! integration, Batch's unmodelled 429 arrives as `Batch.AWSBatchException`;
//! through the SDK integration `aws-sdk:batch:terminateJob`, as
//! `Batch.BatchException` (docs/data-sources/state_machine_definition.md).
//! A retrier naming `Batch.TooManyRequestsException` never matched either,
//! so a throttle ended the run, or left its jobs running.

use std::collections::HashMap;
use std::sync::Mutex;

use batch_runner::asl::Machine;
use batch_runner::interp::{Effects, Outcome, StatesError, execute_counted};
use provider::aws::state_machine::{DefinitionInput, definition};
use serde_json::{Value, json};

const THROTTLED_CAUSE: &str =
    "Too Many Requests (Service: AWSBatch; Status Code: 429; Error Code: TooManyRequestsException)";

/// A Batch that throttles the first call for each job, and a watcher that
/// answers `finished` or `timed_out`.
struct ThrottlingBatch {
    /// The name Step Functions gives SubmitJob's throttle.
    submit_error: &'static str,
    late: bool,
    calls: Mutex<HashMap<String, u32>>,
    submitted: Mutex<Vec<String>>,
    terminated: Mutex<Vec<String>>,
}

impl ThrottlingBatch {
    fn new(submit_error: &'static str, late: bool) -> Self {
        ThrottlingBatch {
            submit_error,
            late,
            calls: Mutex::default(),
            submitted: Mutex::default(),
            terminated: Mutex::default(),
        }
    }

    /// True the first time `key` is seen.
    fn first_call(&self, key: &str) -> bool {
        let mut calls = self.calls.lock().unwrap();
        let n = calls.entry(key.to_string()).or_default();
        *n += 1;
        *n == 1
    }
}

impl Effects for ThrottlingBatch {
    async fn invoke_lambda(&self, params: Value) -> Result<Value, StatesError> {
        let payload = if params["FunctionName"].as_str().unwrap_or("").ends_with("prep") {
            json!({"status": "READY", "mode": "array", "run_id": "2024.06.01",
                   "job_name_id": "2024_06_01-0a1b2c3d", "array_size": 4})
        } else if self.late {
            json!({"finished": false, "succeeded": false, "timed_out": true, "status": "RUNNING",
                   "cause": "the run did not finish within timeout_seconds"})
        } else {
            json!({"finished": true, "succeeded": true, "timed_out": false, "status": "SUCCEEDED", "cause": ""})
        };
        Ok(json!({"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}))
    }

    async fn submit_job(&self, params: Value) -> Result<Value, StatesError> {
        let name = params["JobName"].as_str().unwrap_or("").to_string();
        if self.first_call(&format!("submit {name}")) {
            return Err(StatesError::new(self.submit_error, THROTTLED_CAUSE));
        }
        self.submitted.lock().unwrap().push(name.clone());
        Ok(json!({"JobId": format!("id-{name}"), "JobName": name}))
    }

    async fn terminate_job(&self, params: Value) -> Result<Value, StatesError> {
        let id = params["JobId"].as_str().unwrap_or("").to_string();
        if self.first_call(&format!("terminate {id}")) {
            return Err(StatesError::new("Batch.BatchException", THROTTLED_CAUSE));
        }
        self.terminated.lock().unwrap().push(id);
        Ok(json!({}))
    }

    async fn wait(&self, _seconds: u64) {}
}

/// The provider's definition, with retry intervals of 0 so the test does
/// not sleep (which errors are retried, and how often, is unchanged).
fn machine() -> Machine {
    let mut def = definition(&DefinitionInput {
        job_queue_arn: "arn:aws:batch:us-east-1:1:job-queue/q",
        later_stages_job_queue_arn: Some("arn:aws:batch:us-east-1:1:job-queue/q-stages"),
        job_definition_arns: ["arn:jd/t-procurement:1", "arn:jd/t-processing:1", "arn:jd/t-egress:1"],
        prep_function_arn: "arn:aws:lambda:us-east-1:1:function:t-prep",
        watcher_function_arn: "arn:aws:lambda:us-east-1:1:function:t-watcher",
        poll_seconds: 60,
        timeout_seconds: 3600,
    });
    for state in def["States"].as_object_mut().unwrap().values_mut() {
        for retrier in state.get_mut("Retry").and_then(Value::as_array_mut).into_iter().flatten() {
            retrier["IntervalSeconds"] = json!(0);
        }
    }
    Machine::from_json(&def).expect("the runner loads the provider's definition")
}

async fn run(batch: &ThrottlingBatch) -> Outcome {
    let context = json!({"Execution": {"Name": "throttled", "StartTime": "2026-12-06T00:00:00Z"}});
    execute_counted(&machine(), json!({"config": {}}), context, batch).await.outcome
}

#[tokio::test]
async fn a_throttled_submit_is_retried_and_the_run_succeeds() {
    let batch = ThrottlingBatch::new("Batch.AWSBatchException", false);
    let outcome = run(&batch).await;
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    let submitted = batch.submitted.lock().unwrap().clone();
    assert_eq!(
        submitted,
        ["procurement-2024_06_01-0a1b2c3d", "processing-2024_06_01-0a1b2c3d", "egress-2024_06_01-0a1b2c3d"],
        "each stage submitted once, after one throttled try, under prep's job_name_id"
    );
}

#[tokio::test]
async fn a_throttled_terminate_is_retried_and_every_stage_is_cancelled() {
    let batch = ThrottlingBatch::new("Batch.AWSBatchException", true);
    let outcome = run(&batch).await;
    assert!(
        matches!(&outcome, Outcome::Failed { error, .. } if error == "PipelineRunTimedOut"),
        "{outcome:?}"
    );
    let terminated = batch.terminated.lock().unwrap().clone();
    assert_eq!(
        terminated,
        [
            "id-egress-2024_06_01-0a1b2c3d",
            "id-processing-2024_06_01-0a1b2c3d",
            "id-procurement-2024_06_01-0a1b2c3d"
        ],
        "each stage terminated after one throttled try, egress first"
    );
}

/// The name the definition used to retry: had Step Functions raised it, it
/// would be retried; it does not, and a name nobody retries ends the run
/// at SubmitJobFailed with the throttle as the cause. This is what the
/// retriers above are for.
#[tokio::test]
async fn an_error_name_no_retrier_lists_ends_the_run() {
    let batch = ThrottlingBatch::new("Batch.SomeOtherException", false);
    let outcome = run(&batch).await;
    match outcome {
        Outcome::Failed { error, cause, .. } => {
            assert_eq!(error, "SubmitJobFailed");
            assert!(cause.contains("TooManyRequestsException"), "{cause}");
        }
        other => panic!("{other:?}"),
    }
    assert!(batch.submitted.lock().unwrap().is_empty());
}
