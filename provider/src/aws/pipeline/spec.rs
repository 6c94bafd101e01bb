//! The `batch_pipeline` configuration, read from a Terraform value into
//! typed form and checked. The defaults and the checks of one value alone
//! are the schema's declarations (schema.rs); the rules here relate
//! settings to each other (Fargate sizes, EC2-only settings, one source,
//! exit codes, the transform's JSON). Every problem is a diagnostic on the
//! attribute that causes it; values not known yet are skipped (checked
//! again at apply).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::tfplugin::validate::check_values;
use crate::tfplugin::{AttributePath, Diagnostics, Findings, SettingsReader, Value};

use super::schema::SYNTHETIC_FORMATS;
use super::schema::rules::parse_duration;
use super::schema::{STAGES, declaration};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputeType {
    Fargate,
    FargateSpot,
    Ec2,
    Spot,
}

impl ComputeType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "FARGATE" => Some(Self::Fargate),
            "FARGATE_SPOT" => Some(Self::FargateSpot),
            "EC2" => Some(Self::Ec2),
            "SPOT" => Some(Self::Spot),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fargate => "FARGATE",
            Self::FargateSpot => "FARGATE_SPOT",
            Self::Ec2 => "EC2",
            Self::Spot => "SPOT",
        }
    }
    pub fn is_fargate(self) -> bool {
        matches!(self, Self::Fargate | Self::FargateSpot)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Compute {
    pub kind: ComputeType,
    pub max_vcpus: i32,
    pub min_vcpus: i32,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub instance_types: Vec<String>,
    pub instance_role: Option<String>,
    pub allocation_strategy: Option<String>,
    pub bid_percentage: Option<i32>,
    pub service_role_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    /// The procurement queue's priority.
    pub priority: i32,
    /// The later-stages queue's priority, above `priority`.
    pub later_stages_priority: i32,
    /// Both queues' state.
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Efs {
    pub existing_file_system_id: Option<String>,
    pub performance_mode: String,
    pub throughput_mode: String,
    pub provisioned_throughput_mibps: Option<f64>,
    pub kms_key_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub root_directory: String,
    pub posix_uid: i64,
    pub posix_gid: i64,
    pub permissions: String,
    pub mount_path: String,
    /// Lifecycle policy of the pipeline's own file system; `None`: none.
    pub transition_to_ia: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: &'static str,
    pub image: String,
    pub vcpus: f64,
    pub memory: i64,
    pub command: Vec<String>,
    pub environment: BTreeMap<String, String>,
    pub retry_attempts: i32,
    pub retry_on_exit_codes: Vec<i64>,
    pub timeout_seconds: i32,
    pub execution_role_arn: Option<String>,
    pub job_role_arn: Option<String>,
    /// awslogs group; `None`: AWS Batch's default.
    pub log_group_name: Option<String>,
    pub transform: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    S3 {
        bucket: String,
        prefix: String,
        suffix: String,
        /// `incremental`, and its `claim_ttl_seconds` (`None`: prep's default).
        incremental: bool,
        claim_ttl_seconds: Option<u32>,
    },
    /// `format`: the record format procurement generates (`yelp-jsonl`,
    /// `ghcn-csv`); `None` leaves it to prep's default (`yelp-jsonl`).
    Synthetic { count: u64, format: Option<String> },
    /// The event notifications of `bucket` on an SQS queue; `None` leaves
    /// a setting to prep's default.
    Sqs {
        queue_url: String,
        bucket: String,
        prefix: String,
        suffix: String,
        max_messages: Option<u32>,
        visibility_timeout_seconds: Option<u32>,
    },
    /// Files in a directory of an SFTP server (the run configuration's
    /// source as is).
    Sftp(contract::run_config::SftpSource),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EgressBucket {
    pub name: String,
    pub create: bool,
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Timeouts {
    pub create: Duration,
    pub update: Duration,
    pub delete: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    pub name: String,
    pub items_per_node: u32,
    pub max_nodes: u32,
    pub force_destroy: bool,
    pub keep_old_revisions: bool,
    pub tags: BTreeMap<String, String>,
    pub compute: Compute,
    pub queue: Queue,
    pub efs: Efs,
    pub stages: Vec<Stage>,
    pub source: Source,
    pub egress_bucket: EgressBucket,
    /// The `retention` block, passed to the run configuration.
    pub retention: Option<contract::run_config::Retention>,
    pub timeouts: Timeouts,
}

/// Exit codes a stage may retry: one evaluateOnExit rule each, within AWS
/// Batch's 5 beside the pipeline's own 2.
pub const MAX_RETRY_EXIT_CODES: usize = 3;

/// How long create, update and delete may take when `timeouts` leaves
/// them out.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Fargate's allowed memory (MiB) for each vCPU size.
pub fn fargate_memory_ok(vcpus: f64, memory: i64) -> bool {
    let gib = |g: i64| g * 1024;
    // Fargate sizes are whole quarters of a vCPU.
    let quarters = vcpus * 4.0;
    if quarters.fract() != 0.0 {
        return false;
    }
    match quarters as i64 {
        1 => [512, 1024, 2048].contains(&memory),
        2 => (1..=4).any(|g| gib(g) == memory),
        4 => (2..=8).any(|g| gib(g) == memory),
        8 => (4..=16).any(|g| gib(g) == memory),
        16 => (8..=30).any(|g| gib(g) == memory),
        32 => (16..=60).step_by(4).any(|g| gib(g) == memory),
        64 => (32..=120).step_by(8).any(|g| gib(g) == memory),
        _ => false,
    }
}

impl PipelineSpec {
    /// Reads and checks a configuration. Returns the spec (when every value
    /// is known) and the diagnostics; at plan time values may be unknown.
    /// The schema's declared validators run first: Terraform has run them
    /// at validation already, and plan and apply must not act on a value
    /// they refuse.
    pub fn parse(config: &Value) -> (Option<PipelineSpec>, Diagnostics) {
        let block = &declaration().block;
        let mut findings =
            Findings { diagnostics: check_values(block, config, &AttributePath::root()), unknown: vec![] };
        let spec = read_spec(&mut SettingsReader::root(config, Some(block), &mut findings));
        if findings.diagnostics.has_errors() || !findings.unknown.is_empty() {
            (None, findings.diagnostics)
        } else {
            (Some(spec), findings.diagnostics)
        }
    }
}

/// A whole number the declaration gives a default (so it always reads as
/// one) in the type the spec keeps it in.
fn declared_int<T: TryFrom<i64> + Default>(r: &mut SettingsReader<'_>, name: &str) -> T {
    r.int(name).and_then(|n| T::try_from(n).ok()).unwrap_or_default()
}

fn read_spec(r: &mut SettingsReader<'_>) -> PipelineSpec {
    let name = r.string("name").unwrap_or_default();
    let items_per_node = declared_int(r, "items_per_node");
    let max_nodes = declared_int(r, "max_nodes");
    let force_destroy = r.bool("force_destroy");
    let keep_old_revisions = r.bool("keep_old_revisions");
    let tags = r.string_map("tags");
    for key in tags.keys() {
        if key.starts_with("aws:") || key.is_empty() || key.len() > 128 {
            r.fail(
                "tags",
                "Invalid tag key",
                format!("{key:?}: 1-128 characters, not starting with \"aws:\"."),
            );
        }
    }

    let (compute, type_known) = read_compute(r);
    let queue = {
        let mut q = r.block_or_defaults("queue");
        let priority = declared_int(&mut q, "priority");
        let later_stages_priority = declared_int(&mut q, "later_stages_priority");
        // AWS Batch serves the higher-priority queue first: the point of
        // the second queue is lost when it is not higher.
        let both_known = q.known("priority") && q.known("later_stages_priority");
        if both_known && later_stages_priority <= priority {
            q.fail(
                "later_stages_priority",
                "Later stages would wait",
                format!(
                    "later_stages_priority ({later_stages_priority}) must be greater than priority ({priority}): processing and egress nodes whose dependency is met would otherwise wait behind procurement nodes not yet started."
                ),
            );
        }
        let enabled = q.one_of("state").as_deref() == Some("ENABLED");
        Queue { priority, later_stages_priority, enabled }
    };
    let efs = read_efs(r, &compute);
    let stages =
        STAGES.iter().map(|stage| read_stage(r, stage, type_known.then_some(compute.kind))).collect();
    let source = read_source(r);
    let egress_bucket = {
        let mut b = r.block_or_defaults("egress_bucket");
        EgressBucket {
            name: b.string("name").unwrap_or_default(),
            create: b.bool("create"),
            prefix: b.string("prefix").unwrap_or_default(),
        }
    };
    let retention = read_retention(r);
    let timeouts = {
        let mut t = r.block_or_defaults("timeouts");
        // A timeout not known yet is waited for no longer than the default.
        let mut read = |name: &str| {
            let text = if t.known(name) { t.string(name) } else { None };
            text.as_deref().and_then(parse_duration).unwrap_or(DEFAULT_TIMEOUT)
        };
        Timeouts { create: read("create"), update: read("update"), delete: read("delete") }
    };
    PipelineSpec {
        name,
        items_per_node,
        max_nodes,
        force_destroy,
        keep_old_revisions,
        tags,
        compute,
        queue,
        efs,
        stages,
        source,
        egress_bucket,
        retention,
        timeouts,
    }
}

/// The `retention` block: at least one of its settings.
fn read_retention(r: &mut SettingsReader<'_>) -> Option<contract::run_config::Retention> {
    let mut b = r.block("retention")?;
    let mut read = |name: &str| b.int(name).and_then(|n| u32::try_from(n).ok());
    let retention =
        contract::run_config::Retention { keep_runs: read("keep_runs"), max_age_days: read("max_age_days") };
    if retention.keep_runs.is_none() && retention.max_age_days.is_none() && !b.any_unknown() {
        b.fail_here(
            "Nothing to retain by",
            "Set keep_runs, max_age_days or both, or leave the retention block out.".into(),
        );
    }
    Some(retention)
}

/// `name` as one of `allowed` (which depend on another setting, so they
/// cannot be declared), else `default` with a diagnostic.
fn one_of_these(r: &mut SettingsReader<'_>, name: &str, default: &str, allowed: &[&str]) -> String {
    match r.string(name) {
        None => default.to_string(),
        Some(s) if allowed.contains(&s.as_str()) => s,
        Some(s) => {
            r.fail(name, &format!("Invalid {name}"), format!("{s:?} is not one of {}.", allowed.join(", ")));
            default.to_string()
        }
    }
}

/// The compute block, and whether its type is known (at plan time it may
/// not be, and then no check that depends on it is made).
fn read_compute(r: &mut SettingsReader<'_>) -> (Compute, bool) {
    let fallback = Compute {
        kind: ComputeType::Fargate,
        max_vcpus: 1,
        min_vcpus: 0,
        subnet_ids: vec![],
        security_group_ids: vec![],
        instance_types: vec![],
        instance_role: None,
        allocation_strategy: None,
        bid_percentage: None,
        service_role_arn: None,
    };
    let Some(mut c) = r.block("compute") else { return (fallback, true) };
    let type_known = c.known("type");
    // A type the declaration refuses has been reported; read as FARGATE.
    let kind = c.string("type").as_deref().and_then(ComputeType::parse).unwrap_or(ComputeType::Fargate);
    let max_vcpus = c.int("max_vcpus").map_or(1, |n| n as i32);
    let ec2_only = ["min_vcpus", "instance_types", "instance_role", "allocation_strategy", "bid_percentage"];
    if type_known && kind.is_fargate() {
        for field in ec2_only {
            if c.raw(field).is_some() {
                c.fail(
                    field,
                    "Not valid for Fargate",
                    format!(
                        "{field} applies to EC2 and SPOT compute only; remove it or change compute.type."
                    ),
                );
            }
        }
    }
    let min_vcpus = c.int("min_vcpus").map_or(0, |n| n as i32);
    if min_vcpus > max_vcpus && c.known("min_vcpus") && c.known("max_vcpus") {
        c.fail(
            "min_vcpus",
            "Invalid min_vcpus",
            format!("min_vcpus {min_vcpus} is above max_vcpus {max_vcpus}."),
        );
    }
    let subnet_ids = c.strings("subnet_ids");
    if subnet_ids.is_empty() && !c.any_unknown() {
        c.fail(
            "subnet_ids",
            "No subnets",
            "At least one subnet is needed for the jobs and the EFS mount targets.".into(),
        );
    }
    let security_group_ids = c.strings("security_group_ids");
    if security_group_ids.is_empty() && !c.any_unknown() {
        c.fail("security_group_ids", "No security groups", "At least one security group is needed.".into());
    }
    let instance_role = c.string("instance_role");
    if !kind.is_fargate() && instance_role.is_none() && !c.any_unknown() {
        c.fail(
            "instance_role",
            "Missing instance_role",
            "EC2 and SPOT compute need an instance profile ARN.".into(),
        );
    }
    // SPOT with BEST_FIT needs a Spot Fleet role (spotIamFleetRole), which
    // this resource does not take: AWS Batch refuses the environment.
    let mut strategies = if kind == ComputeType::Spot && type_known {
        vec!["BEST_FIT_PROGRESSIVE"]
    } else {
        vec!["BEST_FIT", "BEST_FIT_PROGRESSIVE"]
    };
    if kind == ComputeType::Spot || !type_known {
        strategies.extend(["SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"]);
    }
    let allocation_strategy = c
        .raw("allocation_strategy")
        .is_some()
        .then(|| one_of_these(&mut c, "allocation_strategy", "BEST_FIT_PROGRESSIVE", &strategies));
    let bid_percentage = if c.raw("bid_percentage").is_some() {
        if type_known && kind != ComputeType::Spot && !kind.is_fargate() {
            c.fail(
                "bid_percentage",
                "Not valid for EC2",
                "bid_percentage applies to SPOT compute only.".into(),
            );
        }
        Some(c.int("bid_percentage").map_or(100, |n| n as i32))
    } else {
        None
    };
    let compute = Compute {
        kind,
        max_vcpus,
        min_vcpus,
        subnet_ids,
        security_group_ids,
        instance_types: c.strings("instance_types"),
        instance_role,
        allocation_strategy,
        bid_percentage,
        service_role_arn: c.string("service_role_arn"),
    };
    (compute, type_known)
}

fn read_efs(r: &mut SettingsReader<'_>, compute: &Compute) -> Efs {
    let mut e = r.block_or_defaults("efs");
    let existing_file_system_id = e.string("file_system_id");
    let performance_mode = e.one_of("performance_mode").unwrap_or_default();
    let throughput_mode = e.one_of("throughput_mode").unwrap_or_default();
    let provisioned_throughput_mibps =
        e.raw("provisioned_throughput_mibps").and_then(|v| v.as_number()).map(|n| n.to_f64_lossy());
    if throughput_mode == "provisioned" && provisioned_throughput_mibps.is_none() && !e.any_unknown() {
        e.fail(
            "provisioned_throughput_mibps",
            "Missing throughput",
            "provisioned throughput_mode needs provisioned_throughput_mibps.".into(),
        );
    }
    if throughput_mode != "provisioned"
        && provisioned_throughput_mibps.is_some()
        && e.known("throughput_mode")
    {
        e.fail(
            "provisioned_throughput_mibps",
            "Not used",
            "provisioned_throughput_mibps applies only with throughput_mode = \"provisioned\".".into(),
        );
    }
    let kms_key_id = e.string("kms_key_id");
    let sgs = e.strings("security_group_ids");
    if e.raw("security_group_ids").is_some() && sgs.is_empty() {
        e.fail(
            "security_group_ids",
            "No security groups",
            "Give at least one, or leave security_group_ids out to use the compute security groups.".into(),
        );
    }
    let security_group_ids = if sgs.is_empty() { compute.security_group_ids.clone() } else { sgs };
    let root_directory = e.string("root_directory").unwrap_or_default();
    // EFS: "Elastic throughput is available only for file systems using the
    // General Purpose performance mode" (CreateFileSystem refuses it).
    if performance_mode == "maxIO"
        && throughput_mode == "elastic"
        && existing_file_system_id.is_none()
        && e.known("performance_mode")
        && e.known("throughput_mode")
    {
        e.fail(
            "throughput_mode",
            "Elastic throughput needs generalPurpose",
            "EFS offers elastic throughput only with performance_mode = \"generalPurpose\"; with \"maxIO\" set throughput_mode to \"bursting\" or \"provisioned\".".into(),
        );
    }
    // Like performance_mode, it shapes only the file system the pipeline
    // makes; with file_system_id it is ignored (a state names its own file
    // system's id too, so this cannot be an error here).
    let transition_to_ia = e.one_of("transition_to_ia");
    Efs {
        existing_file_system_id,
        transition_to_ia,
        performance_mode,
        throughput_mode,
        provisioned_throughput_mibps,
        kms_key_id,
        security_group_ids,
        root_directory,
        posix_uid: declared_int(&mut e, "posix_uid"),
        posix_gid: declared_int(&mut e, "posix_gid"),
        permissions: e.string("permissions").unwrap_or_default(),
        mount_path: e.string("mount_path").unwrap_or_default(),
    }
}

/// A stage's settings that have a declared default, as declared.
fn stage_defaults(name: &'static str, s: &mut SettingsReader<'_>) -> Stage {
    Stage {
        name,
        image: String::new(),
        vcpus: s.number("vcpus").unwrap_or_default(),
        memory: declared_int(s, "memory"),
        command: vec![],
        environment: BTreeMap::new(),
        retry_attempts: declared_int(s, "retry_attempts"),
        retry_on_exit_codes: s.ints("retry_on_exit_codes"),
        timeout_seconds: declared_int(s, "timeout_seconds"),
        execution_role_arn: None,
        job_role_arn: None,
        log_group_name: None,
        transform: None,
    }
}

/// A stage block; `kind` is the compute type when known.
fn read_stage(r: &mut SettingsReader<'_>, stage: &'static str, kind: Option<ComputeType>) -> Stage {
    let Some(mut s) = r.block(stage) else { return stage_defaults(stage, &mut r.left_out(stage)) };
    let mut out = stage_defaults(stage, &mut s);
    out.image = s.string("image").unwrap_or_default();
    if out.vcpus <= 0.0 {
        s.fail("vcpus", "Invalid vcpus", "vcpus must be above 0.".into());
    }
    let size_known = s.known("vcpus") && s.known("memory");
    let fargate = kind.is_some_and(ComputeType::is_fargate);
    if fargate && size_known && !fargate_memory_ok(out.vcpus, out.memory) {
        s.fail(
            "memory",
            "Unsupported Fargate size",
            format!(
                "Fargate has no task size with {} vCPU and {} MiB; see the Fargate vCPU/memory table (e.g. 1 vCPU: 2048-8192 in steps of 1024).",
                out.vcpus, out.memory
            ),
        );
    }
    out.command = s.strings("command");
    out.environment = s.string_map("environment");
    for key in out.environment.keys() {
        let ok = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok || key.starts_with("AWS_BATCH") {
            s.fail(
                "environment",
                "Invalid environment variable",
                format!("{key:?}: letters, digits and '_', and not AWS_BATCH* (reserved by AWS Batch)."),
            );
        }
    }
    if out.retry_on_exit_codes.iter().any(|c| !(0..=255).contains(c)) {
        s.fail("retry_on_exit_codes", "Invalid exit code", "Exit codes are 0 to 255.".into());
    }
    if out.retry_on_exit_codes.len() > MAX_RETRY_EXIT_CODES {
        s.fail(
            "retry_on_exit_codes",
            "Too many exit codes",
            format!(
                "At most {MAX_RETRY_EXIT_CODES}: AWS Batch allows 5 evaluateOnExit rules per job definition, and the pipeline uses 2 (retry an attempt lost to the infrastructure, exit on anything else)."
            ),
        );
    }
    out.execution_role_arn = s.string("execution_role_arn");
    if fargate && out.execution_role_arn.is_none() && !s.any_unknown() {
        s.fail(
            "execution_role_arn",
            "Missing execution_role_arn",
            "Fargate jobs need an execution role to pull images and write logs.".into(),
        );
    }
    out.job_role_arn = s.string("job_role_arn");
    out.log_group_name = s.string("log_group_name");
    if stage == "processing" && s.raw("transform").is_none() && !s.any_unknown() {
        s.fail(
            "transform",
            "Missing transform",
            "processing needs a transform (e.g. jsonencode({ kind = \"csv_validate\", rules = { builtin = \"ghcn-daily\" } })); see docs/jobs.md.".into(),
        );
    }
    if stage == "processing"
        && let Some(text) = s.string("transform")
    {
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) if v.is_object() => out.transform = Some(v),
            _ => s.fail(
                "transform",
                "Invalid transform",
                "transform must be a JSON object (use jsonencode({...})).".into(),
            ),
        }
    }
    out
}

/// The `source` block's SFTP attributes.
const SFTP_ATTRIBUTES: [&str; 10] = [
    "sftp_host",
    "sftp_port",
    "sftp_user",
    "sftp_private_key_secret_arn",
    "sftp_host_key",
    "sftp_directory",
    "sftp_glob",
    "sftp_recursive",
    "sftp_archive_bucket",
    "sftp_archive_prefix",
];

fn read_source(r: &mut SettingsReader<'_>) -> Source {
    let fallback = Source::Synthetic { count: 1, format: None };
    let Some(mut s) = r.block("source") else { return fallback };
    // An sftp_host not known yet (a variable at validate) may turn out set:
    // the other sftp_* settings are not "unused" then.
    let host_known = s.known("sftp_host");
    if let Some(host) = s.string("sftp_host") {
        for field in ["s3_bucket", "s3_prefix", "s3_suffix", "synthetic_count", "synthetic_format"] {
            if s.raw(field).is_some() {
                s.fail(field, "Conflicting sources", format!("{field} does not apply with sftp_host."));
            }
        }
        return read_sftp(&mut s, host).unwrap_or(fallback);
    }
    for field in SFTP_ATTRIBUTES.into_iter().filter(|_| host_known) {
        if s.raw(field).is_some() {
            s.fail(field, "Not used", format!("{field} applies only with sftp_host."));
        }
    }
    let bucket = s.string("s3_bucket");
    let count = s.raw("synthetic_count").map(|_| s.int("synthetic_count").unwrap_or(1));
    let queue_url = s.string("sqs_queue_url");
    if (queue_url.is_some() || count.is_some()) && s.raw("incremental").is_some() {
        s.fail(
            "incremental",
            "Not supported",
            "incremental applies only to an s3_bucket listing or an sftp_host source: a queue forgets what it \
             delivered by itself, and synthetic ids have nothing to remember."
                .into(),
        );
    }
    if queue_url.is_none() {
        for field in ["sqs_max_messages", "sqs_visibility_timeout_seconds"] {
            if s.raw(field).is_some() {
                s.fail(field, "Not used", format!("{field} applies only with sqs_queue_url."));
            }
        }
    }
    if let Some(queue_url) = queue_url {
        // A range the declaration refuses has been reported.
        let mut number = |field| {
            let set = s.raw(field).is_some();
            set.then(|| s.int(field).and_then(|n| u32::try_from(n).ok()).unwrap_or(1))
        };
        let max_messages = number("sqs_max_messages");
        let visibility_timeout_seconds = number("sqs_visibility_timeout_seconds");
        if count.is_some() {
            s.fail(
                "sqs_queue_url",
                "Conflicting sources",
                "Set sqs_queue_url (with s3_bucket) or synthetic_count, not both.".into(),
            );
            return fallback;
        }
        let Some(bucket) = bucket else {
            if !s.any_unknown() {
                s.fail(
                    "sqs_queue_url",
                    "Missing s3_bucket",
                    "sqs_queue_url needs s3_bucket: the bucket whose event notifications the queue receives."
                        .into(),
                );
            }
            return fallback;
        };
        return Source::Sqs {
            queue_url,
            bucket,
            prefix: s.string("s3_prefix").unwrap_or_default(),
            suffix: s.string("s3_suffix").unwrap_or_default(),
            max_messages,
            visibility_timeout_seconds,
        };
    }
    match (bucket, count) {
        (Some(bucket), None) => {
            if s.raw("synthetic_format").is_some() {
                s.fail(
                    "synthetic_format",
                    "Not used",
                    "synthetic_format applies only with synthetic_count.".into(),
                );
            }
            let (incremental, claim_ttl_seconds) = read_incremental(&mut s);
            Source::S3 {
                bucket,
                prefix: s.string("s3_prefix").unwrap_or_default(),
                suffix: s.string("s3_suffix").unwrap_or_default(),
                incremental,
                claim_ttl_seconds,
            }
        }
        (None, Some(count)) => {
            for field in ["s3_prefix", "s3_suffix"] {
                if s.raw(field).is_some() {
                    s.fail(field, "Not used", format!("{field} applies only with s3_bucket."));
                }
            }
            // A format the declaration refuses has been reported.
            let format = s
                .raw("synthetic_format")
                .is_some()
                .then(|| s.one_of("synthetic_format").unwrap_or_else(|| SYNTHETIC_FORMATS[0].to_string()));
            Source::Synthetic { count: count as u64, format }
        }
        (Some(_), Some(_)) => {
            s.fail(
                "synthetic_count",
                "Conflicting sources",
                "Set s3_bucket or synthetic_count, not both.".into(),
            );
            fallback
        }
        (None, None) => {
            if !s.any_unknown() {
                s.fail_here(
                    "No source",
                    "Set s3_bucket (with s3_prefix, s3_suffix), synthetic_count, or sftp_host (with sftp_user, \
                     sftp_private_key_secret_arn, sftp_host_key, sftp_directory)."
                        .to_string(),
                );
            }
            fallback
        }
    }
}

/// `incremental` and `claim_ttl_seconds` (which means nothing without it).
fn read_incremental(s: &mut SettingsReader<'_>) -> (bool, Option<u32>) {
    let incremental = s.bool("incremental");
    let ttl = s
        .raw("claim_ttl_seconds")
        .is_some()
        .then(|| s.int("claim_ttl_seconds").and_then(|n| u32::try_from(n).ok()).unwrap_or(1));
    if ttl.is_some() && !incremental && s.known("incremental") {
        s.fail(
            "claim_ttl_seconds",
            "Not used",
            "claim_ttl_seconds applies only with incremental = true.".into(),
        );
    }
    (incremental, ttl)
}

/// The SFTP source, checked by the contract's rules; a refusal is reported
/// on the attribute it names. `None` when a value is missing or refused
/// (reported) or not known yet.
fn read_sftp(s: &mut SettingsReader<'_>, host: String) -> Option<Source> {
    let mut missing = false;
    let mut required = |s: &mut SettingsReader<'_>, name: &str| {
        let value = s.string(name);
        if value.is_none() && s.known(name) {
            s.fail(name, "Missing setting", format!("{name} is required with sftp_host."));
        }
        missing |= value.is_none();
        value.unwrap_or_default()
    };
    let user = required(s, "sftp_user");
    let private_key_secret_arn = required(s, "sftp_private_key_secret_arn");
    let host_key = required(s, "sftp_host_key");
    let directory = required(s, "sftp_directory");
    let port = s
        .int("sftp_port")
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(contract::run_config::DEFAULT_SFTP_PORT);
    let glob = s.string("sftp_glob").unwrap_or_else(|| "*".to_string());
    let recursive = s.bool("sftp_recursive");
    let (incremental, claim_ttl_seconds) = read_incremental(s);
    let archive_bucket = s.string("sftp_archive_bucket");
    let archive_prefix = s.string("sftp_archive_prefix").unwrap_or_default();
    if missing || s.any_unknown() {
        return None;
    }
    let source = contract::run_config::SftpSource {
        host,
        port,
        user,
        private_key_secret_arn,
        host_key,
        directory,
        glob,
        recursive,
        incremental,
        claim_ttl_seconds: claim_ttl_seconds.unwrap_or(contract::run_config::DEFAULT_CLAIM_TTL_SECONDS),
        archive_bucket,
        archive_prefix,
    };
    match source.check() {
        Ok(()) => Some(Source::Sftp(source)),
        Err(e) => {
            let (key, detail) = e.split_once(": ").unwrap_or(("host", e.as_str()));
            s.fail(&format!("sftp_{key}"), "Invalid SFTP source", detail.to_string());
            None
        }
    }
}

impl PipelineSpec {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::rules::check_efs_root_directory;
    use super::*;

    fn block(attrs: Vec<(&str, Value)>) -> Value {
        Value::List(vec![Value::object(attrs)])
    }

    fn stage(extra: Vec<(&str, Value)>) -> Value {
        let mut attrs = vec![
            ("image", Value::string("registry.local/jobs:v1")),
            ("execution_role_arn", Value::string("arn:aws:iam::123456789012:role/exec")),
            ("transform", Value::string(r#"{"kind":"csv_validate","rules":{"builtin":"ghcn-daily"}}"#)),
        ];
        attrs.extend(extra);
        block(attrs)
    }

    /// A whole configuration; `compute` and `processing` add to (or
    /// replace) those blocks' attributes.
    fn config(compute: Vec<(&str, Value)>, processing: Vec<(&str, Value)>) -> Value {
        config_with_source(compute, processing, vec![("synthetic_count", Value::int(10))])
    }

    fn config_with_source(
        compute: Vec<(&str, Value)>,
        processing: Vec<(&str, Value)>,
        source: Vec<(&str, Value)>,
    ) -> Value {
        let mut c = vec![
            ("type", Value::string("FARGATE")),
            ("max_vcpus", Value::int(16)),
            ("subnet_ids", Value::Set(vec![Value::string("subnet-1")])),
            ("security_group_ids", Value::Set(vec![Value::string("sg-1")])),
        ];
        for (name, v) in compute {
            c.retain(|(n, _)| *n != name);
            c.push((name, v));
        }
        Value::object([
            ("name", Value::string("p")),
            ("compute", block(c)),
            ("efs", block(vec![])),
            ("source", block(source)),
            ("egress_bucket", block(vec![("name", Value::string("results-bucket"))])),
            ("procurement", stage(vec![])),
            ("processing", stage(processing)),
            ("egress", stage(vec![])),
        ])
    }

    fn errors(config: &Value) -> Vec<String> {
        let (_, diags) = PipelineSpec::parse(config);
        let errors = diags.0.iter().filter(|d| d.severity == crate::tfplugin::diagnostics::Severity::Error);
        errors.map(|d| format!("{d:?}")).collect()
    }

    /// The synthetic source's record format is settable from Terraform
    /// (it was fixed at prep's default, yelp-jsonl, so csv_validate
    /// rejected every synthetic row) and reaches the run configuration.
    #[test]
    fn synthetic_format_is_checked_on_its_path_and_reaches_the_run_config() {
        let synthetic = |format: Option<&str>| {
            let mut source = vec![("synthetic_count", Value::int(10))];
            if let Some(f) = format {
                source.push(("synthetic_format", Value::string(f)));
            }
            config_with_source(vec![], vec![], source)
        };
        for format in ["ghcn-csv", "yelp-jsonl"] {
            let (spec, diags) = PipelineSpec::parse(&synthetic(Some(format)));
            assert!(diags.0.is_empty(), "{diags:?}");
            let spec = spec.unwrap();
            assert_eq!(spec.source, Source::Synthetic { count: 10, format: Some(format.into()) });
            let run_config = super::super::run_config::build(&spec);
            assert_eq!(
                run_config["source"],
                serde_json::json!({ "type": "synthetic", "count": 10, "format": format })
            );
            let settings = super::super::run_config::settings(&spec);
            assert_eq!(settings["source"]["synthetic_format"], format);
        }
        // Unset: prep's default, and the run configuration as before.
        let (spec, _) = PipelineSpec::parse(&synthetic(None));
        let spec = spec.unwrap();
        assert_eq!(spec.source, Source::Synthetic { count: 10, format: None });
        assert_eq!(
            super::super::run_config::build(&spec)["source"],
            serde_json::json!({ "type": "synthetic", "count": 10 })
        );

        let (_, diags) = PipelineSpec::parse(&synthetic(Some("csv")));
        let bad: Vec<_> = diags.0.iter().filter(|d| d.summary == "Invalid synthetic_format").collect();
        assert_eq!(bad.len(), 1, "{diags:?}");
        assert_eq!(bad[0].detail, "\"csv\" is not one of yelp-jsonl, ghcn-csv.");
        let want = AttributePath::root().then_attr("source").then_index(0).then_attr("synthetic_format");
        assert_eq!(bad[0].path.as_ref(), Some(&want));

        let with_s3 = config_with_source(
            vec![],
            vec![],
            vec![("s3_bucket", Value::string("raw")), ("synthetic_format", Value::string("ghcn-csv"))],
        );
        let (_, diags) = PipelineSpec::parse(&with_s3);
        let unused: Vec<_> = diags.0.iter().filter(|d| d.detail.contains("synthetic_format")).collect();
        assert_eq!(unused.len(), 1, "{diags:?}");
        assert_eq!(unused[0].summary, "Not used");
    }

    /// The queue-fed source: sqs_queue_url with s3_bucket (and its
    /// filters) reaches the run configuration as `type = "sqs"`, prep's
    /// defaults filled in; its settings are refused on their own paths when
    /// they cannot apply.
    #[test]
    fn an_sqs_source_needs_its_bucket_and_reaches_the_run_config() {
        let url = "https://sqs.eu-west-1.amazonaws.com/123456789012/images";
        let sqs = |extra: Vec<(&'static str, Value)>| {
            let mut source = vec![("sqs_queue_url", Value::string(url))];
            source.extend(extra);
            config_with_source(vec![], vec![], source)
        };
        let (spec, diags) = PipelineSpec::parse(&sqs(vec![
            ("s3_bucket", Value::string("photos")),
            ("s3_prefix", Value::string("incoming/")),
            ("s3_suffix", Value::string(".jpg")),
        ]));
        assert!(diags.0.is_empty(), "{diags:?}");
        let spec = spec.unwrap();
        assert_eq!(
            super::super::run_config::build(&spec)["source"],
            serde_json::json!({
                "type": "sqs", "queue_url": url, "bucket": "photos", "prefix": "incoming/", "suffix": ".jpg",
                "max_messages": 1000, "visibility_timeout_seconds": 3600
            })
        );
        let source_path =
            |attr: &str| AttributePath::root().then_attr("source").then_index(0).then_attr(attr);
        let (_, diags) = PipelineSpec::parse(&sqs(vec![]));
        let missing: Vec<_> = diags.0.iter().filter(|d| d.summary == "Missing s3_bucket").collect();
        assert_eq!(missing.len(), 1, "{diags:?}");
        assert_eq!(missing[0].path.as_ref(), Some(&source_path("sqs_queue_url")));
        let (_, diags) = PipelineSpec::parse(&sqs(vec![("synthetic_count", Value::int(3))]));
        assert!(diags.0.iter().any(|d| d.summary == "Conflicting sources"), "{diags:?}");
        let unused = config_with_source(
            vec![],
            vec![],
            vec![("s3_bucket", Value::string("raw")), ("sqs_max_messages", Value::int(5))],
        );
        let (_, diags) = PipelineSpec::parse(&unused);
        let unused: Vec<_> = diags.0.iter().filter(|d| d.summary == "Not used").collect();
        assert_eq!(unused.len(), 1, "{diags:?}");
        assert_eq!(unused[0].path.as_ref(), Some(&source_path("sqs_max_messages")));
    }

    fn sftp_source(changes: &[(&'static str, Value)]) -> Vec<(&'static str, Value)> {
        let mut source = vec![
            ("sftp_host", Value::string("sftp.example.com")),
            ("sftp_user", Value::string("feed")),
            (
                "sftp_private_key_secret_arn",
                Value::string("arn:aws:secretsmanager:eu-west-1:123456789012:secret:feed-key-AbCdEf"),
            ),
            ("sftp_host_key", Value::string("SHA256:cxZN8pLShoGrYWTZkBNJJKG1tcFq6PcAE0u31NR6kmw")),
            ("sftp_directory", Value::string("/outgoing")),
        ];
        for (name, value) in changes {
            source.retain(|(n, _)| n != name);
            source.push((name, value.clone()));
        }
        source
    }

    /// The SFTP source reaches the run configuration with its defaults,
    /// and each refusal is reported on the attribute it is about.
    #[test]
    fn an_sftp_source_is_checked_on_its_attributes_and_reaches_the_run_config() {
        let (spec, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], sftp_source(&[])));
        assert!(diags.0.is_empty(), "{diags:?}");
        let spec = spec.unwrap();
        let Source::Sftp(sftp) = &spec.source else { panic!("{:?}", spec.source) };
        assert_eq!((sftp.port, sftp.glob.as_str(), sftp.recursive), (22, "*", false));
        let run_config = super::super::run_config::build(&spec);
        assert_eq!(run_config["source"]["type"], "sftp");
        assert_eq!(run_config["source"]["directory"], "/outgoing");

        let path = |name: &str| AttributePath::root().then_attr("source").then_index(0).then_attr(name);
        for (change, field) in [
            (("sftp_host_key", Value::string("accept-new")), "sftp_host_key"),
            (("sftp_directory", Value::string("outgoing")), "sftp_directory"),
            (("sftp_glob", Value::string("a/*.xml")), "sftp_glob"),
            (("sftp_user", Value::string("a b")), "sftp_user"),
            (("synthetic_count", Value::int(3)), "synthetic_count"),
            (("sftp_archive_prefix", Value::string("raw/")), "sftp_archive_prefix"),
        ] {
            let (_, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], sftp_source(&[change])));
            let found: Vec<_> = diags.0.iter().filter(|d| d.path.as_ref() == Some(&path(field))).collect();
            assert_eq!(found.len(), 1, "{field}: {diags:?}");
        }
        let archived = sftp_source(&[
            ("sftp_archive_bucket", Value::string("feed-raw")),
            ("sftp_archive_prefix", Value::string("sftp/raw/")),
        ]);
        let (spec, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], archived));
        assert!(diags.0.is_empty(), "{diags:?}");
        let run_config = super::super::run_config::build(&spec.unwrap());
        assert_eq!(
            (&run_config["source"]["archive_bucket"], &run_config["source"]["archive_prefix"]),
            (&serde_json::json!("feed-raw"), &serde_json::json!("sftp/raw/"))
        );
        let bad_prefix = sftp_source(&[
            ("sftp_archive_bucket", Value::string("feed-raw")),
            ("sftp_archive_prefix", Value::string("../raw/")),
        ]);
        let (_, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], bad_prefix));
        assert!(diags.0.iter().any(|d| d.path.as_ref() == Some(&path("sftp_archive_prefix"))), "{diags:?}");

        let mut without_key = sftp_source(&[]);
        without_key.retain(|(n, _)| *n != "sftp_host_key");
        let (_, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], without_key));
        let missing: Vec<_> =
            diags.0.iter().filter(|d| d.path.as_ref() == Some(&path("sftp_host_key"))).collect();
        assert_eq!(missing.len(), 1, "{diags:?}");
        assert_eq!(missing[0].summary, "Missing setting");

        // `terraform validate` sees a variable's host as unknown: nothing is
        // "unused" or missing yet.
        let unknown_host = sftp_source(&[("sftp_host", Value::unknown())]);
        let (_, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], unknown_host));
        assert!(diags.0.is_empty(), "{diags:?}");

        let stray = vec![("synthetic_count", Value::int(3)), ("sftp_glob", Value::string("*.xml"))];
        let (_, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], stray));
        assert!(
            diags.0.iter().any(|d| d.path.as_ref() == Some(&path("sftp_glob")) && d.summary == "Not used")
        );
    }

    /// `incremental` reaches the run configuration of an S3 or SFTP source
    /// (with `claim_ttl_seconds`), is refused on its own path for a queue or
    /// synthetic source, and `claim_ttl_seconds` alone is "Not used".
    #[test]
    fn incremental_reaches_the_run_config_of_s3_and_sftp_sources_only() {
        let path = |name: &str| AttributePath::root().then_attr("source").then_index(0).then_attr(name);
        let s3 = vec![
            ("s3_bucket", Value::string("raw")),
            ("incremental", Value::Bool(true)),
            ("claim_ttl_seconds", Value::int(7200)),
        ];
        let (spec, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], s3));
        assert!(diags.0.is_empty(), "{diags:?}");
        let source = &super::super::run_config::build(&spec.unwrap())["source"];
        assert_eq!(
            (&source["incremental"], &source["claim_ttl_seconds"]),
            (&serde_json::json!(true), &serde_json::json!(7200))
        );

        let sftp = sftp_source(&[("incremental", Value::Bool(true))]);
        let (spec, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], sftp));
        assert!(diags.0.is_empty(), "{diags:?}");
        let source = &super::super::run_config::build(&spec.unwrap())["source"];
        assert_eq!(source["incremental"], serde_json::json!(true));
        assert!(source.get("claim_ttl_seconds").is_none(), "the default is prep's: {source}");

        for other in [
            vec![("synthetic_count", Value::int(3)), ("incremental", Value::Bool(true))],
            vec![
                ("s3_bucket", Value::string("raw")),
                ("sqs_queue_url", Value::string("https://sqs.eu-west-1.amazonaws.com/123456789012/q")),
                ("incremental", Value::Bool(true)),
            ],
        ] {
            let (_, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], other));
            let found: Vec<_> =
                diags.0.iter().filter(|d| d.path.as_ref() == Some(&path("incremental"))).collect();
            assert_eq!(found.len(), 1, "{diags:?}");
            assert_eq!(found[0].summary, "Not supported");
        }
        let alone = vec![("s3_bucket", Value::string("raw")), ("claim_ttl_seconds", Value::int(7200))];
        let (_, diags) = PipelineSpec::parse(&config_with_source(vec![], vec![], alone));
        assert!(
            diags
                .0
                .iter()
                .any(|d| d.path.as_ref() == Some(&path("claim_ttl_seconds")) && d.summary == "Not used"),
            "{diags:?}"
        );
    }

    /// The `retention` block reaches the run configuration as
    /// `retention`; left out, the run configuration has none (existing
    /// pipelines' stays the same); an empty block is refused.
    #[test]
    fn retention_reaches_the_run_config_and_an_empty_block_is_refused() {
        let with = |attrs: Vec<(&str, Value)>| {
            let mut config = config_with_source(vec![], vec![], vec![("s3_bucket", Value::string("raw"))]);
            if let Value::Object(map) = &mut config {
                map.insert("retention".into(), block(attrs));
            }
            config
        };
        let (spec, diags) = PipelineSpec::parse(&with(vec![("keep_runs", Value::int(30))]));
        assert!(diags.0.is_empty(), "{diags:?}");
        let run_config = super::super::run_config::build(&spec.unwrap());
        assert_eq!(run_config["retention"], serde_json::json!({"keep_runs": 30}));
        let (spec, _) = PipelineSpec::parse(&with(vec![("max_age_days", Value::int(14))]));
        let run_config = super::super::run_config::build(&spec.unwrap());
        assert_eq!(run_config["retention"], serde_json::json!({"max_age_days": 14}));

        let (spec, _) = PipelineSpec::parse(&config_with_source(
            vec![],
            vec![],
            vec![("s3_bucket", Value::string("raw"))],
        ));
        assert!(super::super::run_config::build(&spec.unwrap()).get("retention").is_none());

        let (spec, diags) = PipelineSpec::parse(&with(vec![]));
        assert!(spec.is_none());
        assert!(diags.0.iter().any(|d| d.summary == "Nothing to retain by"), "{diags:?}");
    }

    #[test]
    fn checks_that_relate_two_settings_wait_for_both_to_be_known() {
        // `terraform validate` sees variables as unknown.
        let ec2_settings_with_unknown_type = config(
            vec![
                ("type", Value::unknown()),
                ("min_vcpus", Value::int(2)),
                ("instance_role", Value::string("arn:aws:iam::123456789012:instance-profile/x")),
                ("allocation_strategy", Value::string("SPOT_CAPACITY_OPTIMIZED")),
                ("bid_percentage", Value::int(60)),
            ],
            vec![],
        );
        assert_eq!(errors(&ec2_settings_with_unknown_type), Vec::<String>::new());
        let unknown_memory = config(vec![], vec![("vcpus", Value::int(4)), ("memory", Value::unknown())]);
        assert_eq!(errors(&unknown_memory), Vec::<String>::new());
        let unknown_max = config(
            vec![
                ("type", Value::string("EC2")),
                ("max_vcpus", Value::unknown()),
                ("min_vcpus", Value::int(4)),
                ("instance_role", Value::string("arn:aws:iam::123456789012:instance-profile/x")),
            ],
            vec![],
        );
        assert_eq!(errors(&unknown_max), Vec::<String>::new());
    }

    #[test]
    fn the_same_checks_still_fail_once_the_values_are_known() {
        let min_on_fargate = config(vec![("min_vcpus", Value::int(2))], vec![]);
        assert!(
            errors(&min_on_fargate).iter().any(|e| e.contains("min_vcpus")),
            "{:?}",
            errors(&min_on_fargate)
        );
        let bad_size = config(vec![], vec![("vcpus", Value::int(4)), ("memory", Value::int(2048))]);
        assert!(
            errors(&bad_size).iter().any(|e| e.contains("Unsupported Fargate size")),
            "{:?}",
            errors(&bad_size)
        );
        assert_eq!(errors(&config(vec![], vec![])), Vec::<String>::new());
    }

    #[test]
    fn exit_codes_fit_in_the_evaluate_on_exit_rules() {
        let three = Value::Set((1..=3).map(Value::int).collect());
        assert_eq!(errors(&config(vec![], vec![("retry_on_exit_codes", three)])), Vec::<String>::new());
        let four = Value::Set((1..=4).map(Value::int).collect());
        let found = errors(&config(vec![], vec![("retry_on_exit_codes", four)]));
        assert!(found.iter().any(|e| e.contains("Too many exit codes")), "{found:?}");
    }

    #[test]
    fn root_directories_follow_the_efs_model() {
        for good in ["/", "/pipeline", "/a/b/c/d", "/data/cache.d", "/a-b_c/x"] {
            assert_eq!(check_efs_root_directory(good), Ok(()), "{good}");
        }
        for bad in ["/pipeline/", "/a/b/c/d/e", "/data/.cache", "/a//b", "pipeline", "", "/a$b"] {
            assert!(check_efs_root_directory(bad).is_err(), "{bad}");
        }
        assert!(check_efs_root_directory(&format!("/{}", "a".repeat(100))).is_err());
        let refused = errors(&config_with_efs(vec![("root_directory", Value::string("/pipeline/"))]));
        assert!(
            refused.iter().any(|e| e.contains("root_directory") && e.contains("empty component")),
            "{refused:?}"
        );
    }

    fn config_with_efs(efs: Vec<(&str, Value)>) -> Value {
        let mut c = config(vec![], vec![]);
        if let Value::Object(attrs) = &mut c {
            attrs.insert("efs".into(), block(efs));
        }
        c
    }

    #[test]
    fn efs_and_spot_combinations_aws_refuses() {
        let max_io_elastic = config_with_efs(vec![("performance_mode", Value::string("maxIO"))]);
        let found = errors(&max_io_elastic);
        assert!(
            found.iter().any(|e| e.contains("throughput_mode") && e.contains("generalPurpose")),
            "{found:?}"
        );
        let max_io_bursting = config_with_efs(vec![
            ("performance_mode", Value::string("maxIO")),
            ("throughput_mode", Value::string("bursting")),
        ]);
        assert_eq!(errors(&max_io_bursting), Vec::<String>::new());
        let spot = |strategy: &str| {
            config(
                vec![
                    ("type", Value::string("SPOT")),
                    ("instance_role", Value::string("arn:aws:iam::123456789012:instance-profile/x")),
                    ("allocation_strategy", Value::string(strategy)),
                ],
                vec![],
            )
        };
        let found = errors(&spot("BEST_FIT"));
        assert!(found.iter().any(|e| e.contains("allocation_strategy")), "{found:?}");
        assert_eq!(errors(&spot("SPOT_PRICE_CAPACITY_OPTIMIZED")), Vec::<String>::new());
        assert_eq!(errors(&spot("BEST_FIT_PROGRESSIVE")), Vec::<String>::new());
    }

    #[test]
    fn fargate_sizes() {
        assert!(fargate_memory_ok(0.25, 512));
        assert!(fargate_memory_ok(1.0, 8192));
        assert!(!fargate_memory_ok(1.0, 1024));
        assert!(fargate_memory_ok(16.0, 122_880));
        assert!(!fargate_memory_ok(3.0, 8192));
        assert!(!fargate_memory_ok(0.3, 1024));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("30"), None);
        assert_eq!(parse_duration("5d"), None);
        assert_eq!(parse_duration(""), None);
    }
}
