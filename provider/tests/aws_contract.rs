//! AWS's rules as the oracle: every request `batch_pipeline` sends while
//! Terraform creates, updates and destroys a matrix of pipelines (FARGATE,
//! FARGATE_SPOT, EC2, SPOT; new and existing file systems; the longest names
//! and deepest root directory the plan accepts; each transform) is recorded
//! by moto and checked against the published service models and the API
//! references' written rules (tests/contract/aws_contract.py). moto itself
//! accepts almost anything; this test fails on any request real AWS would
//! refuse.

use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;
use testkit::{MotoServer, TerraformDir};

fn provider_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_terraform-provider-batch")).parent().expect("binary dir")
}

/// One configuration of the matrix.
#[derive(Clone)]
struct Case {
    name: String,
    compute: String,
    efs: String,
    transform: &'static str,
    bucket: String,
}

fn python() -> std::path::PathBuf {
    testkit::paths::tools_venv().join("bin").join("python")
}

fn boto(moto: &MotoServer, script: &str) -> String {
    let out = Command::new(python())
        .args(["-c", script, &moto.endpoint()])
        .envs(moto.aws_env())
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn config(net: &Json, case: &Case) -> String {
    let exec_role = net["execution_role_arn"].as_str().expect("execution role");
    let stage = |s: &str, extra: &str| {
        format!(
            "  {s} {{\n    image = \"registry.local/jobs-{s}:v1\"\n    execution_role_arn = \"{exec_role}\"\n    {extra}\n  }}\n"
        )
    };
    let preamble = testkit::terraform::provider_preamble(None);
    format!(
        r#"
{preamble}resource "batch_pipeline" "p" {{
  name          = "{name}"
  force_destroy = true
  compute {{
    subnet_ids         = {subnets}
    security_group_ids = {sgs}
    service_role_arn   = "{service_role}"
    {compute}
  }}
  efs {{
    {efs}
  }}
  source {{
    synthetic_count = 100
  }}
{procurement}{processing}{egress}
  egress_bucket {{
    name = "{bucket}"
  }}
  tags = {{ case = "{name}" }}
}}
"#,
        name = case.name,
        subnets = net["subnet_ids"],
        sgs = net["security_group_ids"],
        service_role = net["service_role_arn"].as_str().expect("service role"),
        compute = case.compute,
        efs = case.efs,
        bucket = case.bucket,
        procurement = stage("procurement", ""),
        processing = stage("processing", &format!("transform = jsonencode({})", case.transform)),
        egress = stage("egress", ""),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_of_a_configuration_matrix_is_one_aws_accepts() {
    let moto = MotoServer::start().expect("moto");
    let net = moto.pipeline_prerequisites().expect("prerequisites");
    let instance_profile = boto(
        &moto,
        "import boto3,sys\n\
         iam=boto3.client('iam',endpoint_url=sys.argv[1],region_name='us-east-1')\n\
         print(iam.create_instance_profile(InstanceProfileName='ecsInstanceRole')['InstanceProfile']['Arn'])",
    );
    // A file system the pipeline is given rather than creates.
    let existing_fs = boto(
        &moto,
        "import boto3,sys\n\
         efs=boto3.client('efs',endpoint_url=sys.argv[1],region_name='us-east-1')\n\
         print(efs.create_file_system(CreationToken='contract-existing')['FileSystemId'])",
    );
    // The longest name the plan accepts.
    let long_name = format!("p{}", "x".repeat(63));
    let cases = [
        Case {
            name: long_name.clone(),
            compute: "type = \"FARGATE\"\n    max_vcpus = 16".into(),
            efs: "root_directory = \"/a/b/c/d\"\n    throughput_mode = \"provisioned\"\n    provisioned_throughput_mibps = 8".into(),
            transform: "{ kind = \"csv_validate\", rules = { builtin = \"ghcn-daily\" } }",
            bucket: "contract-fargate".into(),
        },
        Case {
            name: "fargate_spot-existing".into(),
            compute: "type = \"FARGATE_SPOT\"\n    max_vcpus = 4".into(),
            efs: format!("file_system_id = \"{existing_fs}\"\n    root_directory = \"/shared/runs\""),
            transform: "{ kind = \"jsonl_calc\", calculations = [\"total = a + b\"] }",
            bucket: "contract-fargate-spot".into(),
        },
        Case {
            name: "ec2".into(),
            compute: format!(
                "type = \"EC2\"\n    max_vcpus = 64\n    min_vcpus = 2\n    instance_types = [\"c6i.large\", \"m6i\"]\n    allocation_strategy = \"BEST_FIT\"\n    instance_role = \"{instance_profile}\""
            ),
            efs: "performance_mode = \"maxIO\"\n    throughput_mode = \"bursting\"".into(),
            transform: "{ kind = \"csv_validate\", rules = { builtin = \"ghcn-daily\" } }",
            bucket: "contract-ec2".into(),
        },
        Case {
            name: "spot".into(),
            compute: format!(
                "type = \"SPOT\"\n    max_vcpus = 32\n    allocation_strategy = \"SPOT_PRICE_CAPACITY_OPTIMIZED\"\n    bid_percentage = 60\n    instance_role = \"{instance_profile}\""
            ),
            efs: String::new(),
            transform: "{ kind = \"csv_validate\", rules = { builtin = \"ghcn-daily\" } }",
            bucket: "contract-spot".into(),
        },
    ];

    moto.recorder("reset-recording").expect("reset");
    moto.recorder("start-recording").expect("start");
    for case in &cases {
        let mut env = moto.aws_env();
        env.push(("TF_VAR_endpoint".into(), moto.endpoint()));
        let tf = TerraformDir::new(provider_dir(), env).expect("terraform dir");
        tf.write("main.tf", &config(&net, case)).expect("write");
        tf.ok(&["apply", "-auto-approve"]).unwrap_or_else(|e| panic!("{}: apply: {e:#}", case.name));
        // An in-place update: a second revision of each job definition.
        let updated = config(&net, case).replace("synthetic_count = 100", "synthetic_count = 200");
        tf.write("main.tf", &updated.replace(":v1\"", ":v2\"")).expect("write");
        tf.ok(&["apply", "-auto-approve"]).unwrap_or_else(|e| panic!("{}: update: {e:#}", case.name));
        tf.ok(&["destroy", "-auto-approve"]).unwrap_or_else(|e| panic!("{}: destroy: {e:#}", case.name));
    }
    moto.recorder("stop-recording").expect("stop");

    // CONTRACT_RECORDING_COPY=<file> keeps the requests for a closer look.
    if let Some(copy) = std::env::var_os("CONTRACT_RECORDING_COPY") {
        std::fs::copy(moto.recording_path(), copy).expect("copy the recording");
    }
    let checker = testkit::paths::repo_root().join("tests").join("contract").join("aws_contract.py");
    let out = Command::new(python()).arg(&checker).arg(moto.recording_path()).output().expect("checker");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success(),
        "requests AWS would refuse:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The matrix reached the calls that matter (a silent recorder or an
    // unmatched protocol would pass vacuously).
    for op in [
        "batch.CreateComputeEnvironment",
        "batch.CreateJobQueue",
        "batch.RegisterJobDefinition",
        "efs.CreateFileSystem",
        "efs.CreateMountTarget",
        "efs.CreateAccessPoint",
        "s3.CreateBucket",
    ] {
        assert!(report.contains(&format!("  {op}\n")), "{op} was never checked:\n{report}");
    }
}

/// What AWS would refuse is refused by `terraform plan`, on the attribute
/// that breaks the rule (Terraform points at its line).
#[test]
fn what_aws_refuses_is_refused_at_plan_time_on_its_attribute() {
    let moto = MotoServer::start().expect("moto");
    let net = moto.pipeline_prerequisites().expect("prerequisites");
    let base = Case {
        name: "refusals".into(),
        compute: "type = \"FARGATE\"\n    max_vcpus = 4".into(),
        efs: String::new(),
        transform: "{ kind = \"csv_validate\", rules = { builtin = \"ghcn-daily\" } }",
        bucket: "contract-refusals".into(),
    };
    let spot = "type = \"SPOT\"\n    max_vcpus = 4\n    instance_role = \"arn:aws:iam::123456789012:instance-profile/x\"\n    allocation_strategy = \"BEST_FIT\"";
    let cases: Vec<(Case, &str, &str)> = vec![
        (
            Case { efs: "root_directory = \"/pipeline/\"".into(), ..base.clone() },
            "Invalid root_directory",
            "root_directory",
        ),
        (
            Case { efs: "root_directory = \"/a/b/c/d/e\"".into(), ..base.clone() },
            "Invalid root_directory",
            "root_directory",
        ),
        (
            Case { efs: "root_directory = \"/data/.cache\"".into(), ..base.clone() },
            "Invalid root_directory",
            "root_directory",
        ),
        (
            Case { efs: "root_directory = \"/a//b\"".into(), ..base.clone() },
            "Invalid root_directory",
            "root_directory",
        ),
        (
            Case {
                efs: "performance_mode = \"maxIO\"\n    throughput_mode = \"elastic\"".into(),
                ..base.clone()
            },
            "Elastic throughput needs generalPurpose",
            "throughput_mode",
        ),
        (Case { compute: spot.into(), ..base.clone() }, "Invalid allocation_strategy", "allocation_strategy"),
    ];
    let mut env = moto.aws_env();
    env.push(("TF_VAR_endpoint".into(), moto.endpoint()));
    for (case, summary, attribute) in cases {
        let tf = TerraformDir::new(provider_dir(), env.clone()).expect("terraform dir");
        let text = config(&net, &case);
        tf.write("main.tf", &text).expect("write");
        // The diagnostic must point at the attribute inside the text this
        // case set (the efs block's, or else the compute block's).
        let varied = if case.efs.is_empty() { &case.compute } else { &case.efs };
        let at = text.find(varied.as_str()).expect("the case's text is in main.tf");
        let (run, diagnostics) = tf.run_json(&["plan", "-json", "-input=false"]).expect("plan");
        assert_ne!(run.code, 0, "plan passed: {}", run.text());
        if let Err(why) =
            tf.check_points_at(&diagnostics, summary, "main.tf", attribute, at..at + varied.len())
        {
            panic!("{varied}: {why}");
        }
    }
}
