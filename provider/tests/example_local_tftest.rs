//! examples/local's `terraform test` file, run by real Terraform against a
//! fresh moto with the prerequisites made by examples/local/moto_setup.py.

use std::path::Path;

use testkit::{MotoServer, TerraformDir};

#[test]
fn examples_local_terraform_test_passes_against_moto() {
    let moto = MotoServer::start().expect("moto");
    let provider_dir = Path::new(env!("CARGO_BIN_EXE_terraform-provider-batch")).parent().unwrap();
    let tf = TerraformDir::for_example(provider_dir, &moto, "local").expect("examples/local");
    let example = testkit::paths::repo_root().join("examples").join("local");
    std::fs::create_dir_all(tf.path().join("tests")).unwrap();
    std::fs::copy(
        example.join("tests").join("pipeline.tftest.hcl"),
        tf.path().join("tests").join("pipeline.tftest.hcl"),
    )
    .unwrap();
    let endpoint = format!("endpoint={}", moto.endpoint());
    let run = tf.run(&["test", "-var", &endpoint, "-var-file=terraform.tfvars.json"]).unwrap();
    assert!(run.success(), "{}", run.text());
    assert!(run.stdout.contains("0 failed"), "{}", run.text());
}
