//! The run id: the directory name under `runs/` and the `RUN_ID` every job
//! gets. Given explicitly (an override), derived from the Step Functions
//! execution (so a retried prep of the same execution lands in the same
//! run), or new (time + randomness) for a hand-started invocation.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use batch_jobs::checksum::sha256_hex;
use batch_jobs::layout::rfc3339_from_unix;
use batch_jobs::safe_path::{MAX_RUN_ID_LEN, check_run_id};

use contract::naming::{MAX_JOB_NAME_ID_LEN, job_name_char};

use crate::error::LambdaError;

/// Where the run id came from (logged, and part of nothing else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunIdSource {
    /// `overrides.run_id`.
    Override,
    /// The event's `execution` (Step Functions execution name or ARN).
    Execution,
    /// Made up now.
    Generated,
}

/// Picks the run id: `explicit` (checked, refused if unsafe), else derived
/// from `execution`, else generated from `now`.
pub fn resolve(
    explicit: Option<&str>,
    execution: Option<&str>,
    now: SystemTime,
) -> Result<(String, RunIdSource), LambdaError> {
    if let Some(id) = explicit {
        check_run_id(id).map_err(|e| LambdaError::invalid_event(format!("overrides.run_id: {e}")))?;
        return Ok((id.to_string(), RunIdSource::Override));
    }
    if let Some(execution) = execution {
        return Ok((from_execution(execution)?, RunIdSource::Execution));
    }
    Ok((generate(now), RunIdSource::Generated))
}

/// A path-safe run id from a Step Functions execution name or ARN (the
/// name is the ARN's last `:` field). A name that is already safe is used
/// as it is, so runs and executions share a name; otherwise unsafe
/// characters become `-` and a hash of the original keeps two names that
/// sanitise alike apart.
pub fn from_execution(execution: &str) -> Result<String, LambdaError> {
    let name = if execution.starts_with("arn:") {
        execution.rsplit(':').next().unwrap_or(execution)
    } else {
        execution
    };
    if name.is_empty() {
        return Err(LambdaError::invalid_event("execution: empty execution name"));
    }
    if check_run_id(name).is_ok() {
        return Ok(name.to_string());
    }
    let mut safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .collect();
    let hash = &sha256_hex(name.as_bytes())[..8];
    // Room for "-" + 8 hex digits within the 128-character limit.
    let keep = MAX_RUN_ID_LEN - 9;
    if safe.len() > keep {
        safe.truncate(keep);
    }
    let trimmed = safe.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let id = if trimmed.is_empty() { format!("run-{hash}") } else { format!("{trimmed}-{hash}") };
    check_run_id(&id).map_err(|e| LambdaError::internal(format!("derived run id: {e}")))?;
    Ok(id)
}

/// The run id as it goes into job names: the run id itself when Batch
/// allows it (so jobs and runs share a name), otherwise its other
/// characters (`.`) become `_` and a hash of the whole id keeps two ids
/// that change alike apart (`2024.06.01` and `2024_06_01`).
pub fn job_name_id(run_id: &str) -> String {
    // AWS Batch job names: letters, digits, '-' and '_'; the state machine
    // names each job `<stage>-<job_name_id>`, so the id leaves room for the
    // longest stage (the pipeline's contract).
    let allowed = job_name_char;
    if run_id.len() <= MAX_JOB_NAME_ID_LEN && run_id.chars().all(allowed) {
        return run_id.to_string();
    }
    let mut safe: String = run_id.chars().map(|c| if allowed(c) { c } else { '_' }).collect();
    // Room for "-" + 8 hex digits.
    safe.truncate(MAX_JOB_NAME_ID_LEN - 9);
    format!("{safe}-{}", &sha256_hex(run_id.as_bytes())[..8])
}

/// `YYYY-MM-DDTHH-MM-SSZ-<8 hex>`: sorts by time, and two invocations in
/// the same second still differ (per-process random hasher keys, the
/// clock's nanoseconds and the pid).
pub fn generate(now: SystemTime) -> String {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let stamp = rfc3339_from_unix(since_epoch.as_secs()).replace(':', "-");
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(since_epoch.as_nanos());
    hasher.write_u32(std::process::id());
    format!("{stamp}-{:08x}", hasher.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn explicit_ids_are_checked() {
        assert_eq!(
            resolve(Some("r1"), Some("exec"), SystemTime::now()).unwrap(),
            ("r1".into(), RunIdSource::Override)
        );
        let err = resolve(Some("../x"), None, SystemTime::now()).unwrap_err();
        assert!(err.message.starts_with("overrides.run_id: unsafe run_id"), "{}", err.message);
        assert!(resolve(Some(""), None, SystemTime::now()).is_err());
        assert!(resolve(Some(&"a".repeat(129)), None, SystemTime::now()).is_err());
    }

    #[test]
    fn execution_names_are_kept_or_sanitised_deterministically() {
        assert_eq!(from_execution("nightly-2024-06-01").unwrap(), "nightly-2024-06-01");
        assert_eq!(from_execution("arn:aws:states:eu-west-1:123:execution:pipe:run-7").unwrap(), "run-7");
        let a = from_execution("weird name(1)").unwrap();
        assert_eq!(a, from_execution("weird name(1)").unwrap());
        assert!(a.starts_with("weird-name-1--"), "{a}");
        assert_ne!(a, from_execution("weird-name(1)").unwrap());
        let b = from_execution("(((").unwrap();
        assert!(b.starts_with("run-") && check_run_id(&b).is_ok(), "{b}");
        let long = from_execution(&format!("{}!", "x".repeat(200))).unwrap();
        assert!(long.len() <= MAX_RUN_ID_LEN && check_run_id(&long).is_ok());
        assert!(from_execution("arn:aws:states:x:execution:pipe:").is_err());
    }

    #[test]
    fn job_name_ids_are_what_batch_allows_in_a_job_name() {
        assert_eq!(job_name_id("nightly-2024-06-01"), "nightly-2024-06-01");
        let dotted = job_name_id("2024.06.01");
        assert!(dotted.starts_with("2024_06_01-") && dotted.len() == 19, "{dotted}");
        assert_ne!(dotted, job_name_id("2024_06_01"));
        assert_eq!(dotted, job_name_id("2024.06.01"));
        let longest = format!("a.{}", "b".repeat(126));
        for id in [longest.as_str(), "2024.06.01", "x", &"y".repeat(128)] {
            assert!(check_run_id(id).is_ok(), "{id}");
            let name = format!("procurement-{}", job_name_id(id));
            assert!(contract::naming::valid_job_name(&name), "{name} ({} characters)", name.len());
        }
    }

    #[test]
    fn generated_ids_are_safe_and_distinct() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = generate(t);
        let b = generate(t);
        assert!(a.starts_with("2023-11-14T22-13-20Z-"), "{a}");
        assert!(check_run_id(&a).is_ok());
        assert_ne!(a, b);
    }
}
