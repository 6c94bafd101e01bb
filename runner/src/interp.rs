//! Executes a loaded [`Machine`]: input/output processing, Choice, Wait,
//! Retry/Catch, timeouts. The side effects (Lambda, Batch, waiting) are an
//! [`Effects`] implementation, so the interpreter is tested on its own.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::asl::{self, Cause, Machine, PassResult, Resource, State, Test};
use crate::limits::{self, Usage, events};

// Re-exported: the Effects a caller implements return it.
pub use crate::states_error::StatesError;

pub trait Effects: Send + Sync {
    /// `lambda:invoke`: the rendered Parameters in, the Task result out.
    fn invoke_lambda(&self, params: Value) -> impl Future<Output = Result<Value, StatesError>> + Send;
    /// `batch:submitJob`: the rendered Parameters in, `{JobId, JobName, JobArn}` out.
    fn submit_job(&self, params: Value) -> impl Future<Output = Result<Value, StatesError>> + Send;
    /// `aws-sdk:batch:terminateJob`: the rendered Parameters (`JobId`,
    /// `Reason`) in, `{}` out.
    fn terminate_job(&self, params: Value) -> impl Future<Output = Result<Value, StatesError>> + Send;
    /// A Wait state. May end early (the local runner wakes when every job is terminal).
    fn wait(&self, seconds: u64) -> impl Future<Output = ()> + Send;
    /// Called on entering each state (progress, logs).
    fn entered(&self, _state: &str) {}
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded { output: Value, state: String },
    Failed { error: String, cause: String, state: String, output: Value },
}

/// How an execution ended, and what it used of Step Functions' limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub outcome: Outcome,
    pub usage: Usage,
}

pub async fn execute<E: Effects>(machine: &Machine, input: Value, context: Value, effects: &E) -> Outcome {
    execute_counted(machine, input, context, effects).await.outcome
}

/// Runs the machine, counting its history events and payloads as Step
/// Functions would and failing the execution where AWS would
/// (src/limits.rs).
pub async fn execute_counted<E: Effects>(
    machine: &Machine,
    input: Value,
    context: Value,
    effects: &E,
) -> Execution {
    let mut usage = Usage::default();
    let run = run(machine, input, context, effects, &mut usage);
    let outcome = match machine.timeout_seconds {
        Some(s) => match tokio::time::timeout(Duration::from_secs(s), run).await {
            Ok(o) => o,
            Err(_) => Outcome::Failed {
                error: "States.Timeout".into(),
                cause: format!("the execution ran longer than TimeoutSeconds={s}"),
                state: String::new(),
                output: Value::Null,
            },
        },
        None => run.await,
    };
    // ExecutionSucceeded / ExecutionFailed / ExecutionTimedOut: the last
    // event has to fit in the history too.
    let outcome = match (usage.add_events(events::EXECUTION_ENDED), outcome) {
        (Err(e), Outcome::Succeeded { state, output }) => {
            Outcome::Failed { error: e.error, cause: e.cause, state, output }
        }
        (_, o) => o,
    };
    let outcome = match outcome {
        Outcome::Failed { error, cause, state, output } => {
            let (error, cause) = limits::checked_failure(error, cause);
            Outcome::Failed { error, cause, state, output }
        }
        o => o,
    };
    Execution { outcome, usage }
}

async fn run<E: Effects>(
    machine: &Machine,
    mut input: Value,
    mut context: Value,
    effects: &E,
    usage: &mut Usage,
) -> Outcome {
    let mut name = machine.start_at.clone();
    let fail = |state: &str, e: StatesError, output: &Value| Outcome::Failed {
        error: e.error,
        cause: e.cause,
        state: state.to_string(),
        output: output.clone(),
    };
    // A limit broken: the execution fails there, whatever Catch there is.
    macro_rules! limit {
        ($check:expr) => {
            if let Err(e) = $check {
                return fail(&name, e, &input);
            }
        };
    }
    limit!(usage.payload("", "execution input", &input));
    limit!(usage.add_events(events::EXECUTION_STARTED));
    loop {
        limit!(usage.add_events(events::STATE_ENTERED));
        limit!(usage.payload(&name, "input", &input));
        effects.entered(&name);
        tracing::info!(state = %name, "entering state");
        if let Some(obj) = context.as_object_mut() {
            obj.insert("State".into(), json!({"Name": name}));
        }
        let Some(state) = machine.states.get(&name) else {
            return fail(&name, StatesError::new("States.Runtime", format!("no state {name:?}")), &input);
        };
        let next: Option<String> = match state {
            State::Succeed => {
                limit!(usage.add_events(events::STATE_EXITED));
                return Outcome::Succeeded { output: input, state: name };
            }
            State::Fail { error, cause } => {
                let text = |c: &Option<Cause>| match c {
                    None => String::new(),
                    Some(Cause::Literal(c)) => c.clone(),
                    Some(Cause::Dynamic(e)) => match e.eval(&input, &context) {
                        Ok(Value::String(s)) => s,
                        Ok(other) => other.to_string(),
                        Err(e) => e,
                    },
                };
                return fail(&name, StatesError::new(text(error), text(cause)), &input);
            }
            State::Wait { seconds, next } => {
                effects.wait(*seconds).await;
                next.clone()
            }
            State::Pass { result, result_path, next } => {
                let result = match result {
                    PassResult::Fixed(v) => v.clone(),
                    PassResult::Parameters(t) => match t.render(&input, &context) {
                        Ok(v) => v,
                        Err(e) => {
                            return fail(
                                &name,
                                StatesError::new("States.Runtime", format!("Parameters: {e}")),
                                &input,
                            );
                        }
                    },
                };
                if let Some(path) = result_path {
                    input = match path.set(input.clone(), result) {
                        Ok(v) => v,
                        Err(e) => return fail(&name, StatesError::new("States.Runtime", e), &input),
                    };
                }
                next.clone()
            }
            State::Choice { choices, default } => {
                // Rules in order; a Variable that matches nothing is a
                // States.Runtime failure, as in Step Functions (not a rule
                // that is merely false).
                let mut hit = None;
                for c in choices {
                    let root = if c.variable.context { &context } else { &input };
                    if let Test::IsPresent(wanted) = c.test {
                        if c.variable.get(root).is_some() == wanted {
                            hit = Some(c);
                            break;
                        }
                        continue;
                    }
                    let Some(v) = c.variable.get(root) else {
                        return fail(
                            &name,
                            StatesError::new(
                                "States.Runtime",
                                format!(
                                    "Invalid path {:?}: the choice state's condition path references an invalid value",
                                    c.variable.text
                                ),
                            ),
                            &input,
                        );
                    };
                    let matched = match &c.test {
                        Test::StringEquals(s) => v.as_str() == Some(s.as_str()),
                        Test::BooleanEquals(b) => v.as_bool() == Some(*b),
                        Test::IsPresent(_) => false, // decided above
                    };
                    if matched {
                        hit = Some(c);
                        break;
                    }
                }
                match hit.map(|c| c.next.clone()).or_else(|| default.clone()) {
                    Some(n) => Some(n),
                    None => {
                        return fail(
                            &name,
                            StatesError::new(
                                "States.NoChoiceMatched",
                                format!("no choice of {name:?} matched"),
                            ),
                            &input,
                        );
                    }
                }
            }
            State::Task(task) => match run_task(&name, task, &input, &context, effects, usage).await {
                Ok(result) => {
                    let selected = match &task.result_selector {
                        Some(t) => match t.render(&result, &context) {
                            Ok(v) => v,
                            Err(e) => {
                                return fail(
                                    &name,
                                    StatesError::new("States.Runtime", format!("ResultSelector: {e}")),
                                    &input,
                                );
                            }
                        },
                        None => result,
                    };
                    if let Some(path) = &task.result_path {
                        input = match path.set(input.clone(), selected) {
                            Ok(v) => v,
                            Err(e) => return fail(&name, StatesError::new("States.Runtime", e), &input),
                        };
                    }
                    task.next.clone()
                }
                Err(e) => {
                    tracing::warn!(state = %name, error = %e.error, cause = %e.cause, "task failed");
                    if usage.history_events > limits::MAX_HISTORY_EVENTS {
                        return fail(&name, e, &input);
                    }
                    match task.catch.iter().find(|c| asl::matches(&c.errors, &e.error)) {
                        Some(c) => {
                            if let Some(path) = &c.result_path {
                                input = match path
                                    .set(input.clone(), json!({"Error": e.error, "Cause": e.cause}))
                                {
                                    Ok(v) => v,
                                    Err(err) => {
                                        return fail(&name, StatesError::new("States.Runtime", err), &input);
                                    }
                                };
                            }
                            Some(c.next.clone())
                        }
                        None => return fail(&name, e, &input),
                    }
                }
            },
        };
        // Every state but Succeed and Fail (returned above) exits with
        // its output: one more event, and a payload that must fit.
        limit!(usage.payload(&name, "output", &input));
        limit!(usage.add_events(events::STATE_EXITED));
        match next {
            Some(n) => name = n,
            None => return Outcome::Succeeded { output: input, state: name },
        }
    }
}

async fn run_task<E: Effects>(
    name: &str,
    task: &asl::Task,
    input: &Value,
    context: &Value,
    effects: &E,
    usage: &mut Usage,
) -> Result<Value, StatesError> {
    let params = match &task.parameters {
        Some(t) => t
            .render(input, context)
            .map_err(|e| StatesError::new("States.Runtime", format!("Parameters: {e}")))?,
        None => input.clone(),
    };
    // The effective input (after Parameters) is a payload of its own.
    usage.payload(name, "effective input", &params)?;
    let mut tries = vec![0u32; task.retry.len()];
    loop {
        let started = Instant::now();
        let call = async {
            match task.resource {
                Resource::LambdaInvoke => effects.invoke_lambda(params.clone()).await,
                Resource::BatchSubmit => effects.submit_job(params.clone()).await,
                Resource::BatchTerminate => effects.terminate_job(params.clone()).await,
            }
        };
        let result = match task.timeout_seconds {
            Some(s) => tokio::time::timeout(Duration::from_secs(s), call).await.unwrap_or_else(|_| {
                Err(StatesError::new("States.Timeout", format!("task ran longer than {s} s")))
            }),
            None => call.await,
        };
        // TaskScheduled, TaskStarted, TaskSucceeded|TaskFailed|TaskTimedOut.
        usage.add_events(events::TASK_ATTEMPT)?;
        // The integration's result must fit before ResultSelector sees it.
        let result = result.and_then(|v| usage.payload(name, "result", &v).map(|()| v));
        let e = match result {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Some(i) = task.retry.iter().position(|r| asl::matches(&r.errors, &e.error)) else {
            return Err(e);
        };
        let r = &task.retry[i];
        if tries[i] >= r.max_attempts {
            return Err(e);
        }
        let delay = r.delay(tries[i]);
        tries[i] += 1;
        tracing::info!(error = %e.error, attempt = tries[i], delay_s = delay.as_secs_f64(), elapsed_ms = started.elapsed().as_millis() as u64, "retrying task");
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Fake {
        lambda: Mutex<Vec<Result<Value, StatesError>>>,
        calls: Mutex<Vec<Value>>,
        terminated: Mutex<Vec<Value>>,
    }

    impl Effects for Fake {
        async fn invoke_lambda(&self, params: Value) -> Result<Value, StatesError> {
            self.calls.lock().unwrap().push(params);
            self.lambda.lock().unwrap().remove(0)
        }
        async fn submit_job(&self, params: Value) -> Result<Value, StatesError> {
            Ok(
                json!({"JobId": format!("job-{}", params["JobName"].as_str().unwrap_or("")), "JobName": params["JobName"]}),
            )
        }
        async fn terminate_job(&self, params: Value) -> Result<Value, StatesError> {
            self.terminated.lock().unwrap().push(params);
            Ok(json!({}))
        }
        async fn wait(&self, _seconds: u64) {}
    }

    fn machine() -> Machine {
        Machine::from_json(&json!({
            "StartAt": "Prep",
            "States": {
                "Prep": {"Type": "Task", "Resource": asl::LAMBDA_INVOKE,
                    "Parameters": {"FunctionName": "prep", "Payload.$": "$"},
                    "ResultSelector": {"run.$": "$.Payload"}, "ResultPath": "$.prep",
                    "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 0, "MaxAttempts": 2}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "PrepFailed"}],
                    "Next": "HasWork"},
                "HasWork": {"Type": "Choice", "Choices": [{"Variable": "$.prep.run.status", "StringEquals": "NO_WORK", "Next": "Done"}], "Default": "Submit"},
                "Submit": {"Type": "Task", "Resource": asl::BATCH_SUBMIT,
                    "Parameters": {"JobName.$": "States.Format('p-{}', $.prep.run.run_id)", "JobDefinition": "x-procurement"},
                    "ResultSelector": {"JobId.$": "$.JobId"}, "ResultPath": "$.jobs.procurement", "Next": "Check"},
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$.prep.run.ok", "BooleanEquals": true, "Next": "Done"}], "Default": "RunFailed"},
                "Done": {"Type": "Succeed"},
                "RunFailed": {"Type": "Fail", "Error": "PipelineRunFailed", "CausePath": "States.JsonToString($.jobs)"},
                "PrepFailed": {"Type": "Fail", "Error": "PrepFailed", "CausePath": "$.error.Cause"}
            }
        }))
        .unwrap()
    }

    fn fake(results: Vec<Result<Value, StatesError>>) -> Fake {
        Fake { lambda: Mutex::new(results), calls: Mutex::new(vec![]), terminated: Mutex::new(vec![]) }
    }

    #[tokio::test]
    async fn paths_choice_retry_catch_and_fail_cause() {
        let m = machine();
        let ok = |v: Value| Ok(json!({"Payload": v}));
        let f = fake(vec![
            Err(StatesError::new("Throttled", "slow")),
            ok(json!({"status": "READY", "run_id": "r", "ok": true})),
        ]);
        let out = execute(&m, json!({"config": 1}), json!({}), &f).await;
        let Outcome::Succeeded { output, state } = out else { panic!("{out:?}") };
        assert_eq!(state, "Done");
        assert_eq!(output["jobs"]["procurement"]["JobId"], "job-p-r");
        assert_eq!(output["config"], 1);
        assert_eq!(f.calls.lock().unwrap().len(), 2);

        let f = fake(vec![ok(json!({"status": "READY", "run_id": "r", "ok": false}))]);
        let out = execute(&m, json!({}), json!({}), &f).await;
        assert!(
            matches!(&out, Outcome::Failed { error, cause, .. } if error == "PipelineRunFailed" && cause.contains("job-p-r")),
            "{out:?}"
        );

        let f = fake(vec![Err(StatesError::new("InvalidEvent", "bad config"))]);
        let out = execute(&m, json!({}), json!({}), &f).await;
        assert!(
            matches!(&out, Outcome::Failed { error, cause, state, .. } if error == "PrepFailed" && cause == "bad config" && state == "PrepFailed"),
            "{out:?}"
        );

        let throttled = || Err(StatesError::new("Throttled", "slow"));
        let f = fake(vec![throttled(), throttled(), throttled()]);
        let out = execute(&m, json!({}), json!({}), &f).await;
        assert!(matches!(&out, Outcome::Failed { error, .. } if error == "PrepFailed"));
        assert_eq!(f.calls.lock().unwrap().len(), 3, "1 try + MaxAttempts 2");

        // A Choice Variable that matches nothing ("ok" missing) fails the
        // execution with States.Runtime, as Step Functions does; it is not
        // a false rule that falls through to the Default.
        let f = fake(vec![ok(json!({"status": "READY", "run_id": "r"}))]);
        let out = execute(&m, json!({}), json!({}), &f).await;
        assert!(
            matches!(&out, Outcome::Failed { error, cause, state, .. }
                if error == "States.Runtime" && cause.contains("$.prep.run.ok") && state == "Check"),
            "{out:?}"
        );
    }

    /// `$$` in a Choice reads the context object, not the input.
    #[tokio::test]
    async fn choice_reads_the_context_for_double_dollar_paths() {
        let m = Machine::from_json(&json!({
            "StartAt": "C",
            "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$$.Execution.Name", "StringEquals": "e1", "Next": "Yes"}], "Default": "No"},
                "Yes": {"Type": "Succeed"},
                "No": {"Type": "Succeed"}
            }
        }))
        .unwrap();
        let out = execute(
            &m,
            json!({"Execution": {"Name": "input"}}),
            json!({"Execution": {"Name": "e1"}}),
            &fake(vec![]),
        )
        .await;
        assert!(matches!(&out, Outcome::Succeeded { state, .. } if state == "Yes"), "{out:?}");
    }

    /// IsPresent tells a missing path from one that is merely false, and a
    /// Pass puts its Result in place: how the definition fills in an
    /// absent `overrides`.
    #[tokio::test]
    async fn is_present_and_pass_fill_in_a_missing_field() {
        let m = Machine::from_json(&json!({
            "StartAt": "C",
            "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.overrides", "IsPresent": true, "Next": "Done"}], "Default": "Fill"},
                "Fill": {"Type": "Pass", "Result": {}, "ResultPath": "$.overrides", "Next": "Done"},
                "Done": {"Type": "Succeed"}
            }
        }))
        .unwrap();
        let out = execute(&m, json!({"config": 1}), json!({}), &fake(vec![])).await;
        assert!(
            matches!(&out, Outcome::Succeeded { output, .. } if *output == json!({"config": 1, "overrides": {}})),
            "{out:?}"
        );
        let given = json!({"config": 1, "overrides": {"run_id": "r"}});
        let out = execute(&m, given.clone(), json!({}), &fake(vec![])).await;
        assert!(matches!(&out, Outcome::Succeeded { output, .. } if *output == given), "{out:?}");
    }

    /// A Pass with Parameters records the failure, a terminateJob task
    /// gets its rendered Parameters, and a Fail reads its Error and Cause
    /// from paths: how the definition cancels a failed run's jobs.
    #[tokio::test]
    async fn pass_parameters_terminate_and_fail_error_path() {
        let m = Machine::from_json(&json!({
            "StartAt": "Failure",
            "States": {
                "Failure": {"Type": "Pass", "Parameters": {"Error": "WatcherFailed", "Cause.$": "$.error.Cause"},
                    "ResultPath": "$.failure", "Next": "Cancel"},
                "Cancel": {"Type": "Task", "Resource": asl::BATCH_TERMINATE,
                    "Parameters": {"JobId.$": "$.jobs.egress.JobId", "Reason.$": "$.failure.Error"},
                    "ResultPath": null, "Next": "Failed"},
                "Failed": {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"}
            }
        }))
        .unwrap();
        let f = fake(vec![]);
        let input = json!({"error": {"Cause": "watcher down"}, "jobs": {"egress": {"JobId": "j3"}}});
        let out = execute(&m, input, json!({}), &f).await;
        assert!(
            matches!(&out, Outcome::Failed { error, cause, state, .. }
                if error == "WatcherFailed" && cause == "watcher down" && state == "Failed"),
            "{out:?}"
        );
        assert_eq!(*f.terminated.lock().unwrap(), [json!({"JobId": "j3", "Reason": "WatcherFailed"})]);
        let both = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "Parameters": {}, "End": true}}});
        assert!(Machine::from_json(&both).unwrap_err().to_string().contains("both Result and Parameters"));
    }
    /// Each state type adds the history events AWS records for it.
    #[tokio::test]
    async fn history_events_are_counted_per_state_type() {
        let m = Machine::from_json(&json!({
            "StartAt": "P",
            "States": {
                "P": {"Type": "Pass", "Result": 1, "ResultPath": "$.p", "Next": "W"},
                "W": {"Type": "Wait", "Seconds": 1, "Next": "T"},
                "T": {"Type": "Task", "Resource": asl::LAMBDA_INVOKE, "Parameters": {"FunctionName": "w"},
                    "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 0, "MaxAttempts": 3}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "F"}],
                    "ResultPath": "$.t", "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.p", "BooleanEquals": true, "Next": "F"}], "Default": "S"},
                "S": {"Type": "Succeed"},
                "F": {"Type": "Fail", "Error": "E", "Cause": "c"}
            }
        }))
        .unwrap();
        let ok = || Ok(json!({"Payload": {}}));
        // Started 1, Pass 2, Wait 2, Task 1 + 3 + 1, Choice 2, Succeed 2, Succeeded 1.
        let run = execute_counted(&m, json!({}), json!({}), &fake(vec![ok()])).await;
        assert!(matches!(run.outcome, Outcome::Succeeded { .. }), "{run:?}");
        assert_eq!(run.usage.history_events, 15);
        // One retried attempt adds TaskScheduled, TaskStarted, TaskFailed.
        let run = execute_counted(
            &m,
            json!({}),
            json!({}),
            &fake(vec![Err(StatesError::new("Throttled", "")), ok()]),
        )
        .await;
        assert_eq!(run.usage.history_events, 18);
        // Caught: Task 1 + 3 + exit 1, then FailStateEntered and ExecutionFailed (no FailStateExited).
        let run =
            execute_counted(&m, json!({}), json!({}), &fake(vec![Err(StatesError::new("Boom", ""))])).await;
        assert!(matches!(&run.outcome, Outcome::Failed { error, .. } if error == "E"), "{run:?}");
        assert_eq!(run.usage.history_events, 1 + 2 + 2 + 5 + 1 + 1);
    }

    /// A poll loop that never ends dies on the 25,000-event history quota,
    /// and its Catch does not take that failure, as in AWS.
    #[tokio::test]
    async fn an_endless_poll_loop_fails_at_25000_history_events() {
        let m = Machine::from_json(&json!({
            "StartAt": "Wait",
            "States": {
                "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Watch"},
                "Watch": {"Type": "Task", "Resource": asl::LAMBDA_INVOKE, "Parameters": {"FunctionName": "w"},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                    "ResultSelector": {"verdict.$": "$.Payload"}, "ResultPath": "$.watch", "Next": "Finished"},
                "Finished": {"Type": "Choice", "Choices": [{"Variable": "$.watch.verdict.finished", "BooleanEquals": false, "Next": "Wait"}], "Default": "Done"},
                "Done": {"Type": "Succeed"},
                "Caught": {"Type": "Fail", "Error": "Caught"}
            }
        }))
        .unwrap();
        let polls = 3000;
        let f = fake((0..polls).map(|_| Ok(json!({"Payload": {"finished": false}}))).collect());
        let run = execute_counted(&m, json!({}), json!({}), &f).await;
        assert!(
            matches!(&run.outcome, Outcome::Failed { error, cause, .. } if error == "States.Runtime" && cause.contains("25000 events")),
            "{:?}",
            run.outcome
        );
        // 9 events a poll after ExecutionStarted: the 2,778th poll breaks it.
        assert_eq!(f.calls.lock().unwrap().len(), (limits::MAX_HISTORY_EVENTS as usize - 1) / 9 + 1);
        assert!(run.usage.history_events > limits::MAX_HISTORY_EVENTS);
    }

    /// A task result over 256 KiB is States.DataLimitExceeded, which a
    /// States.ALL Catch does not take; a Fail whose cause is over 32,768
    /// characters ends as States.DataLimitExceeded too.
    #[tokio::test]
    async fn payloads_and_causes_over_the_limits_fail_with_data_limit_exceeded() {
        let m = Machine::from_json(&json!({
            "StartAt": "T",
            "States": {
                "T": {"Type": "Task", "Resource": asl::LAMBDA_INVOKE, "Parameters": {"FunctionName": "w"},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                    "ResultSelector": {"v.$": "$.Payload"}, "ResultPath": "$.t", "Next": "F"},
                "F": {"Type": "Fail", "Error": "PipelineRunFailed", "CausePath": "$.t.v"},
                "Caught": {"Type": "Fail", "Error": "Caught"}
            }
        }))
        .unwrap();
        let big = "x".repeat(limits::MAX_PAYLOAD_BYTES);
        let run = execute_counted(&m, json!({}), json!({}), &fake(vec![Ok(json!({"Payload": big}))])).await;
        assert!(
            matches!(&run.outcome, Outcome::Failed { error, state, .. } if error == limits::DATA_LIMIT_EXCEEDED && state == "T"),
            "{:?}",
            run.outcome
        );
        assert!(run.usage.largest_payload_bytes > limits::MAX_PAYLOAD_BYTES);
        assert_eq!(run.usage.largest_payload_at, "T result");
        let long = "1,".repeat(20_000);
        let run = execute_counted(&m, json!({}), json!({}), &fake(vec![Ok(json!({"Payload": long}))])).await;
        assert!(
            matches!(&run.outcome, Outcome::Failed { error, cause, .. }
                if error == limits::DATA_LIMIT_EXCEEDED && cause.contains("PipelineRunFailed") && cause.contains("40000 characters")),
            "{:?}",
            run.outcome
        );
        let short = "0-9999".to_string();
        let run = execute_counted(&m, json!({}), json!({}), &fake(vec![Ok(json!({"Payload": short}))])).await;
        assert!(
            matches!(&run.outcome, Outcome::Failed { error, cause, .. } if error == "PipelineRunFailed" && cause == "0-9999"),
            "{:?}",
            run.outcome
        );
        // An execution input over the limit fails before the first state.
        let run = execute_counted(&m, json!({"x": big}), json!({}), &fake(vec![])).await;
        assert!(
            matches!(&run.outcome, Outcome::Failed { error, .. } if error == limits::DATA_LIMIT_EXCEEDED)
        );
        assert_eq!(run.usage.history_events, 1, "ExecutionFailed only");
    }
}
