//! What the chaos tests share (pipeline_under_faults, killed_apply): the
//! pipeline they deploy, what moto must hold of it, and a step run until it
//! converges.
#![allow(dead_code)] // each test binary uses its own part

use std::path::Path;

use serde_json::Value as Json;
use testkit::TerraformDir;

pub fn provider_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_terraform-provider-batch")).parent().expect("binary dir")
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub const NAME: &str = "chaos";
pub const BUCKET: &str = "chaos-results";

/// The pipeline the tests that do not deploy examples/local apply.
pub fn config(net: &Json) -> String {
    let subnets = net["subnet_ids"].to_string();
    let sgs = net["security_group_ids"].to_string();
    let service_role = net["service_role_arn"].as_str().unwrap();
    let exec_role = net["execution_role_arn"].as_str().unwrap();
    let job_role = net["job_role_arn"].as_str().unwrap();
    let stage = |s: &str, extra: &str| {
        format!(
            "  {s} {{\n    image = \"registry.local/jobs-{s}:v1\"\n    execution_role_arn = \"{exec_role}\"\n    job_role_arn = \"{job_role}\"\n    {extra}\n  }}\n"
        )
    };
    let preamble = testkit::terraform::provider_preamble(None);
    format!(
        r#"
{preamble}resource "batch_pipeline" "p" {{
  name          = "{NAME}"
  force_destroy = true
  compute {{
    type               = "FARGATE"
    max_vcpus          = 16
    subnet_ids         = {subnets}
    security_group_ids = {sgs}
    service_role_arn   = "{service_role}"
  }}
  queue {{
    priority = 1
  }}
  efs {{
    root_directory = "/pipeline"
  }}
  source {{
    synthetic_count = 400
  }}
  items_per_node = 40
{procurement}{processing}{egress}
  egress_bucket {{
    name = "{BUCKET}"
  }}
}}
"#,
        procurement = stage("procurement", ""),
        processing = stage(
            "processing",
            "transform = jsonencode({ kind = \"csv_validate\", rules = { builtin = \"ghcn-daily\" } })"
        ),
        egress = stage("egress", ""),
    )
}

/// What moto holds of the pipeline, read directly (not through the proxy).
#[derive(Debug, PartialEq, Eq)]
pub struct Inventory {
    pub compute_environments: usize,
    pub queues: usize,
    /// Active revisions per stage's job definition.
    pub job_definitions: Vec<usize>,
    pub file_systems: usize,
    pub access_points: usize,
    pub bucket: bool,
}

impl Inventory {
    pub fn deployed() -> Self {
        Inventory {
            compute_environments: 1,
            queues: 2,
            job_definitions: vec![1, 1, 1],
            file_systems: 1,
            access_points: 1,
            bucket: true,
        }
    }

    pub fn nothing() -> Self {
        Inventory {
            compute_environments: 0,
            queues: 0,
            job_definitions: vec![0, 0, 0],
            file_systems: 0,
            access_points: 0,
            bucket: false,
        }
    }
}

pub struct Aws {
    pub batch: aws_sdk_batch::Client,
    pub efs: aws_sdk_efs::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Aws {
    /// Clients reading moto directly (not through a proxy).
    pub fn new(moto: &testkit::MotoServer) -> Self {
        let sdk = testkit::aws::sdk_config(moto);
        Aws {
            batch: aws_sdk_batch::Client::new(&sdk),
            efs: aws_sdk_efs::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build(),
            ),
        }
    }

    pub async fn inventory(&self) -> Inventory {
        let alive = |s: Option<&str>| s != Some("DELETED") && s != Some("DELETING");
        let ces = self.batch.describe_compute_environments().send().await.unwrap();
        let compute_environments = ces
            .compute_environments()
            .iter()
            .filter(|c| c.compute_environment_name().is_some_and(|n| n.starts_with(NAME)))
            .filter(|c| alive(c.status().map(|s| s.as_str())))
            .count();
        let queues = self.batch.describe_job_queues().send().await.unwrap();
        let queues = queues
            .job_queues()
            .iter()
            .filter(|q| {
                q.job_queue_name().is_some_and(|n| n.starts_with(NAME))
                    && alive(q.status().map(|s| s.as_str()))
            })
            .count();
        let mut job_definitions = vec![];
        for stage in contract::STAGE_NAMES {
            let name = contract::naming::job_definition_name(NAME, stage);
            let defs = self
                .batch
                .describe_job_definitions()
                .job_definition_name(name)
                .status("ACTIVE")
                .send()
                .await
                .unwrap();
            job_definitions.push(defs.job_definitions().len());
        }
        let fss = self.efs.describe_file_systems().send().await.unwrap();
        let ours: Vec<String> = fss
            .file_systems()
            .iter()
            .filter(|f| f.creation_token().starts_with("batch-pipeline-chaos"))
            .map(|f| f.file_system_id().to_string())
            .collect();
        let mut access_points = 0;
        for fs in &ours {
            let aps = self.efs.describe_access_points().file_system_id(fs).send().await.unwrap();
            access_points += aps.access_points().len();
        }
        let bucket = self.s3.head_bucket().bucket(BUCKET).send().await.is_ok();
        Inventory {
            compute_environments,
            queues,
            job_definitions,
            file_systems: ours.len(),
            access_points,
            bucket,
        }
    }
}

/// Runs `args` until it succeeds, at most `tries` times; returns the
/// failed attempts' error lines.
pub fn converge(tf: &TerraformDir, args: &[&str], tries: usize) -> Vec<String> {
    let mut failures = vec![];
    for _ in 0..tries {
        let run = tf.run(args).unwrap();
        if run.success() {
            return failures;
        }
        let line = run.stderr.lines().find(|l| l.contains("Error")).unwrap_or("").to_string();
        failures.push(line);
    }
    panic!("`terraform {}` did not converge in {tries} tries: {failures:#?}", args.join(" "));
}
