//! Step Functions' hard limits for a Standard workflow, enforced by the
//! local runner as AWS enforces them, so a definition or a run that would
//! die in AWS dies here too (Step Functions quotas, "Quotas related to
//! state machine executions" and "... to task executions"; the
//! `HistoryEvent` event types of the API reference):
//!
//! - execution history: 25,000 events per execution (hard quota); AWS
//!   fails the execution, with no Catch, when it reaches them;
//! - payload: a state's input, a task's result and a state's output at
//!   most 262,144 bytes of UTF-8 JSON (`States.DataLimitExceeded`, which
//!   `States.ALL` does not catch);
//! - an execution's failure: `error` at most 256 characters, `cause` at
//!   most 32,768;
//! - definition: at most 1 MB of text, state names 1-80 characters;
//! - execution name: 1-80 characters, none of whitespace, `? *`,
//!   `< > { } [ ]`, `" # % \ ^ | ~ `` ` `` $ & , ; : /`, or control
//!   characters.

use serde_json::Value;

use crate::states_error::StatesError;

/// Most events one execution's history may hold (including its last).
pub const MAX_HISTORY_EVENTS: u64 = 25_000;
/// Most bytes (UTF-8 JSON) of a state's input or output, or a task result.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;
/// Most characters of an execution's failure cause.
pub const MAX_CAUSE_CHARS: usize = 32_768;
/// Most characters of an execution's error name.
pub const MAX_ERROR_CHARS: usize = 256;
/// Most characters of an execution name.
pub const MAX_EXECUTION_NAME_CHARS: usize = 80;

/// Most characters of a state's name.
pub const MAX_STATE_NAME_CHARS: usize = 80;
/// Most bytes of a state machine definition (1 MB, as CreateStateMachine
/// receives it: the text, whitespace included).
pub const MAX_DEFINITION_BYTES: usize = 1_048_576;

/// Whether a definition's text fits CreateStateMachine's 1 MB.
pub fn check_definition_size(text: &[u8]) -> Result<(), String> {
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(format!(
            "the definition is {} bytes; Step Functions allows {MAX_DEFINITION_BYTES}",
            text.len()
        ));
    }
    Ok(())
}

/// The error Step Functions gives a payload over the limit.
pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";

/// The history events one state adds, by state type and outcome, as a
/// Standard workflow records them. A Task's integration (Lambda
/// `lambda:invoke`, Batch `submitJob`, the SDK `terminateJob`) records
/// `TaskScheduled`, `TaskStarted` and `TaskSucceeded` (or `TaskFailed`
/// / `TaskTimedOut`) per attempt, between `TaskStateEntered` and
/// `TaskStateExited`; the legacy Lambda ARN form records
/// `LambdaFunctionScheduled/Started/Succeeded` instead: the same count.
pub mod events {
    /// `ExecutionStarted`.
    pub const EXECUTION_STARTED: u64 = 1;
    /// `ExecutionSucceeded` / `ExecutionFailed` / `ExecutionTimedOut` / `ExecutionAborted`.
    pub const EXECUTION_ENDED: u64 = 1;
    /// `<Type>StateEntered` of any state.
    pub const STATE_ENTERED: u64 = 1;
    /// `<Type>StateExited` (Pass, Choice, Wait, Succeed, Task); a Fail
    /// state has none: `FailStateEntered` is followed by `ExecutionFailed`.
    pub const STATE_EXITED: u64 = 1;
    /// `TaskScheduled`, `TaskStarted`, `TaskSucceeded|TaskFailed|TaskTimedOut`.
    pub const TASK_ATTEMPT: u64 = 3;
}

/// The bytes Step Functions counts for a payload: its JSON text in UTF-8.
pub fn payload_bytes(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX)
}

/// What an execution used of the limits: reported in the run summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Events in the execution's history, as AWS would record them.
    pub history_events: u64,
    /// The largest payload seen (bytes) and where: `<state> <what>`.
    pub largest_payload_bytes: usize,
    pub largest_payload_at: String,
}

impl Usage {
    /// Records `n` more history events; past the quota the execution
    /// fails as in AWS (`States.Runtime`, which no Catch takes).
    pub fn add_events(&mut self, n: u64) -> Result<(), StatesError> {
        self.history_events += n;
        if self.history_events > MAX_HISTORY_EVENTS {
            return Err(StatesError::new(
                "States.Runtime",
                format!(
                    "the execution history reached {MAX_HISTORY_EVENTS} events, Step Functions' hard quota for a standard workflow: AWS fails the execution here, skipping every Catch"
                ),
            ));
        }
        Ok(())
    }

    /// Checks one payload (`what`: "input", "output", "result", "parameters")
    /// of `state` against the 256 KiB limit and remembers the largest.
    pub fn payload(&mut self, state: &str, what: &str, v: &Value) -> Result<(), StatesError> {
        let n = payload_bytes(v);
        if n > self.largest_payload_bytes {
            self.largest_payload_bytes = n;
            self.largest_payload_at = format!("{state} {what}");
        }
        if n > MAX_PAYLOAD_BYTES {
            return Err(StatesError::new(
                DATA_LIMIT_EXCEEDED,
                format!(
                    "the {what} of state {state:?} is {n} bytes, over the {MAX_PAYLOAD_BYTES}-byte payload limit"
                ),
            ));
        }
        Ok(())
    }
}

/// An execution's failure as AWS can record it: an error over 256
/// characters or a cause over 32,768 becomes `States.DataLimitExceeded`
/// (the run's own error and cause are lost, which is what the issue this
/// guards against looked like in AWS).
pub fn checked_failure(error: String, cause: String) -> (String, String) {
    let (e, c) = (error.chars().count(), cause.chars().count());
    if e > MAX_ERROR_CHARS {
        return (
            DATA_LIMIT_EXCEEDED.into(),
            format!("the execution's error is {e} characters, over the {MAX_ERROR_CHARS}-character limit"),
        );
    }
    if c > MAX_CAUSE_CHARS {
        return (
            DATA_LIMIT_EXCEEDED.into(),
            format!(
                "the execution's cause ({error}) is {c} characters, over the {MAX_CAUSE_CHARS}-character limit"
            ),
        );
    }
    (error, cause)
}

/// Whether `name` is a valid execution name (StartExecution's `name`).
pub fn check_execution_name(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if n == 0 || n > MAX_EXECUTION_NAME_CHARS {
        return Err(format!(
            "execution name {name:?} is {n} characters; Step Functions allows 1-{MAX_EXECUTION_NAME_CHARS}"
        ));
    }
    let bad = |c: char| {
        c.is_whitespace()
            || "?*<>{}[]\"#%\\^|~`$&,;:/".contains(c)
            || ('\u{0}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
    };
    if let Some(c) = name.chars().find(|c| bad(*c)) {
        return Err(format!("execution name {name:?} contains {c:?}, which Step Functions does not allow"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn history_fails_past_25000_events_not_at_them() {
        let mut u = Usage::default();
        assert!(u.add_events(24_999).is_ok());
        assert!(u.add_events(1).is_ok(), "25,000 events fit");
        let e = u.add_events(1).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert!(e.cause.contains("25000 events"), "{}", e.cause);
        assert_eq!(u.history_events, 25_001);
    }

    #[test]
    fn payload_limit_is_262144_utf8_bytes_and_the_largest_is_remembered() {
        let mut u = Usage::default();
        // `"` + body + `"`: a string of 262,142 ASCII bytes is exactly the limit.
        let at_limit = json!("a".repeat(MAX_PAYLOAD_BYTES - 2));
        assert_eq!(payload_bytes(&at_limit), MAX_PAYLOAD_BYTES);
        assert!(u.payload("S", "input", &at_limit).is_ok());
        assert_eq!((u.largest_payload_bytes, u.largest_payload_at.as_str()), (MAX_PAYLOAD_BYTES, "S input"));
        let over = json!("a".repeat(MAX_PAYLOAD_BYTES - 1));
        let e = u.payload("T", "result", &over).unwrap_err();
        assert_eq!(e.error, DATA_LIMIT_EXCEEDED);
        assert!(e.cause.contains("\"T\"") && e.cause.contains("262145 bytes"), "{}", e.cause);
        // Bytes, not characters: 'é' is two bytes in UTF-8.
        let wide = json!("é".repeat(MAX_PAYLOAD_BYTES / 2));
        assert!(u.payload("W", "output", &wide).is_err());
        assert!(u.payload("small", "input", &json!({"a": 1})).is_ok());
        assert_eq!(u.largest_payload_at, "W output", "the largest, even if refused");
    }

    #[test]
    fn error_and_cause_lengths_are_checked_in_characters() {
        let ok = checked_failure("E".repeat(256), "é".repeat(32_768));
        assert_eq!(ok.0.len(), 256);
        assert_eq!(ok.1.chars().count(), 32_768, "32,768 two-byte characters still fit");
        let (e, c) = checked_failure("PipelineRunFailed".into(), "x".repeat(32_769));
        assert_eq!(e, DATA_LIMIT_EXCEEDED);
        assert!(c.contains("PipelineRunFailed") && c.contains("32769 characters"), "{c}");
        let (e, _) = checked_failure("E".repeat(257), String::new());
        assert_eq!(e, DATA_LIMIT_EXCEEDED);
    }

    #[test]
    fn definitions_over_1_mb_are_refused() {
        assert!(check_definition_size(&vec![b' '; MAX_DEFINITION_BYTES]).is_ok());
        let e = check_definition_size(&vec![b' '; MAX_DEFINITION_BYTES + 1]).unwrap_err();
        assert!(e.contains("1048577 bytes"), "{e}");
    }

    #[test]
    fn execution_names_are_1_to_80_characters_without_reserved_ones() {
        assert!(check_execution_name(&"a".repeat(80)).is_ok());
        assert!(check_execution_name("local-1795000000-3fa2c1d0").is_ok());
        assert!(check_execution_name(&"a".repeat(81)).unwrap_err().contains("81 characters"));
        assert!(check_execution_name("").is_err());
        for bad in ["a b", "a:b", "a/b", "a$b", "a\u{1}b", "a\u{85}b", "a*b", "a{b"] {
            assert!(check_execution_name(bad).is_err(), "{bad:?}");
        }
    }
}
