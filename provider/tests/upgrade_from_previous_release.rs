//! A state written by the previous release (tests/upgrade/PREVIOUS_RELEASE)
//! is read and upgraded by this build: examples/local as that release had
//! it (the configuration its users ran; today's may use settings it did not
//! know) is applied against moto with the previous release's provider, then
//! the same directory, configuration and state are planned and applied with
//! this build, which must find nothing to change after UpgradeResourceState
//! ran, but what a release adds on purpose ([`ADDED_IN_PLACE`]), created in
//! place.
//!
//! Ignored in `cargo test`: the first run builds the previous release
//! (minutes). `make test-upgrade` (part of `make test`) runs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use provider::aws::provider::BatchProvider;
use provider::tfplugin::server::ProtocolServer;

use testkit::terraform::PROVIDER_SOURCE;
use testkit::{MotoServer, TerraformDir};

/// The schema version of `batch_pipeline` in the previous release's state.
/// A release that bumps the version must also upgrade from this one, and
/// this test then sees the new version in the state after the apply.
const PREVIOUS_PIPELINE_SCHEMA_VERSION: u64 = 0;

/// Attributes of `batch_pipeline` a pipeline of the previous release gains
/// on upgrade, by an in-place update and nothing else: the later-stages job
/// queue (issue #18), made on the existing compute environment, and its
/// priority in the `queue` block when the configuration has one.
const ADDED_IN_PLACE: [&str; 2] = ["later_stages_job_queue_arn", "later_stages_priority"];

/// What the plan changes on `batch_pipeline` beside [`ADDED_IN_PLACE`]:
/// its actions when not an update or nothing, and every attribute whose
/// value differs (nested blocks compared attribute by attribute).
fn unexpected_pipeline_changes(plan: &serde_json::Value) -> Vec<String> {
    let mut problems = Vec::new();
    let changes = plan["resource_changes"].as_array().cloned().unwrap_or_default();
    for change in changes.iter().filter(|c| c["type"] == "batch_pipeline") {
        let actions = &change["change"]["actions"];
        if *actions != serde_json::json!(["update"]) && *actions != serde_json::json!(["no-op"]) {
            problems.push(format!("{}: actions {actions}", change["address"]));
        }
        let (before, after, unknown) =
            (&change["change"]["before"], &change["change"]["after"], &change["change"]["after_unknown"]);
        differing("", before, after, unknown, &mut problems);
    }
    problems
}

fn differing(
    at: &str,
    before: &serde_json::Value,
    after: &serde_json::Value,
    unknown: &serde_json::Value,
    problems: &mut Vec<String>,
) {
    use serde_json::Value as J;
    match (before, after) {
        (J::Object(b), J::Object(a)) => {
            let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                if ADDED_IN_PLACE.contains(&k.as_str()) {
                    continue;
                }
                let (bv, av) = (b.get(k).unwrap_or(&J::Null), a.get(k).unwrap_or(&J::Null));
                differing(&format!("{at}.{k}"), bv, av, unknown.get(k).unwrap_or(&J::Null), problems);
            }
        }
        (J::Array(b), J::Array(a)) if b.len() == a.len() => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                differing(&format!("{at}[{i}]"), bv, av, unknown.get(i).unwrap_or(&J::Null), problems);
            }
        }
        _ if *unknown == J::Bool(true) => problems.push(format!("{at}: {before} -> (known after apply)")),
        _ if before != after => problems.push(format!("{at}: {before} -> {after}")),
        _ => {}
    }
}

/// Builds (or finds, once built) the previous release's provider binary.
fn previous_release_binary() -> PathBuf {
    let script = testkit::paths::repo_root().join("tests").join("upgrade").join("build-previous.sh");
    let out = Command::new("bash").arg(&script).output().expect("running build-previous.sh");
    assert!(out.status.success(), "{} failed:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(path.is_file(), "build-previous.sh printed {path:?}, which is not a file");
    path
}

/// The previous release's commit (tests/upgrade/PREVIOUS_RELEASE).
fn previous_commit() -> String {
    let file = testkit::paths::repo_root().join("tests").join("upgrade").join("PREVIOUS_RELEASE");
    let text = std::fs::read_to_string(&file).expect("PREVIOUS_RELEASE");
    text.lines().find_map(|l| l.strip_prefix("commit=")).expect("a commit= line").trim().to_string()
}

/// Writes the `.tf` files of `examples/<example>` as the previous release
/// had them (from git) into `tf`.
fn write_previous_example(tf: &TerraformDir, example: &str) {
    let root = testkit::paths::repo_root();
    let commit = previous_commit();
    let git = |args: &[&str]| {
        let out = Command::new("git").arg("-C").arg(&root).args(args).output().expect("running git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("git output is UTF-8")
    };
    let listing = git(&["ls-tree", "--name-only", &commit, &format!("examples/{example}/")]);
    let files: Vec<&str> = listing.lines().filter(|p| p.ends_with(".tf")).collect();
    assert!(!files.is_empty(), "no .tf files in examples/{example} at {commit}");
    for path in files {
        let name = Path::new(path).file_name().expect("file name").to_string_lossy().into_owned();
        tf.write(&name, &git(&["show", &format!("{commit}:{path}")])).expect("writing the example");
    }
}

/// Points the directory's dev_overrides at another provider build: the
/// same CLI config file TerraformDir made, rewritten.
fn use_provider(tf: &TerraformDir, provider_bin_dir: &Path) {
    tf.write(
        "cli.tfrc",
        &format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            provider_bin_dir.display()
        ),
    )
    .expect("rewriting cli.tfrc");
}

/// The `batch_pipeline` instances in the state file, as written on disk.
fn pipeline_instances(tf: &TerraformDir) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(tf.path().join("terraform.tfstate")).expect("terraform.tfstate");
    let state: serde_json::Value = serde_json::from_str(&text).expect("state JSON");
    let resources = state["resources"].as_array().cloned().unwrap_or_default();
    resources
        .iter()
        .filter(|r| r["type"] == "batch_pipeline" && r["mode"] == "managed")
        .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[test]
#[ignore = "builds the previous release (minutes the first time): make test-upgrade"]
fn state_of_the_previous_release_plans_without_changes() {
    let previous = previous_release_binary();
    let previous_dir = previous.parent().expect("binary folder");
    let current = Path::new(env!("CARGO_BIN_EXE_terraform-provider-batch"));
    let current_dir = current.parent().expect("binary folder");
    assert_ne!(previous_dir, current_dir);

    let moto = MotoServer::start().expect("moto");
    let tf = TerraformDir::new(previous_dir, moto.aws_env()).expect("terraform directory");
    write_previous_example(&tf, "local");
    tf.write("terraform.tfvars.json", &moto.pipeline_prerequisites().expect("prerequisites").to_string())
        .expect("tfvars");
    let endpoint = format!("endpoint={}", moto.endpoint());

    tf.ok(&["apply", "-auto-approve", "-var", &endpoint]).expect("apply with the previous release");
    let written = pipeline_instances(&tf);
    assert_eq!(written.len(), 1, "one batch_pipeline in the state");
    assert_eq!(written[0]["schema_version"], PREVIOUS_PIPELINE_SCHEMA_VERSION);
    if let Ok(fixture) = std::env::var("UPGRADE_WRITE_FIXTURE") {
        // How tests/upgrade/pipeline_state_v0.json (the protocol test's
        // input) is refreshed when PREVIOUS_RELEASE moves.
        let text = serde_json::to_string_pretty(&written[0]["attributes"]).expect("JSON");
        std::fs::write(&fixture, text + "\n").expect("writing the fixture");
    }
    let arn = written[0]["attributes"]["job_queue_arn"].clone();
    assert!(arn.is_string(), "the previous release wrote a queue ARN: {:#}", written[0]);

    use_provider(&tf, current_dir);
    let log = tf.path().join("provider.log");
    let log_text = log.display().to_string();
    let debug_log = [("TF_LOG_PROVIDER", "debug"), ("TF_LOG_PATH", log_text.as_str())];
    let plan = tf
        .run_with_env(&["plan", "-detailed-exitcode", "-out=upgrade.tfplan", "-var", &endpoint], &debug_log)
        .expect("plan with this build");
    // The resource must not change but for what this release adds in
    // place. The state machine definition the data source emits may change
    // too (a release can add states to it).
    assert!(plan.code == 0 || plan.code == 2, "plan failed:\n{}", plan.text());
    let shown = tf.ok(&["show", "-json", "upgrade.tfplan"]).expect("terraform show -json");
    let planned: serde_json::Value = serde_json::from_str(&shown.stdout).expect("plan JSON");
    let unexpected = unexpected_pipeline_changes(&planned);
    assert!(
        unexpected.is_empty(),
        "this build plans changes on the previous release's state: {unexpected:#?}\n{}",
        plan.text()
    );

    // The plan above read the state through this build's
    // UpgradeResourceState (its debug line), not some cached value.
    let logged = std::fs::read_to_string(&log).expect("provider log");
    let upgrade_line = logged
        .lines()
        .find(|l| l.contains("upgrading resource state") && l.contains("batch_pipeline"))
        .unwrap_or_else(|| panic!("no upgrade logged for batch_pipeline in {}", log.display()));
    assert!(
        upgrade_line.contains(&format!("from_version={PREVIOUS_PIPELINE_SCHEMA_VERSION}"))
            || upgrade_line.contains(&format!("\"from_version\":{PREVIOUS_PIPELINE_SCHEMA_VERSION}")),
        "{upgrade_line}"
    );

    let apply = tf.ok(&["apply", "-auto-approve", "-var", &endpoint]).expect("apply with this build");
    assert!(
        apply.stdout.contains("No changes.")
            || apply.stdout.contains("Resources: 0 added, 0 changed, 0 destroyed.")
            || apply.stdout.contains("Resources: 0 added, 1 changed, 0 destroyed."),
        "apply added or destroyed resources:\n{}",
        apply.text()
    );
    // After it, nothing left to do on the pipeline.
    let again = tf.run(&["plan", "-detailed-exitcode", "-var", &endpoint]).expect("plan after the upgrade");
    assert!(
        again.code == 0 || (again.code == 2 && !again.stdout.contains("# batch_pipeline.")),
        "{}",
        again.text()
    );
    let after = pipeline_instances(&tf);
    assert_eq!(after.len(), 1);
    let current_version = provider_schema_version();
    assert_eq!(after[0]["schema_version"], current_version, "the state carries this build's schema version");
    assert_eq!(after[0]["attributes"]["job_queue_arn"], arn, "the same queue, not a new one");
    let later = after[0]["attributes"]["later_stages_job_queue_arn"].as_str().unwrap_or_default();
    assert!(later.ends_with("-later-stages-queue"), "the later-stages queue was made: {later:?}");
}

/// This build's `batch_pipeline` schema version, from its GetProviderSchema.
fn provider_schema_version() -> serde_json::Value {
    let server = ProtocolServer::new(Arc::new(BatchProvider::new()));
    let schemas = server.schema_response();
    serde_json::Value::from(schemas.resource_schemas["batch_pipeline"].version)
}
