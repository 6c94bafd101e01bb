//! The `batch_pipeline` schema: each setting declared once, with its
//! default, its validators and whether changing it replaces the pipeline.
//! The protocol layer plans the defaults, runs the validators and works out
//! replacement from these declarations; spec.rs reads them back (defaults,
//! ranges) and keeps only the rules that relate settings to each other.
//! docs/resources/pipeline.md is the user-facing description (a test holds
//! the two in step).

pub mod rules;

use std::sync::LazyLock;

use crate::tfplugin::{Attribute, Block, NestedBlock, Nesting, Schema, Type, Validator, Value};

use rules::{
    BUCKET_NAME, DURATION, FILE_SYSTEM_ID, IMAGE, KEY_PREFIX, LOG_GROUP_NAME, MOUNT_PATH, PERMISSIONS,
    PIPELINE_NAME, QUEUE_URL, ROOT_DIRECTORY,
};

pub const STAGES: [&str; 3] = contract::STAGE_NAMES;

/// The synthetic record formats the jobs generate (the contract's
/// SyntheticFormat); the first is prep's default.
pub const SYNTHETIC_FORMATS: [&str; 2] = contract::run_config::SyntheticFormat::NAMES;

pub const COMPUTE_TYPES: [&str; 4] = ["FARGATE", "FARGATE_SPOT", "EC2", "SPOT"];

fn whole(min: i64, max: i64) -> Validator {
    Validator::whole_number(min, max)
}

/// A whole number whose diagnostic names it as `label`.
fn whole_labelled(min: i64, max: i64, label: &'static str) -> Validator {
    Validator::WholeNumber { min, max, label: Some(label) }
}

fn arn() -> Validator {
    Validator::Arn { service: None }
}

fn stage_block(stage: &str) -> NestedBlock {
    let retryable = i64::from(contract::retry::RETRYABLE_EXIT_CODE);
    let mut block = Block::new(&format!("The {stage} array job definition."))
        .attr(Attribute::required("image", Type::String, "Container image.").validate(Validator::Text(IMAGE)))
        .attr(Attribute::optional("vcpus", Type::Number, "vCPUs per node.").default(Value::int(1)))
        .attr(
            Attribute::optional("memory", Type::Number, "Memory per node in MiB.")
                .validate(whole_labelled(512, 1_048_576, "memory (MiB)"))
                .default(Value::int(2048)),
        )
        .attr(Attribute::optional("command", Type::list(Type::String), "Container command."))
        .attr(Attribute::optional("environment", Type::map(Type::String), "Extra environment variables."))
        .attr(
            Attribute::optional("retry_attempts", Type::Number, "Attempts per node, 1-10.")
                .validate(whole(1, 10))
                .default(Value::int(3)),
        )
        .attr(
            Attribute::optional(
                "retry_on_exit_codes",
                Type::set(Type::Number),
                "Exit codes that are retried.",
            )
            .default(Value::Set(vec![Value::int(retryable)])),
        )
        .attr(
            Attribute::optional("timeout_seconds", Type::Number, "Timeout per attempt, >= 60.")
                .validate(whole(60, 1_209_600))
                .default(Value::int(3600)),
        )
        .attr(
            Attribute::optional("execution_role_arn", Type::String, "ECS task execution role.")
                .validate(arn()),
        )
        .attr(Attribute::optional("job_role_arn", Type::String, "Role the job runs as.").validate(arn()))
        .attr(
            Attribute::optional(
                "log_group_name",
                Type::String,
                "CloudWatch Logs group the containers log to (the awslogs driver, stream prefix the stage's name); unset: AWS Batch's default, /aws/batch/job.",
            )
            .validate(Validator::Text(LOG_GROUP_NAME)),
        );
    if stage == "processing" {
        block = block.attr(Attribute::optional("transform", Type::String, "JSON transform spec."));
    }
    NestedBlock::new(stage, Nesting::List, block).items(1, 1)
}

fn compute_block() -> Block {
    Block::new("The managed compute environment.")
        .attr(
            Attribute::required("type", Type::String, "FARGATE, FARGATE_SPOT, EC2 or SPOT.")
                .validate(Validator::OneOf { allowed: &COMPUTE_TYPES, summary: Some("Invalid compute type") })
                .force_new(),
        )
        .attr(Attribute::required("max_vcpus", Type::Number, "Maximum vCPUs.").validate(whole(1, 100_000)))
        .attr(
            Attribute::optional("min_vcpus", Type::Number, "Minimum vCPUs (EC2/SPOT).")
                .validate(whole(0, 100_000)),
        )
        .attr(Attribute::required("subnet_ids", Type::set(Type::String), "Subnets of the jobs.").force_new())
        .attr(
            Attribute::required(
                "security_group_ids",
                Type::set(Type::String),
                "Security groups of the jobs.",
            )
            .force_new(),
        )
        .attr(
            Attribute::optional("instance_types", Type::set(Type::String), "Instance types (EC2/SPOT).")
                .force_new(),
        )
        .attr(
            Attribute::optional("instance_role", Type::String, "Instance profile ARN (EC2/SPOT).")
                .validate(arn())
                .force_new(),
        )
        // Which strategies are allowed depends on the type: spec.rs checks it.
        .attr(
            Attribute::optional("allocation_strategy", Type::String, "Allocation strategy (EC2/SPOT).")
                .force_new(),
        )
        .attr(
            Attribute::optional("bid_percentage", Type::Number, "Spot bid percentage (SPOT).")
                .validate(whole(1, 100))
                .force_new(),
        )
        // Computed too: left out, AWS Batch uses its service-linked role,
        // which an import reads back.
        .attr(
            Attribute::optional_computed("service_role_arn", Type::String, "Batch service role.")
                .validate(arn())
                .force_new(),
        )
}

fn queue_block() -> Block {
    Block::new("The job queues: procurement's, and a higher-priority one for processing and egress on the same compute environment.")
        .attr(
            Attribute::optional("priority", Type::Number, "Priority of the queue procurement is submitted to.")
                .validate(whole(0, 1000))
                .default(Value::int(1)),
        )
        .attr(
            Attribute::optional(
                "later_stages_priority",
                Type::Number,
                "Priority of the queue processing and egress are submitted to; greater than priority, so that AWS Batch gives a node whose dependency is met the next free vCPUs before procurement nodes not yet started.",
            )
            .validate(whole(0, 1000))
            .default(Value::int(1000)),
        )
        .attr(
            Attribute::optional("state", Type::String, "ENABLED or DISABLED (both queues).")
                .validate(Validator::one_of(&["ENABLED", "DISABLED"]))
                .default(Value::string("ENABLED")),
        )
}

fn efs_block() -> Block {
    let posix_id = |name: &str, description: &str| {
        Attribute::optional(name, Type::Number, description)
            .validate(whole(0, 4_294_967_295))
            .default(Value::int(1000))
            .force_new()
    };
    Block::new("The EFS file system and access point.")
        .attr(
            Attribute::optional_computed("file_system_id", Type::String, "Existing file system to use.")
                .validate(Validator::Text(FILE_SYSTEM_ID))
                .force_new(),
        )
        .attr(
            Attribute::optional("performance_mode", Type::String, "generalPurpose or maxIO.")
                .validate(Validator::one_of(&["generalPurpose", "maxIO"]))
                .default(Value::string("generalPurpose"))
                .force_new(),
        )
        .attr(
            Attribute::optional("throughput_mode", Type::String, "elastic, bursting or provisioned.")
                .validate(Validator::one_of(&["elastic", "bursting", "provisioned"]))
                .default(Value::string("elastic")),
        )
        .attr(Attribute::optional(
            "provisioned_throughput_mibps",
            Type::Number,
            "With provisioned throughput.",
        ))
        // Computed too: left out, EFS uses its AWS-managed key and the
        // mount targets the compute security groups; an import reads both.
        .attr(
            Attribute::optional_computed("kms_key_id", Type::String, "KMS key for encryption at rest.")
                .force_new(),
        )
        .attr(
            Attribute::optional_computed(
                "security_group_ids",
                Type::set(Type::String),
                "Mount target security groups.",
            )
            .force_new(),
        )
        .attr(
            Attribute::optional("root_directory", Type::String, "Access point root.")
                .validate(Validator::Text(ROOT_DIRECTORY))
                .default(Value::string("/pipeline"))
                .force_new(),
        )
        .attr(posix_id("posix_uid", "Owner uid."))
        .attr(posix_id("posix_gid", "Owner gid."))
        .attr(
            Attribute::optional("permissions", Type::String, "Octal mode of the root.")
                .validate(Validator::Text(PERMISSIONS))
                .default(Value::string("0750"))
                .force_new(),
        )
        .attr(
            Attribute::optional("mount_path", Type::String, "Container mount path.")
                .validate(Validator::Text(MOUNT_PATH))
                .default(Value::string("/mnt/efs")),
        )
        .attr(
            Attribute::optional(
                "transition_to_ia",
                Type::String,
                "Lifecycle policy of the pipeline's own file system: move files not read for this long to Infrequent Access (AFTER_1_DAY ... AFTER_365_DAYS); unset: none.",
            )
            .validate(Validator::one_of(&TRANSITION_TO_IA)),
        )
}

/// EFS's TransitionToIA values.
pub const TRANSITION_TO_IA: [&str; 9] = [
    "AFTER_1_DAY",
    "AFTER_7_DAYS",
    "AFTER_14_DAYS",
    "AFTER_30_DAYS",
    "AFTER_60_DAYS",
    "AFTER_90_DAYS",
    "AFTER_180_DAYS",
    "AFTER_270_DAYS",
    "AFTER_365_DAYS",
];

fn source_block() -> Block {
    Block::new("Where a run's work items come from.")
        .attr(Attribute::optional("s3_bucket", Type::String, "Bucket to list."))
        .attr(Attribute::optional("s3_prefix", Type::String, "Key prefix."))
        .attr(Attribute::optional("s3_suffix", Type::String, "Key suffix filter."))
        .attr(
            Attribute::optional(
                "sqs_queue_url",
                Type::String,
                "Take the work from this SQS queue of s3_bucket's event notifications instead of listing s3_bucket.",
            )
            .validate(Validator::Text(QUEUE_URL)),
        )
        // Not declared defaults: left out, the run configuration leaves
        // them to prep's (contract::run_config's DEFAULT_*), and a pipeline
        // without a queue plans no value for them.
        .attr(
            Attribute::optional("sqs_max_messages", Type::Number, "Most messages one run takes (default 1000).")
                .validate(whole(1, i64::from(contract::run_config::MAX_QUEUE_MESSAGES))),
        )
        .attr(
            Attribute::optional(
                "sqs_visibility_timeout_seconds",
                Type::Number,
                "How long a run's messages stay invisible to other runs (default 3600, at most 43200); longer than a run takes.",
            )
            .validate(whole(1, i64::from(contract::run_config::MAX_VISIBILITY_TIMEOUT_SECONDS))),
        )
        .attr(
            Attribute::optional("synthetic_count", Type::Number, "Generate this many ids.")
                .validate(whole(1, 100_000_000)),
        )
        // Checked here, on its own path, rather than by prep at run time: a
        // wrong format would otherwise fail every run. Not a declared
        // default: left out, the run configuration leaves it to prep.
        .attr(
            Attribute::optional(
                "synthetic_format",
                Type::String,
                "Record format of the generated data: yelp-jsonl (default; for jsonl_calc) or ghcn-csv (GHCN-Daily by_year rows; for csv_validate with the ghcn-daily rule set).",
            )
            .validate(Validator::one_of(&SYNTHETIC_FORMATS)),
        )
        // The SFTP source: its checks (contract::run_config::SftpSource::check)
        // run when the block is read, each naming its attribute.
        .attr(Attribute::optional("sftp_host", Type::String, "SFTP server host name or address."))
        .attr(
            Attribute::optional("sftp_port", Type::Number, "SFTP server port (22 when unset).")
                .validate(whole(1, 65_535)),
        )
        .attr(Attribute::optional("sftp_user", Type::String, "SFTP user name."))
        .attr(
            Attribute::optional(
                "sftp_private_key_secret_arn",
                Type::String,
                "Secrets Manager secret holding the user's private key (OpenSSH or PEM, unencrypted) as its string value.",
            )
            .validate(Validator::Arn { service: Some("secretsmanager") }),
        )
        .attr(Attribute::optional(
            "sftp_host_key",
            Type::String,
            "The server's host key: a known_hosts line (as ssh-keyscan prints it) or its SHA256:... fingerprint. Required with sftp_host: a server key is never trusted on first use.",
        ))
        .attr(Attribute::optional("sftp_directory", Type::String, "Absolute directory on the server to fetch files from."))
        .attr(Attribute::optional(
            "sftp_glob",
            Type::String,
            "File name pattern (*, ?, [...]) of the files to fetch (* when unset).",
        ))
        .attr(Attribute::optional(
            "sftp_recursive",
            Type::Bool,
            "Also fetch files in subdirectories, keeping their relative paths (false when unset).",
        ))
        .attr(Attribute::optional(
            "incremental",
            Type::Bool,
            "Process only inputs no earlier run finished (s3_bucket listings by bucket, key and ETag; sftp_host files by path, size and mtime), recorded in the egress bucket under <prefix>/_ledger/ (false when unset).",
        ))
        .attr(
            Attribute::optional(
                "claim_ttl_seconds",
                Type::Number,
                "With incremental: how long a run's claim on an input keeps other runs off it (default 4200); longer than a run may take.",
            )
            .validate(whole(1, i64::from(contract::run_config::MAX_CLAIM_TTL_SECONDS))),
        )
        .attr(
            Attribute::optional(
                "sftp_archive_bucket",
                Type::String,
                "Keep the raw files as fetched: procurement also uploads each one to this bucket, under sftp_archive_prefix and its path below sftp_directory, with its CRC64-NVME checksum, which S3 verifies. Unset: no archive.",
            )
            .validate(Validator::Text(BUCKET_NAME)),
        )
        .attr(Attribute::optional(
            "sftp_archive_prefix",
            Type::String,
            "Key prefix of the archive: empty or a relative folder ending with / (empty when unset).",
        ))
}

fn egress_bucket_block() -> Block {
    Block::new("The egress bucket.")
        .attr(
            Attribute::required("name", Type::String, "Bucket name.")
                .validate(Validator::Text(BUCKET_NAME))
                .force_new(),
        )
        .attr(Attribute::optional("create", Type::Bool, "Create it.").default(Value::Bool(true)).force_new())
        .attr(
            Attribute::optional("prefix", Type::String, "Key prefix of results.")
                .validate(Validator::Text(KEY_PREFIX))
                .default(Value::string("results")),
        )
}

/// Retention of run directories on EFS, applied by the state machine's
/// Summarize step (contract::run_config::Retention; docs/operations.md).
fn retention_block() -> Block {
    Block::new(
        "Old run directories (runs/<run_id>/ on EFS) the Summarize step removes after each run. Only runs that \
         ended (have a run summary) go, never the current or a running one; failed runs go only by age.",
    )
    .attr(
        Attribute::optional(
            "keep_runs",
            Type::Number,
            "Keep the directories of this many newest successful runs (the current one included).",
        )
        .validate(whole(1, i64::from(contract::run_config::MAX_KEEP_RUNS))),
    )
    .attr(
        Attribute::optional(
            "max_age_days",
            Type::Number,
            "Remove the directories of runs that ended more than this many days ago, failed runs included.",
        )
        .validate(whole(1, i64::from(contract::run_config::MAX_AGE_DAYS))),
    )
}

/// Operation timeouts. Their 30 minutes are not a declared default: they
/// are not computed, so the plan shows them null when left out.
fn timeouts_block() -> Block {
    let timeout = |name: &str| {
        Attribute::optional(name, Type::String, "Default 30m.").validate(Validator::Text(DURATION))
    };
    Block::new("Operation timeouts.").attr(timeout("create")).attr(timeout("update")).attr(timeout("delete"))
}

fn build() -> Schema {
    let mut block = Block::new("An AWS Batch N_TO_N array-job pipeline.")
        .attr(Attribute::computed("id", Type::String, "The pipeline name."))
        .attr(
            Attribute::required("name", Type::String, "Pipeline name.")
                .validate(Validator::Text(PIPELINE_NAME))
                .force_new(),
        )
        .attr(
            Attribute::optional("items_per_node", Type::Number, "Work items per node.")
                .validate(whole(1, 1_000_000))
                .default(Value::int(40)),
        )
        .attr(
            Attribute::optional("max_nodes", Type::Number, "Largest array size, 2-10000.")
                .validate(whole_labelled(2, 10_000, "max_nodes (the AWS Batch array size limit)"))
                .default(Value::int(10_000)),
        )
        .attr(
            Attribute::optional("force_destroy", Type::Bool, "Delete the file system and bucket on destroy.")
                .default(Value::Bool(false)),
        )
        .attr(
            Attribute::optional(
                "keep_old_revisions",
                Type::Bool,
                "Keep superseded job definition revisions.",
            )
            .default(Value::Bool(false)),
        )
        .attr(Attribute::optional("tags", Type::map(Type::String), "Tags."))
        .attr(Attribute::computed("tags_all", Type::map(Type::String), "Tags with the provider's defaults."))
        .attr(Attribute::computed("compute_environment_arn", Type::String, "Compute environment ARN."))
        .attr(Attribute::computed("ecs_cluster_arn", Type::String, "ECS cluster ARN."))
        .attr(Attribute::computed(
            "job_queue_arn",
            Type::String,
            "ARN of the queue procurement is submitted to.",
        ))
        .attr(Attribute::computed(
            "later_stages_job_queue_arn",
            Type::String,
            "ARN of the higher-priority queue processing and egress are submitted to.",
        ))
        .attr(Attribute::computed("file_system_arn", Type::String, "File system ARN."))
        .attr(Attribute::computed("access_point_id", Type::String, "Access point id."))
        .attr(Attribute::computed("access_point_arn", Type::String, "Access point ARN."))
        .attr(Attribute::computed("mount_target_ids", Type::list(Type::String), "Mount target ids."))
        .attr(Attribute::computed(
            "job_definition_arns",
            Type::map(Type::String),
            "Stage -> job definition ARN.",
        ))
        .attr(Attribute::computed("egress_bucket_arn", Type::String, "Egress bucket ARN."))
        .attr(Attribute::computed("run_config", Type::String, "JSON run configuration for the prep Lambda."))
        .block(NestedBlock::new("compute", Nesting::List, compute_block()).items(1, 1))
        .block(NestedBlock::new("queue", Nesting::List, queue_block()).items(0, 1))
        .block(NestedBlock::new("efs", Nesting::List, efs_block()).items(1, 1))
        .block(NestedBlock::new("source", Nesting::List, source_block()).items(1, 1))
        .block(NestedBlock::new("egress_bucket", Nesting::List, egress_bucket_block()).items(1, 1))
        .block(NestedBlock::new("retention", Nesting::List, retention_block()).items(0, 1))
        .block(NestedBlock::new("timeouts", Nesting::Single, timeouts_block()));
    for stage in STAGES {
        block = block.block(stage_block(stage));
    }
    Schema::new(0, block)
}

static DECLARATION: LazyLock<Schema> = LazyLock::new(build);

/// The declaration every reader of the settings shares.
pub fn declaration() -> &'static Schema {
    &DECLARATION
}

pub fn schema() -> Schema {
    DECLARATION.clone()
}

/// The declared default of `attribute` in the nested block `block` ("" for
/// the resource itself).
pub fn default_of(block: &str, attribute: &str) -> Option<Value> {
    let top = &declaration().block;
    let within = if block.is_empty() { Some(top) } else { top.nested(block).map(|b| &b.block) };
    within?.attribute(attribute)?.default.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::Presence;

    #[test]
    fn schema_follows_terraform_rules() {
        let problems = schema().block.check("batch_pipeline");
        assert!(problems.is_empty(), "{problems:#?}");
    }

    /// What Terraform saw before the defaults moved into the declaration.
    #[test]
    fn defaulted_settings_are_optional_and_computed_and_say_their_default() {
        let block = &declaration().block;
        let memory = block.nested("processing").unwrap().block.attribute("memory").unwrap();
        assert_eq!(memory.presence, Presence::OptionalComputed);
        assert_eq!(memory.full_description(), "Memory per node in MiB (default 2048).");
        let codes = block.nested("egress").unwrap().block.attribute("retry_on_exit_codes").unwrap();
        assert_eq!(codes.full_description(), "Exit codes that are retried (default [75]).");
        let max_nodes = block.attribute("max_nodes").unwrap();
        assert_eq!(max_nodes.full_description(), "Largest array size, 2-10000 (default 10000).");
        assert_eq!(default_of("efs", "root_directory"), Some(Value::string("/pipeline")));
        assert_eq!(default_of("", "force_destroy"), Some(Value::Bool(false)));
        assert_eq!(default_of("compute", "type"), None);
    }
}
