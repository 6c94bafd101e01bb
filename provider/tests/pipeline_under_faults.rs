//! Apply/destroy cycles under faults (issue 19, scenario 1): real Terraform
//! drives examples/local (`batch_pipeline` and its state machine
//! definition) against moto through a fault proxy that
//! throttles, fails, resets (before and after the call reached moto) and
//! delays a share of every service's requests. A step may fail; the next
//! try of it must converge. After every step the AWS side, read from moto
//! directly, holds exactly what the configuration says: one compute
//! environment, two queues, one active revision per job definition, one
//! file system with its access point, the bucket; after destroy, nothing.
//!
//! `make test` runs `FAULT_CYCLES` (default 1) cycles at 20%; `make chaos`
//! runs more (`FAULT_CYCLES`, `FAULT_SEED`, `FAULT_RATE`).

mod chaos_common;

use chaos_common::{Aws, BUCKET, Inventory, NAME, config, converge, env_or, provider_dir};
use testkit::faults::FaultProxy;
use testkit::{MotoServer, TerraformDir};

#[tokio::test(flavor = "multi_thread")]
async fn apply_plan_update_destroy_cycles_converge_under_faults() {
    let cycles: u64 = env_or("FAULT_CYCLES", 1);
    let first_seed: u64 = env_or("FAULT_SEED", 1);
    let rate: f64 = env_or("FAULT_RATE", 0.2);
    let moto = MotoServer::start().expect("moto");
    let aws = Aws::new(&moto);
    // examples/local, as a user deploys it; each cycle through its own proxy.
    let tf = TerraformDir::for_example(provider_dir(), &moto, "local").expect("examples/local");
    let mut failed_steps = vec![];
    let mut injected = std::collections::BTreeMap::<String, u64>::new();
    for seed in first_seed..first_seed + cycles {
        let spec = format!("seed={seed},rate={rate},latency={rate},latency-ms=20");
        let proxy = FaultProxy::start_for_url(&moto.endpoint(), spec.parse().unwrap()).unwrap();
        // The update changes a setting (items_per_node, in the run
        // configuration) and the images (new job definition revisions).
        let vars = |items_per_node: u32, image_prefix: &str| {
            serde_json::json!({"endpoint": proxy.url(), "name": NAME, "egress_bucket": BUCKET,
                               "items_per_node": items_per_node, "image_prefix": image_prefix})
            .to_string()
        };
        tf.write("chaos.auto.tfvars.json", &vars(40, "batch-jobs")).unwrap();
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

        tf.write("chaos.auto.tfvars.json", &vars(50, "batch-jobs-v2")).unwrap();
        let mut step = |what: &str, args: &[&str]| {
            for line in converge(&tf, args, 6) {
                failed_steps.push(format!("seed {seed} {what}: {line}"));
            }
        };
        step("update", &["apply", "-auto-approve"]);
        assert_eq!(aws.inventory().await, Inventory::deployed(), "seed {seed}: after update");
        step("destroy", &["destroy", "-auto-approve"]);
        let left = aws.inventory().await;
        assert_eq!(
            left,
            Inventory::nothing(),
            "seed {seed}: after destroy; injected:\n{:#?}",
            proxy.injected()
        );
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

/// Found by the cycles above (seed 5): a destroy that failed at the egress
/// bucket (its listing failed past the SDK's retries) had already deleted
/// everything else; the next refresh saw no compute environment, queue,
/// file system or job definition, called the pipeline gone and dropped it
/// from the state, so the next destroy did nothing and the bucket, made by
/// the pipeline with force_destroy, was left behind. A bucket the pipeline
/// made is a part of it: the next destroy must delete it.
#[tokio::test(flavor = "multi_thread")]
async fn a_destroy_that_failed_at_the_bucket_deletes_it_on_the_next_try() {
    let moto = MotoServer::start().expect("moto");
    let net = moto.pipeline_prerequisites().expect("prerequisites");
    let aws = Aws::new(&moto);
    let listing_fails =
        FaultProxy::start_for_url(&moto.endpoint(), "error=1,ops=ListObjectVersions".parse().unwrap())
            .unwrap();
    let mut env = moto.aws_env();
    env.push(("TF_VAR_endpoint".into(), moto.endpoint()));
    let tf = TerraformDir::new(provider_dir(), env).expect("terraform dir");
    tf.write("main.tf", &config(&net)).unwrap();
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(aws.inventory().await, Inventory::deployed());

    let failed =
        tf.run_with_env(&["destroy", "-auto-approve"], &[("TF_VAR_endpoint", &listing_fails.url())]).unwrap();
    assert!(!failed.success(), "{}", failed.text());
    assert!(failed.stderr.contains("ListObjectVersions"), "{}", failed.text());
    let half = aws.inventory().await;
    assert_eq!((half.compute_environments, half.file_systems, half.bucket), (0, 0, true), "{half:?}");

    tf.ok(&["destroy", "-auto-approve"]).unwrap();
    assert_eq!(aws.inventory().await, Inventory::nothing());
}

/// Found by the cycles above (seed 9): RegisterJobDefinition is not
/// idempotent. When its answer was lost (the connection reset after Batch
/// had registered it) the SDK's retry registered a second revision, and the
/// revision nobody heard of stayed active beside the one in the state. A
/// seed whose first RegisterJobDefinition is reset after the call and whose
/// retry gets through.
#[tokio::test(flavor = "multi_thread")]
async fn a_register_retried_after_a_lost_answer_leaves_one_active_revision() {
    use testkit::faults::{FaultKind, FaultSpec};
    let spec = (0..1000)
        .map(|seed| {
            format!("seed={seed},reset-after=0.5,ops=RegisterJobDefinition").parse::<FaultSpec>().unwrap()
        })
        .find(|spec| {
            spec.draw("batch", "RegisterJobDefinition", 0).failure == Some(FaultKind::ResetAfter)
                && spec.draw("batch", "RegisterJobDefinition", 1).failure.is_none()
        })
        .expect("a seed");
    let moto = MotoServer::start().expect("moto");
    let net = moto.pipeline_prerequisites().expect("prerequisites");
    let aws = Aws::new(&moto);
    let lost_answer = FaultProxy::start_for_url(&moto.endpoint(), spec).unwrap();
    let mut env = moto.aws_env();
    env.push(("TF_VAR_endpoint".into(), lost_answer.url()));
    let tf = TerraformDir::new(provider_dir(), env).expect("terraform dir");
    tf.write("main.tf", &config(&net)).unwrap();
    converge(&tf, &["apply", "-auto-approve"], 6);
    assert!(lost_answer.injected().iter().any(|i| i.kind == FaultKind::ResetAfter));
    assert_eq!(aws.inventory().await, Inventory::deployed());
}
