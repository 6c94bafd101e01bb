//! The run configuration the prep Lambda reads (its event's `config`): what
//! a run needs to know that only the pipeline's configuration says. Derived
//! from the configuration alone, so it is known at plan time.

use contract::Stage;
use contract::run_config::{
    Balance, DEFAULT_MAX_MESSAGES, DEFAULT_VISIBILITY_TIMEOUT_SECONDS, Egress, JobDefinitions,
    RUN_CONFIG_VERSION, RunConfig, S3Source, Source as RunSource, SqsSource, SyntheticFormat,
    SyntheticSource,
};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::names::Names;
use super::spec::{PipelineSpec, Source};

/// The configured transform, passed through unread: prep checks it.
type ConfiguredTransform = Option<Json>;

pub fn build(spec: &PipelineSpec) -> Json {
    let names = Names::new(&spec.name);
    let source = match &spec.source {
        Source::S3 { bucket, prefix, suffix, incremental, claim_ttl_seconds } => RunSource::S3(S3Source {
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            suffix: suffix.clone(),
            incremental: *incremental,
            claim_ttl_seconds: claim_ttl_seconds.unwrap_or(contract::run_config::DEFAULT_CLAIM_TTL_SECONDS),
        }),
        Source::Synthetic { count, format } => RunSource::Synthetic(SyntheticSource {
            count: *count,
            start: 0,
            // Only when set: an unset format keeps the run configuration
            // (and so prep's request fingerprint) of existing pipelines.
            // spec.rs lets only SyntheticFormat's names through.
            format: format.as_deref().and_then(SyntheticFormat::from_name),
            records_per_id: 1,
        }),
        Source::Sqs { queue_url, bucket, prefix, suffix, max_messages, visibility_timeout_seconds } => {
            RunSource::Sqs(SqsSource {
                queue_url: queue_url.clone(),
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                suffix: suffix.clone(),
                max_messages: max_messages.unwrap_or(DEFAULT_MAX_MESSAGES),
                visibility_timeout_seconds: visibility_timeout_seconds
                    .unwrap_or(DEFAULT_VISIBILITY_TIMEOUT_SECONDS),
            })
        }
        Source::Sftp(sftp) => RunSource::Sftp(sftp.clone()),
    };
    let config: RunConfig<ConfiguredTransform> = RunConfig {
        version: RUN_CONFIG_VERSION,
        pipeline: Some(spec.name.clone()),
        efs_mount_path: spec.efs.mount_path.clone(),
        stages: Stage::ALL.to_vec(),
        source,
        items_per_node: spec.items_per_node,
        max_nodes: spec.max_nodes,
        balance: Balance::default(),
        transform: spec.stage("processing").and_then(|s| s.transform.clone()),
        egress: Some(Egress {
            bucket: spec.egress_bucket.name.clone(),
            prefix: spec.egress_bucket.prefix.clone(),
            multipart_threshold_bytes: None,
            part_size_bytes: None,
        }),
        s3_concurrency: None,
        job_definitions: Some(JobDefinitions::from_fn(|stage| names.job_definition(stage.as_str()))),
        job_queue: Some(names.job_queue()),
        retention: spec.retention,
    };
    // Through a JSON value, whose objects keep their keys sorted: the
    // attribute's text is the same as when it was written key by key.
    to_json(&config)
}

/// `value` as JSON. Only maps with non-string keys fail to serialise, and
/// these types have none.
fn to_json(value: &impl serde::Serialize) -> Json {
    serde_json::to_value(value).expect("string-keyed types serialise to JSON")
}

/// The settings only this provider knows (not visible in any AWS object),
/// kept with the procurement job definition so import can restore them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub source: SettingsSource,
    pub items_per_node: u32,
    pub max_nodes: u32,
    /// `null` when unset, as the run configuration's.
    pub transform: ConfiguredTransform,
    pub egress_bucket: SettingsEgressBucket,
}

/// `source` of [`Settings`]: the `source` block's attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettingsSource {
    /// First: untagged variants are tried in order, and this one's keys
    /// are a superset of `S3`'s.
    Sqs {
        sqs_queue_url: String,
        s3_bucket: String,
        s3_prefix: String,
        s3_suffix: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sqs_max_messages: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sqs_visibility_timeout_seconds: Option<u32>,
    },
    S3 {
        s3_bucket: String,
        s3_prefix: String,
        s3_suffix: String,
        #[serde(default, skip_serializing_if = "is_false")]
        incremental: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claim_ttl_seconds: Option<u32>,
    },
    Synthetic {
        synthetic_count: u64,
        /// Absent when unset, like in the run configuration: the stored
        /// settings of existing pipelines stay byte for byte the same.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        synthetic_format: Option<SyntheticFormat>,
    },
    Sftp {
        sftp_host: String,
        sftp_port: u16,
        sftp_user: String,
        sftp_private_key_secret_arn: String,
        sftp_host_key: String,
        sftp_directory: String,
        sftp_glob: String,
        sftp_recursive: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        incremental: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claim_ttl_seconds: Option<u32>,
        /// Absent when unset: the stored settings of pipelines without an
        /// archive stay byte for byte the same.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sftp_archive_bucket: Option<String>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        sftp_archive_prefix: String,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `egress_bucket` of [`Settings`]: the `egress_bucket` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsEgressBucket {
    pub name: String,
    pub create: bool,
    pub prefix: String,
}

pub fn settings(spec: &PipelineSpec) -> Json {
    let source = match &spec.source {
        Source::S3 { bucket, prefix, suffix, incremental, claim_ttl_seconds } => SettingsSource::S3 {
            s3_bucket: bucket.clone(),
            s3_prefix: prefix.clone(),
            s3_suffix: suffix.clone(),
            incremental: *incremental,
            claim_ttl_seconds: *claim_ttl_seconds,
        },
        Source::Synthetic { count, format } => SettingsSource::Synthetic {
            synthetic_count: *count,
            synthetic_format: format.as_deref().and_then(SyntheticFormat::from_name),
        },
        Source::Sqs { queue_url, bucket, prefix, suffix, max_messages, visibility_timeout_seconds } => {
            SettingsSource::Sqs {
                sqs_queue_url: queue_url.clone(),
                s3_bucket: bucket.clone(),
                s3_prefix: prefix.clone(),
                s3_suffix: suffix.clone(),
                sqs_max_messages: *max_messages,
                sqs_visibility_timeout_seconds: *visibility_timeout_seconds,
            }
        }
        Source::Sftp(sftp) => SettingsSource::Sftp {
            sftp_host: sftp.host.clone(),
            sftp_port: sftp.port,
            sftp_user: sftp.user.clone(),
            sftp_private_key_secret_arn: sftp.private_key_secret_arn.clone(),
            sftp_host_key: sftp.host_key.clone(),
            sftp_directory: sftp.directory.clone(),
            sftp_glob: sftp.glob.clone(),
            sftp_recursive: sftp.recursive,
            incremental: sftp.incremental,
            claim_ttl_seconds: (sftp.claim_ttl_seconds != contract::run_config::DEFAULT_CLAIM_TTL_SECONDS)
                .then_some(sftp.claim_ttl_seconds),
            sftp_archive_bucket: sftp.archive_bucket.clone(),
            sftp_archive_prefix: sftp.archive_prefix.clone(),
        },
    };
    to_json(&Settings {
        source,
        items_per_node: spec.items_per_node,
        max_nodes: spec.max_nodes,
        transform: spec.stage("processing").and_then(|s| s.transform.clone()),
        egress_bucket: SettingsEgressBucket {
            name: spec.egress_bucket.name.clone(),
            create: spec.egress_bucket.create,
            prefix: spec.egress_bucket.prefix.clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::tfplugin::Value;

    /// `build` as it was written before the run configuration was typed:
    /// the oracle the typed one must equal byte for byte.
    fn build_by_hand(spec: &PipelineSpec) -> Json {
        let names = Names::new(&spec.name);
        let mut source = match &spec.source {
            Source::S3 { bucket, prefix, suffix, .. } => {
                json!({ "type": "s3", "bucket": bucket, "prefix": prefix, "suffix": suffix })
            }
            Source::Synthetic { count, format } => {
                let mut source = json!({ "type": "synthetic", "count": count });
                if let Some(format) = format {
                    source["format"] = json!(format);
                }
                source
            }
            Source::Sqs { queue_url, bucket, prefix, suffix, max_messages, visibility_timeout_seconds } => {
                json!({
                    "type": "sqs", "queue_url": queue_url, "bucket": bucket, "prefix": prefix, "suffix": suffix,
                    "max_messages": max_messages.unwrap_or(1000),
                    "visibility_timeout_seconds": visibility_timeout_seconds.unwrap_or(3600),
                })
            }
            Source::Sftp(s) => {
                let mut source = json!({
                    "type": "sftp", "host": s.host, "port": s.port, "user": s.user,
                    "private_key_secret_arn": s.private_key_secret_arn, "host_key": s.host_key,
                    "directory": s.directory, "glob": s.glob, "recursive": s.recursive,
                });
                if let Some(bucket) = &s.archive_bucket {
                    source["archive_bucket"] = json!(bucket);
                }
                if !s.archive_prefix.is_empty() {
                    source["archive_prefix"] = json!(s.archive_prefix);
                }
                source
            }
        };
        // Incremental keys only when set, so other pipelines' JSON is unchanged.
        let (incremental, ttl) = incremental_of(&spec.source);
        if incremental {
            source["incremental"] = json!(true);
            if let Some(ttl) = ttl {
                source["claim_ttl_seconds"] = json!(ttl);
            }
        }
        json!({
            "version": 1,
            "pipeline": spec.name,
            "efs_mount_path": spec.efs.mount_path,
            "source": source,
            "items_per_node": spec.items_per_node,
            "max_nodes": spec.max_nodes,
            "transform": spec.stage("processing").and_then(|s| s.transform.clone()),
            "egress": { "bucket": spec.egress_bucket.name, "prefix": spec.egress_bucket.prefix },
            "job_definitions": {
                "procurement": names.job_definition("procurement"),
                "processing": names.job_definition("processing"),
                "egress": names.job_definition("egress"),
            },
            "job_queue": names.job_queue(),
        })
    }

    /// A source's `incremental` and its claim TTL when not the default.
    fn incremental_of(source: &Source) -> (bool, Option<u32>) {
        match source {
            Source::S3 { incremental, claim_ttl_seconds, .. } => (*incremental, *claim_ttl_seconds),
            Source::Sftp(s) => (
                s.incremental,
                (s.claim_ttl_seconds != contract::run_config::DEFAULT_CLAIM_TTL_SECONDS)
                    .then_some(s.claim_ttl_seconds),
            ),
            _ => (false, None),
        }
    }

    /// `settings` as it was written before it was typed.
    fn settings_by_hand(spec: &PipelineSpec) -> Json {
        let mut source = match &spec.source {
            Source::S3 { bucket, prefix, suffix, .. } => {
                json!({ "s3_bucket": bucket, "s3_prefix": prefix, "s3_suffix": suffix })
            }
            Source::Synthetic { count, format } => {
                let mut source = json!({ "synthetic_count": count });
                if let Some(format) = format {
                    source["synthetic_format"] = json!(format);
                }
                source
            }
            Source::Sqs { queue_url, bucket, prefix, suffix, max_messages, visibility_timeout_seconds } => {
                let mut source = json!({
                    "sqs_queue_url": queue_url, "s3_bucket": bucket, "s3_prefix": prefix, "s3_suffix": suffix
                });
                if let Some(n) = max_messages {
                    source["sqs_max_messages"] = json!(n);
                }
                if let Some(n) = visibility_timeout_seconds {
                    source["sqs_visibility_timeout_seconds"] = json!(n);
                }
                source
            }
            Source::Sftp(s) => {
                let mut source = json!({
                    "sftp_host": s.host, "sftp_port": s.port, "sftp_user": s.user,
                    "sftp_private_key_secret_arn": s.private_key_secret_arn, "sftp_host_key": s.host_key,
                    "sftp_directory": s.directory, "sftp_glob": s.glob, "sftp_recursive": s.recursive,
                });
                if let Some(bucket) = &s.archive_bucket {
                    source["sftp_archive_bucket"] = json!(bucket);
                }
                if !s.archive_prefix.is_empty() {
                    source["sftp_archive_prefix"] = json!(s.archive_prefix);
                }
                source
            }
        };
        let (incremental, ttl) = incremental_of(&spec.source);
        if incremental {
            source["incremental"] = json!(true);
        }
        if let Some(ttl) = ttl {
            source["claim_ttl_seconds"] = json!(ttl);
        }
        json!({
            "source": source,
            "items_per_node": spec.items_per_node,
            "max_nodes": spec.max_nodes,
            "transform": spec.stage("processing").and_then(|s| s.transform.clone()),
            "egress_bucket": { "name": spec.egress_bucket.name, "create": spec.egress_bucket.create, "prefix": spec.egress_bucket.prefix },
        })
    }

    fn block(attrs: Vec<(&str, Value)>) -> Value {
        Value::List(vec![Value::object(attrs)])
    }

    fn stage() -> Value {
        block(vec![
            ("image", Value::string("registry.local/jobs:v1")),
            ("execution_role_arn", Value::string("arn:aws:iam::123456789012:role/exec")),
            (
                "transform",
                Value::string(r#"{"rules":{"builtin":"ghcn-daily"},"kind":"csv_validate","n":1.50}"#),
            ),
        ])
    }

    fn parsed() -> PipelineSpec {
        let config = Value::object([
            ("name", Value::string("ghcn-daily")),
            (
                "compute",
                block(vec![
                    ("type", Value::string("FARGATE")),
                    ("max_vcpus", Value::int(16)),
                    ("subnet_ids", Value::Set(vec![Value::string("subnet-1")])),
                    ("security_group_ids", Value::Set(vec![Value::string("sg-1")])),
                ]),
            ),
            ("efs", block(vec![])),
            ("source", block(vec![("synthetic_count", Value::int(10))])),
            ("egress_bucket", block(vec![("name", Value::string("results-bucket"))])),
            ("procurement", stage()),
            ("processing", stage()),
            ("egress", stage()),
        ]);
        let (spec, diags) = PipelineSpec::parse(&config);
        assert!(diags.0.is_empty(), "{diags:?}");
        spec.expect("the configuration parses")
    }

    /// Every kind of source, with and without a transform and optional
    /// parts, large numbers and an egress prefix.
    fn specs() -> Vec<PipelineSpec> {
        let base = parsed();
        let with = |change: &dyn Fn(&mut PipelineSpec)| {
            let mut spec = base.clone();
            change(&mut spec);
            spec
        };
        let no_transform = |spec: &mut PipelineSpec| {
            for stage in &mut spec.stages {
                stage.transform = None;
            }
        };
        let s3 = Source::S3 {
            bucket: "in".into(),
            prefix: "noaa/".into(),
            suffix: ".csv".into(),
            incremental: false,
            claim_ttl_seconds: None,
        };
        vec![
            base.clone(),
            with(&no_transform),
            with(&|spec| spec.source = s3.clone()),
            with(&|spec| {
                spec.source = Source::S3 {
                    bucket: "in".into(),
                    prefix: String::new(),
                    suffix: String::new(),
                    incremental: false,
                    claim_ttl_seconds: None,
                };
                no_transform(spec);
            }),
            with(&|spec| {
                spec.source = Source::Synthetic { count: 100_000_000, format: Some("ghcn-csv".into()) }
            }),
            with(&|spec| spec.source = Source::Synthetic { count: 1, format: Some("yelp-jsonl".into()) }),
            with(&|spec| {
                spec.source = Source::Synthetic { count: 7, format: None };
                spec.items_per_node = 1_000_000;
                spec.max_nodes = 2;
                spec.egress_bucket.prefix = "out/daily".into();
                spec.egress_bucket.create = true;
                spec.efs.mount_path = "/mnt/data".into();
            }),
            with(&|spec| {
                spec.source = Source::Sqs {
                    queue_url: "https://sqs.us-east-1.amazonaws.com/1/q".into(),
                    bucket: "in".into(),
                    prefix: "images/".into(),
                    suffix: ".jpg".into(),
                    max_messages: None,
                    visibility_timeout_seconds: None,
                }
            }),
            with(&|spec| {
                spec.source = Source::Sqs {
                    queue_url: "https://sqs.us-east-1.amazonaws.com/1/q".into(),
                    bucket: "in".into(),
                    prefix: String::new(),
                    suffix: String::new(),
                    max_messages: Some(100_000),
                    visibility_timeout_seconds: Some(43_200),
                }
            }),
            with(&|spec| {
                spec.source = Source::Sftp(contract::run_config::SftpSource {
                    host: "sftp.example.com".into(),
                    port: 2222,
                    user: "feed".into(),
                    private_key_secret_arn: "arn:aws:secretsmanager:eu-west-1:1:secret:k".into(),
                    host_key: "SHA256:cxZN8pLShoGrYWTZkBNJJKG1tcFq6PcAE0u31NR6kmw".into(),
                    directory: "/outgoing".into(),
                    glob: "*.xml".into(),
                    recursive: true,
                    incremental: false,
                    claim_ttl_seconds: contract::run_config::DEFAULT_CLAIM_TTL_SECONDS,
                    archive_bucket: None,
                    archive_prefix: String::new(),
                })
            }),
            with(&|spec| {
                spec.source = Source::S3 {
                    bucket: "in".into(),
                    prefix: "noaa/".into(),
                    suffix: ".csv".into(),
                    incremental: true,
                    claim_ttl_seconds: Some(7_200),
                }
            }),
            with(&|spec| {
                spec.source = Source::Sftp(contract::run_config::SftpSource {
                    host: "10.0.0.5".into(),
                    port: 22,
                    user: "feed".into(),
                    private_key_secret_arn: "arn:aws:secretsmanager:eu-west-1:1:secret:k".into(),
                    host_key: "SHA256:cxZN8pLShoGrYWTZkBNJJKG1tcFq6PcAE0u31NR6kmw".into(),
                    directory: "/outgoing".into(),
                    glob: "*".into(),
                    recursive: false,
                    incremental: true,
                    claim_ttl_seconds: contract::run_config::DEFAULT_CLAIM_TTL_SECONDS,
                    archive_bucket: Some("feed-raw".into()),
                    archive_prefix: "sftp/".into(),
                })
            }),
        ]
    }

    #[test]
    fn the_run_configuration_is_written_as_before() {
        for spec in specs() {
            let typed = build(&spec).to_string();
            assert_eq!(typed, build_by_hand(&spec).to_string());
            // And prep reads back what the provider wrote.
            let read: RunConfig<ConfiguredTransform> = serde_json::from_str(&typed).expect("reads back");
            assert_eq!(to_json(&read).to_string(), typed);
        }
    }

    #[test]
    fn the_stored_settings_are_written_as_before() {
        for spec in specs() {
            let typed = settings(&spec).to_string();
            assert_eq!(typed, settings_by_hand(&spec).to_string());
            let read: Settings = serde_json::from_str(&typed).expect("reads back");
            assert_eq!(to_json(&read).to_string(), typed);
        }
    }

    /// What these configurations write, spelled out: the comparison above
    /// is only as good as its oracle.
    #[test]
    fn a_synthetic_run_configuration_spelled_out() {
        let spec = specs().swap_remove(4);
        let want = concat!(
            r#"{"efs_mount_path":"/mnt/efs","egress":{"bucket":"results-bucket","prefix":"results"},"#,
            r#""items_per_node":40,"job_definitions":{"egress":"ghcn-daily-egress","#,
            r#""processing":"ghcn-daily-processing","procurement":"ghcn-daily-procurement"},"#,
            r#""job_queue":"ghcn-daily-queue","max_nodes":10000,"pipeline":"ghcn-daily","#,
            r#""source":{"count":100000000,"format":"ghcn-csv","type":"synthetic"},"#,
            r#""transform":{"kind":"csv_validate","n":1.50,"rules":{"builtin":"ghcn-daily"}},"version":1}"#,
        );
        assert_eq!(build(&spec).to_string(), want);
    }
}
