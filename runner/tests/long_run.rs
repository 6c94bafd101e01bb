//! A long run on a fast clock: the provider's own definition executed by
//! the runner's interpreter (which counts history events as Step
//! Functions does), with Wait advancing a virtual clock and a watcher that
//! answers "not finished" until the run's deadline. The longest run the
//! provider allows stays under 25,000 events and ends in its own
//! cancellation; a setting the provider now refuses (and accepted before)
//! dies on the history quota, its cancellation skipped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use batch_runner::asl::Machine;
use batch_runner::interp::{Effects, Execution, Outcome, StatesError, execute_counted};
use batch_runner::limits::MAX_HISTORY_EVENTS;
use provider::aws::state_machine::{
    DefinitionInput, EVENTS_PER_WATCH_ROUND, FIXED_HISTORY_EVENTS, MAX_WATCH_ROUNDS, StateMachineDefinition,
    default_timeout_seconds, definition,
};
use provider::tfplugin::{DataSource, Value as TfValue};
use serde_json::{Value, json};

#[derive(Default)]
struct FastClock {
    now: AtomicU64,
    watch_calls: AtomicU64,
    /// Every n-th Watch call fails once with a retryable error (0: never).
    fail_every: u64,
    terminated: Mutex<Vec<String>>,
}

impl Effects for FastClock {
    async fn invoke_lambda(&self, params: Value) -> Result<Value, StatesError> {
        let function = params["FunctionName"].as_str().unwrap_or("");
        let payload = if function.ends_with("prep") {
            json!({"status": "READY", "mode": "array", "run_id": "r", "job_name_id": "r", "array_size": 10000})
        } else {
            let call = self.watch_calls.fetch_add(1, Ordering::Relaxed) + 1;
            if self.fail_every > 0 && call.is_multiple_of(self.fail_every) {
                return Err(StatesError::new("AwsUnavailable", "DescribeJobs: 503"));
            }
            let deadline = params["Payload"]["timeout_seconds"].as_u64().unwrap_or(0);
            let late = self.now.load(Ordering::Relaxed) >= deadline;
            json!({"finished": false, "succeeded": false, "timed_out": late, "status": "RUNNING",
                   "cause": if late { "the run did not finish within timeout_seconds" } else { "processing RUNNING" }})
        };
        Ok(json!({"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}))
    }

    async fn submit_job(&self, params: Value) -> Result<Value, StatesError> {
        Ok(json!({"JobId": format!("id-{}", params["JobName"].as_str().unwrap_or(""))}))
    }

    async fn terminate_job(&self, params: Value) -> Result<Value, StatesError> {
        self.terminated.lock().unwrap().push(params["JobId"].as_str().unwrap_or("").to_string());
        Ok(json!({}))
    }

    async fn wait(&self, seconds: u64) {
        self.now.fetch_add(seconds, Ordering::Relaxed);
    }
}

fn machine(poll_seconds: i64, timeout_seconds: i64) -> Value {
    definition(&DefinitionInput {
        job_queue_arn: "arn:aws:batch:us-east-1:1:job-queue/q",
        later_stages_job_queue_arn: Some("arn:aws:batch:us-east-1:1:job-queue/q-stages"),
        job_definition_arns: ["arn:jd/t-procurement:1", "arn:jd/t-processing:1", "arn:jd/t-egress:1"],
        prep_function_arn: "arn:aws:lambda:us-east-1:1:function:t-prep",
        watcher_function_arn: "arn:aws:lambda:us-east-1:1:function:t-watcher",
        poll_seconds,
        timeout_seconds,
    })
}

async fn run(def: &Value, clock: &FastClock) -> Execution {
    let m = Machine::from_json(def).expect("the runner loads the provider's definition");
    let context = json!({"Execution": {"Name": "long", "StartTime": "2026-12-06T00:00:00Z"}});
    execute_counted(&m, json!({"config": {}}), context, clock).await
}

fn provider_refuses(poll_seconds: i64, timeout_seconds: i64) -> bool {
    let config = TfValue::object([
        ("poll_seconds", TfValue::int(poll_seconds)),
        ("timeout_seconds", TfValue::int(timeout_seconds)),
    ]);
    StateMachineDefinition.validate(&config).0.iter().any(|d| d.summary.contains("execution history"))
}

/// The longest run each poll setting allows, polled to its deadline:
/// exactly 2,600 rounds, 52 + 9 x 2,600 = 23,452 events, and the run ends
/// as PipelineRunTimedOut with all three stages terminated.
#[tokio::test]
async fn the_longest_allowed_run_stays_under_the_history_quota_and_cancels_its_jobs() {
    for poll in [5, 60, 3600] {
        let timeout = MAX_WATCH_ROUNDS * poll;
        assert!(!provider_refuses(poll, timeout), "poll {poll}");
        let clock = FastClock::default();
        let ran = run(&machine(poll, timeout), &clock).await;
        assert!(
            matches!(&ran.outcome, Outcome::Failed { error, .. } if error == "PipelineRunTimedOut"),
            "poll {poll}: {:?}",
            ran.outcome
        );
        assert_eq!(clock.watch_calls.load(Ordering::Relaxed), MAX_WATCH_ROUNDS as u64, "poll {poll}");
        assert_eq!(clock.now.load(Ordering::Relaxed), timeout as u64, "simulated {timeout} s");
        assert_eq!(clock.terminated.lock().unwrap().len(), 3, "the cancellation ran");
        let expected = FIXED_HISTORY_EVENTS + EVENTS_PER_WATCH_ROUND * MAX_WATCH_ROUNDS;
        assert_eq!(ran.usage.history_events, expected as u64, "poll {poll}");
        assert!(ran.usage.history_events <= MAX_HISTORY_EVENTS);
        eprintln!(
            "poll {poll} s, timeout {timeout} s ({:.1} h): {} watcher rounds, {} history events",
            timeout as f64 / 3600.0,
            MAX_WATCH_ROUNDS,
            ran.usage.history_events
        );
    }
    // With no timeout_seconds, a 5 s poll gets the default that fits.
    let clock = FastClock::default();
    let ran = run(&machine(5, default_timeout_seconds(5)), &clock).await;
    assert!(ran.usage.history_events <= MAX_HISTORY_EVENTS, "{}", ran.usage.history_events);
}

/// The margin: the longest run at 60 s with one Watch call in seven
/// failing once (433 retries, 3 events each) still fits and still cancels.
#[tokio::test]
async fn the_longest_allowed_run_with_retried_watch_calls_still_fits() {
    let mut def = machine(60, MAX_WATCH_ROUNDS * 60);
    // Retried at once: the count is the same, the test does not sleep.
    def["States"]["Watch"]["Retry"][0]["IntervalSeconds"] = json!(0);
    let clock = FastClock { fail_every: 7, ..FastClock::default() };
    let ran = run(&def, &clock).await;
    assert!(
        matches!(&ran.outcome, Outcome::Failed { error, .. } if error == "PipelineRunTimedOut"),
        "{:?}",
        ran.outcome
    );
    let retries = clock.watch_calls.load(Ordering::Relaxed) - MAX_WATCH_ROUNDS as u64;
    assert_eq!(retries, 433, "one call in seven failed");
    assert!(ran.usage.history_events <= MAX_HISTORY_EVENTS, "{}", ran.usage.history_events);
    assert_eq!(clock.terminated.lock().unwrap().len(), 3);
    eprintln!("with {retries} retried Watch calls: {} history events", ran.usage.history_events);
}

/// What the definition allowed before: a 48 h timeout at a 30 s poll (the
/// issue's example) and a day at 5 s. The provider refuses both now; the
/// same definition run to its deadline dies on the history quota, as it
/// would in AWS, and its jobs are never terminated.
#[tokio::test]
async fn settings_the_provider_refuses_die_on_the_history_quota() {
    for (poll, timeout) in [(30, 172_800), (5, 86_400)] {
        assert!(provider_refuses(poll, timeout), "poll {poll}, timeout {timeout}");
        let clock = FastClock::default();
        let ran = run(&machine(poll, timeout), &clock).await;
        let Outcome::Failed { error, cause, state, .. } = &ran.outcome else { panic!("{:?}", ran.outcome) };
        assert_eq!(error, "States.Runtime", "{cause}");
        assert!(cause.contains("25000 events"), "{cause}");
        assert!(ran.usage.history_events > MAX_HISTORY_EVENTS);
        assert!(clock.terminated.lock().unwrap().is_empty(), "the cancellation was skipped");
        let hours = clock.now.load(Ordering::Relaxed) as f64 / 3600.0;
        eprintln!(
            "poll {poll} s, timeout {timeout} s: history quota hit in state {state} after {hours:.1} h of a {:.1} h run",
            timeout as f64 / 3600.0
        );
        assert!(hours < timeout as f64 / 3600.0);
    }
}
