//! scripts/release.sh (`make release`): the files a registry or mirror
//! serves, in the Registry's layout, the same bytes from the same input,
//! signed with the key given; and the version the binary reports.

mod install_common;

use std::process::Command;

use std::path::{Path, PathBuf};

use install_common::{
    GpgHome, NAME, Release, SOURCE_DATE_EPOCH, provider_binary, run_release_of, sha256_file,
};

/// A small executable standing in for the provider: the files around it
/// are what these tests check (the mirror tests install the real one).
struct FakeBinary {
    dir: tempfile::TempDir,
}

impl FakeBinary {
    fn new() -> FakeBinary {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new().prefix("fake-provider-").tempdir().expect("dir");
        let path = dir.path().join(NAME);
        std::fs::write(&path, "#!/bin/sh\necho 'not really a provider'\n").expect("write");
        // Not 0755: the zip's mode must not come from the file's.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        FakeBinary { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join(NAME)
    }

    fn release(&self, version: &str, extra_env: &[(&str, &str)]) -> Release {
        run_release_of(&self.path(), version, extra_env)
    }
}

/// The zip's entries as python's zipfile reads them: name, unix mode,
/// timestamp, and whether the bytes are the binary's.
fn zip_entries(zip: &Path, binary: &Path) -> Vec<String> {
    let script = r#"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
binary = open(sys.argv[2], "rb").read()
for i in z.infolist():
    same = z.read(i.filename) == binary
    print(f"{i.filename} {oct(i.external_attr >> 16)} {'-'.join(map(str, i.date_time))} system={i.create_system} same={same}")
"#;
    let out = Command::new("python3").args(["-c", script]).arg(zip).arg(binary).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn release_files_are_the_registrys_and_the_signature_verifies() {
    let fake = FakeBinary::new();
    let gpg = GpgHome::new();
    let home = gpg.home().display().to_string();
    let rel = fake.release("1.2.3", &[("GPG_KEY_ID", gpg.key_id.as_str()), ("GNUPGHOME", home.as_str())]);
    assert!(rel.output.status.success(), "{}", rel.stderr());

    let mut names: Vec<String> = std::fs::read_dir(rel.dist.path())
        .expect("dist")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let zip_name = rel.zip_name();
    assert_eq!(
        names,
        [
            format!("{NAME}_1.2.3_SHA256SUMS"),
            format!("{NAME}_1.2.3_SHA256SUMS.sig"),
            zip_name.clone(),
            format!("{NAME}_1.2.3_manifest.json"),
        ]
    );

    // One entry: the binary, under the Registry's name, rwxr-xr-x, at
    // SOURCE_DATE_EPOCH (2023-11-14 22:13:20 UTC; zip keeps even seconds).
    assert_eq!(
        zip_entries(&rel.zip(), &fake.path()),
        [format!("{NAME}_v1.2.3 0o100755 2023-11-14-22-13-20 system=3 same=True")]
    );

    let manifest = std::fs::read_to_string(rel.file("manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("manifest is JSON");
    assert_eq!(manifest, serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}}));

    // SHA256SUMS: the zip and the manifest, sorted, hashes as coreutils has them.
    let sums = std::fs::read_to_string(rel.file("SHA256SUMS")).expect("SHA256SUMS");
    let expected = format!(
        "{}  {zip_name}\n{}  {NAME}_1.2.3_manifest.json\n",
        sha256_file(&rel.zip()),
        sha256_file(&rel.file("manifest.json"))
    );
    assert_eq!(sums, expected);

    // A detached binary signature (an OpenPGP packet, not ASCII armour)
    // that verifies, and fails once SHA256SUMS changes.
    let sig = rel.file("SHA256SUMS.sig");
    let sig_bytes = std::fs::read(&sig).expect("sig");
    assert!(!sig_bytes.starts_with(b"-----BEGIN"), "the signature is armoured");
    let good = gpg.verify(&sig, &rel.file("SHA256SUMS"));
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert!(String::from_utf8_lossy(&good.stderr).contains("Good signature"));
    let altered = rel.dist.path().join("altered");
    std::fs::write(&altered, sums.replace(&sha256_file(&rel.zip()), &"0".repeat(64))).expect("write");
    let bad = gpg.verify(&sig, &altered);
    assert!(
        !bad.status.success(),
        "an altered SHA256SUMS verified: {}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn packaging_the_same_binary_twice_gives_the_same_bytes() {
    let fake = FakeBinary::new();
    let first = fake.release("0.4.0", &[]);
    let second = fake.release("0.4.0", &[]);
    assert!(first.output.status.success() && second.output.status.success(), "{}", first.stderr());
    for suffix in ["SHA256SUMS", "manifest.json"] {
        assert_eq!(
            std::fs::read(first.file(suffix)).ok(),
            std::fs::read(second.file(suffix)).ok(),
            "{suffix}"
        );
    }
    assert_eq!(std::fs::read(first.zip()).ok(), std::fs::read(second.zip()).ok(), "zip");

    // The timestamp is SOURCE_DATE_EPOCH's, not the clock's or the file's.
    let later = fake.release("0.4.0", &[("SOURCE_DATE_EPOCH", "1800000000")]);
    assert!(later.output.status.success(), "{}", later.stderr());
    assert_ne!(std::fs::read(first.zip()).ok(), std::fs::read(later.zip()).ok());
    assert_ne!(SOURCE_DATE_EPOCH, "1800000000");
}

#[test]
fn without_a_key_the_signature_is_skipped_and_said_so() {
    let rel = FakeBinary::new().release("0.3.0", &[]);
    assert!(rel.output.status.success(), "{}", rel.stderr());
    assert!(rel.stderr().contains("GPG_KEY_ID is not set"), "{}", rel.stderr());
    assert!(rel.file("SHA256SUMS").exists());
    assert!(!rel.file("SHA256SUMS.sig").exists());
}

#[test]
fn a_version_that_is_not_semver_is_refused() {
    let fake = FakeBinary::new();
    for bad in ["", "1.2", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.x", "latest"] {
        let rel = fake.release(bad, &[]);
        assert_eq!(rel.output.status.code(), Some(2), "VERSION={bad:?}: {}", rel.stderr());
        assert!(
            rel.stderr().contains("is not a semantic version")
                || rel.stderr().contains("VERSION is required"),
            "VERSION={bad:?}: {}",
            rel.stderr()
        );
        assert_eq!(std::fs::read_dir(rel.dist.path()).map(|d| d.count()).ok(), Some(0), "VERSION={bad:?}");
    }
    let prefixed = fake.release("v1.2.3", &[]);
    assert_eq!(prefixed.output.status.code(), Some(2));
    assert!(prefixed.stderr().contains("without the leading 'v' (e.g. 1.2.3)"), "{}", prefixed.stderr());

    for good in ["1.2.3-rc.1", "0.0.1+build.5", "10.20.30"] {
        let rel = fake.release(good, &[]);
        assert!(rel.output.status.success(), "VERSION={good:?}: {}", rel.stderr());
        assert!(rel.zip().exists(), "VERSION={good:?}");
    }
}

/// What the test binary was built as: the crate's version unless cargo ran
/// with BATCH_PROVIDER_VERSION set, as scripts/release.sh does.
const BUILT_VERSION: &str = match option_env!("BATCH_PROVIDER_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

#[test]
fn the_binary_reports_its_version_and_logs_it_at_startup() {
    let out = Command::new(provider_binary()).arg("--version").output().expect("provider");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{NAME} {BUILT_VERSION}"));

    // Started without Terraform's handshake it refuses to serve, but the
    // first log line (stderr, go-plugin's JSON) names the version.
    let out = Command::new(provider_binary())
        .env("TF_LOG_PROVIDER", "info")
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .output()
        .expect("provider");
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "stdout belongs to the handshake: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first: serde_json::Value =
        serde_json::from_str(stderr.lines().next().unwrap_or_default()).expect("a JSON log line first");
    assert_eq!(first["@message"], "terraform-provider-batch starting", "{stderr}");
    assert_eq!(first["version"], BUILT_VERSION, "{stderr}");
}
