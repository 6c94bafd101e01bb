//! `EvaluateOnExit` rules: which failed attempts a job definition retries.

use serde_json::Value;

/// One `EvaluateOnExit` rule: every condition it has must match.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitRule {
    on_exit_code: Option<String>,
    on_reason: Option<String>,
    on_status_reason: Option<String>,
    retry: bool,
}

impl ExitRule {
    pub(super) fn from_json(rule: &Value) -> Result<Self, String> {
        let text = |k: &str| rule.get(k).and_then(Value::as_str).map(str::to_string);
        let retry = match text("Action").map(|a| a.to_ascii_uppercase()).as_deref() {
            Some("RETRY") => true,
            Some("EXIT") => false,
            other => {
                return Err(format!("RetryStrategy.EvaluateOnExit: Action {other:?} is not RETRY or EXIT"));
            }
        };
        Ok(ExitRule {
            on_exit_code: text("OnExitCode"),
            on_reason: text("OnReason"),
            on_status_reason: text("OnStatusReason"),
            retry,
        })
    }

    /// What the provider's job definitions say (exit 75 retries, a lost
    /// host retries, anything else exits); locally no host is lost.
    pub(super) fn provider_default() -> Vec<Self> {
        let rule = |code: Option<&str>, reason: Option<&str>, retry| ExitRule {
            on_exit_code: code.map(str::to_string),
            on_reason: reason.map(str::to_string),
            on_status_reason: None,
            retry,
        };
        let retryable = contract::retry::RETRYABLE_EXIT_CODE.to_string();
        vec![rule(Some(&retryable), None, true), rule(None, Some("*"), false)]
    }

    /// AWS Batch's reading: the first rule whose conditions all match
    /// decides; none matching (or no rules) retries. Locally a failed
    /// attempt's reason is "Essential container in task exited" with an
    /// exit code, "CannotStartContainerError" without, and there is no
    /// status reason to match.
    pub(super) fn retries(rules: &[ExitRule], code: Option<i32>) -> bool {
        let reason =
            if code.is_some() { "Essential container in task exited" } else { "CannotStartContainerError" };
        rules
            .iter()
            .find(|r| {
                r.on_exit_code.as_deref().is_none_or(|p| code_matches(p, code))
                    && r.on_reason.as_deref().is_none_or(|p| glob(p, reason))
                    && r.on_status_reason.as_deref().is_none_or(|p| glob(p, ""))
            })
            .is_none_or(|r| r.retry)
    }
}

/// A Batch `EvaluateOnExit` pattern: text, optionally ending in `*`.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => text.starts_with(prefix),
        None => text == pattern,
    }
}

/// Whether an `onExitCode` pattern matches. A child without an exit code
/// (killed by a signal, or it could not start) matches none, as in AWS
/// Batch: such an attempt is not retried by exit-code rules.
pub(super) fn code_matches(pattern: &str, code: Option<i32>) -> bool {
    code.is_some_and(|code| glob(pattern, &code.to_string()))
}
