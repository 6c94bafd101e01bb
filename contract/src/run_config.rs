//! The run configuration: what the `batch_pipeline` resource gives the prep
//! Lambda (the resource's `run_config` attribute, the execution input's
//! `config`). The provider serialises [`RunConfig`], prep deserialises it;
//! neither spells a key of its own.
//!
//! The provider writes only what the resource configures; the knobs it does
//! not write (`stages`, `balance`, `s3_concurrency`, a synthetic source's
//! `start` and `records_per_id`, egress part sizes) are for executions
//! started by hand, and are left out of the serialisation while at their
//! defaults so the provider's JSON (and so prep's request fingerprint of
//! existing pipelines) stays the same.

use serde::{Deserialize, Serialize};

use crate::stage::Stage;

/// The run configuration's `version`. Prep refuses any other: a field whose
/// meaning changes bumps it, an optional field prep may ignore does not.
pub const RUN_CONFIG_VERSION: u32 = 1;

/// AWS Batch's largest array size, and prep's `max_nodes` when unset.
pub const MAX_ARRAY_SIZE: u32 = 10_000;

/// The run configuration. `Transform` is what `transform` holds: the
/// provider passes the configured JSON through unread (an optional JSON
/// value, `null` when unset), prep reads it as the jobs' transform spec,
/// which is where transforms are defined and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig<Transform> {
    /// Always [`RUN_CONFIG_VERSION`] when written by this crate's users.
    pub version: u32,
    /// The pipeline's name (logs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// Where EFS is mounted in the jobs.
    pub efs_mount_path: String,
    /// Stages the run executes, in run order.
    #[serde(default = "all_stages", skip_serializing_if = "are_all_stages")]
    pub stages: Vec<Stage>,
    /// Where the work comes from.
    pub source: Source,
    /// Target items per array node.
    pub items_per_node: u32,
    /// Upper bound on the array size.
    #[serde(default = "max_array_size")]
    pub max_nodes: u32,
    /// How items are spread over nodes.
    #[serde(default, skip_serializing_if = "Balance::is_default")]
    pub balance: Balance,
    /// What processing does (run.json's `transform`).
    pub transform: Transform,
    /// Where egress uploads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Egress>,
    /// Parallel S3 transfers per node (the jobs' default when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_concurrency: Option<u32>,
    /// The stages' job definitions (for the state machine, not prep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_definitions: Option<JobDefinitions>,
    /// The job queue (for the state machine, not prep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_queue: Option<String>,
    /// Which finished runs' directories on EFS the Summarize step removes
    /// (unset: none; docs/operations.md, "Run directories on EFS").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
}

/// `retention`: old run directories (`runs/<run_id>/`) the Summarize step
/// removes after writing its own run's summary. A run is only ever removed
/// once it has a summary (it ended); the run being summarized never is.
///
/// - a run that SUCCEEDED is removed when it is not among the
///   `keep_runs` newest that succeeded (the current one included), or when
///   its summary is older than `max_age_days`;
/// - a run that FAILED is kept for a rerun by its id: `keep_runs` neither
///   counts nor removes it; only `max_age_days` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// How many of the newest successful runs to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_runs: Option<u32>,
    /// Runs whose summary is older than this many days are removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
}

/// Largest `keep_runs`.
pub const MAX_KEEP_RUNS: u32 = 100_000;
/// Largest `max_age_days` (ten years).
pub const MAX_AGE_DAYS: u32 = 3_650;

impl Retention {
    /// The settings' shape; an error names the key (`retention.keep_runs: ...`).
    pub fn check(&self) -> Result<(), String> {
        if self.keep_runs.is_none() && self.max_age_days.is_none() {
            return Err("retention: set keep_runs, max_age_days or both (or leave retention out)".to_string());
        }
        if let Some(n) = self.keep_runs.filter(|n| !(1..=MAX_KEEP_RUNS).contains(n)) {
            return Err(format!("retention.keep_runs: {n} must be in 1..={MAX_KEEP_RUNS}"));
        }
        if let Some(d) = self.max_age_days.filter(|d| !(1..=MAX_AGE_DAYS).contains(d)) {
            return Err(format!("retention.max_age_days: {d} must be in 1..={MAX_AGE_DAYS}"));
        }
        Ok(())
    }
}

/// The keys of [`RunConfig`], for telling a typo (or a newer provider's
/// key) from a known one.
pub const RUN_CONFIG_KEYS: [&str; 14] = [
    "version",
    "pipeline",
    "efs_mount_path",
    "stages",
    "source",
    "items_per_node",
    "max_nodes",
    "balance",
    "transform",
    "egress",
    "s3_concurrency",
    "job_definitions",
    "job_queue",
    "retention",
];

fn all_stages() -> Vec<Stage> {
    Stage::ALL.to_vec()
}

fn are_all_stages(stages: &[Stage]) -> bool {
    stages == Stage::ALL
}

fn max_array_size() -> u32 {
    MAX_ARRAY_SIZE
}

/// `source`: where a run's work items come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// Objects under `s3://bucket/prefix` whose key ends with `suffix`.
    S3(S3Source),
    /// Ids `start..start+count` (the reference design's synthetic data).
    Synthetic(SyntheticSource),
    /// Objects announced by S3 event notifications on an SQS queue: a run
    /// takes up to `max_messages` of them (docs/lambdas.md, "Queue-fed
    /// runs").
    Sqs(SqsSource),
    /// Files in a directory of an SFTP server.
    Sftp(SftpSource),
}

/// The keys of `source` besides `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Source {
    /// Source bucket.
    pub bucket: String,
    /// Key prefix: empty or ending with `/`.
    #[serde(default)]
    pub prefix: String,
    /// Only keys ending with this ("" = all).
    #[serde(default)]
    pub suffix: String,
    /// Process only objects no earlier run finished (by bucket, key and
    /// ETag), recorded in the egress bucket's ledger (docs/incremental.md).
    #[serde(default, skip_serializing_if = "is_false")]
    pub incremental: bool,
    /// How long a run's claim on an input holds another run off: longer
    /// than a run may take (the module sets the state machine's timeout
    /// plus ten minutes). Only read when `incremental`.
    #[serde(default = "default_claim_ttl", skip_serializing_if = "is_default_claim_ttl")]
    pub claim_ttl_seconds: u32,
}

/// `claim_ttl_seconds` when unset: the state machine's default run
/// timeout (one hour) plus ten minutes.
pub const DEFAULT_CLAIM_TTL_SECONDS: u32 = 4_200;
/// The longest claim: a year, Step Functions' longest execution.
pub const MAX_CLAIM_TTL_SECONDS: u32 = 31_536_000;

fn default_claim_ttl() -> u32 {
    DEFAULT_CLAIM_TTL_SECONDS
}

fn is_default_claim_ttl(n: &u32) -> bool {
    *n == DEFAULT_CLAIM_TTL_SECONDS
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A source's incremental settings, `None` when it is not incremental
/// (the synthetic and queue-fed sources never are: ids have no identity
/// to remember, and a queue forgets what it delivered by itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incremental {
    /// [`S3Source::claim_ttl_seconds`] / [`SftpSource::claim_ttl_seconds`].
    pub claim_ttl_seconds: u32,
}

impl Source {
    /// The incremental settings of an S3 or SFTP source that asks for them.
    pub fn incremental(&self) -> Option<Incremental> {
        match self {
            Source::S3(s) if s.incremental => Some(Incremental { claim_ttl_seconds: s.claim_ttl_seconds }),
            Source::Sftp(s) if s.incremental => Some(Incremental { claim_ttl_seconds: s.claim_ttl_seconds }),
            _ => None,
        }
    }

    /// The incremental settings' shape; an error names the key.
    pub fn check_incremental(&self) -> Result<(), String> {
        let ttl = match self {
            Source::S3(s) => s.claim_ttl_seconds,
            Source::Sftp(s) => s.claim_ttl_seconds,
            Source::Synthetic(_) | Source::Sqs(_) => return Ok(()),
        };
        if !(1..=MAX_CLAIM_TTL_SECONDS).contains(&ttl) {
            return Err(format!("claim_ttl_seconds: {ttl} must be in 1..={MAX_CLAIM_TTL_SECONDS}"));
        }
        Ok(())
    }
}

/// The keys of `source` besides `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticSource {
    /// Number of ids (0 = no work).
    pub count: u64,
    /// First id.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start: u64,
    /// Record shape procurement generates; unset is the default format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<SyntheticFormat>,
    /// Records generated per id.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub records_per_id: u32,
}

/// SQS's longest visibility timeout (12 hours).
pub const MAX_VISIBILITY_TIMEOUT_SECONDS: u32 = 43_200;
/// The most messages one run takes (one ReceiveMessage returns at most
/// 10; a run's slices and receipt handles stay small files).
pub const MAX_QUEUE_MESSAGES: u32 = 100_000;

/// The keys of `source` besides `type`, for `type = "sqs"`.
///
/// The queue receives the S3 event notifications of `bucket` (the module
/// sets that up with the same prefix and suffix as notification filters).
/// Prep receives the messages with `visibility_timeout_seconds`, so they
/// stay invisible to other runs while this one works on them; egress
/// deletes a node's messages once its upload succeeded. A message whose
/// node fails comes back after the timeout and, after the queue's
/// `maxReceiveCount` receives, moves to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsSource {
    /// The queue's URL.
    pub queue_url: String,
    /// The bucket whose notifications the queue receives; an event of
    /// any other bucket is left for the dead-letter queue.
    pub bucket: String,
    /// Only keys under this prefix (empty or ending with `/`); it is
    /// stripped to name the local file, as for the S3 source.
    #[serde(default)]
    pub prefix: String,
    /// Only keys ending with this ("" = all).
    #[serde(default)]
    pub suffix: String,
    /// Most messages one run takes.
    #[serde(default = "default_max_messages")]
    pub max_messages: u32,
    /// How long a run's messages stay invisible (1..=43200): longer than
    /// the run may take, or a message still being worked on is received by
    /// the next run too (processed twice, never lost).
    #[serde(default = "default_visibility_timeout")]
    pub visibility_timeout_seconds: u32,
}

/// `max_messages` when unset.
pub const DEFAULT_MAX_MESSAGES: u32 = 1_000;
/// `visibility_timeout_seconds` when unset: the state machine's default
/// run timeout (one hour).
pub const DEFAULT_VISIBILITY_TIMEOUT_SECONDS: u32 = 3_600;

fn default_max_messages() -> u32 {
    DEFAULT_MAX_MESSAGES
}

fn default_visibility_timeout() -> u32 {
    DEFAULT_VISIBILITY_TIMEOUT_SECONDS
}

/// The SSH port when `port` is unset.
pub const DEFAULT_SFTP_PORT: u16 = 22;

/// The keys of `source` besides `type`: files in `directory` on an SFTP
/// server whose name matches `glob`, fetched with key authentication. The
/// server's host key is pinned (`host_key`): a server whose key is not the
/// pinned one is refused, never trusted on first use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftpSource {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    #[serde(default = "default_sftp_port")]
    pub port: u16,
    /// User name.
    pub user: String,
    /// Secrets Manager secret whose string value is the private key
    /// (OpenSSH or PEM format, unencrypted).
    pub private_key_secret_arn: String,
    /// The server's host key: a `known_hosts` line (`[host] type base64`)
    /// or its `SHA256:...` fingerprint as `ssh-keygen -lf` prints it.
    pub host_key: String,
    /// Absolute directory on the server.
    pub directory: String,
    /// File names to fetch (`*`, `?` and `[...]` wildcards on the name,
    /// not the path).
    #[serde(default = "default_glob")]
    pub glob: String,
    /// Also list subdirectories (files keep their path below `directory`).
    #[serde(default)]
    pub recursive: bool,
    /// Fetch only files no earlier run finished (by host, port, path, size
    /// and mtime), recorded in the egress bucket's ledger
    /// (docs/incremental.md).
    #[serde(default, skip_serializing_if = "is_false")]
    pub incremental: bool,
    /// As [`S3Source::claim_ttl_seconds`].
    #[serde(default = "default_claim_ttl", skip_serializing_if = "is_default_claim_ttl")]
    pub claim_ttl_seconds: u32,
    /// Keep the raw files as fetched: procurement also uploads each one to
    /// `s3://<archive_bucket>/<archive_prefix><path below directory>`
    /// with its CRC64-NVME, which S3 verifies. Unset: no archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_bucket: Option<String>,
    /// Key prefix of the archive: empty or a relative folder ending with `/`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub archive_prefix: String,
}

fn default_sftp_port() -> u16 {
    DEFAULT_SFTP_PORT
}

fn default_glob() -> String {
    "*".to_string()
}

impl SftpSource {
    /// Checks every key's shape; an error names the key
    /// (`host_key: ...`). The key material itself is checked where it is
    /// used (the jobs' SSH client).
    pub fn check(&self) -> Result<(), String> {
        if self.host.is_empty() || self.host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("host: {:?} must be a host name or address", self.host));
        }
        if self.port == 0 {
            return Err("port: must be in 1..=65535".to_string());
        }
        if self.user.is_empty() || self.user.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("user: {:?} must be a user name without spaces", self.user));
        }
        if !self.private_key_secret_arn.starts_with("arn:")
            || self.private_key_secret_arn.split(':').count() < 7
        {
            return Err(format!(
                "private_key_secret_arn: {:?} is not a Secrets Manager secret ARN",
                self.private_key_secret_arn
            ));
        }
        check_host_key(&self.host_key).map_err(|e| format!("host_key: {e}"))?;
        if !self.directory.starts_with('/') {
            return Err(format!("directory: {:?} must be an absolute path", self.directory));
        }
        if self.directory.chars().any(char::is_control) {
            return Err("directory: must not contain control characters".to_string());
        }
        if self.glob.is_empty() || self.glob.contains('/') || self.glob.chars().any(char::is_control) {
            return Err(format!("glob: {:?} must be a non-empty file name pattern without '/'", self.glob));
        }
        match &self.archive_bucket {
            Some(bucket) => check_bucket_name(bucket).map_err(|e| format!("archive_bucket: {e}"))?,
            None if !self.archive_prefix.is_empty() => {
                return Err("archive_prefix: applies only with archive_bucket".to_string());
            }
            None => {}
        }
        check_key_prefix(&self.archive_prefix).map_err(|e| format!("archive_prefix: {e}"))?;
        Ok(())
    }
}

/// An S3 bucket name as AWS allows it for new buckets: 3-63 lowercase
/// letters, digits, `-` and `.`, starting and ending with a letter or
/// digit, not an IP address.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let ok_chars =
        name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ends_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !(3..=63).contains(&name.len())
        || !ok_chars
        || !ends_ok(name.bytes().next())
        || !ends_ok(name.bytes().last())
        || name.contains("..")
        || name.parse::<std::net::Ipv4Addr>().is_ok()
    {
        return Err(format!(
            "{name:?} is not an S3 bucket name (3-63 lowercase letters, digits, '-' and '.', starting and ending \
             with a letter or digit)"
        ));
    }
    Ok(())
}

/// A key prefix is empty or a relative folder ending with `/` whose parts
/// are neither empty, `.` nor `..` (keys built from it stay below it).
pub fn check_key_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    let parts_ok = prefix.strip_suffix('/').is_some_and(|p| {
        p.split('/').all(|c| !matches!(c, "" | "." | "..")) && !p.chars().any(char::is_control)
    });
    if !parts_ok {
        return Err(format!(
            "{prefix:?} must be empty or a relative folder ending with '/' (e.g. \"raw/\"), without empty, '.' or \
             '..' parts"
        ));
    }
    Ok(())
}

/// Length of a SHA-256 digest in unpadded base64.
const SHA256_B64_LEN: usize = 43;

/// The shape of a pinned host key: `SHA256:` and 43 base64 characters, or
/// a `known_hosts` line (`[markers] hosts keytype base64 [comment]` or
/// just `keytype base64`). Trust on first use has no spelling here.
pub fn check_host_key(pin: &str) -> Result<(), String> {
    let pin = pin.trim();
    if let Some(digest) = pin.strip_prefix("SHA256:") {
        let digest = digest.trim_end_matches('=');
        if digest.len() != SHA256_B64_LEN || !digest.bytes().all(is_base64) {
            return Err(format!("{pin:?} is not a SHA256 fingerprint (SHA256: and 43 base64 characters)"));
        }
        return Ok(());
    }
    if known_hosts_key(pin).is_none() {
        return Err(format!(
            "{pin:?} is neither a known_hosts line (\"host ssh-ed25519 AAAA...\") nor a SHA256:... fingerprint \
             (`ssh-keyscan HOST` or `ssh-keygen -lf KEY.pub` print them); it is required, a server key is never \
             trusted on first use"
        ));
    }
    Ok(())
}

/// The (key type, base64 key) of a `known_hosts` line or of a bare
/// `keytype base64` public key; `None` when it is neither.
pub fn known_hosts_key(line: &str) -> Option<(&str, &str)> {
    let words: Vec<&str> = line.split_whitespace().filter(|w| !w.starts_with('@')).collect();
    let at = words.iter().position(|w| is_key_type(w))?;
    let key = words.get(at + 1)?;
    (key.len() > 16 && key.bytes().all(is_base64)).then_some((words[at], *key))
}

fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-") || word.starts_with("ecdsa-sha2-") || word.starts_with("sk-")
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// The record shape of the synthetic source (the jobs generate it, the
/// provider offers it as `synthetic_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyntheticFormat {
    /// Yelp-business-like JSON lines (`stars`, `review_count`, ...); the
    /// default.
    #[default]
    YelpJsonl,
    /// GHCN-Daily by-year CSV rows.
    GhcnCsv,
}

impl SyntheticFormat {
    /// Every format, the default first.
    pub const ALL: [SyntheticFormat; 2] = [SyntheticFormat::YelpJsonl, SyntheticFormat::GhcnCsv];

    /// The formats' names as written in configurations, in [`Self::ALL`]'s
    /// order.
    pub const NAMES: [&'static str; 2] = ["yelp-jsonl", "ghcn-csv"];

    /// The name as written in configurations.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The format of that name.
    pub fn from_name(name: &str) -> Option<SyntheticFormat> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// How items are spread over nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Contiguous runs of the sorted items, sizes differing by at most one.
    #[default]
    Count,
    /// Object sizes evened out (largest first onto the lightest node);
    /// synthetic ids all weigh the same, so this equals `count` there.
    Bytes,
}

impl Balance {
    fn is_default(&self) -> bool {
        *self == Balance::default()
    }
}

/// `egress`: where egress uploads a run's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Egress {
    /// The egress bucket.
    pub bucket: String,
    /// Key prefix; objects go to `<prefix>/<run_id>/<index>/<file>`.
    #[serde(default)]
    pub prefix: String,
    /// Files at least this large are uploaded with multipart upload (the
    /// jobs' default when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart_threshold_bytes: Option<u64>,
    /// Multipart part size (the jobs' default when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_size_bytes: Option<u64>,
}

/// `job_definitions`: each stage's job definition name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDefinitions {
    /// Procurement's.
    pub procurement: String,
    /// Processing's.
    pub processing: String,
    /// Egress's.
    pub egress: String,
}

impl JobDefinitions {
    /// Each stage's job definition, named by `name_of`.
    pub fn from_fn(name_of: impl Fn(Stage) -> String) -> Self {
        JobDefinitions {
            procurement: name_of(Stage::Procurement),
            processing: name_of(Stage::Processing),
            egress: name_of(Stage::Egress),
        }
    }

    /// The stage's job definition.
    pub fn get(&self, stage: Stage) -> &str {
        match stage {
            Stage::Procurement => &self.procurement,
            Stage::Processing => &self.processing,
            Stage::Egress => &self.egress,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_format_names_agree_with_serde() {
        for (i, format) in SyntheticFormat::ALL.into_iter().enumerate() {
            assert_eq!(format.as_str(), SyntheticFormat::NAMES[i]);
            assert_eq!(SyntheticFormat::from_name(SyntheticFormat::NAMES[i]), Some(format));
            let wire = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(format.as_str());
            assert_eq!(SyntheticFormat::deserialize(wire), Ok(format));
        }
        assert_eq!(SyntheticFormat::ALL[0], SyntheticFormat::default());
        assert_eq!(SyntheticFormat::from_name("csv"), None);
    }

    fn sftp() -> SftpSource {
        serde_json::from_value(serde_json::json!({
            "host": "sftp.example.com",
            "user": "feed",
            "private_key_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:feed-key-AbCdEf",
            "host_key": "sftp.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9a3kjS5bHcW1q0lJ4X9G6cxY5K3qzT0yq9m8FQ5c7P",
            "directory": "/outgoing",
        }))
        .expect("sftp source parses")
    }

    #[test]
    fn an_sftp_source_takes_defaults_and_refuses_unknown_keys() {
        let source = sftp();
        assert_eq!((source.port, source.glob.as_str(), source.recursive), (22, "*", false));
        assert_eq!(source.check(), Ok(()));
        let typo = serde_json::json!({"type": "sftp", "host": "h", "user": "u", "private_key_secret_arn": "a",
            "host_key": "k", "directory": "/", "recursve": true});
        let err = serde_json::from_value::<Source>(typo).unwrap_err().to_string();
        assert!(err.contains("recursve"), "{err}");
        let missing =
            serde_json::json!({"host": "h", "user": "u", "private_key_secret_arn": "a", "directory": "/"});
        let err = serde_json::from_value::<SftpSource>(missing).unwrap_err().to_string();
        assert!(err.contains("host_key"), "{err}");
    }

    #[test]
    fn sftp_checks_name_the_key() {
        type Change = fn(&mut SftpSource);
        let cases: [(Change, &str); 14] = [
            (|s| s.host = String::new(), "host: "),
            (|s| s.port = 0, "port: "),
            (|s| s.user = "a b".into(), "user: "),
            (|s| s.private_key_secret_arn = "feed-key".into(), "private_key_secret_arn: "),
            (|s| s.host_key = "trust-on-first-use".into(), "host_key: "),
            (|s| s.host_key = "SHA256:short".into(), "host_key: "),
            (|s| s.directory = "outgoing".into(), "directory: "),
            (|s| s.glob = "a/*.xml".into(), "glob: "),
            (|s| s.archive_prefix = "raw/".into(), "archive_prefix: applies only with archive_bucket"),
            (|s| s.archive_bucket = Some("Raw_Files".into()), "archive_bucket: "),
            (|s| s.archive_bucket = Some("192.168.0.1".into()), "archive_bucket: "),
            (
                |s| (s.archive_bucket, s.archive_prefix) = (Some("raw".into()), "raw".into()),
                "archive_prefix: ",
            ),
            (
                |s| (s.archive_bucket, s.archive_prefix) = (Some("raw".into()), "/raw/".into()),
                "archive_prefix: ",
            ),
            (
                |s| (s.archive_bucket, s.archive_prefix) = (Some("raw".into()), "a/../b/".into()),
                "archive_prefix: ",
            ),
        ];
        for (change, prefix) in cases {
            let mut source = sftp();
            change(&mut source);
            let err = source.check().unwrap_err();
            assert!(err.starts_with(prefix), "{err}");
        }
        let mut archived = sftp();
        (archived.archive_bucket, archived.archive_prefix) =
            (Some("feed-raw.example".into()), "sftp/raw/".into());
        assert_eq!(archived.check(), Ok(()));
        let json = serde_json::to_value(&archived).expect("serialises");
        assert_eq!(
            (json["archive_bucket"].as_str(), json["archive_prefix"].as_str()),
            (Some("feed-raw.example"), Some("sftp/raw/"))
        );
        assert!(
            serde_json::to_value(sftp()).expect("serialises").get("archive_bucket").is_none(),
            "unset stays out of run.json"
        );
        for pin in [
            "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9a3kjS5bHcW1q0lJ4X9G6cxY5K3qzT0yq9m8FQ5c7P comment",
            "[sftp.example.com]:2222 ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAI",
        ] {
            assert_eq!(check_host_key(pin), Ok(()), "{pin}");
        }
    }

    #[test]
    fn an_sqs_source_reads_with_its_defaults_and_refuses_unknown_keys() {
        let source: Source = serde_json::from_value(serde_json::json!({
            "type": "sqs", "queue_url": "https://sqs.eu-west-1.amazonaws.com/1/q", "bucket": "b", "prefix": "in/"
        }))
        .unwrap();
        let Source::Sqs(sqs) = source else { panic!("not sqs: {source:?}") };
        assert_eq!(sqs.max_messages, DEFAULT_MAX_MESSAGES);
        assert_eq!(sqs.visibility_timeout_seconds, DEFAULT_VISIBILITY_TIMEOUT_SECONDS);
        assert_eq!((sqs.prefix.as_str(), sqs.suffix.as_str()), ("in/", ""));
        let typo = serde_json::from_value::<SqsSource>(
            serde_json::json!({"queue_url": "u", "bucket": "b", "max_message": 5}),
        );
        assert!(typo.unwrap_err().to_string().contains("max_message"));
    }

    #[test]
    fn only_s3_and_sftp_sources_are_incremental_and_others_refuse_the_key() {
        let s3: Source =
            serde_json::from_value(serde_json::json!({"type": "s3", "bucket": "b", "incremental": true}))
                .unwrap();
        assert_eq!(s3.incremental(), Some(Incremental { claim_ttl_seconds: DEFAULT_CLAIM_TTL_SECONDS }));
        assert_eq!(s3.check_incremental(), Ok(()));
        // Off by default, and then left out of the JSON (existing
        // pipelines' run configurations stay byte for byte the same).
        let plain: Source = serde_json::from_value(serde_json::json!({"type": "s3", "bucket": "b"})).unwrap();
        assert_eq!(plain.incremental(), None);
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            serde_json::json!({"type": "s3", "bucket": "b", "prefix": "", "suffix": ""})
        );
        let mut sftp = sftp();
        sftp.incremental = true;
        sftp.claim_ttl_seconds = 0;
        let sftp = Source::Sftp(sftp);
        assert_eq!(sftp.incremental(), Some(Incremental { claim_ttl_seconds: 0 }));
        assert!(sftp.check_incremental().unwrap_err().starts_with("claim_ttl_seconds: 0"));
        for source in [
            serde_json::json!({"type": "synthetic", "count": 3, "incremental": true}),
            serde_json::json!({"type": "sqs", "queue_url": "u", "bucket": "b", "incremental": true}),
        ] {
            let err = serde_json::from_value::<Source>(source).unwrap_err().to_string();
            assert!(err.contains("incremental"), "{err}");
        }
    }

    #[test]
    fn retention_reads_checks_and_stays_out_when_unset() {
        let r: Retention = serde_json::from_value(serde_json::json!({"keep_runs": 5})).unwrap();
        assert_eq!((r.keep_runs, r.max_age_days), (Some(5), None));
        assert_eq!(r.check(), Ok(()));
        assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!({"keep_runs": 5}));
        let typo = serde_json::from_value::<Retention>(serde_json::json!({"keep_run": 5}));
        assert!(typo.unwrap_err().to_string().contains("keep_run"));
        let none = Retention { keep_runs: None, max_age_days: None };
        assert!(none.check().unwrap_err().starts_with("retention: "));
        let zero = Retention { keep_runs: Some(0), max_age_days: None };
        assert!(zero.check().unwrap_err().starts_with("retention.keep_runs: 0"));
        let old = Retention { keep_runs: None, max_age_days: Some(MAX_AGE_DAYS + 1) };
        assert!(old.check().unwrap_err().starts_with("retention.max_age_days: "));
    }

    #[test]
    fn job_definitions_follow_the_stages() {
        let defs = JobDefinitions::from_fn(|stage| format!("p-{stage}"));
        for stage in Stage::ALL {
            assert_eq!(defs.get(stage), format!("p-{stage}"));
        }
    }
}
