//! Loading an Amazon States Language definition: exactly the subset the
//! provider's `batch_state_machine_definition` emits. Anything else is
//! refused here, before a run starts, with the state and field named.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::path::JsonPath;
use crate::template::{self, Expr, Template};

pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";
pub const BATCH_SUBMIT: &str = "arn:aws:states:::batch:submitJob";
pub const BATCH_TERMINATE: &str = "arn:aws:states:::aws-sdk:batch:terminateJob";

#[derive(Debug, thiserror::Error)]
#[error("unsupported state machine definition: {0}")]
pub struct DefinitionError(pub String);

#[derive(Debug)]
pub struct Machine {
    pub start_at: String,
    pub states: BTreeMap<String, State>,
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug)]
pub enum State {
    Task(Task),
    Choice {
        choices: Vec<ChoiceRule>,
        default: Option<String>,
    },
    Wait {
        seconds: u64,
        next: Option<String>,
    },
    /// A fixed `Result`, or `Parameters` rendered from the input, put at
    /// `ResultPath` (no InputPath).
    Pass {
        result: PassResult,
        result_path: Option<JsonPath>,
        next: Option<String>,
    },
    Succeed,
    Fail {
        error: Option<Cause>,
        cause: Option<Cause>,
    },
}

#[derive(Debug)]
pub enum PassResult {
    Fixed(Value),
    Parameters(Template),
}

/// A Fail state's Error or Cause: given (`Error`) or read (`ErrorPath`).
#[derive(Debug)]
pub enum Cause {
    Literal(String),
    Dynamic(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resource {
    LambdaInvoke,
    BatchSubmit,
    BatchTerminate,
}

#[derive(Debug)]
pub struct Task {
    pub resource: Resource,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    /// `None` = `ResultPath: null` (keep the input, drop the result).
    pub result_path: Option<JsonPath>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub timeout_seconds: Option<u64>,
    pub next: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Retrier {
    pub errors: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
}

impl Retrier {
    /// The wait before the retry that follows `tries` earlier retries:
    /// `IntervalSeconds * BackoffRate^tries`, at most `MaxDelaySeconds`.
    /// A wait beyond what a Duration holds (a steep BackoffRate) saturates:
    /// the execution's timeout ends such a run, as in Step Functions.
    pub fn delay(&self, tries: u32) -> Duration {
        let mut delay = self.interval_seconds * self.backoff_rate.powi(tries.min(i32::MAX as u32) as i32);
        if let Some(max) = self.max_delay_seconds {
            delay = delay.min(max);
        }
        if delay.is_nan() {
            // No interval times an infinite backoff: no wait.
            return Duration::ZERO;
        }
        Duration::try_from_secs_f64(delay.max(0.0)).unwrap_or(Duration::MAX)
    }
}

#[derive(Debug)]
pub struct Catcher {
    pub errors: Vec<String>,
    pub result_path: Option<JsonPath>,
    pub next: String,
}

#[derive(Debug)]
pub struct ChoiceRule {
    pub variable: JsonPath,
    pub test: Test,
    pub next: String,
}

#[derive(Debug)]
pub enum Test {
    StringEquals(String),
    BooleanEquals(bool),
    /// Whether the Variable's path matches anything.
    IsPresent(bool),
}

/// Whether an `ErrorEquals` list matches `error` (`States.ALL` matches
/// everything except the terminal `States.Runtime` and
/// `States.DataLimitExceeded`, as in Step Functions; naming either
/// explicitly matches it).
pub fn matches(errors: &[String], error: &str) -> bool {
    let terminal = error == "States.Runtime" || error == crate::limits::DATA_LIMIT_EXCEEDED;
    errors.iter().any(|e| e == error || (e == "States.ALL" && !terminal))
}

fn err(state: &str, msg: impl std::fmt::Display) -> DefinitionError {
    DefinitionError(format!("state {state:?}: {msg}"))
}

fn check_fields(
    state: &str,
    obj: &serde_json::Map<String, Value>,
    allowed: &[&str],
    what: &str,
) -> Result<(), DefinitionError> {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(err(state, format!("field {key:?} is not supported on {what} by the local runner")));
        }
    }
    Ok(())
}

fn str_field<'a>(
    state: &str,
    obj: &'a serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, DefinitionError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(state, format!("{key} must be a string"))),
    }
}

fn u64_field(
    state: &str,
    obj: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<u64>, DefinitionError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| err(state, format!("{key} must be a whole number"))),
    }
}

fn result_path(state: &str, v: Option<&Value>) -> Result<Option<JsonPath>, DefinitionError> {
    match v {
        None => JsonPath::parse("$").map(Some).map_err(|e| err(state, e)),
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let p = JsonPath::parse(s).map_err(|e| err(state, format!("ResultPath: {e}")))?;
            if p.context {
                return Err(err(state, "ResultPath cannot use $$"));
            }
            Ok(Some(p))
        }
        Some(_) => Err(err(state, "ResultPath must be a string or null")),
    }
}

fn next_or_end(state: &str, obj: &serde_json::Map<String, Value>) -> Result<Option<String>, DefinitionError> {
    let next = str_field(state, obj, "Next")?.map(str::to_string);
    let end = obj.get("End").and_then(Value::as_bool).unwrap_or(false);
    match (next.is_some(), end) {
        (true, true) => Err(err(state, "has both Next and End")),
        (false, false) => Err(err(state, "needs Next or \"End\": true")),
        _ => Ok(next),
    }
}

fn error_list(state: &str, v: &Value) -> Result<Vec<String>, DefinitionError> {
    let list = v
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .ok_or_else(|| err(state, "ErrorEquals must be a list"))?;
    list.iter()
        .map(|e| {
            e.as_str().map(str::to_string).ok_or_else(|| err(state, "ErrorEquals entries must be strings"))
        })
        .collect()
}

fn parse_task(name: &str, obj: &serde_json::Map<String, Value>) -> Result<Task, DefinitionError> {
    check_fields(
        name,
        obj,
        &[
            "Type",
            "Comment",
            "Resource",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "Next",
            "End",
        ],
        "a Task",
    )?;
    let resource = match str_field(name, obj, "Resource")? {
        Some(LAMBDA_INVOKE) => Resource::LambdaInvoke,
        Some(BATCH_SUBMIT) => Resource::BatchSubmit,
        Some(BATCH_TERMINATE) => Resource::BatchTerminate,
        Some(other) => {
            return Err(err(
                name,
                format!(
                    "Resource {other:?} is not supported (only {LAMBDA_INVOKE}, {BATCH_SUBMIT} and {BATCH_TERMINATE})"
                ),
            ));
        }
        None => return Err(err(name, "a Task needs a Resource")),
    };
    let tpl = |key: &str| -> Result<Option<Template>, DefinitionError> {
        obj.get(key).map(|v| template::compile(v).map_err(|e| err(name, format!("{key}: {e}")))).transpose()
    };
    let parameters = tpl("Parameters")?;
    if let Some(params) = obj.get("Parameters") {
        let allowed: &[&str] = match resource {
            Resource::LambdaInvoke => &["FunctionName", "Payload", "Qualifier", "InvocationType"],
            Resource::BatchSubmit => &[
                "JobName",
                "JobQueue",
                "JobDefinition",
                "ArrayProperties",
                "DependsOn",
                "ContainerOverrides",
                "Parameters",
                "RetryStrategy",
                "Timeout",
                "Tags",
                "PropagateTags",
            ],
            Resource::BatchTerminate => &["JobId", "Reason"],
        };
        for key in params.as_object().map(|o| o.keys().collect::<Vec<_>>()).unwrap_or_default() {
            let bare = key.strip_suffix(".$").unwrap_or(key);
            if !allowed.contains(&bare) {
                return Err(err(
                    name,
                    format!("Parameters.{key} is not supported for this Resource by the local runner"),
                ));
            }
        }
    } else {
        return Err(err(name, "a Task needs Parameters (FunctionName / JobDefinition...)"));
    }
    let mut retry = Vec::new();
    for r in obj.get("Retry").and_then(Value::as_array).into_iter().flatten() {
        if let Some(o) = r.as_object() {
            check_fields(
                name,
                o,
                &[
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "JitterStrategy",
                    "MaxDelaySeconds",
                    "Comment",
                ],
                "a Retrier",
            )?;
        }
        retry.push(Retrier {
            errors: error_list(name, r)?,
            interval_seconds: r.get("IntervalSeconds").and_then(Value::as_f64).unwrap_or(1.0),
            max_attempts: r.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(3).min(u32::MAX as u64)
                as u32,
            backoff_rate: r.get("BackoffRate").and_then(Value::as_f64).unwrap_or(2.0),
            max_delay_seconds: r.get("MaxDelaySeconds").and_then(Value::as_f64),
        });
    }
    let mut catch = Vec::new();
    for c in obj.get("Catch").and_then(Value::as_array).into_iter().flatten() {
        if let Some(o) = c.as_object() {
            check_fields(name, o, &["ErrorEquals", "ResultPath", "Next", "Comment"], "a Catcher")?;
        }
        catch.push(Catcher {
            errors: error_list(name, c)?,
            result_path: result_path(name, c.get("ResultPath"))?,
            next: c
                .get("Next")
                .and_then(Value::as_str)
                .ok_or_else(|| err(name, "a Catcher needs Next"))?
                .to_string(),
        });
    }
    Ok(Task {
        resource,
        parameters,
        result_selector: tpl("ResultSelector")?,
        result_path: result_path(name, obj.get("ResultPath"))?,
        retry,
        catch,
        timeout_seconds: u64_field(name, obj, "TimeoutSeconds")?,
        next: next_or_end(name, obj)?,
    })
}

fn parse_choice(name: &str, obj: &serde_json::Map<String, Value>) -> Result<State, DefinitionError> {
    check_fields(name, obj, &["Type", "Comment", "Choices", "Default"], "a Choice")?;
    let mut choices = Vec::new();
    for (i, rule) in obj
        .get("Choices")
        .and_then(Value::as_array)
        .ok_or_else(|| err(name, "Choices must be a list"))?
        .iter()
        .enumerate()
    {
        let o = rule.as_object().ok_or_else(|| err(name, format!("Choices[{i}] must be an object")))?;
        for key in o.keys() {
            if !["Variable", "StringEquals", "BooleanEquals", "IsPresent", "Next", "Comment"]
                .contains(&key.as_str())
            {
                return Err(err(
                    name,
                    format!(
                        "Choices[{i}]: comparison {key:?} is not supported by the local runner (only Variable with StringEquals, BooleanEquals or IsPresent)"
                    ),
                ));
            }
        }
        let variable = o
            .get("Variable")
            .and_then(Value::as_str)
            .ok_or_else(|| err(name, format!("Choices[{i}] needs Variable")))?;
        let test = match (o.get("StringEquals"), o.get("BooleanEquals"), o.get("IsPresent")) {
            (Some(Value::String(s)), None, None) => Test::StringEquals(s.clone()),
            (None, Some(Value::Bool(b)), None) => Test::BooleanEquals(*b),
            (None, None, Some(Value::Bool(b))) => Test::IsPresent(*b),
            _ => {
                return Err(err(
                    name,
                    format!(
                        "Choices[{i}] needs exactly one of StringEquals (string), BooleanEquals or IsPresent (bool)"
                    ),
                ));
            }
        };
        choices.push(ChoiceRule {
            variable: JsonPath::parse(variable).map_err(|e| err(name, e))?,
            test,
            next: o
                .get("Next")
                .and_then(Value::as_str)
                .ok_or_else(|| err(name, format!("Choices[{i}] needs Next")))?
                .to_string(),
        });
    }
    Ok(State::Choice { choices, default: str_field(name, obj, "Default")?.map(str::to_string) })
}

fn parse_state(name: &str, v: &Value) -> Result<State, DefinitionError> {
    let obj = v.as_object().ok_or_else(|| err(name, "must be an object"))?;
    let ty = str_field(name, obj, "Type")?.ok_or_else(|| err(name, "has no Type"))?;
    match ty {
        "Task" => Ok(State::Task(parse_task(name, obj)?)),
        "Choice" => parse_choice(name, obj),
        "Wait" => {
            check_fields(name, obj, &["Type", "Comment", "Seconds", "Next", "End"], "a Wait")?;
            let seconds = u64_field(name, obj, "Seconds")?.ok_or_else(|| {
                err(name, "a Wait needs Seconds (SecondsPath, Timestamp are not supported)")
            })?;
            Ok(State::Wait { seconds, next: next_or_end(name, obj)? })
        }
        "Pass" => {
            check_fields(
                name,
                obj,
                &["Type", "Comment", "Result", "Parameters", "ResultPath", "Next", "End"],
                "a Pass",
            )?;
            let result = match (obj.get("Result"), obj.get("Parameters")) {
                (Some(_), Some(_)) => return Err(err(name, "has both Result and Parameters")),
                (None, Some(p)) => PassResult::Parameters(
                    template::compile(p).map_err(|e| err(name, format!("Parameters: {e}")))?,
                ),
                (r, None) => PassResult::Fixed(r.cloned().unwrap_or(Value::Null)),
            };
            Ok(State::Pass {
                result,
                result_path: result_path(name, obj.get("ResultPath"))?,
                next: next_or_end(name, obj)?,
            })
        }
        "Succeed" => {
            check_fields(name, obj, &["Type", "Comment"], "a Succeed")?;
            Ok(State::Succeed)
        }
        "Fail" => {
            check_fields(
                name,
                obj,
                &["Type", "Comment", "Error", "ErrorPath", "Cause", "CausePath"],
                "a Fail",
            )?;
            let given_or_read = |given: &str, read: &str| -> Result<Option<Cause>, DefinitionError> {
                Ok(match (str_field(name, obj, given)?, str_field(name, obj, read)?) {
                    (Some(_), Some(_)) => return Err(err(name, format!("has both {given} and {read}"))),
                    (Some(c), None) => Some(Cause::Literal(c.to_string())),
                    (None, Some(p)) => Some(Cause::Dynamic(
                        template::parse_expr(p).map_err(|e| err(name, format!("{read}: {e}")))?,
                    )),
                    (None, None) => None,
                })
            };
            Ok(State::Fail {
                error: given_or_read("Error", "ErrorPath")?,
                cause: given_or_read("Cause", "CausePath")?,
            })
        }
        other => Err(err(
            name,
            format!(
                "state type {other:?} is not supported by the local runner (Task, Choice, Wait, Pass, Succeed, Fail)"
            ),
        )),
    }
}

impl Machine {
    pub fn from_json(def: &Value) -> Result<Machine, DefinitionError> {
        let obj =
            def.as_object().ok_or_else(|| DefinitionError("the definition must be a JSON object".into()))?;
        for key in obj.keys() {
            if !["StartAt", "States", "Comment", "TimeoutSeconds", "Version"].contains(&key.as_str()) {
                return Err(DefinitionError(format!(
                    "top-level field {key:?} is not supported by the local runner"
                )));
            }
        }
        let start_at = obj
            .get("StartAt")
            .and_then(Value::as_str)
            .ok_or_else(|| DefinitionError("StartAt missing".into()))?;
        let raw = obj
            .get("States")
            .and_then(Value::as_object)
            .ok_or_else(|| DefinitionError("States missing".into()))?;
        let mut states = BTreeMap::new();
        for (name, v) in raw {
            // CreateStateMachine refuses a state name over 80 characters.
            let n = name.chars().count();
            if n == 0 || n > crate::limits::MAX_STATE_NAME_CHARS {
                return Err(err(
                    name,
                    format!("a state name has 1-{} characters, not {n}", crate::limits::MAX_STATE_NAME_CHARS),
                ));
            }
            states.insert(name.clone(), parse_state(name, v)?);
        }
        let m = Machine {
            start_at: start_at.to_string(),
            states,
            timeout_seconds: obj.get("TimeoutSeconds").and_then(Value::as_u64),
        };
        m.check_targets()?;
        Ok(m)
    }

    fn check_targets(&self) -> Result<(), DefinitionError> {
        let known = |from: &str, to: &str| {
            if self.states.contains_key(to) {
                Ok(())
            } else {
                Err(err(from, format!("goes to {to:?}, which is not a state")))
            }
        };
        known("StartAt", &self.start_at)?;
        for (name, s) in &self.states {
            match s {
                State::Task(t) => {
                    for n in t.next.iter().chain(t.catch.iter().map(|c| &c.next)) {
                        known(name, n)?;
                    }
                }
                State::Choice { choices, default } => {
                    for n in choices.iter().map(|c| &c.next).chain(default) {
                        known(name, n)?;
                    }
                }
                State::Wait { next: Some(n), .. } | State::Pass { next: Some(n), .. } => known(name, n)?,
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refuses_unknown_state_types_and_fields_naming_the_state() {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true}}});
        let e = Machine::from_json(&def).unwrap_err().to_string();
        assert!(e.contains("\"A\"") && e.contains("Map"), "{e}");
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$", "End": true}}});
        let e = Machine::from_json(&def).unwrap_err().to_string();
        assert!(e.contains("InputPath") && e.contains("\"A\""), "{e}");
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "InputPath": "$", "End": true}}});
        let e = Machine::from_json(&def).unwrap_err().to_string();
        assert!(e.contains("InputPath") && e.contains("\"A\""), "{e}");
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {}, "End": true}}});
        assert!(Machine::from_json(&def).unwrap_err().to_string().contains("sqs:sendMessage"));
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "A"}]}}});
        assert!(Machine::from_json(&def).unwrap_err().to_string().contains("NumericEquals"));
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "Next": "B"}}});
        assert!(Machine::from_json(&def).unwrap_err().to_string().contains("\"B\""));
    }

    /// Found by fuzzing (fuzz/runner, asl_load): a Pass state's Next was
    /// not checked, so the run failed half-way instead of being refused.
    #[test]
    fn a_pass_state_going_nowhere_is_refused() {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}}});
        let e = Machine::from_json(&def).unwrap_err().to_string();
        assert!(e.contains("\"A\"") && e.contains("goes to \"Z\", which is not a state"), "{e}");
    }

    /// Found by fuzzing (fuzz/runner, asl_load): a retry wait beyond what a
    /// Duration holds panicked the runner mid-run.
    #[test]
    fn retry_waits_saturate_instead_of_panicking() {
        let task = |retry: Value| {
            let def = json!({"StartAt": "T", "States": {"T": {
                "Type": "Task", "Resource": LAMBDA_INVOKE, "Parameters": {}, "Retry": [retry], "End": true}}});
            match Machine::from_json(&def).unwrap().states.remove("T") {
                Some(State::Task(t)) => t.retry[0].clone(),
                other => panic!("{other:?}"),
            }
        };
        let huge = task(json!({"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1e300, "MaxAttempts": 3}));
        assert_eq!(huge.delay(0), Duration::MAX);
        let steep = task(json!({"ErrorEquals": ["States.ALL"], "IntervalSeconds": 0, "BackoffRate": 1e300}));
        assert_eq!(steep.delay(2), Duration::ZERO, "0 x inf is no wait, not NaN");
        let usual = task(json!({"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 2.0}));
        assert_eq!((usual.delay(0), usual.delay(2)), (Duration::from_secs(2), Duration::from_secs(8)));
        let capped = task(
            json!({"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxDelaySeconds": 5, "BackoffRate": 1e300}),
        );
        assert_eq!(capped.delay(3), Duration::from_secs(5));
    }

    #[test]
    fn states_all_matches_all_but_runtime() {
        let all = vec!["States.ALL".to_string()];
        assert!(matches(&all, "Throttled"));
        assert!(!matches(&all, "States.Runtime"));
        assert!(!matches(&all, "States.DataLimitExceeded"));
        let long = "S".repeat(81);
        let def = serde_json::json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}});
        assert!(Machine::from_json(&def).unwrap_err().to_string().contains("1-80 characters, not 81"));
        let fits = "S".repeat(80);
        let def = serde_json::json!({"StartAt": fits, "States": {fits.clone(): {"Type": "Succeed"}}});
        assert!(Machine::from_json(&def).is_ok());
        assert!(matches(&["States.DataLimitExceeded".to_string()], "States.DataLimitExceeded"));
        assert!(matches(&["Throttled".to_string()], "Throttled"));
    }
}
