//! The watcher event: `{"jobs": {"procurement": "<jobId>", ...}, "run_id"?,
//! "started"?, "timeout_seconds"?}`. A job may also be given as the
//! SubmitJob result object itself (`{"JobId": ..., "JobName": ...,
//! "JobArn": ...}`), so the state machine can pass `$.submitted.procurement`
//! without picking the field. `started` (the execution's start, RFC 3339,
//! as `$$.Execution.StartTime` gives it) and `timeout_seconds` come
//! together: the run's deadline.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use serde::Deserialize;
use serde_json::Value;

use crate::error::LambdaError;
use crate::event::{parse, unknown_keys};

/// Most stages one event may name.
pub const MAX_STAGES: usize = 16;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum JobRef {
    Id(String),
    SubmitResult {
        #[serde(rename = "JobId", alias = "jobId")]
        job_id: String,
    },
}

#[derive(Debug, Deserialize)]
struct RawWatch {
    jobs: BTreeMap<String, JobRef>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    started: Option<String>,
    #[serde(default)]
    timeout_seconds: Option<u64>,
}

/// A checked watcher request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// Stage name -> parent job id.
    pub jobs: BTreeMap<String, String>,
    /// The run id, echoed in the response and logs.
    pub run_id: Option<String>,
    /// When the run must be over: `started` + `timeout_seconds`.
    pub deadline: Option<Deadline>,
}

/// The run's deadline, and the timeout it came from (for the cause line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: SystemTime,
    pub timeout_seconds: u64,
}

/// The deadline of `started` and `timeout_seconds`: both or neither.
fn deadline(started: Option<String>, timeout_seconds: Option<u64>) -> Result<Option<Deadline>, LambdaError> {
    let (started, timeout_seconds) = match (started, timeout_seconds) {
        (None, None) => return Ok(None),
        (Some(s), Some(t)) => (s, t),
        (Some(_), None) => {
            return Err(LambdaError::invalid_event("timeout_seconds: required when `started` is given"));
        }
        (None, Some(_)) => {
            return Err(LambdaError::invalid_event("started: required when `timeout_seconds` is given"));
        }
    };
    let start = DateTime::from_str(&started, Format::DateTime)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok())
        .ok_or_else(|| {
            LambdaError::invalid_event(format!(
                "started: {started:?} is not an RFC 3339 time such as 2026-11-23T10:00:00.000Z"
            ))
        })?;
    let at = start.checked_add(Duration::from_secs(timeout_seconds)).ok_or_else(|| {
        LambdaError::invalid_event(format!("timeout_seconds: {timeout_seconds} is out of range"))
    })?;
    Ok(Some(Deadline { at, timeout_seconds }))
}

impl WatchRequest {
    /// Parses and checks an event.
    pub fn from_event(event: Value) -> Result<Self, LambdaError> {
        if !event.is_object() {
            return Err(LambdaError::invalid_event("event: expected a JSON object with `jobs`"));
        }
        let unknown = unknown_keys(&event, &["jobs", "run_id", "started", "timeout_seconds"]);
        if !unknown.is_empty() {
            tracing::warn!(keys = ?unknown, "ignoring unknown event keys");
        }
        let raw: RawWatch = parse(event)?;
        if raw.jobs.is_empty() {
            return Err(LambdaError::invalid_event("jobs: must name at least one stage's job id"));
        }
        if raw.jobs.len() > MAX_STAGES {
            return Err(LambdaError::invalid_event(format!("jobs: at most {MAX_STAGES} stages")));
        }
        let mut jobs = BTreeMap::new();
        for (stage, job) in raw.jobs {
            if stage.is_empty()
                || stage.len() > 64
                || !stage
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                return Err(LambdaError::invalid_event(format!(
                    "jobs: stage name {stage:?} must be 1..=64 of [a-z0-9_-]"
                )));
            }
            let id = match job {
                JobRef::Id(id) | JobRef::SubmitResult { job_id: id } => id,
            };
            if id.is_empty() || id.len() > 512 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(LambdaError::invalid_event(format!(
                    "jobs.{stage}: job id {id:?} must be 1..=512 characters without spaces"
                )));
            }
            jobs.insert(stage, id);
        }
        let deadline = deadline(raw.started, raw.timeout_seconds)?;
        Ok(WatchRequest { jobs, run_id: raw.run_id, deadline })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_or_submit_results() {
        let r = WatchRequest::from_event(json!({"jobs": {"procurement": "a", "processing": {"JobId": "b", "JobName": "n"}}, "run_id": "r"}))
            .unwrap();
        assert_eq!(r.jobs["procurement"], "a");
        assert_eq!(r.jobs["processing"], "b");
        assert_eq!(r.run_id.as_deref(), Some("r"));
        assert_eq!(r.deadline, None);
    }

    #[test]
    fn the_deadline_is_the_start_plus_the_timeout() {
        let r = WatchRequest::from_event(json!({
            "jobs": {"egress": "a"}, "started": "2026-11-23T10:00:00.250Z", "timeout_seconds": 3600
        }))
        .unwrap();
        let d = r.deadline.unwrap();
        let since_epoch = d.at.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        // 2026-11-23T11:00:00.250Z
        assert_eq!(since_epoch, Duration::from_millis(1_795_431_600_250));
        assert_eq!(d.timeout_seconds, 3600);
    }

    #[test]
    fn malformed_events_are_refused() {
        for (event, want) in [
            (json!({}), "missing field `jobs`"),
            (json!({"jobs": {}}), "at least one"),
            (json!({"jobs": []}), "jobs: invalid type"),
            (json!({"jobs": {"egress": 3}}), "jobs.egress"),
            (json!({"jobs": {"egress": ""}}), "jobs.egress: job id"),
            (json!({"jobs": {"egress": "a b"}}), "without spaces"),
            (json!({"jobs": {"Egress!": "a"}}), "stage name"),
            (
                json!({"jobs": {"egress": "a"}, "started": "2026-11-23T10:00:00Z"}),
                "timeout_seconds: required",
            ),
            (json!({"jobs": {"egress": "a"}, "timeout_seconds": 60}), "started: required"),
            (
                json!({"jobs": {"egress": "a"}, "started": "yesterday", "timeout_seconds": 60}),
                "started: \"yesterday\"",
            ),
            (
                json!({"jobs": {"egress": "a"}, "started": "2026-11-23T10:00:00Z", "timeout_seconds": -1}),
                "timeout_seconds",
            ),
            (json!(null), "event: expected"),
        ] {
            let err = WatchRequest::from_event(event.clone()).unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::InvalidEvent);
            assert!(err.message.contains(want), "{event}: {}", err.message);
        }
    }
}
