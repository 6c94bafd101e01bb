//! `data "batch_state_machine_definition"`: the Step Functions definition
//! (ASL JSON) of one pipeline run, made from the pipeline's queue and job
//! definitions and the two Lambda functions. A data source rather than an
//! attribute of `batch_pipeline`, so the Lambdas (which need the pipeline's
//! access point) and the state machine (which needs the Lambdas) form no
//! dependency cycle. The local runner executes the same definition.
//!
//! The run (execution input `{"config": <run_config>, "overrides": {...}}`):
//! Prep (NO_WORK ends cleanly) -> SubmitJob procurement, then processing and
//! egress, each N_TO_N on the stage before, all sized by prep's array_size
//! (one item: three plain jobs in sequence) -> Wait/Watch loop until the
//! watcher says finished -> Summarize -> Succeed, or Summarize -> Fail with
//! the watcher's bounded cause (failed indices as ranges). Prep and watcher
//! contracts: docs/lambdas.md.
//!
//! Summarize is the prep function in its second mode (it has the EFS
//! mount): the run's summary on EFS and in the egress bucket, and its
//! totals and key at `$.summary.totals`, so the SUCCEEDED event's
//! `detail.output` carries them. Every path that submitted jobs goes
//! through it, the cancellation's too; a summary that cannot be written
//! is recorded at `$.summary_error` and changes neither the run's status
//! nor its cause.
//!
//! A run that ends while its jobs may still be going (a SubmitJob or the
//! watcher failed for good, or the run's deadline passed) terminates the
//! jobs it submitted before it fails, newest stage first, so nothing is
//! left running (and billing) on the compute environment. Step Functions
//! cannot catch its own execution timeout, so the deadline is the
//! watcher's to call: it gets the execution's start time and the run
//! timeout, and the execution's TimeoutSeconds is a backstop past it.

use async_trait::async_trait;
use serde_json::{Value as Json, json};

use crate::tfplugin::validate::check_values;
use crate::tfplugin::{
    Attribute, AttributePath, Block, DataSource, Diagnostic, Diagnostics, Findings, Schema, SettingsReader,
    Type, Validator, Value,
};

use contract::retry::RETRYABLE_LAMBDA_ERRORS;

use super::pipeline::schema::STAGES;

pub struct StateMachineDefinition;

/// Errors worth retrying on a Lambda invoke (`lambda:invoke`): the Lambda
/// service's own hiccups as Step Functions names them (its "handle Lambda
/// service exceptions" best practice lists ClientExecutionTimeoutException,
/// ServiceException, AWSLambdaException and SdkClientException; a function
/// at its concurrency limit arrives as TooManyRequestsException), and the
/// error types prep and watcher return for transient trouble (their
/// `ErrorKind::is_retryable`: throttling, AWS APIs unavailable, EFS
/// unavailable; a runner test holds the two lists equal).
const LAMBDA_RETRYABLE: [&str; 8] = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    RETRYABLE_LAMBDA_ERRORS[0],
    RETRYABLE_LAMBDA_ERRORS[1],
    RETRYABLE_LAMBDA_ERRORS[2],
];
/// SubmitJob through the optimised integration (`batch:submitJob`). Batch
/// models only ClientException and ServerException; an error it does not
/// model, throttling (HTTP 429, TooManyRequestsException) among them,
/// reaches the state as the integration's base exception,
/// `Batch.AWSBatchException`, with the code only in the Cause. A
/// `Batch.TooManyRequestsException` retrier never matches.
const BATCH_SUBMIT_RETRYABLE: [&str; 2] = ["Batch.AWSBatchException", "Batch.ServerException"];
/// TerminateJob through the AWS SDK integration (`aws-sdk:batch:terminateJob`):
/// errors are `Batch.<Name>Exception`; one the model lacks (throttling)
/// arrives as the service's base exception, `Batch.BatchException`.
const BATCH_TERMINATE_RETRYABLE: [&str; 2] = ["Batch.BatchException", "Batch.ServerException"];

/// Step Functions' SDK integration for TerminateJob (no optimised one).
const BATCH_TERMINATE: &str = "arn:aws:states:::aws-sdk:batch:terminateJob";

/// Longest a standard execution may run (one year).
const MAX_EXECUTION_SECONDS: i64 = 31_536_000;

/// Seconds between watcher calls when `poll_seconds` is left out.
const DEFAULT_POLL_SECONDS: i64 = 60;

/// The declared ranges of `poll_seconds` and `timeout_seconds`.
const POLL_SECONDS: Validator = Validator::WholeNumber { min: 5, max: 3600, label: None };
const TIMEOUT_SECONDS: Validator =
    Validator::WholeNumber { min: 60, max: MAX_EXECUTION_SECONDS, label: None };

/// What the execution's TimeoutSeconds allows past the run's deadline
/// besides one poll (the watcher notices the deadline at its next call):
/// the cancellation's three TerminateJob calls, each retried for up to
/// about two minutes.
const CANCEL_GRACE_SECONDS: i64 = 600;

/// Step Functions' hard quota on one standard execution's history.
pub const MAX_HISTORY_EVENTS: i64 = 25_000;

/// History events one watcher round adds: Wait (WaitStateEntered,
/// WaitStateExited), Watch (TaskStateEntered, TaskScheduled, TaskStarted,
/// TaskSucceeded, TaskStateExited), Finished (ChoiceStateEntered,
/// ChoiceStateExited).
pub const EVENTS_PER_WATCH_ROUND: i64 = 9;

/// History events of the longest path outside the watcher rounds, with no
/// retry: ExecutionStarted, HasOverrides, NoOverrides, Prep, HasWork, the
/// three SubmitJobs, then the timed-out ending (TimedOut, the three
/// CancelXIfSubmitted choices and TerminateJob tasks, the SummarizeFailure
/// choice and its Summarize task, FailStateEntered, ExecutionFailed). The
/// local runner counts the same (runner/tests/long_run.rs).
pub const FIXED_HISTORY_EVENTS: i64 = 59;

/// Tasks outside the watcher rounds on one path: Prep, three SubmitJobs,
/// three TerminateJobs, one Summarize.
pub const TASKS_OUTSIDE_ROUNDS: i64 = 8;

/// Most watcher rounds a run may need. 25,000 - 59 fixed events - 144 for
/// six retries (3 events each) of each of the eight other tasks leaves
/// 24,797; 2,600 rounds take 23,400 and leave 1,397 events for 465 retried
/// Watch calls over the run (each retry adds TaskScheduled, TaskStarted,
/// TaskFailed).
pub const MAX_WATCH_ROUNDS: i64 = 2_600;

/// The run timeout used when `timeout_seconds` is not set: a day, or less
/// when `poll_seconds` is so short that a day of polling would not fit in
/// the execution history.
pub fn default_timeout_seconds(poll_seconds: i64) -> i64 {
    86_400.min(MAX_WATCH_ROUNDS * poll_seconds)
}

/// Watcher rounds a run with this deadline may take at most: the k-th
/// Watch call comes at least k polls after the jobs were submitted, and
/// the first call at or past the deadline ends the run.
pub fn worst_case_watch_rounds(poll_seconds: i64, run_deadline_seconds: i64) -> i64 {
    (run_deadline_seconds + poll_seconds - 1) / poll_seconds
}

/// The stages newest first: cancelling downstream before upstream keeps a
/// node that finishes meanwhile from starting its successor.
const CANCEL_ORDER: [usize; 3] = [2, 1, 0];

pub struct DefinitionInput<'a> {
    /// The queue procurement is submitted to.
    pub job_queue_arn: &'a str,
    /// The higher-priority queue processing and egress are submitted to
    /// (`batch_pipeline.later_stages_job_queue_arn`), so a node whose
    /// dependency is met does not wait behind procurement nodes not yet
    /// started; `None` sends them to `job_queue_arn` too.
    pub later_stages_job_queue_arn: Option<&'a str>,
    pub job_definition_arns: [&'a str; 3],
    pub prep_function_arn: &'a str,
    pub watcher_function_arn: &'a str,
    pub poll_seconds: i64,
    pub timeout_seconds: i64,
}

fn retry(errors: &[&str]) -> Json {
    json!([{ "ErrorEquals": errors, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2.0, "JitterStrategy": "FULL" }])
}

fn catch_to(state: &str) -> Json {
    json!([{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": state }])
}

/// The run's deadline in seconds from the execution's start, and the
/// execution's own TimeoutSeconds: the deadline plus one poll plus the
/// cancellation, within Step Functions' one-year limit (a timeout near
/// that limit gets an earlier deadline rather than no cancellation).
pub fn deadlines(input: &DefinitionInput<'_>) -> (i64, i64) {
    let run = input.timeout_seconds.min(MAX_EXECUTION_SECONDS - input.poll_seconds - CANCEL_GRACE_SECONDS);
    (run, run + input.poll_seconds + CANCEL_GRACE_SECONDS)
}

fn cancel_state(stage: &str) -> String {
    let mut name = stage.to_string();
    name[..1].make_ascii_uppercase();
    format!("Cancel{name}")
}

/// The cancellation chain, from `CancelJobs` to the `Failed` state: per
/// stage (newest first), a Choice that skips a stage never submitted
/// (`$.jobs.<stage>` absent; a missing path in Parameters would fail the
/// execution with States.Runtime, which no Catch takes) and a TerminateJob
/// task. A TerminateJob that fails for good is recorded at
/// `$.cancel_error` and the chain goes on: the run fails either way, with
/// the error that started the cancellation (`$.failure`).
fn cancellation(states: &mut serde_json::Map<String, Json>) {
    let mut next_check = "CancelJobs".to_string();
    for (k, &index) in CANCEL_ORDER.iter().enumerate() {
        let stage = STAGES[index];
        let task = cancel_state(stage);
        let after = match CANCEL_ORDER.get(k + 1) {
            Some(&i) => format!("{}IfSubmitted", cancel_state(STAGES[i])),
            None => SUMMARIZE_FAILURE.to_string(),
        };
        states.insert(
            next_check.clone(),
            json!({
                "Type": "Choice",
                "Choices": [ { "Variable": format!("$.jobs.{stage}"), "IsPresent": true, "Next": task } ],
                "Default": after
            }),
        );
        states.insert(
            task,
            json!({
                "Type": "Task",
                "Resource": BATCH_TERMINATE,
                // Terminating an array's parent cancels or terminates
                // every child; one already finished is left as it is.
                "Parameters": { "JobId.$": format!("$.jobs.{stage}.JobId"), "Reason.$": "$.failure.Error" },
                "ResultPath": null,
                "Retry": retry(&BATCH_TERMINATE_RETRYABLE),
                "Catch": [ { "ErrorEquals": ["States.ALL"], "ResultPath": "$.cancel_error", "Next": after } ],
                "Next": after
            }),
        );
        next_check = after;
    }
}

/// The Choice that ends the cancellation: summarize with the watcher's
/// last verdict when there is one (`$.watch` is absent when a SubmitJob
/// failed or the first Watch call did; a missing path in Parameters would
/// fail the execution with States.Runtime, which no Catch takes).
const SUMMARIZE_FAILURE: &str = "SummarizeFailure";

/// The Summarize task: the prep function with `action: summarize`, given
/// the run (prep's answer), the execution, the watcher's verdict (when
/// `verdict`) and why the run failed (`failure`, absent for a run that
/// succeeded). Its answer (totals and the summary's key, small whatever
/// the run's size) goes to `$.summary.totals`. Transient errors are
/// retried like prep's; any other failure is recorded at `$.summary_error`
/// and the run goes on to `next` as it would have without the summary.
fn summarize(input: &DefinitionInput<'_>, verdict: bool, failure: Option<Json>, next: &str) -> Json {
    let mut payload = json!({
        "action": "summarize",
        "config.$": "$.config",
        "run.$": "$.prep.run",
        "execution.$": "$$.Execution.Name",
        "started.$": "$$.Execution.StartTime",
    });
    if verdict {
        payload["verdict.$"] = json!("$.watch.verdict");
    }
    match failure {
        Some(Json::String(path)) => payload["failure.$"] = Json::String(path),
        Some(failure) => payload["failure"] = failure,
        None => {}
    }
    let mut task = lambda_task(input.prep_function_arn, payload, ("totals", "$.summary"), next, next);
    task["Catch"] = json!([{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.summary_error", "Next": next }]);
    task
}

/// The end of the cancellation: Summarize (with or without the watcher's
/// verdict), then the `Failed` state.
fn summarize_failure(input: &DefinitionInput<'_>, states: &mut serde_json::Map<String, Json>) {
    states.insert(
        SUMMARIZE_FAILURE.into(),
        json!({
            "Type": "Choice",
            "Choices": [ { "Variable": "$.watch", "IsPresent": true, "Next": "SummarizeFailureWatched" } ],
            "Default": "SummarizeFailureUnwatched"
        }),
    );
    let failure = || Some(json!("$.failure"));
    states.insert("SummarizeFailureWatched".into(), summarize(input, true, failure(), "Failed"));
    states.insert("SummarizeFailureUnwatched".into(), summarize(input, false, failure(), "Failed"));
}

/// A Pass state that records why the run fails (`$.failure`, as a Fail
/// state's Error and Cause) and goes to the cancellation.
fn failure(error: &str, cause_path: &str) -> Json {
    json!({
        "Type": "Pass",
        "Parameters": { "Error": error, "Cause.$": cause_path },
        "ResultPath": "$.failure",
        "Next": "CancelJobs"
    })
}

/// The queue stage `index` is submitted to: the first stage's, or the
/// later stages' when there is one.
fn queue_of<'a>(input: &DefinitionInput<'a>, index: usize) -> &'a str {
    match input.later_stages_job_queue_arn {
        Some(later) if index > 0 => later,
        _ => input.job_queue_arn,
    }
}

/// A SubmitJob state. `single`: prep found exactly one item (mode
/// "single"): AWS Batch has no array of size 1, so the three stages run as
/// plain jobs, each depending on the whole job before.
fn submit(stage: &str, input: &DefinitionInput<'_>, index: usize, next: &str, single: bool) -> Json {
    let mut parameters = json!({
        // prep's job_name_id: the run id as Batch job names allow it (a run
        // id may hold '.', a job name may not).
        "JobName.$": format!("States.Format('{stage}-{{}}', $.prep.run.job_name_id)"),
        "JobQueue": queue_of(input, index),
        "JobDefinition": input.job_definition_arns[index],
        "ContainerOverrides": {
            "Environment": [ { "Name": "RUN_ID", "Value.$": "$.prep.run.run_id" } ]
        },
    });
    if !single {
        parameters["ArrayProperties"] = json!({ "Size.$": "$.prep.run.array_size" });
    }
    if index > 0 {
        let previous = format!("$.jobs.{}.JobId", STAGES[index - 1]);
        parameters["DependsOn"] = if single {
            json!([{ "JobId.$": previous }])
        } else {
            // Node i of this stage waits only for node i of the stage before.
            json!([{ "JobId.$": previous, "Type": "N_TO_N" }])
        };
    }
    json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::batch:submitJob",
        "Parameters": parameters,
        "ResultSelector": { "JobId.$": "$.JobId" },
        "ResultPath": format!("$.jobs.{stage}"),
        "Retry": retry(&BATCH_SUBMIT_RETRYABLE),
        "Catch": catch_to("SubmitFailed"),
        "Next": next,
    })
}

/// A Lambda Task (prep, watcher): `payload` in, the function's answer kept
/// as `<key>` at `result_path`, the transient Lambda errors retried, any
/// other failure caught into the `fail_state`.
fn lambda_task(
    function_arn: &str,
    payload: Json,
    (key, result_path): (&str, &str),
    fail_state: &str,
    next: &str,
) -> Json {
    json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": { "FunctionName": function_arn, "Payload": payload },
        "ResultSelector": { format!("{key}.$"): "$.Payload" },
        "ResultPath": result_path,
        "Retry": retry(&LAMBDA_RETRYABLE),
        "Catch": catch_to(fail_state),
        "Next": next,
    })
}

pub fn definition(input: &DefinitionInput<'_>) -> Json {
    let mut watch_jobs = serde_json::Map::new();
    for stage in STAGES {
        watch_jobs.insert(format!("{stage}.$"), Json::String(format!("$.jobs.{stage}.JobId")));
    }
    let (run_deadline, execution_timeout) = deadlines(input);
    let mut definition = json!({
        "Comment": "One batch_pipeline run: prep, three N_TO_N array jobs, watcher loop, a summary of the run; a run that fails while its jobs may still run terminates them.",
        "TimeoutSeconds": execution_timeout,
        "StartAt": "HasOverrides",
        "States": {
            // `overrides` may be left out of the execution input: Prep's
            // `$.overrides` would otherwise fail with States.Runtime.
            "HasOverrides": {
                "Type": "Choice",
                "Choices": [ { "Variable": "$.overrides", "IsPresent": true, "Next": "Prep" } ],
                "Default": "NoOverrides"
            },
            "NoOverrides": { "Type": "Pass", "Result": {}, "ResultPath": "$.overrides", "Next": "Prep" },
            // The execution name lets a retried prep land in the same run.
            "Prep": lambda_task(
                input.prep_function_arn,
                json!({ "config.$": "$.config", "overrides.$": "$.overrides", "execution.$": "$$.Execution.Name" }),
                ("run", "$.prep"),
                "PrepFailed",
                "HasWork",
            ),
            "HasWork": {
                "Type": "Choice",
                "Choices": [
                    { "Variable": "$.prep.run.status", "StringEquals": "NO_WORK", "Next": "NoWork" },
                    { "Variable": "$.prep.run.mode", "StringEquals": "single", "Next": "SubmitProcurementSingle" }
                ],
                "Default": "SubmitProcurement"
            },
            "NoWork": { "Type": "Succeed", "Comment": "Nothing to process: no arrays were submitted." },
            "SubmitProcurement": submit("procurement", input, 0, "SubmitProcessing", false),
            "SubmitProcessing": submit("processing", input, 1, "SubmitEgress", false),
            "SubmitEgress": submit("egress", input, 2, "Wait", false),
            "SubmitProcurementSingle": submit("procurement", input, 0, "SubmitProcessingSingle", true),
            "SubmitProcessingSingle": submit("processing", input, 1, "SubmitEgressSingle", true),
            "SubmitEgressSingle": submit("egress", input, 2, "Wait", true),
            "Wait": { "Type": "Wait", "Seconds": input.poll_seconds, "Next": "Watch" },
            "Watch": lambda_task(
                input.watcher_function_arn,
                json!({
                    "jobs": watch_jobs,
                    "run_id.$": "$.prep.run.run_id",
                    "started.$": "$$.Execution.StartTime",
                    "timeout_seconds": run_deadline
                }),
                ("verdict", "$.watch"),
                "WatchFailed",
                "Finished",
            ),
            "Finished": {
                "Type": "Choice",
                "Choices": [
                    { "Variable": "$.watch.verdict.timed_out", "BooleanEquals": true, "Next": "TimedOut" },
                    { "Variable": "$.watch.verdict.finished", "BooleanEquals": false, "Next": "Wait" },
                    { "Variable": "$.watch.verdict.succeeded", "BooleanEquals": true, "Next": "Summarize" }
                ],
                "Default": "SummarizeFailed"
            },
            "Summarize": summarize(input, true, None, "Succeeded"),
            "SummarizeFailed": summarize(
                input,
                true,
                Some(json!({ "Error": "PipelineRunFailed", "Cause.$": "$.watch.verdict.cause" })),
                "RunFailed",
            ),
            "Succeeded": { "Type": "Succeed" },
            // The watcher's cause: at most 4,096 characters (an
            // execution's cause may have 32,768), with the failed indices
            // as ranges and where the full lists are. The lists
            // themselves (every failed index of 10,000 nodes) would not
            // fit in a cause.
            "RunFailed": {
                "Type": "Fail",
                "Error": "PipelineRunFailed",
                "CausePath": "$.watch.verdict.cause"
            },
            "PrepFailed": { "Type": "Fail", "Error": "PrepFailed", "CausePath": "$.error.Cause" },
            "SubmitFailed": failure("SubmitJobFailed", "$.error.Cause"),
            "WatchFailed": failure("WatcherFailed", "$.error.Cause"),
            "TimedOut": failure("PipelineRunTimedOut", "$.watch.verdict.cause"),
            "Failed": { "Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause" }
        }
    });
    if let Some(states) = definition["States"].as_object_mut() {
        cancellation(states);
        summarize_failure(input, states);
    }
    definition
}

/// Refuses a `timeout_seconds` whose watcher rounds cannot fit in the
/// execution history at this `poll_seconds` (Step Functions fails an
/// execution at 25,000 events, with no Catch: the cancellation would not
/// run and the jobs would go on). An unset timeout gets a default that
/// fits instead ([`default_timeout_seconds`]).
fn history_check(config: &Value, diags: &mut Diagnostics) {
    let (poll, timeout) = (config.get("poll_seconds"), config.get("timeout_seconds"));
    if poll.is_unknown() || timeout.is_unknown() || timeout.is_null() {
        return;
    }
    let poll_seconds = if poll.is_null() { Some(DEFAULT_POLL_SECONDS) } else { poll.as_i64() };
    let (Some(poll_seconds), Some(timeout_seconds)) = (poll_seconds, timeout.as_i64()) else { return };
    if !POLL_SECONDS.accepts(&Value::int(poll_seconds))
        || !TIMEOUT_SECONDS.accepts(&Value::int(timeout_seconds))
    {
        return; // refused on its own attribute by its declared validator
    }
    let input = DefinitionInput {
        job_queue_arn: "",
        later_stages_job_queue_arn: None,
        job_definition_arns: ["", "", ""],
        prep_function_arn: "",
        watcher_function_arn: "",
        poll_seconds,
        timeout_seconds,
    };
    let rounds = worst_case_watch_rounds(poll_seconds, deadlines(&input).0);
    if rounds > MAX_WATCH_ROUNDS {
        let longest = MAX_WATCH_ROUNDS * poll_seconds;
        diags.push(Diagnostic::attribute_error(
            AttributePath::attr("timeout_seconds"),
            "timeout_seconds does not fit in the execution history",
            format!(
                "timeout_seconds = {timeout_seconds} with poll_seconds = {poll_seconds} takes up to {rounds} watcher rounds of {EVENTS_PER_WATCH_ROUND} history events each; a Step Functions standard execution fails at {MAX_HISTORY_EVENTS} events without running the cancellation, so at most {MAX_WATCH_ROUNDS} rounds fit. With poll_seconds = {poll_seconds} the longest run is {longest} s ({:.1} h): lower timeout_seconds to at most {longest}, or raise poll_seconds to at least {}.",
                longest as f64 / 3600.0,
                (timeout_seconds + MAX_WATCH_ROUNDS - 1) / MAX_WATCH_ROUNDS,
            ),
        ));
    }
}

/// `definition` with `config` as the run configuration of an execution
/// whose input has none: a Choice in front of the first state passes an
/// input with `config` through unchanged and gives one without it the
/// default at `$.config`. Without it, the console's "Start execution"
/// (whose input is `{"Comment": "Insert your JSON here"}`) or an input of
/// only `overrides` failed at Prep with States.Runtime (`$.config` missing
/// from its Parameters), which no Catch takes.
pub fn with_default_config(mut definition: Json, config: &Json) -> Json {
    let first = definition["StartAt"].clone();
    if let Some(states) = definition["States"].as_object_mut() {
        states.insert(
            "HasConfig".into(),
            json!({
                "Type": "Choice",
                "Choices": [ { "Variable": "$.config", "IsPresent": true, "Next": first } ],
                "Default": "DefaultConfig"
            }),
        );
        states.insert(
            "DefaultConfig".into(),
            json!({
                "Type": "Pass",
                "Comment": "No config in the execution input: the pipeline's run configuration (default_config).",
                "Result": config,
                "ResultPath": "$.config",
                "Next": first
            }),
        );
        definition["StartAt"] = json!("HasConfig");
    }
    definition
}

/// `default_config` as a JSON object; `None` when unset or not yet known.
fn default_config(config: &Value) -> Result<Option<Json>, Diagnostic> {
    let v = config.get("default_config");
    let Some(text) = v.as_str() else { return Ok(None) };
    match serde_json::from_str::<Json>(text) {
        Ok(j) if j.is_object() => Ok(Some(j)),
        _ => Err(Diagnostic::attribute_error(
            AttributePath::attr("default_config"),
            "Invalid default_config",
            "default_config must be a JSON object: batch_pipeline.run_config.".to_string(),
        )),
    }
}

#[async_trait]
impl DataSource for StateMachineDefinition {
    fn type_name(&self) -> &'static str {
        "batch_state_machine_definition"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("The Step Functions definition (ASL) of one pipeline run.")
                .attr(
                    Attribute::required("job_queue_arn", Type::String, "batch_pipeline.job_queue_arn.")
                        .validate(Validator::Arn { service: Some("batch") }),
                )
                .attr(
                    Attribute::optional(
                        "later_stages_job_queue_arn",
                        Type::String,
                        "batch_pipeline.later_stages_job_queue_arn: processing and egress are submitted to it. Unset: to job_queue_arn, where they wait behind every procurement node not yet started.",
                    )
                    .validate(Validator::Arn { service: Some("batch") }),
                )
                .attr(Attribute::required(
                    "job_definition_arns",
                    Type::map(Type::String),
                    "batch_pipeline.job_definition_arns (procurement, processing, egress).",
                ))
                .attr(
                    Attribute::required("prep_function_arn", Type::String, "ARN of the prep Lambda.")
                        .validate(Validator::Arn { service: Some("lambda") }),
                )
                .attr(
                    Attribute::required("watcher_function_arn", Type::String, "ARN of the watcher Lambda.")
                        .validate(Validator::Arn { service: Some("lambda") }),
                )
                .attr(
                    Attribute::optional(
                        "poll_seconds",
                        Type::Number,
                        "Seconds between watcher calls (5-3600, default 60).",
                    )
                    .validate(POLL_SECONDS),
                )
                .attr(Attribute::optional(
                    "timeout_seconds",
                    Type::Number,
                    "Run timeout (60-31536000, default 86400, or 2600 x poll_seconds when that is less): the first watcher call past it ends the run as PipelineRunTimedOut and terminates its jobs. At most 2600 x poll_seconds: each watcher round adds 9 events to the execution history, which Step Functions ends at 25,000. The execution's own TimeoutSeconds is this plus poll_seconds plus 600 s for the cancellation (near the one-year limit the run's deadline is moved earlier instead).",
                ).validate(TIMEOUT_SECONDS))
                .attr(Attribute::optional(
                    "default_config",
                    Type::String,
                    "batch_pipeline.run_config: the run configuration of an execution whose input has no config (such as the console's Start execution default input). Unset: config is required.",
                ))
                .attr(Attribute::computed("definition", Type::String, "The definition, as JSON.")),
        )
    }

    /// The rules beyond the declared validators (the protocol layer runs
    /// those first): every stage's job definition, default_config's JSON,
    /// and the run fitting in the execution history.
    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(map) = config.get("job_definition_arns").entries() {
            for stage in STAGES {
                if map.get(stage).is_none_or(Value::is_null) {
                    diags.push(Diagnostic::attribute_error(
                        AttributePath::attr("job_definition_arns"),
                        "Missing job definition",
                        format!("job_definition_arns needs a {stage:?} entry (use batch_pipeline.job_definition_arns)."),
                    ));
                }
            }
        }
        if let Err(d) = default_config(config) {
            diags.push(d);
        }
        history_check(config, &mut diags);
        diags
    }

    async fn read(&self, config: Value) -> Result<Value, Diagnostics> {
        let schema = self.schema();
        let mut diags = check_values(&schema.block, &config, &AttributePath::root());
        diags.extend(self.validate(&config));
        if diags.has_errors() {
            return Err(diags);
        }
        let mut findings = Findings::default();
        let mut r = SettingsReader::root(&config, Some(&schema.block), &mut findings);
        let mut text = |name: &str| r.string(name).unwrap_or_default();
        let (queue, prep, watcher) =
            (text("job_queue_arn"), text("prep_function_arn"), text("watcher_function_arn"));
        let later_queue = r.string("later_stages_job_queue_arn");
        let arns = r.string_map("job_definition_arns");
        let stage_arn = |stage: &str| arns.get(stage).cloned().unwrap_or_default();
        let defs = [stage_arn("procurement"), stage_arn("processing"), stage_arn("egress")];
        let poll_seconds = r.int("poll_seconds").unwrap_or(DEFAULT_POLL_SECONDS);
        let timeout_seconds =
            r.int("timeout_seconds").unwrap_or_else(|| default_timeout_seconds(poll_seconds));
        let input = DefinitionInput {
            job_queue_arn: &queue,
            later_stages_job_queue_arn: later_queue.as_deref(),
            job_definition_arns: [&defs[0], &defs[1], &defs[2]],
            prep_function_arn: &prep,
            watcher_function_arn: &watcher,
            poll_seconds,
            timeout_seconds,
        };
        let mut generated = definition(&input);
        // validate() above refused a default_config that is not an object.
        if let Ok(Some(default)) = default_config(&config) {
            generated = with_default_config(generated, &default);
        }
        let mut state = config.clone();
        state.set_attr(
            "definition",
            Value::string(serde_json::to_string_pretty(&generated).unwrap_or_default()),
        );
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Json {
        definition(&DefinitionInput {
            job_queue_arn: "arn:aws:batch:us-east-1:1:job-queue/p-queue",
            later_stages_job_queue_arn: Some("arn:aws:batch:us-east-1:1:job-queue/p-stages-queue"),
            job_definition_arns: ["arn:jd/p-procurement:1", "arn:jd/p-processing:1", "arn:jd/p-egress:1"],
            prep_function_arn: "arn:aws:lambda:us-east-1:1:function:prep",
            watcher_function_arn: "arn:aws:lambda:us-east-1:1:function:watcher",
            poll_seconds: 30,
            timeout_seconds: 3600,
        })
    }

    #[test]
    fn a_default_config_fills_in_a_missing_config_and_nothing_else() {
        let config = json!({"version": 1, "pipeline": "p"});
        let d = with_default_config(sample(), &config);
        assert_eq!(d["StartAt"], "HasConfig");
        let states = &d["States"];
        assert_eq!(states["HasConfig"]["Choices"][0]["Variable"], "$.config");
        assert_eq!(states["HasConfig"]["Choices"][0]["IsPresent"], true);
        assert_eq!(states["HasConfig"]["Choices"][0]["Next"], sample()["StartAt"]);
        assert_eq!(states["DefaultConfig"]["Result"], config);
        assert_eq!(states["DefaultConfig"]["ResultPath"], "$.config");
        assert_eq!(states["DefaultConfig"]["Next"], sample()["StartAt"]);
        // Every other state is as without a default.
        let mut rest = states.as_object().unwrap().clone();
        rest.remove("HasConfig");
        rest.remove("DefaultConfig");
        assert_eq!(Json::Object(rest), sample()["States"]);
    }

    #[test]
    fn default_config_must_be_a_json_object() {
        let base = |v: Value| {
            Value::object([
                ("job_queue_arn", Value::string("arn:aws:batch:us-east-1:1:job-queue/q")),
                ("prep_function_arn", Value::string("arn:aws:lambda:us-east-1:1:function:prep")),
                ("watcher_function_arn", Value::string("arn:aws:lambda:us-east-1:1:function:watcher")),
                ("default_config", v),
            ])
        };
        for bad in ["[1]", "not json", "\"x\""] {
            let diags = StateMachineDefinition.validate(&base(Value::string(bad)));
            assert_eq!(diags.0.len(), 1, "{bad}: {diags:?}");
            assert_eq!(diags.0[0].summary, "Invalid default_config");
            assert_eq!(diags.0[0].path, Some(AttributePath::attr("default_config")));
        }
        for fine in [Value::string(r#"{"version":1}"#), Value::Null, Value::unknown()] {
            assert!(StateMachineDefinition.validate(&base(fine.clone())).0.is_empty(), "{fine:?}");
        }
    }

    #[test]
    fn stages_chain_n_to_n_on_the_previous_job() {
        let d = sample();
        let states = &d["States"];
        assert!(states["SubmitProcurement"]["Parameters"].get("DependsOn").is_none());
        let processing = &states["SubmitProcessing"]["Parameters"]["DependsOn"][0];
        assert_eq!(processing["Type"], "N_TO_N");
        assert_eq!(processing["JobId.$"], "$.jobs.procurement.JobId");
        assert_eq!(
            states["SubmitEgress"]["Parameters"]["DependsOn"][0]["JobId.$"],
            "$.jobs.processing.JobId"
        );
        for s in ["SubmitProcurement", "SubmitProcessing", "SubmitEgress"] {
            assert_eq!(states[s]["Parameters"]["ArrayProperties"]["Size.$"], "$.prep.run.array_size");
        }
    }

    /// Procurement goes to the pipeline's queue, processing and egress to
    /// its higher-priority later-stages queue (the single-item path too);
    /// without one, all three go to the one queue.
    #[test]
    fn later_stages_are_submitted_to_their_own_queue() {
        let first = "arn:aws:batch:us-east-1:1:job-queue/p-queue";
        let later = "arn:aws:batch:us-east-1:1:job-queue/p-stages-queue";
        let d = sample();
        for (state, queue) in [
            ("SubmitProcurement", first),
            ("SubmitProcessing", later),
            ("SubmitEgress", later),
            ("SubmitProcurementSingle", first),
            ("SubmitProcessingSingle", later),
            ("SubmitEgressSingle", later),
        ] {
            assert_eq!(d["States"][state]["Parameters"]["JobQueue"], queue, "{state}");
        }
        let config = |later: Option<&str>| {
            Value::object([
                ("job_queue_arn", Value::string(first)),
                ("later_stages_job_queue_arn", later.map(Value::string).unwrap_or(Value::Null)),
                (
                    "job_definition_arns",
                    Value::Map(
                        STAGES
                            .iter()
                            .map(|s| {
                                (
                                    s.to_string(),
                                    Value::string(format!(
                                        "arn:aws:batch:us-east-1:1:job-definition/p-{s}:1"
                                    )),
                                )
                            })
                            .collect(),
                    ),
                ),
                ("prep_function_arn", Value::string("arn:aws:lambda:us-east-1:1:function:prep")),
                ("watcher_function_arn", Value::string("arn:aws:lambda:us-east-1:1:function:watcher")),
                ("poll_seconds", Value::Null),
                ("timeout_seconds", Value::Null),
                ("default_config", Value::Null),
                ("definition", Value::Null),
            ])
        };
        let read = |later| {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let state = rt.block_on(StateMachineDefinition.read(config(later))).unwrap();
            serde_json::from_str::<Json>(state.get("definition").as_str().unwrap()).unwrap()
        };
        let two = read(Some(later));
        assert_eq!(two["States"]["SubmitEgress"]["Parameters"]["JobQueue"], later);
        assert_eq!(two["States"]["SubmitProcurement"]["Parameters"]["JobQueue"], first);
        let one = read(None);
        for s in ["SubmitProcurement", "SubmitProcessing", "SubmitEgress"] {
            assert_eq!(one["States"][s]["Parameters"]["JobQueue"], first, "{s}");
        }
        // Not a Batch ARN: refused on its attribute.
        let schema = StateMachineDefinition.schema();
        let bad =
            check_values(&schema.block, &config(Some("arn:aws:sqs:us-east-1:1:q")), &AttributePath::root());
        assert!(
            bad.0.iter().any(|d| d.path == Some(AttributePath::attr("later_stages_job_queue_arn"))),
            "{bad:?}"
        );
    }

    #[test]
    fn one_item_runs_as_plain_jobs() {
        let d = sample();
        let states = &d["States"];
        assert_eq!(states["HasWork"]["Choices"][1]["Next"], "SubmitProcurementSingle");
        for s in ["SubmitProcurementSingle", "SubmitProcessingSingle", "SubmitEgressSingle"] {
            assert!(states[s]["Parameters"].get("ArrayProperties").is_none(), "{s}");
        }
        let dep = &states["SubmitEgressSingle"]["Parameters"]["DependsOn"][0];
        assert_eq!(dep["JobId.$"], "$.jobs.processing.JobId");
        assert!(dep.get("Type").is_none());
        assert_eq!(states["Prep"]["Parameters"]["Payload"]["execution.$"], "$$.Execution.Name");
    }

    #[test]
    fn a_failed_or_late_run_terminates_the_jobs_it_submitted_newest_first() {
        let d = sample();
        let states = &d["States"];
        assert_eq!(d["TimeoutSeconds"], 3600 + 30 + CANCEL_GRACE_SECONDS);
        let payload = &states["Watch"]["Parameters"]["Payload"];
        assert_eq!(payload["started.$"], "$$.Execution.StartTime");
        assert_eq!(payload["timeout_seconds"], 3600);
        assert_eq!(states["Finished"]["Choices"][0]["Variable"], "$.watch.verdict.timed_out");
        assert_eq!(states["Finished"]["Choices"][0]["Next"], "TimedOut");
        for (from, error) in [
            ("SubmitFailed", "SubmitJobFailed"),
            ("WatchFailed", "WatcherFailed"),
            ("TimedOut", "PipelineRunTimedOut"),
        ] {
            assert_eq!(states[from]["Parameters"]["Error"], error);
            assert_eq!(states[from]["Next"], "CancelJobs");
        }
        // CancelJobs -> CancelEgress -> CancelProcessingIfSubmitted -> ... -> Failed.
        let mut check = "CancelJobs".to_string();
        for stage in ["egress", "processing", "procurement"] {
            let choice = &states[check.as_str()];
            assert_eq!(choice["Choices"][0]["Variable"], format!("$.jobs.{stage}"));
            assert_eq!(choice["Choices"][0]["IsPresent"], true);
            let task = &states[choice["Choices"][0]["Next"].as_str().unwrap()];
            assert_eq!(task["Resource"], BATCH_TERMINATE);
            assert_eq!(task["Parameters"]["JobId.$"], format!("$.jobs.{stage}.JobId"));
            assert_eq!(task["Next"], choice["Default"]);
            assert_eq!(task["Catch"][0]["Next"], choice["Default"]);
            check = task["Next"].as_str().unwrap().to_string();
        }
        assert_eq!(check, SUMMARIZE_FAILURE);
        assert_eq!(states["Failed"]["ErrorPath"], "$.failure.Error");
        // Prep fails before anything was submitted: nothing to cancel.
        assert_eq!(states["PrepFailed"]["Type"], "Fail");
    }

    #[test]
    fn a_timeout_near_the_one_year_limit_moves_the_deadline_not_the_backstop() {
        let input = |timeout_seconds| DefinitionInput {
            job_queue_arn: "q",
            later_stages_job_queue_arn: None,
            job_definition_arns: ["a", "b", "c"],
            prep_function_arn: "p",
            watcher_function_arn: "w",
            poll_seconds: 60,
            timeout_seconds,
        };
        assert_eq!(deadlines(&input(86_400)), (86_400, 86_400 + 60 + CANCEL_GRACE_SECONDS));
        let (run, execution) = deadlines(&input(MAX_EXECUTION_SECONDS));
        assert_eq!(execution, MAX_EXECUTION_SECONDS);
        assert_eq!(run, MAX_EXECUTION_SECONDS - 60 - CANCEL_GRACE_SECONDS);
    }

    /// The states a state can go to: Next, a Choice's rules and Default,
    /// and its Catch handlers.
    fn successors(state: &Json) -> Vec<String> {
        let mut next: Vec<String> = ["Next", "Default"]
            .iter()
            .filter_map(|k| state.get(*k).and_then(Json::as_str).map(String::from))
            .collect();
        for list in ["Choices", "Catch"] {
            for c in state.get(list).and_then(Json::as_array).into_iter().flatten() {
                next.push(c["Next"].as_str().expect("a rule or catcher names its Next").into());
            }
        }
        next
    }

    /// The states reached from `start`, following [`successors`].
    fn reachable(states: &serde_json::Map<String, Json>, start: &str) -> std::collections::BTreeSet<String> {
        let mut reached = std::collections::BTreeSet::from([start.to_string()]);
        let mut todo = vec![start.to_string()];
        while let Some(name) = todo.pop() {
            for t in states.get(&name).map(successors).unwrap_or_default() {
                if reached.insert(t.clone()) {
                    todo.push(t);
                }
            }
        }
        reached
    }

    #[test]
    fn every_next_names_a_state_and_every_state_is_reachable_from_start_at() {
        let d = sample();
        let states = d["States"].as_object().unwrap();
        for (name, state) in states {
            for t in successors(state) {
                assert!(states.contains_key(&t), "{name} goes to {t}, which is not a state");
            }
        }
        // Walk the graph from StartAt: a state only named by another
        // unreachable state is unreachable too.
        let start = d["StartAt"].as_str().unwrap().to_string();
        assert!(states.contains_key(&start), "StartAt {start} is not a state");
        let reached = reachable(states, &start);
        let unreachable: Vec<_> = states.keys().filter(|n| !reached.contains(*n)).collect();
        assert!(unreachable.is_empty(), "not reachable from StartAt: {unreachable:?}");
    }

    /// What the old check missed: a state another state names is not
    /// reachable when that other state is not.
    #[test]
    fn the_reachability_walk_finds_a_state_named_only_by_an_orphan() {
        let states = json!({
            "A": {"Type": "Pass", "End": true},
            "Orphan": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "End": true},
        });
        let reached = reachable(states.as_object().unwrap(), "A");
        assert_eq!(reached.into_iter().collect::<Vec<_>>(), vec!["A"]);
    }

    fn config(poll: Option<i64>, timeout: Option<i64>) -> Value {
        let n = |v: Option<i64>| v.map(Value::int).unwrap_or(Value::Null);
        Value::object([("poll_seconds", n(poll)), ("timeout_seconds", n(timeout))])
    }

    /// A timeout whose watcher rounds cannot fit in 25,000 history events
    /// is refused on `timeout_seconds`, naming the longest run the poll
    /// allows; the issue's examples (a day at 5 s, 48 h at 30 s, a year
    /// at 60 s) among them.
    #[test]
    fn timeouts_that_outgrow_the_execution_history_are_refused_on_timeout_seconds() {
        let refused = |poll, timeout| {
            let diags = StateMachineDefinition.validate(&config(poll, Some(timeout)));
            let found: Vec<_> = diags.0.iter().filter(|d| d.summary.contains("execution history")).collect();
            assert!(found.len() <= 1);
            found.first().map(|d| {
                assert_eq!(d.path, Some(AttributePath::attr("timeout_seconds")));
                d.detail.clone()
            })
        };
        let detail = refused(Some(30), 172_800).expect("48 h at 30 s");
        assert!(
            detail.contains("up to 5760 watcher rounds")
                && detail.contains("longest run is 78000 s (21.7 h)"),
            "{detail}"
        );
        assert!(detail.contains("raise poll_seconds to at least 67"), "{detail}");
        assert!(refused(Some(5), 86_400).is_some(), "a day at 5 s");
        assert!(refused(None, 31_536_000).is_some(), "a year at the default 60 s");
        assert!(refused(Some(3600), 31_536_000).is_some(), "a year does not fit even at 3600 s");
        // Exactly 2,600 rounds fit; one second more does not.
        for poll in [5, 60, 3600] {
            assert_eq!(refused(Some(poll), MAX_WATCH_ROUNDS * poll), None, "poll {poll}");
            assert!(refused(Some(poll), MAX_WATCH_ROUNDS * poll + 1).is_some(), "poll {poll}");
        }
        assert_eq!(refused(None, 86_400), None, "the defaults fit");
        // Unknown or unset values are not judged here.
        let unknown =
            Value::object([("poll_seconds", Value::unknown()), ("timeout_seconds", Value::int(31_536_000))]);
        assert!(StateMachineDefinition.validate(&unknown).0.is_empty());
        assert!(StateMachineDefinition.validate(&config(Some(5), None)).0.is_empty());
    }

    /// The worst-case history of the longest allowed run fits, retries
    /// included, and the default timeout shrinks to fit a short poll.
    #[test]
    fn the_longest_allowed_run_fits_in_the_history() {
        let retries = TASKS_OUTSIDE_ROUNDS * 6 * 3; // six retries of each task outside the rounds
        let worst = FIXED_HISTORY_EVENTS + retries + MAX_WATCH_ROUNDS * EVENTS_PER_WATCH_ROUND;
        assert!(worst <= MAX_HISTORY_EVENTS - 400 * 3, "room for 400 Watch retries: {worst}");
        assert_eq!(worst_case_watch_rounds(60, 86_400), 1440);
        assert_eq!(worst_case_watch_rounds(60, 86_401), 1441);
        assert_eq!(default_timeout_seconds(60), 86_400);
        assert_eq!(default_timeout_seconds(5), 13_000);
        assert_eq!(default_timeout_seconds(10), 26_000);
    }

    /// Every ending of a run that submitted jobs goes through a Summarize
    /// task (prep with `action: summarize`) that keeps the ending's status
    /// and cause: success, the watcher's failure, and the cancellation
    /// with and without a verdict. A summary that fails is caught into the
    /// same ending, at `$.summary_error` (not `$.error`, which the Fail
    /// states' causes read).
    #[test]
    fn every_ending_after_submission_is_summarized_and_keeps_its_status() {
        let d = sample();
        let states = d["States"].as_object().unwrap();
        assert_eq!(states["Finished"]["Choices"][2]["Next"], "Summarize");
        assert_eq!(states["Finished"]["Default"], "SummarizeFailed");
        assert_eq!(states["CancelProcurement"]["Next"], SUMMARIZE_FAILURE);
        assert_eq!(states[SUMMARIZE_FAILURE]["Choices"][0]["Variable"], "$.watch");
        for (name, verdict, failure, next) in [
            ("Summarize", true, None, "Succeeded"),
            (
                "SummarizeFailed",
                true,
                Some(json!({"Error": "PipelineRunFailed", "Cause.$": "$.watch.verdict.cause"})),
                "RunFailed",
            ),
            ("SummarizeFailureWatched", true, Some(json!("$.failure")), "Failed"),
            ("SummarizeFailureUnwatched", false, Some(json!("$.failure")), "Failed"),
        ] {
            let task = &states[name];
            assert_eq!(
                task["Parameters"]["FunctionName"], "arn:aws:lambda:us-east-1:1:function:prep",
                "{name}"
            );
            let payload = &task["Parameters"]["Payload"];
            assert_eq!(payload["action"], "summarize", "{name}");
            assert_eq!(payload["run.$"], "$.prep.run", "{name}");
            assert_eq!(payload["config.$"], "$.config", "{name}");
            assert_eq!(payload["execution.$"], "$$.Execution.Name", "{name}");
            assert_eq!(payload.get("verdict.$").is_some(), verdict, "{name}");
            match failure {
                Some(Json::String(path)) => assert_eq!(payload["failure.$"], json!(path), "{name}"),
                Some(f) => assert_eq!(payload["failure"], f, "{name}"),
                None => assert!(payload.get("failure").is_none() && payload.get("failure.$").is_none()),
            }
            assert_eq!(task["ResultPath"], "$.summary", "{name}");
            assert_eq!(task["ResultSelector"]["totals.$"], "$.Payload", "{name}");
            assert_eq!(task["Next"], next, "{name}");
            assert_eq!(
                task["Catch"],
                json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.summary_error", "Next": next}])
            );
            assert_eq!(task["Retry"], states["Prep"]["Retry"], "{name}");
        }
        // Only endings after submission: NoWork and PrepFailed have no run
        // to summarize.
        for end in ["NoWork", "PrepFailed"] {
            let reached = reachable(states, end);
            assert!(reached.iter().all(|s| !s.starts_with("Summarize")), "{end}: {reached:?}");
        }
        // No Fail or Succeed after a submission is reachable except through a summary.
        for start in ["SubmitProcurement", "SubmitProcurementSingle"] {
            for (name, state) in states {
                let end = matches!(state["Type"].as_str(), Some("Succeed") | Some("Fail"));
                if !end || !reachable(states, start).contains(name) {
                    continue;
                }
                let before: Vec<_> = states
                    .iter()
                    .filter(|(_, s)| successors(s).contains(name))
                    .map(|(n, _)| n.clone())
                    .collect();
                assert!(
                    before.iter().all(|n| n.starts_with("Summarize")),
                    "{name} is reached from {before:?}"
                );
            }
        }
    }

    /// The run's failure cause is the watcher's bounded line, not the
    /// lists themselves (which for 10,000 nodes would not fit a cause).
    #[test]
    fn a_failed_run_takes_the_watchers_bounded_cause() {
        let d = sample();
        assert_eq!(d["States"]["RunFailed"]["CausePath"], "$.watch.verdict.cause");
        assert_eq!(d["States"]["RunFailed"]["Error"], "PipelineRunFailed");
    }
}
