//! The summarize event, as the state machine's `Summarize*` states send it:
//!
//! ```json
//! {"action": "summarize", "config": {...}, "run": {<prep's answer>},
//!  "execution": "<name>", "started": "<RFC 3339>",
//!  "verdict": {<the watcher's last answer>}, "failure": {"Error": "...", "Cause": "..."}}
//! ```
//!
//! `verdict` is absent when the run failed before the watcher answered
//! (a SubmitJob failed); `failure` is absent when the run succeeded.

use std::collections::BTreeMap;
use std::path::PathBuf;

use contract::run_config::Retention;
use serde::Deserialize;
use serde_json::Value;

use crate::error::LambdaError;
use crate::event::parse;

/// The value of `action` that selects this mode.
pub const ACTION: &str = "summarize";

/// True for an event meant for this mode rather than for prep.
pub fn is_summarize(event: &Value) -> bool {
    event.get("action").and_then(Value::as_str) == Some(ACTION)
}

/// The parts of prep's answer the summary uses.
#[derive(Debug, Clone, Deserialize)]
pub struct PrepPart {
    /// The run id.
    pub run_id: String,
    /// Work items prep listed.
    #[serde(default)]
    pub items: u64,
    /// Their bytes (absent for a synthetic source).
    #[serde(default)]
    pub bytes: Option<u64>,
}

/// The parts of the watcher's answer the summary uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VerdictPart {
    /// Per stage, the failed indices as ranges (`"3,17-20"`).
    #[serde(default)]
    pub failed_indices: BTreeMap<String, String>,
    /// Their union.
    #[serde(default)]
    pub rerun_indices: String,
    /// How many indices `rerun_indices` holds.
    #[serde(default)]
    pub rerun_count: u64,
}

/// Why the run failed (a Fail state's Error and Cause).
#[derive(Debug, Clone, Deserialize)]
pub struct Failure {
    /// The run's error name.
    #[serde(rename = "Error")]
    pub error: String,
    /// Its cause.
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// The event (`action` selected this mode; it is not read again).
#[derive(Debug, Deserialize)]
struct RawEvent {
    config: Value,
    run: PrepPart,
    execution: String,
    #[serde(default)]
    started: Option<String>,
    #[serde(default)]
    verdict: Option<VerdictPart>,
    #[serde(default)]
    failure: Option<Failure>,
}

/// The checked event.
#[derive(Debug, Clone)]
pub struct SummarizeRequest {
    /// `config.pipeline`, if set.
    pub pipeline: Option<String>,
    /// `config.efs_mount_path`.
    pub efs_mount_path: String,
    /// Prep's answer.
    pub run: PrepPart,
    /// The execution's name.
    pub execution: String,
    /// The execution's start time, RFC 3339.
    pub started: Option<String>,
    /// The watcher's last answer.
    pub verdict: Option<VerdictPart>,
    /// Why the run failed; `None` for a run that succeeded.
    pub failure: Option<Failure>,
    /// `config.source.incremental`: a failed run releases its claims.
    pub incremental: bool,
    /// `config.retention`: old run directories to remove. One that does
    /// not parse (prep refused it already) is logged and left out: the
    /// summary is written either way.
    pub retention: Option<Retention>,
}

impl SummarizeRequest {
    /// Parses the event; a refusal names the field.
    pub fn from_event(event: Value) -> Result<Self, LambdaError> {
        let raw: RawEvent = parse(event)?;
        let text = |key: &str| raw.config.get(key).and_then(Value::as_str).map(String::from);
        let efs_mount_path = text("efs_mount_path")
            .ok_or_else(|| LambdaError::invalid_event("config.efs_mount_path: missing or not a string"))?;
        let incremental =
            raw.config.get("source").and_then(|s| s.get("incremental")).and_then(Value::as_bool)
                == Some(true);
        let retention = match raw.config.get("retention") {
            None | Some(Value::Null) => None,
            Some(value) => match serde_json::from_value::<Retention>(value.clone())
                .map_err(|e| e.to_string())
                .and_then(|r| r.check().map(|()| r))
            {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(error = %e, "config.retention: not applied");
                    None
                }
            },
        };
        Ok(SummarizeRequest {
            pipeline: text("pipeline"),
            incremental,
            retention,
            efs_mount_path,
            run: raw.run,
            execution: raw.execution,
            started: raw.started,
            verdict: raw.verdict,
            failure: raw.failure,
        })
    }

    /// The EFS root: this function's `PIPELINE_EFS_ROOT` when set, else
    /// `config.efs_mount_path` (as for prep).
    pub fn efs_root(&self, env_root: Option<&PathBuf>) -> PathBuf {
        env_root.cloned().unwrap_or_else(|| PathBuf::from(&self.efs_mount_path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_action_selects_the_mode_and_a_missing_field_is_named() {
        assert!(is_summarize(&json!({"action": "summarize"})));
        assert!(!is_summarize(&json!({"config": {}})));
        assert!(!is_summarize(&json!({"action": "prep"})));
        let err = SummarizeRequest::from_event(json!({
            "action": "summarize", "config": {"efs_mount_path": "/mnt/efs"}, "execution": "e"
        }))
        .unwrap_err();
        assert!(err.message.contains("run"), "{}", err.message);
        let err = SummarizeRequest::from_event(json!({
            "action": "summarize", "config": {}, "run": {"run_id": "r"}, "execution": "e"
        }))
        .unwrap_err();
        assert!(err.message.contains("config.efs_mount_path"), "{}", err.message);
        let ok = SummarizeRequest::from_event(json!({
            "action": "summarize", "config": {"efs_mount_path": "/mnt/efs", "pipeline": "p"},
            "run": {"run_id": "r", "items": 4, "bytes": 10}, "execution": "e",
            "failure": {"Error": "PipelineRunFailed", "Cause": "c"}
        }))
        .unwrap();
        assert_eq!(ok.pipeline.as_deref(), Some("p"));
        assert_eq!(ok.failure.unwrap().error, "PipelineRunFailed");
        assert!(ok.verdict.is_none());
    }
}
