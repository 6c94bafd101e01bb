//! The prep event: `{"config": {...}, "overrides": {...}, "execution": "..."}`.
//!
//! `config` is the run configuration the `batch_pipeline` resource computes
//! (`contract::run_config::RunConfig`, whose version prep checks first);
//! `overrides` are per-run changes from whatever started the execution.
//! Everything is checked here, before any AWS call or file write, and every
//! refusal names the field.

use std::path::PathBuf;

use batch_jobs::layout::{MAX_ARRAY_SIZE, SyntheticFormat};
use batch_jobs::{ExitCode, TransformSpec};
use contract::run_config::{
    MAX_QUEUE_MESSAGES, MAX_VISIBILITY_TIMEOUT_SECONDS, RUN_CONFIG_KEYS, RUN_CONFIG_VERSION, RunConfig,
    S3Source, SftpSource, Source, SqsSource, SyntheticSource,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::CONTRACT_VERSION;
use crate::error::LambdaError;
use crate::event::{parse, parse_at, unknown_keys};

pub use contract::run_config::Balance;

/// Largest `items_per_node` accepted (a node's slice is one JSON file).
pub const MAX_ITEMS_PER_NODE: u32 = 1_000_000;
/// Smallest array AWS Batch accepts.
pub const MIN_ARRAY_SIZE: u32 = 2;

/// Top-level keys of the event.
const EVENT_KEYS: &[&str] = &["config", "overrides", "execution"];
/// Keys of `overrides` (`trigger` and `event_id` are informational).
const OVERRIDE_KEYS: &[&str] = &[
    "run_id",
    "source_prefix",
    "items_per_node",
    "trigger",
    "s3_bucket",
    "s3_key",
    "incoming_path",
    "event_id",
    "keys",
    "full",
];

/// Most keys `overrides.keys` may name (prep checks each with a
/// HeadObject; Step Functions caps the execution input at 256 KiB anyway).
pub const MAX_OVERRIDE_KEYS: usize = 10_000;

/// The whole event.
#[derive(Debug, Deserialize)]
struct RawEvent {
    config: Value,
    #[serde(default)]
    overrides: Value,
    #[serde(default)]
    execution: Option<String>,
}

/// `config`: the run configuration, its transform read as the jobs'.
pub type PipelineConfig = RunConfig<TransformSpec>;

/// Parses `config`. `source` is an internally tagged enum, which serde
/// buffers before reading, so its errors lose the field's name
/// (`config.source: invalid type ...`); those are worded again by reading
/// the source variant by variant (`config.source: bucket: invalid type ...`).
fn parse_config(config: Value) -> Result<PipelineConfig, LambdaError> {
    check_version(&config)?;
    let source = config.get("source").cloned();
    parse_at("config", config).map_err(|err| match source {
        Some(source) if is_about_source(&err.message) => source_error(source)
            .map(|m| LambdaError::invalid_event(format!("config.source: {m}")))
            .unwrap_or(err),
        _ => err,
    })
}

/// A refusal of `config.source` itself (`config.source: ...`) or of one of
/// its keys (`config.source.type: ...`).
fn is_about_source(message: &str) -> bool {
    message.strip_prefix("config.source").is_some_and(|rest| rest.starts_with([':', '.']))
}

/// Refuses a run configuration of another version before reading the rest,
/// whose shape that version may have changed.
fn check_version(config: &Value) -> Result<(), LambdaError> {
    match config.get("version").and_then(Value::as_u64) {
        Some(version) if version != u64::from(RUN_CONFIG_VERSION) => {
            Err(LambdaError::invalid_event(format!(
                "config.version: {version} is not supported (this function reads version {RUN_CONFIG_VERSION})"
            )))
        }
        _ => Ok(()),
    }
}

/// What is wrong with `source`, field first (`bucket: invalid type ...`),
/// or `None` when it reads.
fn source_error(mut source: Value) -> Option<String> {
    fn variant<T: serde::de::DeserializeOwned>(fields: Value) -> Option<String> {
        serde_path_to_error::deserialize::<_, T>(fields).err().map(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.into_inner())
        })
    }
    let kind = source.get("type").and_then(Value::as_str).map(str::to_string);
    if let Some(fields) = source.as_object_mut() {
        fields.remove("type");
    }
    if matches!(kind.as_deref(), Some("synthetic" | "sqs")) && source.get("incremental").is_some() {
        return Some(format!(
            "incremental: only the s3 and sftp sources can be incremental (a {} source has no inputs to remember)",
            kind.as_deref().unwrap_or_default()
        ));
    }
    match kind.as_deref() {
        Some("s3") => variant::<S3Source>(source),
        Some("synthetic") => variant::<SyntheticSource>(source),
        Some("sqs") => variant::<SqsSource>(source),
        Some("sftp") => variant::<SftpSource>(source),
        Some(other) => Some(format!("type: {other:?} is not \"s3\", \"synthetic\", \"sqs\" or \"sftp\"")),
        None => Some("type: missing (\"s3\", \"synthetic\", \"sqs\" or \"sftp\")".to_string()),
    }
}

/// `overrides`: per-run changes. All optional; `null` or absent is `{}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Overrides {
    /// Use this run id.
    #[serde(default)]
    pub run_id: Option<String>,
    /// List this prefix instead of `config.source.prefix` (S3 only).
    #[serde(default)]
    pub source_prefix: Option<String>,
    /// Use this instead of `config.items_per_node`.
    #[serde(default)]
    pub items_per_node: Option<u32>,
    /// What started the run (`schedule`, `s3`, `manual`): logs only.
    #[serde(default)]
    pub trigger: Option<String>,
    /// S3 trigger: the bucket of the created object (must be the source bucket).
    #[serde(default)]
    pub s3_bucket: Option<String>,
    /// S3 trigger: the created object's key; the run lists the
    /// `incoming_path` folder that holds it.
    #[serde(default)]
    pub s3_key: Option<String>,
    /// S3 trigger: the folder name that marks incoming data (`incoming/`).
    #[serde(default)]
    pub incoming_path: Option<String>,
    /// S3 trigger: the EventBridge event id (logs only).
    #[serde(default)]
    pub event_id: Option<String>,
    /// Process exactly these keys (relative to the source prefix, or to
    /// `source_prefix`) instead of listing the prefix.
    #[serde(default)]
    pub keys: Option<Vec<String>>,
    /// Incremental sources: process every input, finished or not (the
    /// done records are not read; claims still keep concurrent runs apart).
    #[serde(default)]
    pub full: Option<bool>,
}

/// The work source after overrides.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkSource {
    /// List `s3://bucket/prefix*suffix`.
    S3 {
        /// Bucket.
        bucket: String,
        /// Effective prefix.
        prefix: String,
        /// Suffix filter.
        suffix: String,
        /// `overrides.keys`, checked: these keys under the prefix instead
        /// of a listing. Left out of the fingerprint when unset, so runs
        /// without it keep theirs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keys: Option<Vec<String>>,
    },
    /// Receive S3 event notifications of `bucket` from `queue_url`.
    Sqs {
        /// Queue URL.
        queue_url: String,
        /// The bucket the events must be about.
        bucket: String,
        /// Key prefix filter (stripped to name local files).
        prefix: String,
        /// Suffix filter.
        suffix: String,
        /// Most messages taken.
        max_messages: u32,
        /// Visibility timeout set on receive.
        visibility_timeout_seconds: u32,
    },
    /// Ids `start..start+count`.
    Synthetic {
        /// First id.
        start: u64,
        /// Number of ids.
        count: u64,
        /// Record shape.
        format: SyntheticFormat,
        /// Records per id.
        records_per_id: u32,
    },
    /// List the SFTP directory.
    Sftp(SftpSource),
}

impl WorkSource {
    /// `s3://bucket/prefix` or `synthetic:start..end`, for logs and the response.
    pub fn describe(&self) -> String {
        match self {
            WorkSource::S3 { bucket, prefix, keys: Some(keys), .. } => {
                format!("s3://{bucket}/{prefix} ({} keys named in overrides.keys)", keys.len())
            }
            WorkSource::S3 { bucket, prefix, suffix, .. } if suffix.is_empty() => {
                format!("s3://{bucket}/{prefix}")
            }
            WorkSource::S3 { bucket, prefix, suffix, .. } => format!("s3://{bucket}/{prefix}*{suffix}"),
            WorkSource::Sqs { queue_url, bucket, prefix, suffix, .. } => {
                format!("sqs:{queue_url} (s3://{bucket}/{prefix}*{suffix})")
            }
            WorkSource::Synthetic { start, count, .. } => {
                format!("synthetic:{start}..{}", start.saturating_add(*count))
            }
            WorkSource::Sftp(s) => {
                let dir = s.directory.trim_end_matches('/');
                let deep = if s.recursive { "**/" } else { "" };
                format!("sftp://{}@{}:{}{dir}/{deep}{}", s.user, s.host, s.port, s.glob)
            }
        }
    }
}

/// A checked prep request.
#[derive(Debug, Clone)]
pub struct PrepRequest {
    /// The config as given.
    pub config: PipelineConfig,
    /// The overrides as given.
    pub overrides: Overrides,
    /// The execution name/ARN, if the state machine passed it.
    pub execution: Option<String>,
    /// Where the work comes from, overrides applied.
    pub source: WorkSource,
    /// Items per node, overrides applied.
    pub items_per_node: u32,
    /// Hash of everything that decides the run's layout (config as given,
    /// effective source and items per node): a retry must match it.
    pub fingerprint: String,
}

impl PrepRequest {
    /// Parses and checks an event.
    pub fn from_event(event: Value) -> Result<Self, LambdaError> {
        if !event.is_object() {
            return Err(LambdaError::invalid_event("event: expected a JSON object with `config`"));
        }
        warn_unknown("event", &event, EVENT_KEYS);
        let raw: RawEvent = parse(event)?;
        warn_unknown("config", &raw.config, &RUN_CONFIG_KEYS);
        let config_value = raw.config;
        let config = parse_config(config_value.clone())?;
        let overrides: Overrides = match raw.overrides {
            Value::Null => Overrides::default(),
            value => {
                warn_unknown("overrides", &value, OVERRIDE_KEYS);
                parse_at("overrides", value)?
            }
        };
        check_config(&config)?;
        let items_per_node = overrides.items_per_node.unwrap_or(config.items_per_node);
        check_items_per_node(
            if overrides.items_per_node.is_some() {
                "overrides.items_per_node"
            } else {
                "config.items_per_node"
            },
            items_per_node,
        )?;
        let source = effective_source(&config.source, &overrides)?;
        let full = overrides.full.unwrap_or(false);
        if overrides.full.is_some() && config.source.incremental().is_none() {
            return Err(LambdaError::invalid_event(
                "overrides.full: only applies to an incremental source (config.source.incremental = true); \
                 every other run processes everything already",
            ));
        }
        if let Some(execution) = &raw.execution
            && (execution.is_empty() || execution.len() > 2048)
        {
            return Err(LambdaError::invalid_event("execution: must be 1..=2048 characters"));
        }
        // Retention is about other runs' directories, not this run's
        // work: changing it must not refuse a rerun of an earlier run.
        let mut config_value = config_value;
        if let Some(config) = config_value.as_object_mut() {
            config.remove("retention");
        }
        let mut identity = json!({
            "contract_version": CONTRACT_VERSION,
            "config": config_value,
            "source": source,
            "items_per_node": items_per_node,
        });
        // Only when set, so every other request keeps its fingerprint.
        if full {
            identity["full"] = Value::Bool(true);
        }
        let fingerprint = batch_jobs::checksum::sha256_hex(identity.to_string().as_bytes());
        Ok(PrepRequest { config, overrides, execution: raw.execution, source, items_per_node, fingerprint })
    }

    /// The EFS root: `PIPELINE_EFS_ROOT` of this function when set (its own
    /// mount point), else `config.efs_mount_path`.
    pub fn efs_root(&self, env_root: Option<&PathBuf>) -> PathBuf {
        env_root.cloned().unwrap_or_else(|| PathBuf::from(&self.config.efs_mount_path))
    }
}

fn warn_unknown(what: &str, value: &Value, known: &[&str]) {
    let unknown = unknown_keys(value, known);
    if !unknown.is_empty() {
        tracing::warn!(object = what, keys = ?unknown, "ignoring unknown keys (typo, or a newer contract?)");
    }
}

fn check_items_per_node(field: &str, n: u32) -> Result<(), LambdaError> {
    if n == 0 || n > MAX_ITEMS_PER_NODE {
        return Err(LambdaError::invalid_event(format!("{field}: {n} must be in 1..={MAX_ITEMS_PER_NODE}")));
    }
    Ok(())
}

fn check_config(config: &PipelineConfig) -> Result<(), LambdaError> {
    let bad = |m: String| Err(LambdaError::invalid_event(m));
    if !config.efs_mount_path.starts_with('/') || config.efs_mount_path == "/" {
        return bad(format!(
            "config.efs_mount_path: {:?} must be an absolute path other than /",
            config.efs_mount_path
        ));
    }
    check_items_per_node("config.items_per_node", config.items_per_node)?;
    if let Some(retention) = &config.retention {
        retention.check().map_err(|e| LambdaError::invalid_event(format!("config.{e}")))?;
    }
    if !(MIN_ARRAY_SIZE..=MAX_ARRAY_SIZE).contains(&config.max_nodes) {
        return bad(format!(
            "config.max_nodes: {} must be in {MIN_ARRAY_SIZE}..={MAX_ARRAY_SIZE} (AWS Batch array sizes)",
            config.max_nodes
        ));
    }
    if config.stages.is_empty() {
        return bad("config.stages: must not be empty".into());
    }
    let mut sorted = config.stages.clone();
    sorted.sort();
    sorted.dedup();
    if sorted != config.stages {
        return bad(
            "config.stages: must be distinct and in run order (procurement, processing, egress)".into()
        );
    }
    match &config.source {
        Source::S3(S3Source { bucket, prefix, .. }) => {
            if bucket.is_empty() {
                return bad("config.source.bucket: must not be empty".into());
            }
            check_prefix("config.source.prefix", prefix)?;
        }
        Source::Sqs(SqsSource {
            queue_url,
            bucket,
            prefix,
            max_messages,
            visibility_timeout_seconds,
            ..
        }) => {
            if !queue_url.starts_with("https://") && !queue_url.starts_with("http://") {
                return bad(format!(
                    "config.source.queue_url: {queue_url:?} must be the queue's http(s) URL"
                ));
            }
            if bucket.is_empty() {
                return bad("config.source.bucket: must not be empty".into());
            }
            check_prefix("config.source.prefix", prefix)?;
            if !(1..=MAX_QUEUE_MESSAGES).contains(max_messages) {
                return bad(format!(
                    "config.source.max_messages: {max_messages} must be in 1..={MAX_QUEUE_MESSAGES}"
                ));
            }
            if !(1..=MAX_VISIBILITY_TIMEOUT_SECONDS).contains(visibility_timeout_seconds) {
                return bad(format!(
                    "config.source.visibility_timeout_seconds: {visibility_timeout_seconds} must be in \
                     1..={MAX_VISIBILITY_TIMEOUT_SECONDS} (SQS's limit)"
                ));
            }
        }
        Source::Synthetic(SyntheticSource { count, start, records_per_id, .. }) => {
            if start.checked_add(*count).is_none() {
                return bad("config.source: start + count overflows".into());
            }
            if *records_per_id == 0 {
                return bad("config.source.records_per_id: must be at least 1".into());
            }
        }
        Source::Sftp(sftp) => {
            if let Err(e) = sftp.check() {
                return bad(format!("config.source.{e}"));
            }
        }
    }
    if let Err(e) = config.source.check_incremental() {
        return bad(format!("config.source.{e}"));
    }
    if config.source.incremental().is_some()
        && (!config.stages.contains(&batch_jobs::layout::Stage::Egress) || config.egress.is_none())
    {
        return bad(
            "config.source.incremental: needs the egress stage and config.egress: the ledger of finished inputs \
             lives in the egress bucket and is written by egress"
                .into(),
        );
    }
    config
        .transform
        .validate()
        .map_err(|e| LambdaError::invalid_event(format!("config.transform: {}", e.message)))?;
    Ok(())
}

/// A key prefix is empty or a safe relative folder ending with `/`: the
/// jobs name local files by the key minus the prefix.
fn check_prefix(field: &str, prefix: &str) -> Result<(), LambdaError> {
    if prefix.is_empty() {
        return Ok(());
    }
    if !prefix.ends_with('/') {
        return Err(LambdaError::invalid_event(format!("{field}: {prefix:?} must be empty or end with '/'")));
    }
    batch_jobs::safe_path::SafeRelPath::new(field, prefix.trim_end_matches('/'))
        .map_err(|e| LambdaError::invalid_event(format!("{field}: {e}")))?;
    Ok(())
}

/// The source after overrides: `overrides.source_prefix`, else the
/// `incoming_path` folder holding `overrides.s3_key` (S3 trigger), else the
/// configured prefix.
fn effective_source(source: &Source, overrides: &Overrides) -> Result<WorkSource, LambdaError> {
    match source {
        Source::S3(S3Source { bucket, prefix, suffix, .. }) => {
            if let Some(trigger_bucket) = &overrides.s3_bucket
                && trigger_bucket != bucket
            {
                return Err(LambdaError::invalid_event(format!(
                    "overrides.s3_bucket: {trigger_bucket:?} is not the source bucket {bucket:?}"
                )));
            }
            let prefix = match (&overrides.source_prefix, &overrides.s3_key) {
                (Some(p), _) => {
                    check_prefix("overrides.source_prefix", p)?;
                    p.clone()
                }
                (None, Some(key)) => {
                    let incoming = overrides.incoming_path.as_deref().unwrap_or("incoming/");
                    if incoming.is_empty() {
                        return Err(LambdaError::invalid_event(
                            "overrides.incoming_path: must not be empty (e.g. \"incoming/\")",
                        ));
                    }
                    check_prefix("overrides.incoming_path", incoming)?;
                    let derived = incoming_folder(key, incoming).ok_or_else(|| {
                        LambdaError::invalid_event(format!(
                            "overrides.s3_key: {key:?} is not under an {incoming:?} folder"
                        ))
                    })?;
                    check_prefix("overrides.s3_key", &derived)?;
                    derived
                }
                (None, None) => prefix.clone(),
            };
            let keys = match &overrides.keys {
                Some(_) if overrides.s3_key.is_some() => {
                    return Err(LambdaError::invalid_event(
                        "overrides.keys / s3_key: name the keys or the triggering object, not both",
                    ));
                }
                Some(keys) => Some(check_override_keys(keys, suffix)?),
                None => None,
            };
            Ok(WorkSource::S3 { bucket: bucket.clone(), prefix, suffix: suffix.clone(), keys })
        }
        Source::Sqs(sqs) => {
            if overrides.source_prefix.is_some() || overrides.s3_key.is_some() || overrides.keys.is_some() {
                return Err(LambdaError::invalid_event(
                    "overrides.source_prefix / s3_key / keys: only apply to an S3 source (an sqs source takes what \
                     the queue holds)",
                ));
            }
            Ok(WorkSource::Sqs {
                queue_url: sqs.queue_url.clone(),
                bucket: sqs.bucket.clone(),
                prefix: sqs.prefix.clone(),
                suffix: sqs.suffix.clone(),
                max_messages: sqs.max_messages,
                visibility_timeout_seconds: sqs.visibility_timeout_seconds,
            })
        }
        Source::Synthetic(SyntheticSource { count, start, format, records_per_id }) => {
            if overrides.source_prefix.is_some() || overrides.s3_key.is_some() || overrides.keys.is_some() {
                return Err(LambdaError::invalid_event(
                    "overrides.source_prefix / s3_key / keys: only apply to an S3 source",
                ));
            }
            Ok(WorkSource::Synthetic {
                start: *start,
                count: *count,
                format: format.unwrap_or_default(),
                records_per_id: *records_per_id,
            })
        }
        Source::Sftp(sftp) => {
            if overrides.source_prefix.is_some() || overrides.s3_key.is_some() || overrides.keys.is_some() {
                return Err(LambdaError::invalid_event(
                    "overrides.source_prefix / s3_key / keys: only apply to an S3 source",
                ));
            }
            Ok(WorkSource::Sftp(sftp.clone()))
        }
    }
}

/// `overrides.keys` checked as a listing's keys are (each a safe relative
/// path ending with the source's suffix, the names together storable
/// under a node's `data/`), no key twice; returned sorted, as a listing
/// would be, so the split does not depend on the order given.
fn check_override_keys(keys: &[String], suffix: &str) -> Result<Vec<String>, LambdaError> {
    if keys.is_empty() {
        return Err(LambdaError::invalid_event("overrides.keys: empty (omit it to list the prefix)"));
    }
    if keys.len() > MAX_OVERRIDE_KEYS {
        return Err(LambdaError::invalid_event(format!(
            "overrides.keys: {} keys, more than {MAX_OVERRIDE_KEYS}; use source_prefix for a larger set",
            keys.len()
        )));
    }
    for (i, key) in keys.iter().enumerate() {
        let field = format!("overrides.keys[{i}]");
        batch_jobs::safe_path::SafeRelPath::new(&field, key)
            .map_err(|e| LambdaError::invalid_event(e.to_string()))?;
        if !key.ends_with(suffix) {
            return Err(LambdaError::invalid_event(format!(
                "{field}: {key:?} does not end with the source's suffix {suffix:?}"
            )));
        }
    }
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(LambdaError::invalid_event(format!("overrides.keys: {:?} is named twice", pair[0])));
    }
    batch_jobs::layout::check_data_names(sorted.iter().map(String::as_str))
        .map_err(|e| LambdaError::invalid_event(format!("overrides.keys: {e}")))?;
    Ok(sorted)
}

/// The key's prefix up to and including the last `incoming` folder name
/// that starts a path component (`a/incoming/x.csv` -> `a/incoming/`).
pub fn incoming_folder(key: &str, incoming: &str) -> Option<String> {
    if incoming.is_empty() || !incoming.ends_with('/') {
        return None;
    }
    key.match_indices(incoming)
        .filter(|(at, _)| *at == 0 || key.as_bytes()[at - 1] == b'/')
        .map(|(at, _)| at + incoming.len())
        .last()
        .map(|end| key[..end].to_string())
}

/// Maps a `batch_jobs` validation error of the assembled run.json onto
/// `InvalidEvent` (the event asked for a run the jobs would refuse).
pub fn run_config_error(err: batch_jobs::JobError) -> LambdaError {
    match err.exit {
        ExitCode::Config | ExitCode::DataError | ExitCode::Usage => {
            LambdaError::invalid_event(format!("config: {}", err.message))
        }
        _ => LambdaError::internal(err.message),
    }
}

#[cfg(test)]
mod tests {
    use batch_jobs::layout::Stage;

    use super::*;

    fn base() -> Value {
        json!({
            "version": 1,
            "efs_mount_path": "/mnt/efs",
            "source": {"type": "s3", "bucket": "src", "prefix": "in/", "suffix": ".csv"},
            "items_per_node": 10,
            "transform": {"kind": "jsonl_calc", "calculations": ["score = stars * review_count"]},
            "egress": {"bucket": "out", "prefix": "results"}
        })
    }

    fn with(mut config: Value, path: &[&str], v: Value) -> Value {
        let mut at = &mut config;
        for p in &path[..path.len() - 1] {
            at = at.get_mut(*p).unwrap();
        }
        at[path[path.len() - 1]] = v;
        config
    }

    fn err(event: Value) -> String {
        let e = PrepRequest::from_event(event).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidEvent);
        e.message
    }

    #[test]
    fn a_good_config_parses_with_defaults() {
        let r = PrepRequest::from_event(json!({"config": base()})).unwrap();
        assert_eq!(r.config.max_nodes, 10_000);
        assert_eq!(r.config.balance, Balance::Count);
        assert_eq!(r.config.stages, Stage::ALL.to_vec());
        assert_eq!(r.items_per_node, 10);
        assert_eq!(
            r.source,
            WorkSource::S3 { bucket: "src".into(), prefix: "in/".into(), suffix: ".csv".into(), keys: None }
        );
        assert_eq!(r.fingerprint.len(), 64);
    }

    #[test]
    fn refusals_name_the_field() {
        assert!(err(json!({})).contains("missing field `config`"));
        assert!(err(json!("x")).starts_with("event:"));
        assert!(
            err(json!({"config": with(base(), &["items_per_node"], json!(0))}))
                .starts_with("config.items_per_node: 0")
        );
        assert!(
            err(json!({"config": with(base(), &["items_per_node"], json!("10"))}))
                .starts_with("config.items_per_node: invalid type")
        );
        assert!(
            err(json!({"config": with(base(), &["max_nodes"], json!(1))})).starts_with("config.max_nodes: 1")
        );
        assert!(
            err(json!({"config": with(base(), &["max_nodes"], json!(10_001))}))
                .starts_with("config.max_nodes: 10001")
        );
        assert!(
            err(json!({"config": with(base(), &["version"], json!(2))})).starts_with("config.version: 2")
        );
        assert!(
            err(json!({"config": with(base(), &["source", "bucket"], json!(3))}))
                .starts_with("config.source: bucket: invalid type")
        );
        assert!(
            err(json!({"config": with(base(), &["source", "prefix"], json!("in"))})).contains("end with '/'")
        );
        assert!(err(json!({"config": with(base(), &["source", "prefix"], json!("../x/"))})).contains("'..'"));
        assert!(
            err(json!({"config": with(base(), &["source", "type"], json!("ftp"))}))
                .starts_with("config.source: type: \"ftp\"")
        );
        assert!(err(json!({"config": with(base(), &["stages"], json!([]))})).starts_with("config.stages"));
        assert!(
            err(json!({"config": with(base(), &["stages"], json!(["egress", "procurement"]))}))
                .starts_with("config.stages")
        );
        assert!(
            err(json!({"config": with(base(), &["efs_mount_path"], json!("efs"))}))
                .starts_with("config.efs_mount_path")
        );
        assert!(err(json!({"config": with(base(), &["transform"], json!({"kind": "jsonl_calc", "calculations": ["= ="]}))})).starts_with("config.transform"));
        let xml = err(
            json!({"config": with(base(), &["transform"], json!({"kind": "xml_to_json", "record_path": "book"}))}),
        );
        assert!(
            xml.starts_with("config.transform: transform.record_path: \"book\" must start with '/'"),
            "{xml}"
        );
        let xml = err(
            json!({"config": with(base(), &["transform"], json!({"kind": "xml_to_json", "max_depht": 3}))}),
        );
        assert!(xml.contains("max_depht"), "{xml}");
        // serde words this "invalid value" or, when serde_json is built with
        // arbitrary_precision (the provider enables it), "invalid type".
        let negative = err(json!({"config": base(), "overrides": {"items_per_node": -1}}));
        assert!(negative.starts_with("overrides.items_per_node: invalid"), "{negative}");
        assert!(
            err(json!({"config": base(), "overrides": {"items_per_node": 0}}))
                .starts_with("overrides.items_per_node: 0")
        );
        assert!(
            err(json!({"config": base(), "overrides": {"s3_bucket": "other", "s3_key": "in/x"}}))
                .starts_with("overrides.s3_bucket")
        );
        assert!(err(json!({"config": base(), "overrides": 7})).starts_with("overrides: invalid type"));
        assert!(err(json!({"config": base(), "execution": ""})).starts_with("execution"));
    }

    /// A newer run configuration may change the shape of any key: its
    /// version is refused before the rest is read.
    #[test]
    fn another_version_is_refused_before_the_rest_is_read() {
        let newer = json!({"version": 2, "items_per_node": "ten", "source": {"type": "ftp"}});
        assert_eq!(
            err(json!({"config": newer})),
            "config.version: 2 is not supported (this function reads version 1)"
        );
        assert!(
            err(json!({"config": with(base(), &["version"], json!("1"))}))
                .starts_with("config.version: invalid type")
        );
    }

    #[test]
    fn source_refusals_name_the_key() {
        let source = |v: Value| err(json!({"config": with(base(), &["source"], v)}));
        assert_eq!(
            source(json!({"type": "s3", "bucket": "b", "sufix": ".csv"})),
            "config.source: sufix: unknown field `sufix`, expected one of `bucket`, `prefix`, `suffix`, \
             `incremental`, `claim_ttl_seconds`"
        );
        // Worded as before the run configuration was typed (`.` is the
        // source itself).
        assert_eq!(source(json!({"type": "synthetic"})), "config.source: .: missing field `count`");
        assert_eq!(
            source(json!({"bucket": "b"})),
            "config.source: type: missing (\"s3\", \"synthetic\", \"sqs\" or \"sftp\")"
        );
        assert_eq!(
            source(json!({"type": "sqs", "queue_url": "https://q", "bucket": "b", "max_messages": "9"})),
            "config.source: max_messages: invalid type: string \"9\", expected u32"
        );
        let sqs = |extra: Value| {
            let mut v =
                json!({"type": "sqs", "queue_url": "https://sqs.us-east-1.amazonaws.com/1/q", "bucket": "b"});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            source(v)
        };
        assert_eq!(
            sqs(json!({"visibility_timeout_seconds": 43_201})),
            "config.source.visibility_timeout_seconds: 43201 must be in 1..=43200 (SQS's limit)"
        );
        assert_eq!(sqs(json!({"max_messages": 0})), "config.source.max_messages: 0 must be in 1..=100000");
        assert_eq!(
            sqs(json!({"queue_url": "q"})),
            "config.source.queue_url: \"q\" must be the queue's http(s) URL"
        );
        assert_eq!(
            sqs(json!({"prefix": "in"})),
            "config.source.prefix: \"in\" must be empty or end with '/'"
        );
        assert_eq!(
            source(json!({"type": "sftp", "host": "h", "user": "u", "private_key_secret_arn": "a",
                "directory": "/in"})),
            "config.source: .: missing field `host_key`"
        );
        assert!(
            source(json!({"type": "sftp", "host": "h", "user": "u", "private_key_secret_arn": "a",
                "host_key": "k", "directory": "/in", "port": "22"}))
            .starts_with("config.source: port: invalid type")
        );
        assert!(source(json!("s3")).starts_with("config.source: type: missing"));
        // A refusal elsewhere keeps its own wording, source or not.
        let both = with(with(base(), &["source", "bucket"], json!(3)), &["items_per_node"], json!("x"));
        assert!(err(json!({"config": both})).starts_with("config.items_per_node: invalid type"));
    }

    /// prep warns about keys it does not know: the list is the contract's
    /// own, and names every key `RunConfig` writes.
    #[test]
    fn the_known_keys_are_the_run_configurations() {
        let mut config: PipelineConfig = serde_json::from_value(base()).expect("base parses");
        config.pipeline = Some("p".into());
        config.stages = vec![Stage::Processing];
        config.balance = Balance::Bytes;
        config.s3_concurrency = Some(8);
        config.job_definitions = Some(contract::run_config::JobDefinitions::from_fn(|s| s.to_string()));
        config.job_queue = Some("q".into());
        config.retention = Some(contract::run_config::Retention { keep_runs: Some(3), max_age_days: None });
        let written = serde_json::to_value(&config).expect("serialises");
        let mut keys: Vec<&str> =
            written.as_object().expect("an object").keys().map(String::as_str).collect();
        let mut known = RUN_CONFIG_KEYS.to_vec();
        keys.sort_unstable();
        known.sort_unstable();
        assert_eq!(keys, known);
    }

    #[test]
    fn retention_is_checked_and_left_out_of_the_fingerprint() {
        let plain = PrepRequest::from_event(json!({"config": base()})).unwrap();
        let mut config = base();
        config["retention"] = json!({"keep_runs": 5, "max_age_days": 30});
        let kept = PrepRequest::from_event(json!({"config": config})).unwrap();
        assert_eq!(kept.config.retention.and_then(|r| r.keep_runs), Some(5));
        // A rerun after retention changed is the same run.
        assert_eq!(plain.fingerprint, kept.fingerprint);
        let mut config = base();
        config["retention"] = json!({"keep_runs": 0});
        let e = err(json!({"config": config}));
        assert!(e.starts_with("config.retention.keep_runs: 0"), "{e}");
        let mut config = base();
        config["retention"] = json!({"keep": 1});
        let e = err(json!({"config": config}));
        assert!(e.contains("retention") && e.contains("keep"), "{e}");
    }

    #[test]
    fn overrides_pick_the_prefix() {
        let r = PrepRequest::from_event(
            json!({"config": base(), "overrides": {"source_prefix": "other/", "items_per_node": 3}}),
        )
        .unwrap();
        assert!(matches!(&r.source, WorkSource::S3 { prefix, .. } if prefix == "other/"));
        assert_eq!(r.items_per_node, 3);
        let r = PrepRequest::from_event(json!({"config": base(), "overrides": {
            "trigger": "s3", "s3_bucket": "src", "s3_key": "noaa1/incoming/batch/_READY", "incoming_path": "incoming/", "event_id": "e"}}))
        .unwrap();
        assert!(matches!(&r.source, WorkSource::S3 { prefix, .. } if prefix == "noaa1/incoming/"));
        assert!(
            err(json!({"config": base(), "overrides": {"s3_key": "noaa1/x.csv"}}))
                .starts_with("overrides.s3_key")
        );
        let plain = PrepRequest::from_event(json!({"config": base()})).unwrap();
        assert_ne!(plain.fingerprint, r.fingerprint);
    }

    #[test]
    fn overrides_keys_are_checked_like_listed_keys() {
        let keys = |v: Value| PrepRequest::from_event(json!({"config": base(), "overrides": {"keys": v}}));
        let r = keys(json!(["b/c.csv", "a.csv"])).unwrap();
        assert!(
            matches!(&r.source, WorkSource::S3 { keys: Some(k), .. } if *k == ["a.csv", "b/c.csv"]),
            "{:?}",
            r.source
        );
        let plain = PrepRequest::from_event(json!({"config": base()})).unwrap();
        assert_ne!(plain.fingerprint, r.fingerprint, "the keys are part of the run's fingerprint");
        assert_eq!(
            keys(json!(["a.csv", "b/c.csv"])).unwrap().fingerprint,
            r.fingerprint,
            "the same keys in another order are the same run"
        );
        let refused = |v: Value| keys(v).unwrap_err().message;
        assert_eq!(refused(json!([])), "overrides.keys: empty (omit it to list the prefix)");
        assert!(refused(json!(["a.csv", "../b.csv"])).contains("overrides.keys[1]"));
        assert!(refused(json!(["/abs.csv"])).contains("overrides.keys[0]"));
        assert!(refused(json!(["a\nb.csv"])).contains("control character"));
        assert_eq!(
            refused(json!(["a.txt"])),
            "overrides.keys[0]: \"a.txt\" does not end with the source's suffix \".csv\""
        );
        assert_eq!(refused(json!(["a.csv", "a.csv"])), "overrides.keys: \"a.csv\" is named twice");
        assert!(
            refused(json!(["x.csv/y.csv", "x.csv"]))
                .contains("\"x.csv\" is also the directory of \"x.csv/y.csv\""),
            "{}",
            refused(json!(["x.csv/y.csv", "x.csv"]))
        );
        assert!(refused(json!("a.csv")).starts_with("overrides.keys: invalid type"));
        let too_many: Vec<String> = (0..=MAX_OVERRIDE_KEYS).map(|i| format!("{i}.csv")).collect();
        assert!(refused(json!(too_many)).contains("more than 10000"));
        assert!(
            err(
                json!({"config": base(), "overrides": {"keys": ["a.csv"], "s3_key": "noaa1/incoming/a.csv"}})
            )
            .starts_with("overrides.keys / s3_key")
        );
    }

    #[test]
    fn incoming_folder_matches_whole_components() {
        assert_eq!(incoming_folder("a/incoming/x.csv", "incoming/").as_deref(), Some("a/incoming/"));
        assert_eq!(incoming_folder("incoming/x", "incoming/").as_deref(), Some("incoming/"));
        assert_eq!(incoming_folder("a/notincoming/x", "incoming/"), None);
        assert_eq!(
            incoming_folder("a/incoming/b/incoming/x", "incoming/").as_deref(),
            Some("a/incoming/b/incoming/")
        );
    }

    #[test]
    fn a_bad_incoming_path_is_named_as_such() {
        for bad in ["", "incoming", "../"] {
            let event = json!({"config": base(), "overrides": {
                "trigger": "s3", "s3_bucket": "src", "s3_key": "a/incoming/x.csv", "incoming_path": bad}});
            let err = PrepRequest::from_event(event).unwrap_err();
            assert!(err.message.starts_with("overrides.incoming_path"), "{bad:?}: {}", err.message);
        }
    }

    #[test]
    fn synthetic_defaults() {
        let config = with(base(), &["source"], json!({"type": "synthetic", "count": 400000}));
        let r = PrepRequest::from_event(json!({"config": config})).unwrap();
        assert_eq!(
            r.source,
            WorkSource::Synthetic {
                start: 0,
                count: 400_000,
                format: SyntheticFormat::YelpJsonl,
                records_per_id: 1
            }
        );
        let config = with(base(), &["source"], json!({"type": "synthetic", "count": u64::MAX, "start": 1}));
        assert!(err(json!({"config": config})).contains("overflows"));
    }

    /// The provider's run_config spells `synthetic_format` as
    /// `source.format` (provider run_config.rs).
    #[test]
    fn synthetic_format_from_the_run_config() {
        let config =
            with(base(), &["source"], json!({"type": "synthetic", "count": 10, "format": "ghcn-csv"}));
        let r = PrepRequest::from_event(json!({"config": config})).unwrap();
        assert_eq!(
            r.source,
            WorkSource::Synthetic {
                start: 0,
                count: 10,
                format: SyntheticFormat::GhcnCsv,
                records_per_id: 1
            }
        );
        let config = with(base(), &["source"], json!({"type": "synthetic", "count": 10, "format": "csv"}));
        let message = err(json!({"config": config}));
        assert!(message.contains("config.source: format: unknown variant `csv`"), "{message}");
    }
}
