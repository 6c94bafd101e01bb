//! `batch_pipeline` through real Terraform against moto, checked on the AWS
//! side through the SDK: create, no-op plan, in-place update, forced
//! replacement, drift, import, destroy with and without force_destroy,
//! FARGATE and EC2, new and existing file system.

use std::path::Path;

use serde_json::Value as Json;
use testkit::{MotoServer, TerraformDir};

fn provider_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_terraform-provider-batch")).parent().expect("binary dir")
}

struct Fixture {
    moto: MotoServer,
    net: Json,
    batch: aws_sdk_batch::Client,
    efs: aws_sdk_efs::Client,
    s3: aws_sdk_s3::Client,
}

impl Fixture {
    fn start() -> Fixture {
        let moto = MotoServer::start().expect("moto");
        let net = moto.pipeline_prerequisites().expect("prerequisites");
        let sdk = testkit::aws::sdk_config(&moto);
        Fixture {
            batch: aws_sdk_batch::Client::new(&sdk),
            efs: aws_sdk_efs::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build(),
            ),
            net,
            moto,
        }
    }

    fn dir(&self) -> TerraformDir {
        let mut env = self.moto.aws_env();
        env.push(("TF_VAR_endpoint".into(), self.moto.endpoint()));
        TerraformDir::new(provider_dir(), env).expect("terraform dir")
    }

    async fn queue_exists(&self, name: &str) -> bool {
        let out = self.batch.describe_job_queues().job_queues(name).send().await.unwrap();
        out.job_queues().iter().any(|q| q.status().map(|s| s.as_str()) != Some("DELETED"))
    }

    async fn ce(&self, name: &str) -> Option<aws_sdk_batch::types::ComputeEnvironmentDetail> {
        let out = self.batch.describe_compute_environments().compute_environments(name).send().await.unwrap();
        out.compute_environments().iter().find(|c| c.status().map(|s| s.as_str()) != Some("DELETED")).cloned()
    }

    async fn active_revisions(&self, name: &str) -> Vec<aws_sdk_batch::types::JobDefinition> {
        let out = self
            .batch
            .describe_job_definitions()
            .job_definition_name(name)
            .status("ACTIVE")
            .send()
            .await
            .unwrap();
        out.job_definitions().to_vec()
    }

    async fn file_systems(&self) -> Vec<String> {
        let out = self.efs.describe_file_systems().send().await.unwrap();
        out.file_systems().iter().map(|f| f.file_system_id().to_string()).collect()
    }

    /// An EC2 instance profile in moto (moto checks it exists), made with
    /// boto3 from the tools venv: no IAM SDK needed in the test build.
    fn instance_profile(&self) -> String {
        let script = "import boto3,sys\n\
            iam=boto3.client('iam',endpoint_url=sys.argv[1],region_name='us-east-1')\n\
            p=iam.create_instance_profile(InstanceProfileName='ecsInstanceRole')\n\
            print(p['InstanceProfile']['Arn'])";
        let out = std::process::Command::new(testkit::paths::tools_venv().join("bin").join("python"))
            .args(["-c", script, &self.moto.endpoint()])
            .envs(self.moto.aws_env())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    async fn bucket_exists(&self, name: &str) -> bool {
        self.s3.head_bucket().bucket(name).send().await.is_ok()
    }
}

struct Opts<'a> {
    name: &'a str,
    priority: u32,
    compute: &'a str,
    max_vcpus: u32,
    image_tag: &'a str,
    /// None leaves the setting out (its default applies).
    force_destroy: Option<bool>,
    efs_extra: &'a str,
    processing_extra: &'a str,
    tags: &'a str,
    bucket: &'a str,
    /// The `source` block's body.
    source: &'a str,
}

fn config(f: &Fixture, o: &Opts<'_>) -> String {
    let subnets = f.net["subnet_ids"].to_string();
    let sgs = f.net["security_group_ids"].to_string();
    let service_role = f.net["service_role_arn"].as_str().unwrap();
    let exec_role = f.net["execution_role_arn"].as_str().unwrap();
    let job_role = f.net["job_role_arn"].as_str().unwrap();
    let (kind, ec2) = match o.compute {
        "EC2" => (
            "EC2",
            "instance_role = \"arn:aws:iam::123456789012:instance-profile/ecsInstanceRole\"\n    min_vcpus = 0".to_string(),
        ),
        other => (other, String::new()),
    };
    let stage = |s: &str, extra: &str| {
        format!(
            "  {s} {{\n    image = \"registry.local/jobs-{s}:{}\"\n    execution_role_arn = \"{exec_role}\"\n    job_role_arn = \"{job_role}\"\n    {extra}\n  }}\n",
            o.image_tag
        )
    };
    let preamble = testkit::terraform::provider_preamble(Some("{ owner = \"tests\" }"));
    format!(
        r#"
{preamble}resource "batch_pipeline" "p" {{
  name          = "{name}"
  {force}
  compute {{
    type               = "{kind}"
    max_vcpus          = {max}
    subnet_ids         = {subnets}
    security_group_ids = {sgs}
    service_role_arn   = "{service_role}"
    {ec2}
  }}
  queue {{
    priority = {priority}
  }}
  efs {{
    root_directory = "/pipeline"
    {efs_extra}
  }}
  source {{
    {source}
  }}
  items_per_node = 40
{procurement}{processing}{egress}
  egress_bucket {{
    name = "{bucket}"
  }}
  tags = {tags}
}}
data "batch_state_machine_definition" "run" {{
  job_queue_arn        = batch_pipeline.p.job_queue_arn
  job_definition_arns  = batch_pipeline.p.job_definition_arns
  prep_function_arn    = "arn:aws:lambda:us-east-1:123456789012:function:prep"
  watcher_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:watcher"
  poll_seconds         = 10
}}
output "queue" {{ value = batch_pipeline.p.job_queue_arn }}
output "jobdefs" {{ value = batch_pipeline.p.job_definition_arns }}
output "fs" {{ value = batch_pipeline.p.efs[0].file_system_id }}
output "ap" {{ value = batch_pipeline.p.access_point_id }}
output "cluster" {{ value = batch_pipeline.p.ecs_cluster_arn }}
output "run_config" {{ value = jsondecode(batch_pipeline.p.run_config) }}
output "definition" {{ value = jsondecode(data.batch_state_machine_definition.run.definition) }}
"#,
        name = o.name,
        priority = o.priority,
        force = o.force_destroy.map(|f| format!("force_destroy = {f}")).unwrap_or_default(),
        max = o.max_vcpus,
        efs_extra = o.efs_extra,
        bucket = o.bucket,
        tags = o.tags,
        source = o.source,
        procurement = stage("procurement", ""),
        processing = stage(
            "processing",
            &format!(
                "transform = jsonencode({{ kind = \"csv_validate\", rules = {{ builtin = \"ghcn-daily\" }} }})\n    {}",
                o.processing_extra
            ),
        ),
        egress = stage("egress", ""),
    )
}

/// Imports pipeline `id` into a fresh directory with `config` and asserts
/// the plan has nothing to do but the import; returns the directory.
fn imports_cleanly(f: &Fixture, config: &str, id: &str) -> TerraformDir {
    let imported = f.dir();
    imported
        .write("main.tf", &format!("{config}\nimport {{\n  to = batch_pipeline.p\n  id = \"{id}\"\n}}\n"))
        .unwrap();
    let import_plan = imported.ok(&["plan"]).unwrap();
    assert!(
        import_plan.stdout.contains("1 to import, 0 to add, 0 to change, 0 to destroy"),
        "{}",
        import_plan.text()
    );
    imported
}

fn default_opts<'a>(name: &'a str, bucket: &'a str) -> Opts<'a> {
    Opts {
        name,
        priority: 1,
        compute: "FARGATE",
        max_vcpus: 16,
        image_tag: "v1",
        force_destroy: Some(false),
        efs_extra: "",
        processing_extra: "",
        tags: "{ project = \"tests\" }",
        bucket,
        source: "synthetic_count = 400",
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fargate_pipeline_lifecycle() {
    let f = Fixture::start();
    let tf = f.dir();
    let mut o = default_opts("ghcn", "ghcn-results");
    tf.write("main.tf", &config(&f, &o)).unwrap();

    let plan = tf.ok(&["plan"]).unwrap();
    assert!(plan.stdout.contains("Plan: 1 to add"), "{}", plan.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();

    // The AWS side: every part exists, wired as configured.
    let ce = f.ce("ghcn-ce").await.expect("compute environment");
    assert_eq!(ce.compute_resources().unwrap().maxv_cpus(), Some(16));
    assert_eq!(ce.tags().unwrap()["owner"], "tests");
    assert_eq!(ce.tags().unwrap()["project"], "tests");
    assert!(f.queue_exists("ghcn-queue").await);
    let fs_id = tf.output("fs").unwrap().as_str().unwrap().to_string();
    assert!(f.file_systems().await.contains(&fs_id));
    let aps = f.efs.describe_access_points().file_system_id(&fs_id).send().await.unwrap();
    let ap = &aps.access_points()[0];
    let root = ap.root_directory().unwrap();
    assert_eq!(root.path(), Some("/pipeline"));
    assert_eq!(root.creation_info().unwrap().permissions(), "0750");
    let mts = f.efs.describe_mount_targets().file_system_id(&fs_id).send().await.unwrap();
    assert_eq!(mts.mount_targets().len(), 2, "one mount target per subnet");
    for stage in ["procurement", "processing", "egress"] {
        let defs = f.active_revisions(&format!("ghcn-{stage}")).await;
        assert_eq!(defs.len(), 1, "{stage}");
        let c = defs[0].container_properties().unwrap();
        let vol = c.volumes()[0].efs_volume_configuration().unwrap();
        assert_eq!(vol.file_system_id(), Some(fs_id.as_str()));
        assert_eq!(vol.transit_encryption().map(|t| t.as_str()), Some("ENABLED"));
        assert_eq!(vol.authorization_config().unwrap().access_point_id(), ap.access_point_id());
        assert_eq!(defs[0].retry_strategy().unwrap().attempts(), Some(3));
        assert_eq!(defs[0].timeout().unwrap().attempt_duration_seconds(), Some(3600));
    }
    assert!(f.bucket_exists("ghcn-results").await);
    let run_config = tf.output("run_config").unwrap();
    assert_eq!(run_config["source"]["count"], 400);
    assert_eq!(run_config["egress"]["bucket"], "ghcn-results");
    let definition = tf.output("definition").unwrap();
    assert_eq!(definition["States"]["SubmitProcessing"]["Parameters"]["DependsOn"][0]["Type"], "N_TO_N");
    assert_eq!(
        definition["States"]["SubmitEgress"]["Parameters"]["JobDefinition"],
        tf.output("jobdefs").unwrap()["egress"]
    );

    // Nothing to do on a second plan.
    let again = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(again.code, 0, "{}", again.text());

    // In place: queue priority and a new image (a new job definition
    // revision, the old one deregistered). (max_vcpus updates in place too,
    // but moto ignores UpdateComputeEnvironment's computeResources, so its
    // effect cannot be checked here.)
    let old_arns = tf.output("jobdefs").unwrap();
    o.priority = 5;
    o.image_tag = "v2";
    // And the file system's lifecycle policy, kept beside other policies.
    f.efs
        .put_lifecycle_configuration()
        .file_system_id(&fs_id)
        .lifecycle_policies(
            aws_sdk_efs::types::LifecyclePolicy::builder()
                .transition_to_primary_storage_class(
                    aws_sdk_efs::types::TransitionToPrimaryStorageClassRules::After1Access,
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    o.efs_extra = "transition_to_ia = \"AFTER_30_DAYS\"";
    tf.write("main.tf", &config(&f, &o)).unwrap();
    let update = tf.ok(&["plan"]).unwrap();
    assert!(update.stdout.contains("0 to add, 1 to change, 0 to destroy"), "{}", update.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let queue = f.batch.describe_job_queues().job_queues("ghcn-queue").send().await.unwrap();
    assert_eq!(queue.job_queues()[0].priority(), Some(5));
    let lifecycle = f.efs.describe_lifecycle_configuration().file_system_id(&fs_id).send().await.unwrap();
    let policies: Vec<String> = lifecycle.lifecycle_policies().iter().map(|p| format!("{p:?}")).collect();
    assert_eq!(policies.len(), 2, "{policies:?}");
    assert!(
        lifecycle
            .lifecycle_policies()
            .iter()
            .any(|p| p.transition_to_ia().map(|t| t.as_str()) == Some("AFTER_30_DAYS")),
        "{policies:?}"
    );
    assert!(
        lifecycle.lifecycle_policies().iter().any(|p| p.transition_to_primary_storage_class().is_some()),
        "{policies:?}"
    );
    let new_arns = tf.output("jobdefs").unwrap();
    for stage in ["procurement", "processing", "egress"] {
        assert_ne!(old_arns[stage], new_arns[stage], "{stage} got a new revision");
        let active = f.active_revisions(&format!("ghcn-{stage}")).await;
        assert_eq!(active.len(), 1, "old revision of {stage} deregistered");
        assert!(active[0].container_properties().unwrap().image().unwrap().ends_with(":v2"));
    }
    let again = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(again.code, 0, "{}", again.text());

    // Drift: the queue deleted behind Terraform's back is made again.
    f.batch
        .update_job_queue()
        .job_queue("ghcn-queue")
        .state(aws_sdk_batch::types::JqState::Disabled)
        .send()
        .await
        .unwrap();
    f.batch.delete_job_queue().job_queue("ghcn-queue").send().await.unwrap();
    let drift = tf.ok(&["plan"]).unwrap();
    assert!(drift.stdout.contains("job_queue_arn"), "{}", drift.text());
    assert!(drift.stdout.contains("1 to change"), "{}", drift.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert!(f.queue_exists("ghcn-queue").await);
    // Drift: the queue's priority changed behind Terraform's back shows in
    // the plan and is put back.
    f.batch.update_job_queue().job_queue("ghcn-queue").priority(9).send().await.unwrap();
    let drift = tf.ok(&["plan"]).unwrap();
    assert!(drift.stdout.contains("priority") && drift.stdout.contains("9 -> 5"), "{}", drift.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let queue = f.batch.describe_job_queues().job_queues("ghcn-queue").send().await.unwrap();
    assert_eq!(queue.job_queues()[0].priority(), Some(5));

    // Drift: the lifecycle policy changed behind Terraform's back.
    f.efs
        .put_lifecycle_configuration()
        .file_system_id(&fs_id)
        .lifecycle_policies(
            aws_sdk_efs::types::LifecyclePolicy::builder()
                .transition_to_ia(aws_sdk_efs::types::TransitionToIaRules::After7Days)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drift = tf.ok(&["plan"]).unwrap();
    assert!(drift.stdout.contains("\"AFTER_7_DAYS\" -> \"AFTER_30_DAYS\""), "{}", drift.text());
    assert!(
        !drift.stdout.lines().any(|l| l.contains("job_definition_arns") && l.contains("known after apply")),
        "no new definitions for a lifecycle policy: {}",
        drift.text()
    );
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(
        f.efs
            .describe_lifecycle_configuration()
            .file_system_id(&fs_id)
            .send()
            .await
            .unwrap()
            .lifecycle_policies()[0]
            .transition_to_ia()
            .map(|t| t.as_str()),
        Some("AFTER_30_DAYS")
    );

    // Import into a fresh directory: the plan is clean.
    let imported = imports_cleanly(&f, &config(&f, &o), "ghcn");
    imported.ok(&["apply", "-auto-approve"]).unwrap();
    imported.ok(&["state", "rm", "batch_pipeline.p"]).unwrap();

    // Destroy without force_destroy: the file system and the bucket are
    // kept and named; everything else is gone.
    let destroy = tf.ok(&["destroy", "-auto-approve"]).unwrap();
    let all = format!("{}{}", destroy.stdout, destroy.stderr);
    assert!(all.contains("Data kept on purpose"), "{all}");
    assert!(all.contains(&fs_id), "{all}");
    assert!(all.contains("S3 bucket ghcn-results"), "{all}");
    assert!(f.ce("ghcn-ce").await.is_none());
    assert!(!f.queue_exists("ghcn-queue").await);
    for stage in ["procurement", "processing", "egress"] {
        assert!(f.active_revisions(&format!("ghcn-{stage}")).await.is_empty());
    }
    assert!(f.file_systems().await.contains(&fs_id));
    let mts = f.efs.describe_mount_targets().file_system_id(&fs_id).send().await.unwrap();
    assert!(mts.mount_targets().is_empty(), "mount targets deleted, so the network can go");
    assert!(f.bucket_exists("ghcn-results").await);
    let aps = f.efs.describe_access_points().file_system_id(&fs_id).send().await.unwrap();
    assert!(aps.access_points().is_empty(), "access point deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn ec2_pipeline_on_an_existing_file_system_with_force_destroy() {
    let f = Fixture::start();
    // A file system the user brings: used, never deleted.
    let existing =
        f.efs.create_file_system().creation_token("users-own").encrypted(true).send().await.unwrap();
    let existing_id = existing.file_system_id().to_string();
    // One mount target is the user's already; the pipeline adds the other.
    let subnets: Vec<String> =
        f.net["subnet_ids"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    let users_mount_target = f
        .efs
        .create_mount_target()
        .file_system_id(&existing_id)
        .subnet_id(&subnets[0])
        .send()
        .await
        .unwrap()
        .mount_target_id()
        .to_string();
    assert_eq!(f.instance_profile(), "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole");
    let tf = f.dir();
    let efs_extra = format!("file_system_id = \"{existing_id}\"");
    let mut o = default_opts("genomics", "genomics-results");
    o.compute = "EC2";
    o.force_destroy = Some(true);
    o.efs_extra = &efs_extra;
    tf.write("main.tf", &config(&f, &o)).unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(tf.output("fs").unwrap(), existing_id.as_str());
    let ce = f.ce("genomics-ce").await.unwrap();
    assert_eq!(ce.compute_resources().unwrap().r#type().map(|t| t.as_str()), Some("EC2"));
    let defs = f.active_revisions("genomics-processing").await;
    assert_eq!(defs[0].platform_capabilities().first().map(|p| p.as_str()), Some("EC2"));
    let again = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(again.code, 0, "{}", again.text());

    // An EC2 pipeline on the user's file system imports cleanly too (AWS
    // reports instance types and allocation strategy the config leaves out;
    // the file system's own throughput mode is not the pipeline's setting).
    // force_destroy lives only in Terraform: the import has its default;
    // a queue on defaults imports as no `queue` block.
    let import_config =
        config(&f, &o).replace("force_destroy = true", "").replace("  queue {\n    priority = 1\n  }\n", "");
    imports_cleanly(&f, &import_config, "genomics");

    // Forced replacement: the compute type cannot change in place.
    o.compute = "FARGATE";
    tf.write("main.tf", &config(&f, &o)).unwrap();
    let replace = tf.ok(&["plan"]).unwrap();
    assert!(replace.stdout.contains("must be replaced"), "{}", replace.text());
    assert!(replace.stdout.contains("# forces replacement"), "{}", replace.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let ce = f.ce("genomics-ce").await.unwrap();
    assert_eq!(ce.compute_resources().unwrap().r#type().map(|t| t.as_str()), Some("FARGATE"));

    // force_destroy: the bucket goes (objects and all), the user's file
    // system stays.
    f.s3.put_object()
        .bucket("genomics-results")
        .key("results/r1/0/out.csv")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let destroy = tf.ok(&["destroy", "-auto-approve"]).unwrap();
    assert!(!destroy.stdout.contains("Data kept on purpose"), "{}", destroy.text());
    assert!(!f.bucket_exists("genomics-results").await);
    assert!(f.file_systems().await.contains(&existing_id));
    assert!(f.ce("genomics-ce").await.is_none());
    // The mount target the pipeline added is gone (so its subnet and
    // security group can go); the user's stays.
    let mts = f.efs.describe_mount_targets().file_system_id(&existing_id).send().await.unwrap();
    let left: Vec<&str> = mts.mount_targets().iter().map(|m| m.mount_target_id()).collect();
    assert_eq!(left, vec![users_mount_target.as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn force_destroy_removes_a_created_file_system() {
    let f = Fixture::start();
    let tf = f.dir();
    let mut o = default_opts("scratch", "scratch-results");
    o.force_destroy = Some(true);
    tf.write("main.tf", &config(&f, &o)).unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let fs_id = tf.output("fs").unwrap().as_str().unwrap().to_string();
    tf.ok(&["destroy", "-auto-approve"]).unwrap();
    assert!(!f.file_systems().await.contains(&fs_id), "file system deleted with force_destroy");
    assert!(!f.bucket_exists("scratch-results").await);
}

/// A queue-fed pipeline: the sqs source reaches the run configuration as
/// prep reads it, with the settings given, and import restores it from the
/// AWS objects (the procurement job definition's settings) so the plan is
/// clean.
#[tokio::test(flavor = "multi_thread")]
async fn a_queue_fed_pipeline_applies_and_imports_with_its_sqs_source() {
    let f = Fixture::start();
    let tf = f.dir();
    let mut o = default_opts("images", "images-results");
    o.force_destroy = Some(true);
    let url = "https://sqs.us-east-1.amazonaws.com/123456789012/images-work";
    let config = config(&f, &o).replace(
        "synthetic_count = 400",
        &format!(
            "s3_bucket = \"photos\"\n    s3_prefix = \"incoming/\"\n    s3_suffix = \".jpg\"\n    \
             sqs_queue_url = \"{url}\"\n    sqs_visibility_timeout_seconds = 7200"
        ),
    );
    tf.write("main.tf", &config).unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let run_config = tf.output("run_config").unwrap();
    assert_eq!(
        run_config["source"],
        serde_json::json!({
            "type": "sqs", "queue_url": url, "bucket": "photos", "prefix": "incoming/", "suffix": ".jpg",
            "max_messages": 1000, "visibility_timeout_seconds": 7200
        })
    );
    // force_destroy lives only in Terraform (the import has its default),
    // and a queue on defaults imports as no `queue` block; the source
    // block, sqs settings and all, must come back as configured.
    let import_config =
        config.replace("force_destroy = true", "").replace("  queue {\n    priority = 1\n  }\n", "");
    let imported = imports_cleanly(&f, &import_config, "images");
    imported.ok(&["apply", "-auto-approve"]).unwrap();
    imported.ok(&["state", "rm", "batch_pipeline.p"]).unwrap();
    tf.ok(&["destroy", "-auto-approve"]).unwrap();
}

/// An SFTP source (incremental, with its claim TTL) reaches the run
/// configuration, and an import restores it (defaults left out read back
/// as unset: the plan is clean).
#[tokio::test(flavor = "multi_thread")]
async fn an_sftp_source_applies_and_imports_cleanly() {
    let f = Fixture::start();
    let tf = f.dir();
    let mut o = default_opts("feed", "feed-results");
    // Not the defaults, which an import cannot tell from unset.
    o.priority = 5;
    o.source = "sftp_host = \"sftp.example.com\"\n    sftp_user = \"feed\"\n    \
        sftp_private_key_secret_arn = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:feed-key-AbCdEf\"\n    \
        sftp_host_key = \"SHA256:cxZN8pLShoGrYWTZkBNJJKG1tcFq6PcAE0u31NR6kmw\"\n    \
        sftp_directory = \"/outgoing\"\n    sftp_glob = \"*.xml\"\n    \
        sftp_archive_bucket = \"feed-raw\"\n    sftp_archive_prefix = \"sftp/\"\n    \
        incremental = true\n    claim_ttl_seconds = 7200";
    // The job log group: the awslogs driver in the definition, read back on import.
    o.processing_extra = "log_group_name = \"/aws/batch/feed\"";
    tf.write("main.tf", &config(&f, &o)).unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let run_config = tf.output("run_config").unwrap();
    assert_eq!(
        run_config["source"],
        serde_json::json!({
            "type": "sftp", "host": "sftp.example.com", "port": 22, "user": "feed",
            "private_key_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:feed-key-AbCdEf",
            "host_key": "SHA256:cxZN8pLShoGrYWTZkBNJJKG1tcFq6PcAE0u31NR6kmw",
            "directory": "/outgoing", "glob": "*.xml", "recursive": false,
            "archive_bucket": "feed-raw", "archive_prefix": "sftp/",
            "incremental": true, "claim_ttl_seconds": 7200,
        })
    );
    let processing = f.active_revisions("feed-processing").await;
    let logs = processing.last().and_then(|d| d.container_properties()).and_then(|c| c.log_configuration());
    let options = logs.and_then(|l| l.options()).cloned().unwrap_or_default();
    assert_eq!(logs.and_then(|l| l.log_driver()).map(|d| d.as_str()), Some("awslogs"), "{logs:?}");
    assert_eq!(
        (
            options.get("awslogs-group").map(String::as_str),
            options.get("awslogs-stream-prefix").map(String::as_str)
        ),
        (Some("/aws/batch/feed"), Some("processing"))
    );
    let procurement = f.active_revisions("feed-procurement").await;
    assert!(
        procurement
            .last()
            .and_then(|d| d.container_properties())
            .and_then(|c| c.log_configuration())
            .is_none()
    );
    let imported = imports_cleanly(&f, &config(&f, &o), "feed");
    imported.ok(&["apply", "-auto-approve"]).unwrap();
    imported.ok(&["state", "rm", "batch_pipeline.p"]).unwrap();
    tf.ok(&["destroy", "-auto-approve"]).unwrap();
}

/// The `retention` block reaches the run configuration and changes in
/// place: no new job definition revision (prep reads it, the jobs do not),
/// a clean plan after each apply, and removing it removes it.
#[tokio::test(flavor = "multi_thread")]
async fn retention_reaches_the_run_config_and_changes_in_place() {
    let f = Fixture::start();
    let tf = f.dir();
    let o = default_opts("kept", "kept-results");
    let with = |body: &str| {
        config(&f, &o).replace(
            "  items_per_node = 40\n",
            &format!("  items_per_node = 40\n  retention {{\n    {body}\n  }}\n"),
        )
    };
    tf.write("main.tf", &with("keep_runs = 3")).unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(tf.output("run_config").unwrap()["retention"], serde_json::json!({"keep_runs": 3}));
    let jobdefs = tf.output("jobdefs").unwrap();

    tf.write("main.tf", &with("max_age_days = 7")).unwrap();
    let update = tf.ok(&["plan"]).unwrap();
    assert!(update.stdout.contains("0 to add, 1 to change, 0 to destroy"), "{}", update.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(tf.output("run_config").unwrap()["retention"], serde_json::json!({"max_age_days": 7}));
    assert_eq!(tf.output("jobdefs").unwrap(), jobdefs, "no new job definition revisions");
    let again = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(again.code, 0, "{}", again.text());

    tf.write("main.tf", &config(&f, &o)).unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert!(tf.output("run_config").unwrap().get("retention").is_none());
    tf.ok(&["destroy", "-auto-approve"]).unwrap();
}

/// Each bad configuration fails at plan time with a clear message on the
/// right attribute: where Terraform's `-json` diagnostic points (its
/// resolution of the attribute path our provider sent) is the value this
/// case set, not just any line that mentions the attribute's name.
#[tokio::test(flavor = "multi_thread")]
async fn bad_configuration_is_refused_at_plan_time() {
    let f = Fixture::start();
    let tf = f.dir();
    let base = config(&f, &default_opts("valid", "valid-results"));
    // (text to find, what to put there, the error's summary, where it must
    // point: the attribute set in the new text, or `block {}` when the
    // error is an attribute missing from that block).
    let cases: Vec<(&str, &str, &str, &str)> = vec![
        ("name          = \"valid\"", "name = \"9lives!\"", "Invalid pipeline name", "name"),
        ("type               = \"FARGATE\"", "type = \"LAMBDA\"", "Invalid compute type", "type"),
        ("max_vcpus          = 16", "max_vcpus = 0", "Invalid max_vcpus", "max_vcpus"),
        (
            "max_vcpus          = 16",
            "max_vcpus = 16\n    instance_types = [\"c5.large\"]",
            "Not valid for Fargate",
            "instance_types",
        ),
        (
            "max_vcpus          = 16",
            "max_vcpus = 16\n    bid_percentage = 50",
            "Not valid for Fargate",
            "bid_percentage",
        ),
        ("subnet_ids         = ", "subnet_ids = []\n    #", "No subnets", "subnet_ids"),
        (
            "root_directory = \"/pipeline\"",
            "root_directory = \"relative/../x\"",
            "Invalid root_directory",
            "root_directory",
        ),
        (
            "root_directory = \"/pipeline\"",
            "root_directory = \"/p\"\n    permissions = \"999\"",
            "Invalid permissions",
            "permissions",
        ),
        (
            "root_directory = \"/pipeline\"",
            "root_directory = \"/p\"\n    throughput_mode = \"provisioned\"",
            "Missing throughput",
            "efs {}",
        ),
        (
            "root_directory = \"/pipeline\"",
            "root_directory = \"/p\"\n    security_group_ids = []",
            "No security groups",
            "security_group_ids",
        ),
        (
            "job_role_arn = ",
            "retry_on_exit_codes = [1, 2, 3, 4]\n    job_role_arn = ",
            "Too many exit codes",
            "retry_on_exit_codes",
        ),
        (
            "synthetic_count = 400",
            "synthetic_count = 400\n    s3_bucket = \"raw\"",
            "Conflicting sources",
            "synthetic_count",
        ),
        (
            "synthetic_count = 400",
            "synthetic_count = 400\n    synthetic_format = \"csv\"",
            "Invalid synthetic_format",
            "synthetic_format",
        ),
        (
            "synthetic_count = 400",
            "sftp_host = \"sftp.example.com\"\n    sftp_user = \"feed\"\n    \
             sftp_private_key_secret_arn = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:k\"\n    \
             sftp_directory = \"/outgoing\"\n    sftp_host_key = \"accept-new\"",
            "Invalid SFTP source",
            "sftp_host_key",
        ),
        (
            "synthetic_count = 400",
            "synthetic_count = 400\n    sftp_glob = \"*.xml\"",
            "Not used",
            "sftp_glob",
        ),
        ("items_per_node = 40", "items_per_node = 40\n  max_nodes = 20000", "Invalid max_nodes", "max_nodes"),
        ("name = \"valid-results\"", "name = \"Bad_Bucket\"", "Invalid bucket name", "name"),
        (
            "job_role_arn = ",
            "retry_attempts = 11\n    job_role_arn = ",
            "Invalid retry_attempts",
            "retry_attempts",
        ),
        (
            "job_role_arn = ",
            "timeout_seconds = 30\n    job_role_arn = ",
            "Invalid timeout_seconds",
            "timeout_seconds",
        ),
        ("job_role_arn = ", "memory = 1000\n    job_role_arn = ", "Unsupported Fargate size", "memory"),
        (
            "job_role_arn = ",
            "retry_on_exit_codes = [300]\n    job_role_arn = ",
            "Invalid exit code",
            "retry_on_exit_codes",
        ),
        (
            "job_role_arn = ",
            "environment = { AWS_BATCH_X = \"1\" }\n    job_role_arn = ",
            "Invalid environment variable",
            "environment",
        ),
        ("transform = jsonencode(", "transform = \"[1, 2]\"\n    #", "Invalid transform", "transform"),
        ("transform = jsonencode(", "# transform = jsonencode(", "Missing transform", "processing {}"),
        (
            "service_role_arn   = ",
            "service_role_arn = \"role/batch\"\n    #",
            "Invalid ARN",
            "service_role_arn",
        ),
        ("poll_seconds         = 10", "poll_seconds = 1", "Invalid poll_seconds", "poll_seconds"),
        // 48 h polled every 30 s: 5,760 watcher rounds, over the 2,600
        // that fit in Step Functions' 25,000-event execution history.
        (
            "poll_seconds         = 10",
            "poll_seconds = 30\n  timeout_seconds = 172800",
            "timeout_seconds does not fit in the execution history",
            "timeout_seconds",
        ),
    ];
    assert!(cases.len() >= 15);
    for (find, replace, summary, attribute) in cases {
        let at = base.find(find).unwrap_or_else(|| panic!("case {summary}: {find:?} not in the base config"));
        let config = base.replacen(find, replace, 1);
        tf.write("main.tf", &config).unwrap();
        let (run, diagnostics) = tf.run_json(&["validate", "-json"]).unwrap();
        assert_eq!(run.code, 1, "case {summary}: {}", run.text());
        // `block {}`: the attribute is missing, so there is no value to
        // point at; Terraform shows the block it is missing from.
        if let Some(block) = attribute.strip_suffix(" {}") {
            let header = format!("  {block} {{");
            let start = config.find(&header).unwrap();
            let end = start + config[start..].find("\n  }\n").unwrap();
            let line = tf.check_points_into(&diagnostics, summary, "main.tf", start..end);
            assert_eq!(line.as_deref(), Ok(header.as_str()), "case {summary}");
            continue;
        }
        if let Err(e) =
            tf.check_points_at(&diagnostics, summary, "main.tf", attribute, at..at + replace.len())
        {
            panic!("case {summary}: {e}");
        }
    }
}

/// A create that fails halfway keeps what it made in the state (tainted);
/// the next apply adopts it instead of making a second file system.
#[tokio::test(flavor = "multi_thread")]
async fn failed_create_is_tainted_and_the_retry_adopts_what_exists() {
    let f = Fixture::start();
    let tf = f.dir();
    let good = config(&f, &default_opts("halfway", "halfway-results"));
    let service_role = f.net["service_role_arn"].as_str().unwrap().to_string();
    // moto refuses a compute environment whose service role does not exist:
    // the bucket and EFS are made first, then the create fails.
    let broken = good.replace(&service_role, "arn:aws:iam::123456789012:role/does-not-exist");
    tf.write("main.tf", &broken).unwrap();
    let run = tf.run(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(run.stderr.contains("CreateComputeEnvironment failed"), "{}", run.text());
    let state = tf.ok(&["show", "-json"]).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state.stdout).unwrap();
    let pipeline = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "batch_pipeline")
        .cloned()
        .expect("the partial pipeline is in the state");
    assert_eq!(pipeline["tainted"], true, "{pipeline:#}");
    let fs_id = pipeline["values"]["efs"][0]["file_system_id"].as_str().unwrap().to_string();
    assert_eq!(f.file_systems().await, vec![fs_id.clone()]);

    // Fixed: the tainted pipeline is replaced; the replacement finds the
    // file system by its creation token and uses it, and the old one's
    // destroy (force_destroy = false) keeps it.
    tf.write("main.tf", &good).unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(f.file_systems().await, vec![fs_id.clone()], "no second file system");
    assert_eq!(tf.output("fs").unwrap(), fs_id.as_str());
    let mts = f.efs.describe_mount_targets().file_system_id(&fs_id).send().await.unwrap();
    assert_eq!(mts.mount_targets().len(), 2, "mount targets made again");
    assert!(f.ce("halfway-ce").await.is_some());
    let again = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(again.code, 0, "{}", again.text());
}

fn memory_of(def: &aws_sdk_batch::types::JobDefinition) -> Option<String> {
    let requirements = def.container_properties()?.resource_requirements();
    let memory = requirements.iter().find(|r| r.r#type().map(|t| t.as_str()) == Some("MEMORY"))?;
    memory.value().map(str::to_string)
}

/// Settings left out of the configuration go back to their defaults (the
/// prior value is not kept), tag changes reach the parts that exist, and a
/// part of the file system deleted outside Terraform is made again in
/// place, with new job definition revisions that name it.
#[tokio::test(flavor = "multi_thread")]
async fn defaults_tags_and_parts_deleted_outside_terraform() {
    let f = Fixture::start();
    let tf = f.dir();
    let mut o = default_opts("drift", "drift-results");
    o.force_destroy = Some(true);
    o.processing_extra = "memory = 4096";
    tf.write("main.tf", &config(&f, &o)).unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let defs = f.active_revisions("drift-processing").await;
    assert_eq!(memory_of(&defs[0]).as_deref(), Some("4096"));

    // Both settings removed, tags changed.
    o.force_destroy = None;
    o.processing_extra = "";
    o.tags = "{ team = \"data\" }";
    tf.write("main.tf", &config(&f, &o)).unwrap();
    let plan = tf.ok(&["plan", "-no-color"]).unwrap();
    assert!(
        plan.stdout.contains("force_destroy") && plan.stdout.contains("true -> false"),
        "{}",
        plan.text()
    );
    assert!(plan.stdout.contains("4096 -> 2048"), "{}", plan.text());
    assert!(plan.stdout.contains("1 to change"), "{}", plan.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let defs = f.active_revisions("drift-processing").await;
    assert_eq!(defs.len(), 1);
    assert_eq!(memory_of(&defs[0]).as_deref(), Some("2048"));
    let again = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(again.code, 0, "{}", again.text());
    let ce_tags = f.ce("drift-ce").await.unwrap().tags().cloned().unwrap_or_default();
    assert_eq!(ce_tags.get("team").map(String::as_str), Some("data"), "{ce_tags:?}");
    assert!(!ce_tags.contains_key("project"), "stale tag removed: {ce_tags:?}");
    let queue = f.batch.describe_job_queues().job_queues("drift-queue").send().await.unwrap();
    let queue_tags = queue.job_queues()[0].tags().cloned().unwrap_or_default();
    assert_eq!(queue_tags.get("team").map(String::as_str), Some("data"), "{queue_tags:?}");
    assert!(!queue_tags.contains_key("project"), "{queue_tags:?}");
    let fs_id = tf.output("fs").unwrap().as_str().unwrap().to_string();
    let fs_tags = f.efs.list_tags_for_resource().resource_id(&fs_id).send().await.unwrap();
    let fs_tags: Vec<(&str, &str)> = fs_tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(fs_tags.contains(&("team", "data")), "{fs_tags:?}");
    assert!(!fs_tags.iter().any(|(k, _)| *k == "project"), "{fs_tags:?}");

    // The access point deleted behind Terraform's back: made again in
    // place, and the job definitions follow it.
    let old_ap = tf.output("ap").unwrap().as_str().unwrap().to_string();
    f.efs.delete_access_point().access_point_id(&old_ap).send().await.unwrap();
    let plan = tf.ok(&["plan", "-no-color"]).unwrap();
    assert!(plan.stdout.contains("1 to change, 0 to destroy"), "{}", plan.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let new_ap = tf.output("ap").unwrap().as_str().unwrap().to_string();
    assert_ne!(new_ap, old_ap);
    let defs = f.active_revisions("drift-egress").await;
    let volume = defs[0].container_properties().unwrap().volumes()[0].efs_volume_configuration().unwrap();
    assert_eq!(volume.authorization_config().unwrap().access_point_id(), Some(new_ap.as_str()));
    let again = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(again.code, 0, "{}", again.text());

    // The file system itself deleted: a new one, still no replacement.
    let mts = f.efs.describe_mount_targets().file_system_id(&fs_id).send().await.unwrap();
    for mt in mts.mount_targets() {
        f.efs.delete_mount_target().mount_target_id(mt.mount_target_id()).send().await.unwrap();
    }
    f.efs.delete_access_point().access_point_id(&new_ap).send().await.unwrap();
    f.efs.delete_file_system().file_system_id(&fs_id).send().await.unwrap();
    let plan = tf.ok(&["plan", "-no-color"]).unwrap();
    assert!(plan.stdout.contains("1 to change, 0 to destroy"), "{}", plan.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let new_fs = tf.output("fs").unwrap().as_str().unwrap().to_string();
    assert_ne!(new_fs, fs_id);
    assert!(f.file_systems().await.contains(&new_fs));
    let again = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(again.code, 0, "{}", again.text());

    // `terraform validate` sees variables as unknown: a Fargate size that
    // depends on one is not judged before it is known.
    let with_variable = config(&f, &o).replace(
        "transform = jsonencode(",
        "vcpus = 4\n    memory = var.memory\n    transform = jsonencode(",
    );
    tf.write("main.tf", &format!("{with_variable}\nvariable \"memory\" {{ type = number }}\n")).unwrap();
    let validate = tf.run(&["validate"]).unwrap();
    assert_eq!(validate.code, 0, "{}", validate.text());
    tf.write("main.tf", &config(&f, &o)).unwrap();

    // force_destroy is false again: the file system is kept, its mount
    // targets are not.
    let destroy = tf.ok(&["destroy", "-auto-approve"]).unwrap();
    assert!(destroy.text().contains("Data kept on purpose"), "{}", destroy.text());
    assert!(f.file_systems().await.contains(&new_fs));
    let mts = f.efs.describe_mount_targets().file_system_id(&new_fs).send().await.unwrap();
    assert!(mts.mount_targets().is_empty());
}

/// A bucket that exists but is not the pipeline's is not taken over by
/// `create = true` (nothing is made); `create = false` uses it as it is.
#[tokio::test(flavor = "multi_thread")]
async fn an_existing_bucket_is_not_taken_over() {
    let f = Fixture::start();
    f.s3.create_bucket().bucket("someone-elses").send().await.unwrap();
    let tf = f.dir();
    let base = config(&f, &default_opts("careful", "someone-elses"));
    tf.write("main.tf", &base).unwrap();
    let run = tf.run(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(run.stderr.contains("Egress bucket already exists"), "{}", run.text());
    assert!(run.stderr.contains("egress_bucket.create = false"), "{}", run.text());
    assert!(f.file_systems().await.is_empty(), "nothing made");
    assert!(f.ce("careful-ce").await.is_none());
    let tagging = f.s3.get_bucket_tagging().bucket("someone-elses").send().await;
    assert!(tagging.map(|t| t.tag_set().is_empty()).unwrap_or(true), "bucket left untouched");

    tf.write(
        "main.tf",
        &base.replace("name = \"someone-elses\"", "name = \"someone-elses\"\n    create = false"),
    )
    .unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert!(f.ce("careful-ce").await.is_some());
}
