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
//! watcher says finished -> Succeed, or Fail with the failed indices as the
//! cause. Prep and watcher contracts: docs/lambdas.md.
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

use crate::tfplugin::{
    Attribute, AttributePath, Block, DataSource, Diagnostic, Diagnostics, Schema, Type, Value,
};

use super::pipeline::schema::STAGES;

pub struct StateMachineDefinition;

/// Errors worth retrying on a Lambda invoke: the Lambda service's own
/// hiccups, and the error types prep and watcher return for transient
/// trouble (their `ErrorKind::is_retryable`: throttling, AWS APIs
/// unavailable, EFS unavailable; a runner test holds the two lists equal).
const LAMBDA_RETRYABLE: [&str; 7] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Throttled",
    "AwsUnavailable",
    "StorageUnavailable",
];
const BATCH_RETRYABLE: [&str; 2] = ["Batch.TooManyRequestsException", "Batch.ServerException"];

/// Step Functions' SDK integration for TerminateJob (no optimised one).
const BATCH_TERMINATE: &str = "arn:aws:states:::aws-sdk:batch:terminateJob";

/// Longest a standard execution may run (one year).
const MAX_EXECUTION_SECONDS: i64 = 31_536_000;

/// What the execution's TimeoutSeconds allows past the run's deadline
/// besides one poll (the watcher notices the deadline at its next call):
/// the cancellation's three TerminateJob calls, each retried for up to
/// about two minutes.
const CANCEL_GRACE_SECONDS: i64 = 600;

/// The stages newest first: cancelling downstream before upstream keeps a
/// node that finishes meanwhile from starting its successor.
const CANCEL_ORDER: [usize; 3] = [2, 1, 0];

pub struct DefinitionInput<'a> {
    pub job_queue_arn: &'a str,
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
            None => "Failed".to_string(),
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
                "Retry": retry(&BATCH_RETRYABLE),
                "Catch": [ { "ErrorEquals": ["States.ALL"], "ResultPath": "$.cancel_error", "Next": after } ],
                "Next": after
            }),
        );
        next_check = after;
    }
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

/// A SubmitJob state. `single`: prep found exactly one item (mode
/// "single"): AWS Batch has no array of size 1, so the three stages run as
/// plain jobs, each depending on the whole job before.
fn submit(stage: &str, input: &DefinitionInput<'_>, index: usize, next: &str, single: bool) -> Json {
    let mut parameters = json!({
        "JobName.$": format!("States.Format('{stage}-{{}}', $.prep.run.run_id)"),
        "JobQueue": input.job_queue_arn,
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
        "Retry": retry(&BATCH_RETRYABLE),
        "Catch": catch_to("SubmitFailed"),
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
        "Comment": "One batch_pipeline run: prep, three N_TO_N array jobs, watcher loop; a run that fails while its jobs may still run terminates them.",
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
            "Prep": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                // The execution name lets a retried prep land in the same run.
                "Parameters": {
                    "FunctionName": input.prep_function_arn,
                    "Payload": { "config.$": "$.config", "overrides.$": "$.overrides", "execution.$": "$$.Execution.Name" }
                },
                "ResultSelector": { "run.$": "$.Payload" },
                "ResultPath": "$.prep",
                "Retry": retry(&LAMBDA_RETRYABLE),
                "Catch": catch_to("PrepFailed"),
                "Next": "HasWork"
            },
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
            "Watch": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": input.watcher_function_arn,
                    "Payload": {
                        "jobs": watch_jobs,
                        "run_id.$": "$.prep.run.run_id",
                        "started.$": "$$.Execution.StartTime",
                        "timeout_seconds": run_deadline
                    }
                },
                "ResultSelector": { "verdict.$": "$.Payload" },
                "ResultPath": "$.watch",
                "Retry": retry(&LAMBDA_RETRYABLE),
                "Catch": catch_to("WatchFailed"),
                "Next": "Finished"
            },
            "Finished": {
                "Type": "Choice",
                "Choices": [
                    { "Variable": "$.watch.verdict.timed_out", "BooleanEquals": true, "Next": "TimedOut" },
                    { "Variable": "$.watch.verdict.finished", "BooleanEquals": false, "Next": "Wait" },
                    { "Variable": "$.watch.verdict.succeeded", "BooleanEquals": true, "Next": "Succeeded" }
                ],
                "Default": "RunFailed"
            },
            "Succeeded": { "Type": "Succeed" },
            "RunFailed": {
                "Type": "Fail",
                "Error": "PipelineRunFailed",
                "CausePath": "States.JsonToString($.watch.verdict.failed_indices)"
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
    }
    definition
}

fn arn_check(config: &Value, name: &str, service: &str, diags: &mut Diagnostics) {
    if let Some(arn) = config.get(name).as_str()
        && (!arn.starts_with("arn:") || arn.split(':').nth(2) != Some(service))
    {
        diags.push(Diagnostic::attribute_error(
            AttributePath::attr(name),
            "Invalid ARN",
            format!("{arn:?} is not a {service} ARN."),
        ));
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
                .attr(Attribute::required("job_queue_arn", Type::String, "batch_pipeline.job_queue_arn."))
                .attr(Attribute::required(
                    "job_definition_arns",
                    Type::map(Type::String),
                    "batch_pipeline.job_definition_arns (procurement, processing, egress).",
                ))
                .attr(Attribute::required("prep_function_arn", Type::String, "ARN of the prep Lambda."))
                .attr(Attribute::required("watcher_function_arn", Type::String, "ARN of the watcher Lambda."))
                .attr(Attribute::optional(
                    "poll_seconds",
                    Type::Number,
                    "Seconds between watcher calls (5-3600, default 60).",
                ))
                .attr(Attribute::optional(
                    "timeout_seconds",
                    Type::Number,
                    "Run timeout (60-31536000, default 86400): the first watcher call past it ends the run as PipelineRunTimedOut and terminates its jobs. The execution's own TimeoutSeconds is this plus poll_seconds plus 600 s for the cancellation (near the one-year limit the run's deadline is moved earlier instead).",
                ))
                .attr(Attribute::computed("definition", Type::String, "The definition, as JSON.")),
        )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        arn_check(config, "job_queue_arn", "batch", &mut diags);
        arn_check(config, "prep_function_arn", "lambda", &mut diags);
        arn_check(config, "watcher_function_arn", "lambda", &mut diags);
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
        for (name, range) in [("poll_seconds", 5..=3600), ("timeout_seconds", 60..=31_536_000)] {
            let v = config.get(name);
            if v.is_null() || v.is_unknown() {
                continue;
            }
            if !v.as_i64().is_some_and(|n| range.contains(&n)) {
                diags.push(Diagnostic::attribute_error(
                    AttributePath::attr(name),
                    format!("Invalid {name}"),
                    format!("{name} must be a whole number from {} to {}.", range.start(), range.end()),
                ));
            }
        }
        diags
    }

    async fn read(&self, config: Value) -> Result<Value, Diagnostics> {
        let diags = self.validate(&config);
        if diags.has_errors() {
            return Err(diags);
        }
        let text = |name: &str| config.get(name).as_str().unwrap_or_default().to_string();
        let arns = config.get("job_definition_arns");
        let stage_arn = |stage: &str| arns.get(stage).as_str().unwrap_or_default().to_string();
        let (queue, prep, watcher) =
            (text("job_queue_arn"), text("prep_function_arn"), text("watcher_function_arn"));
        let defs = [stage_arn("procurement"), stage_arn("processing"), stage_arn("egress")];
        let input = DefinitionInput {
            job_queue_arn: &queue,
            job_definition_arns: [&defs[0], &defs[1], &defs[2]],
            prep_function_arn: &prep,
            watcher_function_arn: &watcher,
            poll_seconds: config.get("poll_seconds").as_i64().unwrap_or(60),
            timeout_seconds: config.get("timeout_seconds").as_i64().unwrap_or(86_400),
        };
        let mut state = config.clone();
        state.set_attr(
            "definition",
            Value::string(serde_json::to_string_pretty(&definition(&input)).unwrap_or_default()),
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
            job_definition_arns: ["arn:jd/p-procurement:1", "arn:jd/p-processing:1", "arn:jd/p-egress:1"],
            prep_function_arn: "arn:aws:lambda:us-east-1:1:function:prep",
            watcher_function_arn: "arn:aws:lambda:us-east-1:1:function:watcher",
            poll_seconds: 30,
            timeout_seconds: 3600,
        })
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
            assert_eq!(states[s]["Parameters"]["JobQueue"], "arn:aws:batch:us-east-1:1:job-queue/p-queue");
        }
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
        assert_eq!(check, "Failed");
        assert_eq!(states["Failed"]["ErrorPath"], "$.failure.Error");
        // Prep fails before anything was submitted: nothing to cancel.
        assert_eq!(states["PrepFailed"]["Type"], "Fail");
    }

    #[test]
    fn a_timeout_near_the_one_year_limit_moves_the_deadline_not_the_backstop() {
        let input = |timeout_seconds| DefinitionInput {
            job_queue_arn: "q",
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
}
