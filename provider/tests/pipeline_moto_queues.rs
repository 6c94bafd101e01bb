//! The pipeline's two job queues through real Terraform against moto,
//! checked on the AWS side through the SDK: procurement's queue and the
//! higher-priority later-stages queue on the same compute environment,
//! the state machine definition submitting each stage to its queue, an
//! in-place priority change, drift (priority, state, a deleted queue),
//! import, the plan-time refusal of a later-stages priority that is not
//! higher, and destroy.

use std::path::Path;

use aws_sdk_batch::types::{JobQueueDetail, JqState};
use testkit::{MotoServer, TerraformDir};

fn provider_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_terraform-provider-batch")).parent().expect("binary dir")
}

const FIRST: &str = "q2-queue";
const LATER: &str = "q2-later-stages-queue";

/// The configuration; `queue` is the `queue` block's body (None: no block).
fn config(net: &serde_json::Value, queue: Option<&str>) -> String {
    let exec_role = net["execution_role_arn"].as_str().unwrap();
    let stage = |s: &str, extra: &str| {
        format!(
            "  {s} {{\n    image = \"registry.local/jobs-{s}:v1\"\n    execution_role_arn = \"{exec_role}\"\n    {extra}\n  }}\n"
        )
    };
    let preamble = testkit::terraform::provider_preamble(None);
    format!(
        r#"
{preamble}resource "batch_pipeline" "p" {{
  name          = "q2"
  force_destroy = true
  compute {{
    type               = "FARGATE"
    max_vcpus          = 16
    subnet_ids         = {subnets}
    security_group_ids = {sgs}
    service_role_arn   = "{service_role}"
  }}
  {queue}
  efs {{}}
  source {{
    synthetic_count = 100
  }}
{procurement}{processing}{egress}
  egress_bucket {{
    name = "q2-results"
  }}
}}
data "batch_state_machine_definition" "run" {{
  job_queue_arn              = batch_pipeline.p.job_queue_arn
  later_stages_job_queue_arn = batch_pipeline.p.later_stages_job_queue_arn
  job_definition_arns        = batch_pipeline.p.job_definition_arns
  prep_function_arn          = "arn:aws:lambda:us-east-1:123456789012:function:prep"
  watcher_function_arn       = "arn:aws:lambda:us-east-1:123456789012:function:watcher"
}}
output "queue" {{ value = batch_pipeline.p.job_queue_arn }}
output "later_queue" {{ value = batch_pipeline.p.later_stages_job_queue_arn }}
output "ce" {{ value = batch_pipeline.p.compute_environment_arn }}
output "definition" {{ value = jsondecode(data.batch_state_machine_definition.run.definition) }}
"#,
        subnets = net["subnet_ids"],
        sgs = net["security_group_ids"],
        service_role = net["service_role_arn"].as_str().unwrap(),
        queue = queue.map(|q| format!("queue {{\n    {q}\n  }}")).unwrap_or_default(),
        procurement = stage("procurement", ""),
        processing = stage(
            "processing",
            "transform = jsonencode({ kind = \"csv_validate\", rules = { builtin = \"ghcn-daily\" } })"
        ),
        egress = stage("egress", ""),
    )
}

async fn queue(batch: &aws_sdk_batch::Client, name: &str) -> Option<JobQueueDetail> {
    let out = batch.describe_job_queues().job_queues(name).send().await.unwrap();
    out.job_queues().iter().find(|q| q.status().map(|s| s.as_str()) != Some("DELETED")).cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn later_stages_get_their_own_higher_priority_queue_on_the_same_compute_environment() {
    let moto = MotoServer::start().expect("moto");
    let net = moto.pipeline_prerequisites().expect("prerequisites");
    let batch = aws_sdk_batch::Client::new(&testkit::aws::sdk_config(&moto));
    let mut env = moto.aws_env();
    env.push(("TF_VAR_endpoint".into(), moto.endpoint()));
    let tf = TerraformDir::new(provider_dir(), env.clone()).expect("terraform dir");

    // No queue block: the defaults, priorities 1 and 1000.
    tf.write("main.tf", &config(&net, None)).unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let ce = tf.output("ce").unwrap();
    let (first, later) = (queue(&batch, FIRST).await.unwrap(), queue(&batch, LATER).await.unwrap());
    assert_eq!((first.priority(), later.priority()), (Some(1), Some(1000)));
    for q in [&first, &later] {
        assert_eq!(q.state(), Some(&JqState::Enabled));
        let order = q.compute_environment_order();
        assert_eq!(order.len(), 1, "{q:?}");
        assert_eq!(order[0].compute_environment(), ce.as_str(), "on the pipeline's one environment");
    }
    assert_eq!(tf.output("queue").unwrap(), first.job_queue_arn().unwrap());
    assert_eq!(tf.output("later_queue").unwrap(), later.job_queue_arn().unwrap());
    let definition = tf.output("definition").unwrap();
    for (state, arn) in [
        ("SubmitProcurement", first.job_queue_arn()),
        ("SubmitProcessing", later.job_queue_arn()),
        ("SubmitEgress", later.job_queue_arn()),
        ("SubmitProcessingSingle", later.job_queue_arn()),
    ] {
        assert_eq!(definition["States"][state]["Parameters"]["JobQueue"], arn.unwrap(), "{state}");
    }
    let clean = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(clean.code, 0, "{}", clean.text());

    // Drift without a `queue` block in the configuration: the later-stages
    // queue disabled outside Terraform shows (as the block AWS now
    // differs by) and the apply puts the defaults back.
    batch.update_job_queue().job_queue(LATER).state(JqState::Disabled).send().await.unwrap();
    let drift = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(drift.code, 2, "{}", drift.text());
    assert!(drift.stdout.contains("- queue {") && drift.stdout.contains("\"DISABLED\""), "{}", drift.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(queue(&batch, LATER).await.unwrap().state(), Some(&JqState::Enabled));
    let clean = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(clean.code, 0, "{}", clean.text());

    // An in-place change of the later stages' priority.
    let settings = "priority = 2\n    later_stages_priority = 500";
    tf.write("main.tf", &config(&net, Some(settings))).unwrap();
    let update = tf.ok(&["plan"]).unwrap();
    assert!(update.stdout.contains("0 to add, 1 to change, 0 to destroy"), "{}", update.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(queue(&batch, FIRST).await.unwrap().priority(), Some(2));
    assert_eq!(queue(&batch, LATER).await.unwrap().priority(), Some(500));

    // Drift: its priority changed behind Terraform's back shows and is put back.
    batch.update_job_queue().job_queue(LATER).priority(7).send().await.unwrap();
    let drift = tf.ok(&["plan"]).unwrap();
    assert!(
        drift.stdout.contains("later_stages_priority") && drift.stdout.contains("7 -> 500"),
        "{}",
        drift.text()
    );
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(queue(&batch, LATER).await.unwrap().priority(), Some(500));

    // Drift: the later-stages queue disabled shows as the queues' state.
    batch.update_job_queue().job_queue(LATER).state(JqState::Disabled).send().await.unwrap();
    let drift = tf.ok(&["plan"]).unwrap();
    assert!(drift.stdout.contains("\"DISABLED\" -> \"ENABLED\""), "{}", drift.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(queue(&batch, LATER).await.unwrap().state(), Some(&JqState::Enabled));

    // Drift: deleted behind Terraform's back, it is made again.
    batch.update_job_queue().job_queue(LATER).state(JqState::Disabled).send().await.unwrap();
    batch.delete_job_queue().job_queue(LATER).send().await.unwrap();
    let drift = tf.ok(&["plan"]).unwrap();
    assert!(
        drift
            .stdout
            .lines()
            .any(|l| l.contains("later_stages_job_queue_arn") && l.contains("known after apply")),
        "{}",
        drift.text()
    );
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let remade = queue(&batch, LATER).await.expect("made again");
    assert_eq!((remade.priority(), remade.state()), (Some(500), Some(&JqState::Enabled)));
    let clean = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(clean.code, 0, "{}", clean.text());

    // Import reads both priorities back: nothing to change after it
    // (force_destroy is not an AWS setting an import can read: left at
    // its default).
    let imported = TerraformDir::new(provider_dir(), env).expect("terraform dir");
    let with_import =
        format!("{}\nimport {{\n  to = batch_pipeline.p\n  id = \"q2\"\n}}\n", config(&net, Some(settings)))
            .replace("force_destroy = true", "force_destroy = false");
    imported.write("main.tf", &with_import).unwrap();
    let plan = imported.ok(&["plan"]).unwrap();
    assert!(plan.stdout.contains("1 to import, 0 to add, 0 to change, 0 to destroy"), "{}", plan.text());

    // A later-stages priority not above procurement's is refused at plan
    // time, on its attribute.
    tf.write("main.tf", &config(&net, Some("priority = 10\n    later_stages_priority = 10"))).unwrap();
    let refused = tf.run(&["plan"]).unwrap();
    assert_ne!(refused.code, 0);
    let text = refused.text();
    assert!(text.contains("Later stages would wait") && text.contains("later_stages_priority"), "{text}");
    assert!(text.contains("must be greater than priority (10)"), "{text}");

    // Destroy removes both queues and the environment.
    tf.write("main.tf", &config(&net, Some(settings))).unwrap();
    tf.ok(&["destroy", "-auto-approve"]).unwrap();
    assert!(queue(&batch, FIRST).await.is_none() && queue(&batch, LATER).await.is_none());
    let ces = batch.describe_compute_environments().compute_environments("q2-ce").send().await.unwrap();
    assert!(ces.compute_environments().iter().all(|c| c.status().map(|s| s.as_str()) == Some("DELETED")));
}
