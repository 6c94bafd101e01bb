//! Installing a signed release from a provider registry (the provider
//! registry protocol, served by the test over HTTPS on localhost): real
//! Terraform checks the zip against SHA256SUMS and SHA256SUMS against its
//! detached signature with the public key the registry names, and then
//! records the `zh:` hash of our zip in the lock file beside the `h1:`.

mod install_common;

use install_common::https::HttpsFileServer;
use install_common::{
    GpgHome, NAME, Release, init_and_plan_of, locked_hashes_of, plan_config_for, platform, run_release,
    unwrapped,
};
use testkit::{MotoServer, TerraformDir};

/// Publishes `rel` on `server` as the registry protocol has it: service
/// discovery, the versions list, the download document pointing at the
/// zip, SHA256SUMS, its signature and the key that made it.
fn publish(server: &HttpsFileServer, rel: &Release, public_key: &str, key_id: &str) {
    let (os, arch) =
        platform().split_once('_').map(|(o, a)| (o.to_string(), a.to_string())).expect("os_arch");
    let files = format!("{}/files", server.origin());
    let base = "/v1/providers/batch-pipeline/batch";
    let discovery = serde_json::json!({ "providers.v1": "/v1/providers/" });
    let versions = serde_json::json!({
        "versions": [{ "version": rel.version, "protocols": ["6.0"], "platforms": [{ "os": os, "arch": arch }] }]
    });
    let sums = format!("{NAME}_{}_SHA256SUMS", rel.version);
    let download = serde_json::json!({
        "protocols": ["6.0"],
        "os": os,
        "arch": arch,
        "filename": rel.zip_name(),
        "download_url": format!("{files}/{}", rel.zip_name()),
        "shasums_url": format!("{files}/{sums}"),
        "shasums_signature_url": format!("{files}/{sums}.sig"),
        "shasum": rel.zip_sha256(),
        "signing_keys": { "gpg_public_keys": [{ "key_id": key_id, "ascii_armor": public_key }] }
    });
    server.put("/.well-known/terraform.json", discovery.to_string().into_bytes());
    server.put(&format!("{base}/versions"), versions.to_string().into_bytes());
    server.put(&format!("{base}/{}/download/{os}/{arch}", rel.version), download.to_string().into_bytes());
    for suffix in ["SHA256SUMS", "SHA256SUMS.sig"] {
        server.put(
            &format!("/files/{sums}{}", suffix.trim_start_matches("SHA256SUMS")),
            read(&rel.file(suffix)),
        );
    }
    server.put(&format!("/files/{}", rel.zip_name()), read(&rel.zip()));
}

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A release of the test binary signed with `gpg`'s key.
fn signed_release(version: &str, gpg: &GpgHome) -> Release {
    let home = gpg.home().display().to_string();
    let rel = run_release(version, &[("GPG_KEY_ID", gpg.key_id.as_str()), ("GNUPGHOME", home.as_str())]);
    assert!(rel.output.status.success(), "{}", rel.stderr());
    rel
}

fn workspace(server: &HttpsFileServer, moto: &MotoServer, source: &str) -> TerraformDir {
    let mut env = moto.aws_env();
    env.push(("TF_VAR_endpoint".into(), moto.endpoint()));
    env.push(("SSL_CERT_FILE".into(), server.ca_file().display().to_string()));
    let cli_config = "provider_installation {\n  direct {}\n}\n";
    let tf = TerraformDir::with_cli_config(cli_config, env).expect("terraform dir");
    tf.write("main.tf", &plan_config_for(source)).expect("main.tf");
    tf
}

/// The long key ID (the fingerprint's last 16 hex digits).
fn long_key_id(gpg: &GpgHome) -> String {
    gpg.key_id[gpg.key_id.len().saturating_sub(16)..].to_string()
}

#[test]
fn registry_install_checks_the_signature_and_locks_our_zh_hash() {
    let gpg = GpgHome::new();
    let rel = signed_release("0.9.0", &gpg);
    let server = HttpsFileServer::start();
    publish(&server, &rel, &gpg.public_key(), &long_key_id(&gpg));
    let moto = MotoServer::start().expect("moto");
    let source = format!("localhost:{}/batch-pipeline/batch", server.port());

    let tf = workspace(&server, &moto, &source);
    let init = init_and_plan_of(&tf, &source, "0.9.0");
    let signed = format!("Installed {source} v0.9.0 (self-signed, key ID {})", long_key_id(&gpg));
    assert!(init.stdout.contains(&signed), "{}", init.text());
    let lock = tf.lock_file().expect("init wrote .terraform.lock.hcl");
    let mut hashes = locked_hashes_of(&lock, &source, "0.9.0");
    hashes.sort();
    // h1: of the package, and a zh: for every line of the signed
    // SHA256SUMS (Terraform takes them all, the manifest's included).
    let sums = String::from_utf8(read(&rel.file("SHA256SUMS"))).expect("SHA256SUMS");
    let mut expected: Vec<String> =
        sums.lines().filter_map(|l| l.split_whitespace().next()).map(|h| format!("zh:{h}")).collect();
    expected.push(rel.h1());
    expected.sort();
    assert_eq!(hashes, expected, "{lock}");
    assert!(hashes.contains(&format!("zh:{}", rel.zip_sha256())), "{lock}");
}

#[test]
fn registry_install_refuses_a_signature_by_another_key() {
    let gpg = GpgHome::new();
    let other = GpgHome::new();
    let rel = signed_release("0.9.1", &gpg);
    let server = HttpsFileServer::start();
    // The registry names a key that did not sign this SHA256SUMS.
    publish(&server, &rel, &other.public_key(), &long_key_id(&other));
    let moto = MotoServer::start().expect("moto");
    let source = format!("localhost:{}/batch-pipeline/batch", server.port());

    let tf = workspace(&server, &moto, &source);
    let refused = tf.run(&["init"]).expect("init");
    assert!(!refused.success(), "installed with the wrong key: {}", refused.text());
    assert!(
        unwrapped(&refused.stderr).contains("authentication signature from unknown issuer"),
        "{}",
        refused.text()
    );
    assert!(tf.lock_file().is_none(), "a lock file was written for a refused package");
}
