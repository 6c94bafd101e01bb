//! Installing the released provider from a network mirror (the provider
//! network mirror protocol: `index.json`, `<version>.json` with `zh:`
//! hashes) served by the test over HTTPS on 127.0.0.1, with real Terraform
//! trusting the test's self-signed certificate through SSL_CERT_FILE.
//!
//! Terraform checks the zip against the mirror's `zh:` hash but records in
//! the lock file only the `h1:` hash of what it unpacked: `zh:` hashes go
//! into a lock file only from a signed SHA256SUMS (install_registry.rs).

mod install_common;

use install_common::https::HttpsFileServer;
use install_common::{
    MIRROR_SUBDIR, Release, init_and_plan_of, locked_hashes, plan_config, platform, release,
    second_init_reuses_the_lock_file, sha256_file, unwrapped,
};
use testkit::{MotoServer, TerraformDir};

/// The mirror's base URL, as `network_mirror { url }` takes it.
fn mirror_url(server: &HttpsFileServer) -> String {
    format!("{}/providers/", server.origin())
}

/// Publishes `rel` on `server` in the mirror protocol: `index.json`, and
/// `<version>.json` listing `zip_hash` (the zip's SHA-256) as its only
/// `zh:` hash, and the zip's bytes.
fn publish(server: &HttpsFileServer, rel: &Release, zip_hash: &str, zip: Vec<u8>) {
    let index = serde_json::json!({ "versions": { rel.version.clone(): {} } });
    let version = serde_json::json!({
        "archives": { platform(): { "url": rel.zip_name(), "hashes": [format!("zh:{zip_hash}")] } }
    });
    let base = format!("/providers/{MIRROR_SUBDIR}");
    server.put(&format!("{base}/index.json"), index.to_string().into_bytes());
    server.put(&format!("{base}/{}.json", rel.version), version.to_string().into_bytes());
    server.put(&format!("{base}/{}", rel.zip_name()), zip);
}

fn cli_config(server: &HttpsFileServer) -> String {
    format!(
        "provider_installation {{\n  network_mirror {{\n    url     = \"{}\"\n    include = [\"registry.terraform.io/batch-pipeline/batch\"]\n  }}\n}}\n",
        mirror_url(server)
    )
}

fn workspace(server: &HttpsFileServer, moto: &MotoServer) -> TerraformDir {
    let mut env = moto.aws_env();
    env.push(("TF_VAR_endpoint".into(), moto.endpoint()));
    env.push(("SSL_CERT_FILE".into(), server.ca_file().display().to_string()));
    let tf = TerraformDir::with_cli_config(&cli_config(server), env).expect("terraform dir");
    tf.write("main.tf", &plan_config()).expect("main.tf");
    tf
}

#[test]
fn network_mirror_installs_and_the_lock_file_holds_our_hashes() {
    let rel = release("0.8.0");
    let zip_hash = rel.zip_sha256();
    assert_eq!(zip_hash, sha256_file(&rel.zip()));
    let server = HttpsFileServer::start();
    publish(&server, &rel, &zip_hash, std::fs::read(rel.zip()).expect("zip"));
    let moto = MotoServer::start().expect("moto");

    let tf = workspace(&server, &moto);
    let init = init_and_plan_of(&tf, "batch-pipeline/batch", "0.8.0");
    assert!(
        init.stdout.contains("Installed batch-pipeline/batch v0.8.0 (verified checksum)"),
        "{}",
        init.text()
    );
    let lock = tf.lock_file().expect("init wrote .terraform.lock.hcl");
    let hashes = locked_hashes(&lock, "0.8.0");
    assert_eq!(hashes, [rel.h1()], "{lock}");

    second_init_reuses_the_lock_file(&tf, &lock);

    // `providers lock -net-mirror` in another directory records the same hashes.
    let other = workspace(&server, &moto);
    let mirror_arg = format!("-net-mirror={}", mirror_url(&server));
    let platform_arg = format!("-platform={}", platform());
    let locked = other.ok(&["providers", "lock", &mirror_arg, &platform_arg]).expect("providers lock");
    assert!(locked.stdout.contains("Obtained batch-pipeline/batch checksums"), "{}", locked.text());
    let other_lock = other.lock_file().expect("providers lock wrote .terraform.lock.hcl");
    let mut other_hashes = locked_hashes(&other_lock, "0.8.0");
    let mut init_hashes = hashes.clone();
    other_hashes.sort();
    init_hashes.sort();
    assert_eq!(other_hashes, init_hashes, "providers lock:\n{other_lock}\ninit:\n{lock}");
}

#[test]
fn network_mirror_zip_that_does_not_match_its_hash_is_refused() {
    let rel = release("0.8.1");
    let mut zip = std::fs::read(rel.zip()).expect("zip");
    let middle = zip.len() / 2;
    zip[middle] ^= 0xff;
    let server = HttpsFileServer::start();
    publish(&server, &rel, &rel.zip_sha256(), zip);
    let moto = MotoServer::start().expect("moto");

    let tf = workspace(&server, &moto);
    let refused = tf.run(&["init"]).expect("init");
    assert!(!refused.success(), "a tampered zip installed: {}", refused.text());
    let expected =
        format!("provider package doesn't match the expected checksum \"zh:{}\"", rel.zip_sha256());
    assert!(unwrapped(&refused.stderr).contains(&expected), "{}", refused.text());
    assert!(tf.lock_file().is_none(), "a lock file was written for a refused package");
}
