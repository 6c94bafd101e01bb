//! Apply/destroy cycles under faults (issue 19, scenario 1): real Terraform
//! drives `batch_pipeline` against moto through a fault proxy that
//! throttles, fails, resets (before and after the call reached moto) and
//! delays a share of every service's requests. A step may fail; the next
//! try of it must converge. After every step the AWS side, read from moto
//! directly, holds exactly what the configuration says: one compute
//! environment, two queues, one active revision per job definition, one
//! file system with its access point, the bucket; after destroy, nothing.
//!
//! `make test` runs `FAULT_CYCLES` (default 1) cycles at 20%; `make chaos`
//! runs more (`FAULT_CYCLES`, `FAULT_SEED`, `FAULT_RATE`).

use std::path::Path;

use serde_json::Value as Json;
use testkit::faults::FaultProxy;
use testkit::{MotoServer, TerraformDir};

fn provider_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_terraform-provider-batch")).parent().expect("binary dir")
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const NAME: &str = "chaos";
const BUCKET: &str = "chaos-results";

fn config(net: &Json, priority: u32, image_tag: &str) -> String {
    let subnets = net["subnet_ids"].to_string();
    let sgs = net["security_group_ids"].to_string();
    let service_role = net["service_role_arn"].as_str().unwrap();
    let exec_role = net["execution_role_arn"].as_str().unwrap();
    let job_role = net["job_role_arn"].as_str().unwrap();
    let stage = |s: &str, extra: &str| {
        format!(
            "  {s} {{\n    image = \"registry.local/jobs-{s}:{image_tag}\"\n    execution_role_arn = \"{exec_role}\"\n    job_role_arn = \"{job_role}\"\n    {extra}\n  }}\n"
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
    priority = {priority}
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
struct Inventory {
    compute_environments: usize,
    queues: usize,
    /// Active revisions per stage's job definition.
    job_definitions: Vec<usize>,
    file_systems: usize,
    access_points: usize,
    bucket: bool,
}

impl Inventory {
    fn deployed() -> Self {
        Inventory {
            compute_environments: 1,
            queues: 2,
            job_definitions: vec![1, 1, 1],
            file_systems: 1,
            access_points: 1,
            bucket: true,
        }
    }

    fn nothing() -> Self {
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

struct Aws {
    batch: aws_sdk_batch::Client,
    efs: aws_sdk_efs::Client,
    s3: aws_sdk_s3::Client,
}

impl Aws {
    async fn inventory(&self) -> Inventory {
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
fn converge(tf: &TerraformDir, args: &[&str], tries: usize) -> Vec<String> {
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

#[tokio::test(flavor = "multi_thread")]
async fn apply_plan_update_destroy_cycles_converge_under_faults() {
    let cycles: u64 = env_or("FAULT_CYCLES", 1);
    let first_seed: u64 = env_or("FAULT_SEED", 1);
    let rate: f64 = env_or("FAULT_RATE", 0.2);
    let moto = MotoServer::start().expect("moto");
    let net = moto.pipeline_prerequisites().expect("prerequisites");
    let sdk = testkit::aws::sdk_config(&moto);
    let aws = Aws {
        batch: aws_sdk_batch::Client::new(&sdk),
        efs: aws_sdk_efs::Client::new(&sdk),
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build(),
        ),
    };
    let mut failed_steps = vec![];
    let mut injected = std::collections::BTreeMap::<String, u64>::new();
    for seed in first_seed..first_seed + cycles {
        let spec = format!("seed={seed},rate={rate},latency={rate},latency-ms=20");
        let proxy = FaultProxy::start_for_url(&moto.endpoint(), spec.parse().unwrap()).unwrap();
        let mut env = moto.aws_env();
        env.push(("TF_VAR_endpoint".into(), proxy.url()));
        let tf = TerraformDir::new(provider_dir(), env).expect("terraform dir");

        tf.write("main.tf", &config(&net, 1, "v1")).unwrap();
        let mut step = |what: &str, args: &[&str]| {
            for line in converge(&tf, args, 6) {
                failed_steps.push(format!("seed {seed} {what}: {line}"));
            }
        };
        step("create", &["apply", "-auto-approve"]);
        assert_eq!(aws.inventory().await, Inventory::deployed(), "seed {seed}: after create");
        // Nothing to do: a plan that errs under faults is tried again,
        // one that wants changes is a failure.
        let plan = (0..6)
            .map(|_| tf.run(&["plan", "-detailed-exitcode"]).unwrap())
            .find(|r| r.code != 1)
            .expect("plan never ran through");
        assert_eq!(plan.code, 0, "seed {seed}: the plan after create is not empty\n{}", plan.text());

        tf.write("main.tf", &config(&net, 2, "v2")).unwrap();
        let mut step = |what: &str, args: &[&str]| {
            for line in converge(&tf, args, 6) {
                failed_steps.push(format!("seed {seed} {what}: {line}"));
            }
        };
        step("update", &["apply", "-auto-approve"]);
        assert_eq!(aws.inventory().await, Inventory::deployed(), "seed {seed}: after update");
        step("destroy", &["destroy", "-auto-approve"]);
        assert_eq!(aws.inventory().await, Inventory::nothing(), "seed {seed}: after destroy");
        for (kind, n) in proxy.report()["injected"].as_object().unwrap() {
            *injected.entry(kind.clone()).or_default() += n.as_u64().unwrap();
        }
        *injected.entry("requests".into()).or_default() += proxy.requests();
    }
    eprintln!(
        "{cycles} cycle(s) at {rate}: injected {injected:?}; failed steps tried again: {failed_steps:#?}"
    );
    for kind in ["throttle", "error", "reset-before", "reset-after"] {
        assert!(injected[kind] > 0, "no {kind} injected: {injected:?}");
    }
}
