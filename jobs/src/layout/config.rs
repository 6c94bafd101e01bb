//! `runs/<run_id>/run.json`: the immutable snapshot of one run's config,
//! written once by the prep Lambda and read by every job.

use serde::{Deserialize, Serialize};

use crate::exit::{JobError, JobResult};
use crate::safe_path::{SafeRelPath, check_run_id};
use crate::transform::TransformSpec;

/// The most S3 requests a node keeps in flight (`s3_concurrency`).
pub const MAX_S3_CONCURRENCY: u32 = 64;

/// The version of the run layout this crate reads and writes. A job refuses
/// (exit 78) a `run.json` with any other version; additive, optional fields
/// do not bump it, anything a reader would misinterpret does.
pub const LAYOUT_VERSION: u32 = 2;

/// AWS Batch's largest array size (the pipeline's contract).
pub use contract::run_config::MAX_ARRAY_SIZE;

/// One of the three pipeline stages, in run order (the pipeline's
/// contract: every part names them alike).
pub use contract::Stage;

/// Where procurement gets a node's input from. What a node slice item means
/// depends on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceSpec {
    /// Slice items are S3 object keys in `bucket`; each is downloaded to
    /// `data/<key without prefix>` (a path checked by [`SafeRelPath`]).
    S3 {
        /// Source bucket.
        bucket: String,
        /// Key prefix stripped from keys to name the local file ("" = none).
        #[serde(default)]
        prefix: String,
    },
    /// Slice items (or the slice's id range) are record ids; procurement
    /// generates deterministic records for them (the reference design's
    /// synthetic data) into `data/synthetic.<ext>`.
    Synthetic {
        /// What records look like.
        format: SyntheticFormat,
        /// Records generated per id.
        #[serde(default = "default_records_per_id")]
        records_per_id: u32,
    },
    /// Slice files (`NodeSlice::files`) are paths below `directory` on an
    /// SFTP server, with the size and mtime prep listed; each is
    /// downloaded to `data/<path>` and must still have that size and mtime.
    Sftp(SftpSource),
}

/// The SFTP server, credentials and directory (the run configuration's
/// `source` of type `sftp`, as is).
pub use contract::run_config::SftpSource;

fn default_records_per_id() -> u32 {
    1
}

/// The record shape of the synthetic source (the pipeline's contract: the
/// provider offers the same names).
pub use contract::run_config::SyntheticFormat;

/// Where egress puts a node's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EgressSpec {
    /// The egress bucket.
    pub bucket: String,
    /// Key prefix; objects go to `<prefix>/<run_id>/<index>/<file>`.
    #[serde(default)]
    pub prefix: String,
    /// Files at least this large are uploaded with multipart upload.
    #[serde(default = "default_multipart_threshold")]
    pub multipart_threshold_bytes: u64,
    /// Multipart part size (S3 minimum 5 MiB).
    #[serde(default = "default_part_size")]
    pub part_size_bytes: u64,
}

impl From<contract::run_config::Egress> for EgressSpec {
    /// The run configuration's egress, the part sizes it leaves unset at
    /// their defaults.
    fn from(egress: contract::run_config::Egress) -> Self {
        EgressSpec {
            bucket: egress.bucket,
            prefix: egress.prefix,
            multipart_threshold_bytes: egress
                .multipart_threshold_bytes
                .unwrap_or_else(default_multipart_threshold),
            part_size_bytes: egress.part_size_bytes.unwrap_or_else(default_part_size),
        }
    }
}

/// Files at least this large go in parts (egress's default, also the SFTP
/// archive's).
pub fn default_multipart_threshold() -> u64 {
    16 << 20
}

/// Multipart part size (egress's default, also the SFTP archive's).
pub fn default_part_size() -> u64 {
    8 << 20
}

/// The content of `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Always [`LAYOUT_VERSION`] when written by this crate.
    pub layout_version: u32,
    /// The run id (also the directory name under `runs/`).
    pub run_id: String,
    /// When prep created the run, RFC 3339 UTC (see [`now_rfc3339`]).
    pub created_at: String,
    /// Number of array nodes (1..=10000); node indices are `0..array_size`.
    pub array_size: u32,
    /// The stages this run executes, in order.
    pub stages: Vec<Stage>,
    /// Where the input comes from.
    pub source: SourceSpec,
    /// What processing does.
    pub transform: TransformSpec,
    /// Where egress uploads (required when `stages` contains egress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<EgressSpec>,
    /// Stage tuning: parallel S3 transfers per node.
    #[serde(default = "default_concurrency")]
    pub s3_concurrency: u32,
}

fn default_concurrency() -> u32 {
    4
}

impl RunConfig {
    /// A config for `run_id` with the current time, the three stages and
    /// the default concurrency.
    pub fn new(
        run_id: &str,
        array_size: u32,
        source: SourceSpec,
        transform: TransformSpec,
        egress: Option<EgressSpec>,
    ) -> Self {
        RunConfig {
            layout_version: LAYOUT_VERSION,
            run_id: run_id.to_string(),
            created_at: now_rfc3339(),
            array_size,
            stages: Stage::ALL.to_vec(),
            source,
            transform,
            egress,
            s3_concurrency: default_concurrency(),
        }
    }

    /// Checks everything a job relies on; errors name the field.
    pub fn validate(&self) -> JobResult<()> {
        if self.layout_version != LAYOUT_VERSION {
            return Err(JobError::config(format!(
                "run.json layout_version {} is not supported (this build reads {LAYOUT_VERSION})",
                self.layout_version
            )));
        }
        check_run_id(&self.run_id)?;
        if self.array_size == 0 || self.array_size > MAX_ARRAY_SIZE {
            return Err(JobError::config(format!(
                "array_size {} must be in 1..={MAX_ARRAY_SIZE}",
                self.array_size
            )));
        }
        if self.stages.is_empty() {
            return Err(JobError::config("stages must not be empty"));
        }
        if self.s3_concurrency == 0 || self.s3_concurrency > MAX_S3_CONCURRENCY {
            return Err(JobError::config(format!("s3_concurrency must be in 1..={MAX_S3_CONCURRENCY}")));
        }
        if let SourceSpec::S3 { bucket, prefix } = &self.source {
            if bucket.is_empty() {
                return Err(JobError::config("source.bucket must not be empty"));
            }
            if !prefix.is_empty() && !prefix.ends_with('/') {
                return Err(JobError::config(format!(
                    "source.prefix {prefix:?} must be empty or end with '/'"
                )));
            }
        }
        if let SourceSpec::Sftp(sftp) = &self.source {
            sftp.check().map_err(|e| JobError::config(format!("source.{e}")))?;
        }
        if let Some(egress) = &self.egress {
            if egress.bucket.is_empty() {
                return Err(JobError::config("egress.bucket must not be empty"));
            }
            if !egress.prefix.is_empty() {
                // A setting, not data: a bad one is a config error (78).
                SafeRelPath::new("egress.prefix", egress.prefix.trim_end_matches('/'))
                    .map_err(|e| JobError::config(e.to_string()))?;
            }
            if egress.part_size_bytes < 5 << 20 {
                return Err(JobError::config("egress.part_size_bytes must be at least 5 MiB"));
            }
        } else if self.stages.contains(&Stage::Egress) {
            return Err(JobError::config("egress is required when stages include egress"));
        }
        self.transform.validate()?;
        Ok(())
    }

    /// Equal apart from `created_at` (a retried prep writes a new timestamp
    /// for the same run; the first one stays).
    pub fn same_run_as(&self, other: &RunConfig) -> bool {
        let mut a = self.clone();
        a.created_at.clone_from(&other.created_at);
        &a == other
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    rfc3339_from_unix(secs)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian).
pub fn rfc3339_from_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem / 60) % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    /// The provider writes only bucket and prefix: the part sizes are the
    /// same as run.json's defaults for an egress without them.
    #[test]
    fn a_run_configuration_egress_takes_the_defaults_it_leaves_out() {
        let configured = contract::run_config::Egress {
            bucket: "out".into(),
            prefix: "results".into(),
            multipart_threshold_bytes: None,
            part_size_bytes: None,
        };
        let from_run_json: EgressSpec =
            serde_json::from_str(r#"{"bucket": "out", "prefix": "results"}"#).expect("egress parses");
        assert_eq!(EgressSpec::from(configured.clone()), from_run_json);
        let tuned = contract::run_config::Egress { part_size_bytes: Some(6 << 20), ..configured };
        assert_eq!(EgressSpec::from(tuned).part_size_bytes, 6 << 20);
    }
}
