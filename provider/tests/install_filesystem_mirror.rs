//! Installing the released provider from a filesystem mirror, packed and
//! unpacked layouts, with real Terraform and no dev_overrides: `init`
//! installs it and writes the lock file, `plan` runs it against moto,
//! `providers lock -fs-mirror` works, and a zip changed after the lock
//! file recorded it is refused.

mod install_common;

use std::path::Path;

use install_common::{
    MIRROR_SUBDIR, NAME, Release, init_and_plan, init_and_plan_of, locked_hashes, plan_config, platform,
    release, second_init_reuses_the_lock_file, sha256_file, tamper_with_zip, unwrapped,
};
use testkit::{MotoServer, TerraformDir};

/// A CLI config that installs our provider from `mirror` only (nothing
/// falls through to the network).
fn cli_config(mirror: &Path) -> String {
    format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/batch-pipeline/batch\"]\n  }}\n}}\n",
        mirror.display()
    )
}

fn workspace(mirror: &Path, moto: &MotoServer) -> TerraformDir {
    let mut env = moto.aws_env();
    env.push(("TF_VAR_endpoint".into(), moto.endpoint()));
    let tf = TerraformDir::with_cli_config(&cli_config(mirror), env).expect("terraform dir");
    tf.write("main.tf", &plan_config()).expect("main.tf");
    tf
}

/// The packed layout: HOSTNAME/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_TARGET.zip.
fn packed_mirror(rel: &Release) -> tempfile::TempDir {
    let mirror = tempfile::Builder::new().prefix("fs-mirror-").tempdir().expect("mirror");
    let dir = mirror.path().join(MIRROR_SUBDIR);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(rel.zip(), dir.join(rel.zip_name())).expect("copy zip");
    mirror
}

/// The unpacked layout: HOSTNAME/NAMESPACE/TYPE/VERSION/TARGET/, holding
/// the zip's contents (extracted with their permissions).
fn unpacked_mirror(rel: &Release) -> tempfile::TempDir {
    let mirror = tempfile::Builder::new().prefix("fs-mirror-").tempdir().expect("mirror");
    let dir = mirror.path().join(MIRROR_SUBDIR).join(&rel.version).join(platform());
    std::fs::create_dir_all(&dir).expect("mkdir");
    let script = r#"
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = z.extract(info, sys.argv[2])
        os.chmod(path, (info.external_attr >> 16) & 0o777)
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(rel.zip())
        .arg(&dir)
        .output()
        .expect("python3");
    assert!(out.status.success(), "unzip: {}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join(format!("{NAME}_v{}", rel.version)).is_file());
    mirror
}

#[test]
fn packed_mirror_installs_locks_and_refuses_a_tampered_zip() {
    let rel = release("0.7.0");
    let mirror = packed_mirror(&rel);
    let moto = MotoServer::start().expect("moto");
    let tf = workspace(mirror.path(), &moto);

    let init = init_and_plan_of(&tf, "batch-pipeline/batch", "0.7.0");
    assert!(
        init.stdout.contains("Installed batch-pipeline/batch v0.7.0 (unauthenticated)"),
        "{}",
        init.text()
    );
    let lock = tf.lock_file().expect("init wrote .terraform.lock.hcl");
    // A filesystem mirror has no zh: (zip) hashes to offer; Terraform
    // records the h1: hash of the package's contents.
    assert_eq!(locked_hashes(&lock, "0.7.0"), [rel.h1()], "{lock}");

    second_init_reuses_the_lock_file(&tf, &lock);

    // The mirrored zip replaced by one whose binary has one byte changed,
    // same name: refused, since its h1: is not the one the lock file holds.
    let mirrored = mirror.path().join(MIRROR_SUBDIR).join(rel.zip_name());
    tamper_with_zip(&mirrored);
    assert_ne!(sha256_file(&mirrored), sha256_file(&rel.zip()));
    std::fs::remove_dir_all(tf.path().join(".terraform")).expect("rm .terraform");
    let refused = tf.run(&["init"]).expect("init");
    assert!(!refused.success(), "a tampered zip installed: {}", refused.text());
    assert!(
        unwrapped(&refused.stderr).contains(
            "the current package for registry.terraform.io/batch-pipeline/batch 0.7.0 doesn't match any of the \
             checksums previously recorded in the dependency lock file"
        ),
        "{}",
        refused.text()
    );
}

#[test]
fn unpacked_mirror_installs_and_providers_lock_reads_it() {
    let rel = release("0.7.1");
    let mirror = unpacked_mirror(&rel);
    let moto = MotoServer::start().expect("moto");
    let tf = workspace(mirror.path(), &moto);

    // `providers lock` against the mirror, before any init: the lock file
    // it writes is the one init then accepts.
    let mirror_arg = format!("-fs-mirror={}", mirror.path().display());
    let platform_arg = format!("-platform={}", platform());
    let locked = tf.ok(&["providers", "lock", &mirror_arg, &platform_arg]).expect("providers lock");
    assert!(locked.stdout.contains("Obtained batch-pipeline/batch checksums"), "{}", locked.text());
    let lock = tf.lock_file().expect("providers lock wrote .terraform.lock.hcl");
    assert_eq!(locked_hashes(&lock, "0.7.1"), [rel.h1()], "{lock}");

    init_and_plan(&tf, "0.7.1");
    assert_eq!(tf.lock_file().as_deref(), Some(lock.as_str()), "init changed the lock file");
}
