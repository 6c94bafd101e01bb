//! Real Terraform 1.15 driving the provider binary against moto, through the
//! whole lifecycle, with the AWS side checked through the SDK. The subject is
//! the test-only `batch_test_bucket` resource (feature `test-resources`).
#![cfg(feature = "test-resources")]

use std::path::Path;

use testkit::{MotoServer, TerraformDir};

fn provider_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_terraform-provider-batch")).parent().expect("binary has a directory")
}

fn workspace(moto: &MotoServer) -> TerraformDir {
    let mut env = moto.aws_env();
    env.push(("TF_VAR_endpoint".into(), moto.endpoint()));
    TerraformDir::new(provider_dir(), env).expect("terraform dir")
}

fn config(bucket: &str, tags: &str) -> String {
    let preamble = testkit::terraform::provider_preamble(Some("{ owner = \"tests\" }"));
    format!(
        r#"
{preamble}resource "batch_test_bucket" "b" {{
  name = "{bucket}"
  tags = {tags}
}}
data "batch_test_bucket" "lookup" {{
  name = batch_test_bucket.b.name
}}
output "arn" {{ value = data.batch_test_bucket.lookup.arn }}
output "tags_all" {{ value = batch_test_bucket.b.tags_all }}
"#
    )
}

async fn bucket_tags(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String)> {
    let out = s3.get_bucket_tagging().bucket(bucket).send().await.expect("tags");
    let mut tags: Vec<_> =
        out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
    tags.sort();
    tags
}

async fn bucket_exists(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    s3.head_bucket().bucket(bucket).send().await.is_ok()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn full_lifecycle_against_moto() {
    let moto = MotoServer::start().expect("moto");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&testkit::aws::sdk_config(&moto)).force_path_style(true).build(),
    );
    let tf = workspace(&moto);
    tf.write("main.tf", &config("lifecycle-a", r#"{ team = "data" }"#)).unwrap();

    let init = tf.ok(&["init"]).unwrap();
    assert!(init.stdout.contains("Terraform has been successfully initialized"), "{}", init.text());
    let validate = tf.ok(&["validate"]).unwrap();
    assert!(validate.stdout.contains("The configuration is valid"), "{}", validate.text());

    // Plan then apply: the bucket exists with the merged tags.
    let plan = tf.ok(&["plan"]).unwrap();
    assert!(plan.stdout.contains("Plan: 1 to add, 0 to change, 0 to destroy"), "{}", plan.text());
    assert!(plan.stdout.contains("(known after apply)"), "{}", plan.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert!(bucket_exists(&s3, "lifecycle-a").await);
    assert_eq!(bucket_tags(&s3, "lifecycle-a").await, pairs(&[("owner", "tests"), ("team", "data")]));
    assert_eq!(tf.output("arn").unwrap(), "arn:aws:s3:::lifecycle-a");

    // A second plan has nothing to do (exit code 0 with -detailed-exitcode).
    let again = tf.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(again.code, 0, "{}", again.text());
    assert!(again.stdout.contains("No changes."), "{}", again.text());

    // In-place update of the tags.
    tf.write("main.tf", &config("lifecycle-a", r#"{ team = "ml" }"#)).unwrap();
    let update = tf.ok(&["plan"]).unwrap();
    assert!(update.stdout.contains("1 to change"), "{}", update.text());
    assert!(update.stdout.contains("updated in-place"), "{}", update.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(bucket_tags(&s3, "lifecycle-a").await, pairs(&[("owner", "tests"), ("team", "ml")]));

    // Drift: tags changed behind Terraform's back show in the plan and are put back.
    s3.put_bucket_tagging()
        .bucket("lifecycle-a")
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(aws_sdk_s3::types::Tag::builder().key("team").value("rogue").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let drift = tf.ok(&["plan"]).unwrap();
    assert!(drift.stdout.contains("\"rogue\" -> \"ml\""), "{}", drift.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert_eq!(bucket_tags(&s3, "lifecycle-a").await, pairs(&[("owner", "tests"), ("team", "ml")]));

    // Drift: the bucket deleted behind Terraform's back is planned for creation again.
    s3.delete_bucket_tagging().bucket("lifecycle-a").send().await.unwrap();
    s3.delete_bucket().bucket("lifecycle-a").send().await.unwrap();
    let refresh = tf.ok(&["apply", "-refresh-only", "-auto-approve"]).unwrap();
    assert!(refresh.stdout.contains("has been deleted"), "{}", refresh.text());
    let recreate = tf.ok(&["plan"]).unwrap();
    assert!(recreate.stdout.contains("1 to add"), "{}", recreate.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert!(bucket_exists(&s3, "lifecycle-a").await);

    // A forced replacement: the plan says which attribute forces it.
    tf.write("main.tf", &config("lifecycle-b", r#"{ team = "ml" }"#)).unwrap();
    let replace = tf.ok(&["plan"]).unwrap();
    assert!(replace.stdout.contains("must be replaced"), "{}", replace.text());
    assert!(replace.stdout.contains("# forces replacement"), "{}", replace.text());
    assert!(replace.stdout.contains("1 to add, 0 to change, 1 to destroy"), "{}", replace.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    assert!(!bucket_exists(&s3, "lifecycle-a").await);
    assert!(bucket_exists(&s3, "lifecycle-b").await);

    // Import into a fresh workspace, by an import block: the plan is clean.
    let imported = workspace(&moto);
    imported
        .write(
            "main.tf",
            &format!(
                "{}\nimport {{\n  to = batch_test_bucket.b\n  id = \"lifecycle-b\"\n}}\n",
                config("lifecycle-b", r#"{ team = "ml" }"#)
            ),
        )
        .unwrap();
    imported.ok(&["init"]).unwrap();
    let import_plan = imported.ok(&["plan"]).unwrap();
    assert!(
        import_plan.stdout.contains("1 to import, 0 to add, 0 to change, 0 to destroy"),
        "{}",
        import_plan.text()
    );
    imported.ok(&["apply", "-auto-approve"]).unwrap();
    let clean = imported.run(&["plan", "-detailed-exitcode"]).unwrap();
    assert_eq!(clean.code, 0, "{}", clean.text());
    // ...and with the CLI command in a third one.
    let cli_import = workspace(&moto);
    cli_import.write("main.tf", &config("lifecycle-b", r#"{ team = "ml" }"#)).unwrap();
    cli_import.ok(&["init"]).unwrap();
    let run = cli_import.ok(&["import", "batch_test_bucket.b", "lifecycle-b"]).unwrap();
    assert!(run.stdout.contains("Import successful"), "{}", run.text());
    let state = cli_import.state().unwrap();
    let resources = state["values"]["root_module"]["resources"].as_array().unwrap().clone();
    let values = &resources.iter().find(|r| r["mode"] == "managed").expect("imported resource")["values"];
    assert_eq!(values["name"], "lifecycle-b");
    assert_eq!(values["tags"]["team"], "ml");
    // Forget it there, so destroying the first workspace is what removes it.
    imported.ok(&["state", "rm", "batch_test_bucket.b"]).unwrap();
    cli_import.ok(&["state", "rm", "batch_test_bucket.b"]).unwrap();

    // Destroy: the bucket is gone, and the provider exited cleanly each time.
    let destroy = tf.run_with_env(&["destroy", "-auto-approve"], &[("TF_LOG", "debug")]).unwrap();
    assert!(destroy.success(), "{}", destroy.text());
    assert!(destroy.stdout.contains("Resources: 1 destroyed"), "{}", destroy.text());
    assert!(!destroy.stderr.contains("plugin failed to exit gracefully"), "{}", destroy.stderr);
    assert!(destroy.stderr.contains("configuring client automatic mTLS"), "mTLS not used");
    assert!(!bucket_exists(&s3, "lifecycle-b").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_is_listed_by_terraform() {
    let moto = MotoServer::start().expect("moto");
    let tf = workspace(&moto);
    tf.write("main.tf", &config("schema-a", "{}")).unwrap();
    tf.ok(&["init"]).unwrap();
    let run = tf.ok(&["providers", "schema", "-json"]).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let provider = &schema["provider_schemas"]["registry.terraform.io/batch-pipeline/batch"];
    let attrs = &provider["provider"]["block"]["attributes"];
    for name in ["region", "profile", "endpoint_url", "max_retries", "assume_role_arn", "default_tags"] {
        assert!(attrs.get(name).is_some(), "provider attribute {name} missing: {attrs}");
    }
    assert_eq!(provider["provider"]["block"]["block_types"]["endpoints"]["nesting_mode"], "single");
    let bucket = &provider["resource_schemas"]["batch_test_bucket"];
    assert_eq!(bucket["version"], 1);
    assert_eq!(bucket["block"]["attributes"]["name"]["required"], true);
    assert_eq!(bucket["block"]["attributes"]["arn"]["computed"], true);
    assert_eq!(bucket["block"]["attributes"]["tags"]["type"], serde_json::json!(["map", "string"]));
    assert!(provider["data_source_schemas"]["batch_test_bucket"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_configuration_points_at_the_attribute() {
    let moto = MotoServer::start().expect("moto");
    let tf = workspace(&moto);
    let bad_bucket = config("Not_A_Valid_Bucket", "{}");
    tf.write("main.tf", &bad_bucket).unwrap();
    tf.ok(&["init"]).unwrap();
    let (run, diagnostics) = tf.run_json(&["validate", "-json"]).unwrap();
    assert_eq!(run.code, 1, "{}", run.text());
    // Where Terraform points (its resolution of the attribute path the
    // provider sent) is the resource's `name`, not the data source's.
    let resource = span(&bad_bucket, "resource \"batch_test_bucket\"", "}");
    tf.check_points_at(&diagnostics, "Invalid bucket name", "main.tf", "name", resource).unwrap();

    let bad_provider = config("fine-bucket", "{}")
        .replace("region       = \"us-east-1\"", "region = \"Mars\"\n  max_retries = 99");
    tf.write("main.tf", &bad_provider).unwrap();
    let (run, diagnostics) = tf.run_json(&["plan", "-json"]).unwrap();
    assert_eq!(run.code, 1, "{}", run.text());
    let provider_block = span(&bad_provider, "provider \"batch\"", "}");
    tf.check_points_at(&diagnostics, "Invalid region", "main.tf", "region", provider_block.clone()).unwrap();
    let retries = diagnostics
        .iter()
        .find(|d| d.detail.contains("max_retries must be a whole number from 0 to 25"))
        .unwrap_or_else(|| panic!("no max_retries diagnostic: {diagnostics:#?}"));
    tf.check_points_at(
        std::slice::from_ref(retries),
        &retries.summary,
        "main.tf",
        "max_retries",
        provider_block,
    )
    .unwrap();
}

/// The bytes of `text` from where `start` begins to the end of the first
/// `end` after it: one block of a configuration.
fn span(text: &str, start: &str, end: &str) -> std::ops::Range<usize> {
    let from = text.find(start).unwrap_or_else(|| panic!("{start:?} not in {text}"));
    let to =
        from + text[from..].find(end).unwrap_or_else(|| panic!("no {end:?} after {start:?}")) + end.len();
    from..to
}

#[tokio::test(flavor = "multi_thread")]
async fn old_state_is_upgraded() {
    let moto = MotoServer::start().expect("moto");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&testkit::aws::sdk_config(&moto)).force_path_style(true).build(),
    );
    s3.create_bucket().bucket("upgrade-a").send().await.unwrap();
    let tf = workspace(&moto);
    tf.write("main.tf", &config("upgrade-a", "null")).unwrap();
    // A state written by schema version 0, where the name was `bucket`.
    let old_state = serde_json::json!({
        "version": 4,
        "terraform_version": "1.15.5",
        "serial": 1,
        "lineage": "6f1e0c3e-0000-4000-8000-000000000001",
        "outputs": {},
        "resources": [{
            "mode": "managed",
            "type": "batch_test_bucket",
            "name": "b",
            "provider": "provider[\"registry.terraform.io/batch-pipeline/batch\"]",
            "instances": [{
                "schema_version": 0,
                "attributes": {
                    "id": "upgrade-a", "bucket": "upgrade-a", "arn": "arn:aws:s3:::upgrade-a",
                    "region": "us-east-1", "tags": null, "tags_all": {}
                }
            }]
        }]
    });
    tf.write("terraform.tfstate", &old_state.to_string()).unwrap();
    // No init: with dev_overrides the provider needs no installation, and
    // init would try to reach the registry for the provider the state names.
    // The owner default tag is missing on the bucket, so an update is due,
    // but no replacement: the upgraded state kept the name.
    let plan = tf.ok(&["plan"]).unwrap();
    assert!(plan.stdout.contains("0 to add, 1 to change, 0 to destroy"), "{}", plan.text());
    tf.ok(&["apply", "-auto-approve"]).unwrap();
    let state = tf.state().unwrap();
    let resources = state["values"]["root_module"]["resources"].as_array().unwrap().clone();
    let bucket = resources.iter().find(|r| r["mode"] == "managed").unwrap();
    assert_eq!(bucket["values"]["name"], "upgrade-a");
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tf.path().join("terraform.tfstate")).unwrap()).unwrap();
    let managed = raw["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["mode"] == "managed"))
        .expect("managed resource in state");
    assert_eq!(managed["instances"][0]["schema_version"], 1, "{raw:#}");
}
