//! The `batch_pipeline` configuration, read from a Terraform value into
//! typed form and checked. Every problem is a diagnostic on the attribute
//! that causes it; values not known yet are skipped (checked again at apply).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::tfplugin::{AttributePath, Diagnostic, Diagnostics, Value};

use super::schema::STAGES;

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
    pub priority: i32,
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
    pub transform: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    S3 {
        bucket: String,
        prefix: String,
        suffix: String,
    },
    /// `format`: the record format procurement generates (`yelp-jsonl`,
    /// `ghcn-csv`); `None` leaves it to prep's default (`yelp-jsonl`).
    Synthetic {
        count: u64,
        format: Option<String>,
    },
}

/// The synthetic record formats the jobs generate (the contract's
/// SyntheticFormat); the first is prep's default.
pub const SYNTHETIC_FORMATS: [&str; 2] = contract::run_config::SyntheticFormat::NAMES;

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
    pub timeouts: Timeouts,
}

/// Reads attributes of one object with paths, collecting problems.
struct Reader<'a> {
    value: &'a Value,
    at: AttributePath,
    diags: &'a mut Diagnostics,
    /// Some value was unknown: the spec is incomplete (plan time).
    unknown: &'a mut bool,
}

impl<'a> Reader<'a> {
    fn path(&self, name: &str) -> AttributePath {
        self.at.then_attr(name)
    }

    fn fail(&mut self, name: &str, summary: &str, detail: String) {
        self.diags.push(Diagnostic::attribute_error(self.path(name), summary, detail));
    }

    /// Whether `name` has its final value (set or null): checks that
    /// relate two settings wait until both are known.
    fn known(&self, name: &str) -> bool {
        self.value.get(name).is_wholly_known()
    }

    fn raw(&mut self, name: &str) -> Option<&'a Value> {
        let v = self.value.get(name);
        if !v.is_wholly_known() {
            *self.unknown = true;
            return None;
        }
        if v.is_null() { None } else { Some(v) }
    }

    fn string(&mut self, name: &str) -> Option<String> {
        self.raw(name).and_then(Value::as_str).map(str::to_string)
    }

    fn bool(&mut self, name: &str, default: bool) -> bool {
        self.raw(name).and_then(Value::as_bool).unwrap_or(default)
    }

    /// A whole number within `range`, or the default when unset.
    fn int(&mut self, name: &str, default: i64, range: std::ops::RangeInclusive<i64>, what: &str) -> i64 {
        let Some(v) = self.raw(name) else { return default };
        match v.as_i64() {
            Some(n) if range.contains(&n) => n,
            _ => {
                let shown = v.as_number().map(|n| n.to_string()).unwrap_or_default();
                self.fail(
                    name,
                    &format!("Invalid {name}"),
                    format!(
                        "{what} must be a whole number from {} to {}; got {shown}.",
                        range.start(),
                        range.end()
                    ),
                );
                default
            }
        }
    }

    fn strings(&mut self, name: &str) -> Vec<String> {
        self.raw(name)
            .map(|v| v.elements().iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn string_map(&mut self, name: &str) -> BTreeMap<String, String> {
        self.raw(name)
            .and_then(Value::entries)
            .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
            .unwrap_or_default()
    }

    fn one_of(&mut self, name: &str, default: &str, allowed: &[&str]) -> String {
        match self.string(name) {
            None => default.to_string(),
            Some(s) if allowed.contains(&s.as_str()) => s,
            Some(s) => {
                self.fail(
                    name,
                    &format!("Invalid {name}"),
                    format!("{s:?} is not one of {}.", allowed.join(", ")),
                );
                default.to_string()
            }
        }
    }

    fn arn(&mut self, name: &str) -> Option<String> {
        let s = self.string(name)?;
        if !s.starts_with("arn:") || s.split(':').count() < 6 {
            self.fail(
                name,
                "Invalid ARN",
                format!("{s:?} is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)."),
            );
        }
        Some(s)
    }

    /// The only element of a `max_items = 1` list block.
    fn block(&mut self, name: &str) -> Option<Reader<'_>> {
        let v = self.value.get(name);
        if v.is_unknown() {
            *self.unknown = true;
            return None;
        }
        let first = v.elements().first()?;
        Some(Reader {
            value: first,
            at: self.path(name).then_index(0),
            diags: self.diags,
            unknown: self.unknown,
        })
    }
}

pub const NAME_MAX: usize = 64;

/// Exit codes a stage may retry: one evaluateOnExit rule each, within AWS
/// Batch's 5 beside the pipeline's own 2.
pub const MAX_RETRY_EXIT_CODES: usize = 3;

fn valid_name(name: &str) -> bool {
    (1..=NAME_MAX).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An access point's root directory as EFS's model states it (`Path`: at
/// most 100 characters, pattern `^(\/|(\/(?!\.)+[^$#<>;`|&?{}^*/\n]+){1,4})$`).
pub fn check_efs_root_directory(path: &str) -> Result<(), &'static str> {
    if path.len() > 100 {
        return Err("is longer than 100 characters");
    }
    if path == "/" {
        return Ok(());
    }
    let Some(rest) = path.strip_prefix('/') else { return Err("is not absolute") };
    let components: Vec<&str> = rest.split('/').collect();
    if components.len() > 4 {
        return Err("has more than 4 components");
    }
    for c in components {
        if c.is_empty() {
            return Err("has an empty component (a trailing '/' or '//')");
        }
        if c.starts_with('.') {
            return Err("has a component starting with '.'");
        }
        if c.chars().any(|ch| "$#<>;`|&?{}^*\n".contains(ch)) {
            return Err("has a character EFS refuses");
        }
    }
    Ok(())
}

fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..")
}

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

/// Parses "90s", "30m", "1h", "1h30m".
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
    }
    (digits.is_empty() && total > 0).then(|| Duration::from_secs(total))
}

impl PipelineSpec {
    /// Reads and checks a configuration. Returns the spec (when every value
    /// is known) and the diagnostics; at plan time values may be unknown.
    pub fn parse(config: &Value) -> (Option<PipelineSpec>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let mut unknown = false;
        let spec = {
            let mut r =
                Reader { value: config, at: AttributePath::root(), diags: &mut diags, unknown: &mut unknown };
            read_spec(&mut r)
        };
        if diags.has_errors() || unknown { (None, diags) } else { (Some(spec), diags) }
    }
}

fn read_spec(r: &mut Reader<'_>) -> PipelineSpec {
    let name = r.string("name").unwrap_or_default();
    if !name.is_empty() && !valid_name(&name) {
        r.fail(
            "name",
            "Invalid pipeline name",
            format!("{name:?}: 1 to {NAME_MAX} letters, digits, '-' and '_', starting with a letter."),
        );
    }
    let items_per_node = r.int("items_per_node", 40, 1..=1_000_000, "items_per_node") as u32;
    let max_nodes =
        r.int("max_nodes", 10_000, 2..=10_000, "max_nodes (the AWS Batch array size limit)") as u32;
    let force_destroy = r.bool("force_destroy", false);
    let keep_old_revisions = r.bool("keep_old_revisions", false);
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
    let queue = match r.block("queue") {
        Some(mut q) => {
            let priority = q.int("priority", 1, 0..=1000, "priority") as i32;
            let enabled = q.one_of("state", "ENABLED", &["ENABLED", "DISABLED"]) == "ENABLED";
            Queue { priority, enabled }
        }
        None => Queue { priority: 1, enabled: true },
    };
    let efs = read_efs(r, &compute);
    let stages =
        STAGES.iter().map(|stage| read_stage(r, stage, type_known.then_some(compute.kind))).collect();
    let source = read_source(r);
    let egress_bucket = match r.block("egress_bucket") {
        Some(mut b) => {
            let name = b.string("name").unwrap_or_default();
            if !name.is_empty() && !valid_bucket_name(&name) {
                b.fail(
                    "name",
                    "Invalid bucket name",
                    format!("{name:?}: 3-63 lowercase letters, digits, '.' and '-'."),
                );
            }
            let prefix = b.string("prefix").unwrap_or_else(|| "results".into());
            if prefix.starts_with('/') || prefix.split('/').any(|p| p == "..") {
                b.fail(
                    "prefix",
                    "Invalid prefix",
                    format!("{prefix:?} must be a relative key prefix without '..'."),
                );
            }
            EgressBucket { name, create: b.bool("create", true), prefix }
        }
        None => EgressBucket { name: String::new(), create: true, prefix: "results".into() },
    };
    let default_timeout = Duration::from_secs(30 * 60);
    let timeouts = {
        let t = r.value.get("timeouts");
        let mut read = |name: &str| match t.get(name) {
            Value::String(s) => parse_duration(s).unwrap_or_else(|| {
                r.diags.push(Diagnostic::attribute_error(
                    AttributePath::attr("timeouts").then_attr(name),
                    "Invalid duration",
                    format!("{s:?} is not a duration like \"30m\", \"1h\" or \"90s\"."),
                ));
                default_timeout
            }),
            _ => default_timeout,
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
        timeouts,
    }
}

/// The compute block, and whether its type is known (at plan time it may
/// not be, and then no check that depends on it is made).
fn read_compute(r: &mut Reader<'_>) -> (Compute, bool) {
    let mut fallback = Compute {
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
    let kind_text = c.string("type");
    let kind = match kind_text.as_deref().map(ComputeType::parse) {
        Some(Some(k)) => k,
        Some(None) => {
            let t = kind_text.unwrap_or_default();
            c.fail(
                "type",
                "Invalid compute type",
                format!("{t:?} is not one of FARGATE, FARGATE_SPOT, EC2, SPOT."),
            );
            ComputeType::Fargate
        }
        None => ComputeType::Fargate,
    };
    fallback.kind = kind;
    let max_vcpus = c.int("max_vcpus", 1, 1..=100_000, "max_vcpus") as i32;
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
    let min_vcpus = c.int("min_vcpus", 0, 0..=100_000, "min_vcpus") as i32;
    if min_vcpus > max_vcpus && c.known("min_vcpus") && c.known("max_vcpus") {
        c.fail(
            "min_vcpus",
            "Invalid min_vcpus",
            format!("min_vcpus {min_vcpus} is above max_vcpus {max_vcpus}."),
        );
    }
    let subnet_ids = c.strings("subnet_ids");
    if subnet_ids.is_empty() && !*c.unknown {
        c.fail(
            "subnet_ids",
            "No subnets",
            "At least one subnet is needed for the jobs and the EFS mount targets.".into(),
        );
    }
    let security_group_ids = c.strings("security_group_ids");
    if security_group_ids.is_empty() && !*c.unknown {
        c.fail("security_group_ids", "No security groups", "At least one security group is needed.".into());
    }
    let instance_role = c.arn("instance_role");
    if !kind.is_fargate() && instance_role.is_none() && !*c.unknown {
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
        .then(|| c.one_of("allocation_strategy", "BEST_FIT_PROGRESSIVE", &strategies));
    let bid_percentage = if c.raw("bid_percentage").is_some() {
        if type_known && kind != ComputeType::Spot && !kind.is_fargate() {
            c.fail(
                "bid_percentage",
                "Not valid for EC2",
                "bid_percentage applies to SPOT compute only.".into(),
            );
        }
        Some(c.int("bid_percentage", 100, 1..=100, "bid_percentage") as i32)
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
        service_role_arn: c.arn("service_role_arn"),
    };
    (compute, type_known)
}

fn read_efs(r: &mut Reader<'_>, compute: &Compute) -> Efs {
    let mut efs = Efs {
        existing_file_system_id: None,
        performance_mode: "generalPurpose".into(),
        throughput_mode: "elastic".into(),
        provisioned_throughput_mibps: None,
        kms_key_id: None,
        security_group_ids: compute.security_group_ids.clone(),
        root_directory: "/pipeline".into(),
        posix_uid: 1000,
        posix_gid: 1000,
        permissions: "0750".into(),
        mount_path: "/mnt/efs".into(),
    };
    let Some(mut e) = r.block("efs") else { return efs };
    efs.existing_file_system_id = e.string("file_system_id");
    if let Some(id) = &efs.existing_file_system_id
        && !id.starts_with("fs-")
    {
        e.fail("file_system_id", "Invalid file system id", format!("{id:?} is not an EFS id (fs-...)."));
    }
    efs.performance_mode = e.one_of("performance_mode", "generalPurpose", &["generalPurpose", "maxIO"]);
    efs.throughput_mode = e.one_of("throughput_mode", "elastic", &["elastic", "bursting", "provisioned"]);
    efs.provisioned_throughput_mibps =
        e.raw("provisioned_throughput_mibps").and_then(|v| v.as_number()).map(|n| n.to_f64_lossy());
    if efs.throughput_mode == "provisioned" && efs.provisioned_throughput_mibps.is_none() && !*e.unknown {
        e.fail(
            "provisioned_throughput_mibps",
            "Missing throughput",
            "provisioned throughput_mode needs provisioned_throughput_mibps.".into(),
        );
    }
    if efs.throughput_mode != "provisioned"
        && efs.provisioned_throughput_mibps.is_some()
        && e.known("throughput_mode")
    {
        e.fail(
            "provisioned_throughput_mibps",
            "Not used",
            "provisioned_throughput_mibps applies only with throughput_mode = \"provisioned\".".into(),
        );
    }
    efs.kms_key_id = e.string("kms_key_id");
    let sgs = e.strings("security_group_ids");
    if e.raw("security_group_ids").is_some() && sgs.is_empty() {
        e.fail(
            "security_group_ids",
            "No security groups",
            "Give at least one, or leave security_group_ids out to use the compute security groups.".into(),
        );
    }
    if !sgs.is_empty() {
        efs.security_group_ids = sgs;
    }
    if let Some(root) = e.string("root_directory") {
        if let Err(why) = check_efs_root_directory(&root) {
            e.fail(
                "root_directory",
                "Invalid root_directory",
                format!(
                    "{root:?} {why}. EFS access points take \"/\" or 1 to 4 components, each non-empty, not starting with '.', without $#<>;`|&?{{}}^*, at most 100 characters."
                ),
            );
        }
        efs.root_directory = root;
    }
    // EFS: "Elastic throughput is available only for file systems using the
    // General Purpose performance mode" (CreateFileSystem refuses it).
    if efs.performance_mode == "maxIO"
        && efs.throughput_mode == "elastic"
        && efs.existing_file_system_id.is_none()
        && e.known("performance_mode")
        && e.known("throughput_mode")
    {
        e.fail(
            "throughput_mode",
            "Elastic throughput needs generalPurpose",
            "EFS offers elastic throughput only with performance_mode = \"generalPurpose\"; with \"maxIO\" set throughput_mode to \"bursting\" or \"provisioned\".".into(),
        );
    }
    efs.posix_uid = e.int("posix_uid", 1000, 0..=4_294_967_295, "posix_uid");
    efs.posix_gid = e.int("posix_gid", 1000, 0..=4_294_967_295, "posix_gid");
    if let Some(p) = e.string("permissions") {
        if !(3..=4).contains(&p.len()) || !p.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            e.fail(
                "permissions",
                "Invalid permissions",
                format!("{p:?} is not an octal mode like \"0750\"."),
            );
        }
        efs.permissions = p;
    }
    if let Some(m) = e.string("mount_path") {
        if !m.starts_with('/') || m == "/" || m.contains("..") {
            e.fail(
                "mount_path",
                "Invalid mount_path",
                format!("{m:?} must be an absolute path other than /."),
            );
        }
        efs.mount_path = m;
    }
    efs
}

/// A stage block; `kind` is the compute type when known.
fn read_stage(r: &mut Reader<'_>, stage: &'static str, kind: Option<ComputeType>) -> Stage {
    let mut out = Stage {
        name: stage,
        image: String::new(),
        vcpus: 1.0,
        memory: 2048,
        command: vec![],
        environment: BTreeMap::new(),
        retry_attempts: 3,
        retry_on_exit_codes: vec![i64::from(contract::retry::RETRYABLE_EXIT_CODE)],
        timeout_seconds: 3600,
        execution_role_arn: None,
        job_role_arn: None,
        transform: None,
    };
    let Some(mut s) = r.block(stage) else { return out };
    out.image = s.string("image").unwrap_or_default();
    if out.image.trim().is_empty() && !*s.unknown && s.raw("image").is_some() {
        s.fail("image", "Empty image", "image must name a container image.".into());
    }
    if let Some(v) = s.raw("vcpus") {
        out.vcpus = v.as_number().map(|n| n.to_f64_lossy()).unwrap_or(1.0);
        if out.vcpus <= 0.0 {
            s.fail("vcpus", "Invalid vcpus", "vcpus must be above 0.".into());
        }
    }
    out.memory = s.int("memory", 2048, 512..=1_048_576, "memory (MiB)");
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
    out.retry_attempts = s.int("retry_attempts", 3, 1..=10, "retry_attempts") as i32;
    if let Some(v) = s.raw("retry_on_exit_codes") {
        out.retry_on_exit_codes = v.elements().iter().filter_map(Value::as_i64).collect();
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
    }
    out.timeout_seconds = s.int("timeout_seconds", 3600, 60..=1_209_600, "timeout_seconds") as i32;
    out.execution_role_arn = s.arn("execution_role_arn");
    if fargate && out.execution_role_arn.is_none() && !*s.unknown {
        s.fail(
            "execution_role_arn",
            "Missing execution_role_arn",
            "Fargate jobs need an execution role to pull images and write logs.".into(),
        );
    }
    out.job_role_arn = s.arn("job_role_arn");
    if stage == "processing" && s.raw("transform").is_none() && !*s.unknown {
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

fn read_source(r: &mut Reader<'_>) -> Source {
    let fallback = Source::Synthetic { count: 1, format: None };
    let Some(mut s) = r.block("source") else { return fallback };
    let bucket = s.string("s3_bucket");
    let count =
        s.raw("synthetic_count").map(|_| s.int("synthetic_count", 1, 1..=100_000_000, "synthetic_count"));
    match (bucket, count) {
        (Some(bucket), None) => {
            if s.raw("synthetic_format").is_some() {
                s.fail(
                    "synthetic_format",
                    "Not used",
                    "synthetic_format applies only with synthetic_count.".into(),
                );
            }
            Source::S3 {
                bucket,
                prefix: s.string("s3_prefix").unwrap_or_default(),
                suffix: s.string("s3_suffix").unwrap_or_default(),
            }
        }
        (None, Some(count)) => {
            for field in ["s3_prefix", "s3_suffix"] {
                if s.raw(field).is_some() {
                    s.fail(field, "Not used", format!("{field} applies only with s3_bucket."));
                }
            }
            // Checked here, on its own path, rather than by prep at run
            // time: a wrong format would otherwise fail every run.
            let format = s
                .raw("synthetic_format")
                .is_some()
                .then(|| s.one_of("synthetic_format", SYNTHETIC_FORMATS[0], &SYNTHETIC_FORMATS));
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
            if !*s.unknown {
                let path = s.at.clone();
                s.diags.push(Diagnostic::attribute_error(
                    path,
                    "No source",
                    "Set s3_bucket (with s3_prefix, s3_suffix) or synthetic_count.".to_string(),
                ));
            }
            fallback
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
