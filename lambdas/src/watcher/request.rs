//! The watcher event: `{"jobs": {"procurement": "<jobId>", ...}, "run_id"?}`.
//! A job may also be given as the SubmitJob result object itself
//! (`{"JobId": ..., "JobName": ..., "JobArn": ...}`), so the state machine can
//! pass `$.submitted.procurement` without picking the field.

use std::collections::BTreeMap;

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
}

/// A checked watcher request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// Stage name -> parent job id.
    pub jobs: BTreeMap<String, String>,
    /// The run id, echoed in the response and logs.
    pub run_id: Option<String>,
}

impl WatchRequest {
    /// Parses and checks an event.
    pub fn from_event(event: Value) -> Result<Self, LambdaError> {
        if !event.is_object() {
            return Err(LambdaError::invalid_event("event: expected a JSON object with `jobs`"));
        }
        let unknown = unknown_keys(&event, &["jobs", "run_id"]);
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
        Ok(WatchRequest { jobs, run_id: raw.run_id })
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
            (json!(null), "event: expected"),
        ] {
            let err = WatchRequest::from_event(event.clone()).unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::InvalidEvent);
            assert!(err.message.contains(want), "{event}: {}", err.message);
        }
    }
}
