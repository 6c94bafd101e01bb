//! What the install tests share: the provider packaged by
//! `scripts/release.sh` (the script `make release` runs, given the binary
//! cargo built for the tests so no second build runs inside `cargo test`),
//! a throwaway GPG key, and the configuration Terraform plans.
#![allow(dead_code)] // each test binary uses its own part

pub mod https;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testkit::{TerraformDir, paths};

/// The provider's name, as in every release file.
pub const NAME: &str = "terraform-provider-batch";

/// Where the source address `batch-pipeline/batch` lives in a mirror.
pub const MIRROR_SUBDIR: &str = "registry.terraform.io/batch-pipeline/batch";

/// A fixed commit time for the zips (the script's default is the commit's).
pub const SOURCE_DATE_EPOCH: &str = "1700000000";

/// The binary cargo built for these tests.
pub fn provider_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_terraform-provider-batch"))
}

/// The Registry's `<os>_<arch>` for this machine (what the script derives
/// from `rustc -vV`, found here independently).
pub fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

/// One run of scripts/release.sh into its own directory.
pub struct Release {
    pub dist: tempfile::TempDir,
    pub version: String,
    pub output: Output,
}

impl Release {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn zip_name(&self) -> String {
        format!("{NAME}_{}_{}.zip", self.version, platform())
    }

    pub fn file(&self, suffix: &str) -> PathBuf {
        self.dist.path().join(format!("{NAME}_{}_{suffix}", self.version))
    }

    pub fn zip(&self) -> PathBuf {
        self.dist.path().join(self.zip_name())
    }

    /// The zip's SHA-256 as SHA256SUMS lists it.
    pub fn zip_sha256(&self) -> String {
        let sums = std::fs::read_to_string(self.file("SHA256SUMS")).expect("SHA256SUMS");
        let zip = self.zip_name();
        sums.lines()
            .find_map(|line| line.strip_suffix(zip.as_str()).map(|hash| hash.trim().to_string()))
            .unwrap_or_else(|| panic!("{zip} not in SHA256SUMS:\n{sums}"))
    }
}

/// Runs the release script on the test binary, with `extra_env` (e.g.
/// GPG_KEY_ID, GNUPGHOME, SOURCE_DATE_EPOCH overrides); returns whatever it did.
pub fn run_release(version: &str, extra_env: &[(&str, &str)]) -> Release {
    run_release_of(provider_binary(), version, extra_env)
}

/// Runs the release script packaging `binary` (any executable: the checks
/// of the files themselves use a small one, zipping 50 MB of debug build
/// takes seconds).
pub fn run_release_of(binary: &Path, version: &str, extra_env: &[(&str, &str)]) -> Release {
    let dist = tempfile::Builder::new().prefix("dist-").tempdir().expect("dist dir");
    let mut cmd = Command::new("bash");
    cmd.arg(paths::repo_root().join("scripts").join("release.sh"))
        .env("VERSION", version)
        .env("DIST_DIR", dist.path())
        .env("PROVIDER_BINARY", binary)
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
        .env_remove("GPG_KEY_ID");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("running scripts/release.sh");
    Release { dist, version: version.to_string(), output }
}

/// The release script's files for `version`; panics unless it succeeded.
pub fn release(version: &str) -> Release {
    let release = run_release(version, &[]);
    assert!(release.output.status.success(), "release.sh failed:\n{}", release.stderr());
    release
}

/// SHA-256 of a file, from coreutils (not from the script under test).
pub fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

/// A GPG home in a temp dir with one throwaway signing key; its agent is
/// stopped when dropped.
pub struct GpgHome {
    pub dir: tempfile::TempDir,
    pub key_id: String,
}

impl GpgHome {
    pub fn new() -> GpgHome {
        // Short path: gpg-agent's socket path must fit in sun_path.
        let dir = tempfile::Builder::new().prefix("gpg-").tempdir_in("/tmp").expect("gnupg home");
        let home = dir.path().to_path_buf();
        let uid = "Release Test <release-test@example.invalid>";
        let gen_key = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"])
            .output()
            .expect("gpg (scripts/setup-tools.sh installs gnupg)");
        assert!(
            gen_key.status.success(),
            "gpg --quick-gen-key: {}",
            String::from_utf8_lossy(&gen_key.stderr)
        );
        let list = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--with-colons", "--list-keys"])
            .output();
        let listing = String::from_utf8_lossy(&list.expect("gpg --list-keys").stdout).into_owned();
        let key_id = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:").map(|rest| rest.trim_matches(':').to_string()))
            .unwrap_or_else(|| panic!("no fingerprint in:\n{listing}"));
        GpgHome { dir, key_id }
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// The public key, ASCII-armoured, as a registry publishes it.
    pub fn public_key(&self) -> String {
        let out = Command::new("gpg")
            .env("GNUPGHOME", self.home())
            .args(["--batch", "--armor", "--export", &self.key_id])
            .output()
            .expect("gpg --export");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `gpg --verify SIG DATA` with this home's keyring.
    pub fn verify(&self, sig: &Path, data: &Path) -> Output {
        Command::new("gpg")
            .env("GNUPGHOME", self.home())
            .args(["--batch", "--verify"])
            .arg(sig)
            .arg(data)
            .output()
            .expect("gpg --verify")
    }
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").env("GNUPGHOME", self.home()).args(["--kill", "all"]).output();
    }
}

/// A configuration whose plan makes Terraform start the installed provider
/// and read a data source from it: only a real, working binary gets as far.
pub fn plan_config() -> String {
    plan_config_for(testkit::terraform::PROVIDER_SOURCE)
}

/// The same, requiring the provider from source address `source`.
pub fn plan_config_for(source: &str) -> String {
    let preamble = testkit::terraform::provider_preamble(None).replace(
        &format!("source = \"{}\"", testkit::terraform::PROVIDER_SOURCE),
        &format!("source = \"{source}\""),
    );
    assert!(preamble.contains(source), "{preamble}");
    format!(
        r#"{preamble}
data "batch_state_machine_definition" "run" {{
  job_queue_arn = "arn:aws:batch:us-east-1:123456789012:job-queue/q"
  job_definition_arns = {{
    procurement = "arn:aws:batch:us-east-1:123456789012:job-definition/p:1"
    processing  = "arn:aws:batch:us-east-1:123456789012:job-definition/t:1"
    egress      = "arn:aws:batch:us-east-1:123456789012:job-definition/e:1"
  }}
  prep_function_arn    = "arn:aws:lambda:us-east-1:123456789012:function:prep"
  watcher_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:watcher"
  poll_seconds         = 10
}}
output "states" {{ value = keys(jsondecode(data.batch_state_machine_definition.run.definition).States) }}
"#
    )
}

/// `init` then `plan`: the provider came from the mirror and ran.
pub fn init_and_plan(tf: &TerraformDir, version: &str) {
    init_and_plan_of(tf, "batch-pipeline/batch", version);
}

/// The same for the provider Terraform names `shown` (its source address
/// without the default registry's hostname); returns init's output.
pub fn init_and_plan_of(tf: &TerraformDir, shown: &str, version: &str) -> testkit::TfRun {
    let init = tf.ok(&["init"]).expect("init");
    assert!(init.stdout.contains(&format!("Installed {shown} v{version}")), "{}", init.text());
    assert!(!init.text().contains("Provider development overrides"), "{}", init.text());
    let plan = tf.ok(&["plan"]).expect("plan");
    assert!(
        plan.stdout.contains("data.batch_state_machine_definition.run: Read complete"),
        "{}",
        plan.text()
    );
    assert!(plan.stdout.contains("+ states = ["), "{}", plan.text());
    init
}

/// The `h1:` and `zh:` hashes the lock file records for our provider at `version`.
pub fn locked_hashes(lock: &str, version: &str) -> Vec<String> {
    locked_hashes_of(lock, "registry.terraform.io/batch-pipeline/batch", version)
}

/// The same for the provider at source address `address`.
pub fn locked_hashes_of(lock: &str, address: &str, version: &str) -> Vec<String> {
    assert!(lock.contains(&format!("provider \"{address}\"")), "{lock}");
    let versions: Vec<&str> =
        lock.lines().filter_map(|l| l.trim().strip_prefix("version")).map(|rest| rest.trim()).collect();
    assert_eq!(versions, [format!("= \"{version}\"")], "{lock}");
    lock.split('"').filter(|s| s.starts_with("h1:") || s.starts_with("zh:")).map(str::to_string).collect()
}

/// Terraform's `h1:` hash of a package holding `binary` as its one file
/// `entry` (dirhash Hash1: SHA-256 of the sorted "<sha256>  <name>\n"
/// lines, base64), computed here so the lock file's can be checked.
pub fn h1_hash(binary: &Path, entry: &str) -> String {
    let script = r#"
import base64, hashlib, sys
line = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest() + "  " + sys.argv[2] + "\n"
print("h1:" + base64.b64encode(hashlib.sha256(line.encode()).digest()).decode())
"#;
    let out = Command::new("python3").args(["-c", script]).arg(binary).arg(entry).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Release {
    /// The `h1:` hash Terraform records for this release's package.
    pub fn h1(&self) -> String {
        h1_hash(provider_binary(), &format!("{NAME}_v{}", self.version))
    }
}

/// Rewrites the zip at `path` in place as a valid zip with the same name,
/// entry and metadata whose binary has one byte changed: what a mirror
/// serving a tampered package looks like (a byte flipped in the deflated
/// stream would only make an unreadable zip).
pub fn tamper_with_zip(path: &Path) {
    let script = r#"
import sys, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path) as z:
    entries = [(info, bytearray(z.read(info))) for info in z.infolist()]
assert len(entries) == 1, entries
info, data = entries[0]
data[len(data) // 2] ^= 0xFF
with zipfile.ZipFile(path, "w") as z:
    z.writestr(info, bytes(data), compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
"#;
    let out = Command::new("python3").args(["-c", script]).arg(path).output().expect("python3");
    assert!(out.status.success(), "tampering: {}", String::from_utf8_lossy(&out.stderr));
}

/// Text with every run of whitespace made one space: Terraform wraps its
/// error messages at 78 columns wherever the words fall.
pub fn unwrapped(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A second `terraform init`, from scratch (no `.terraform`), with the lock
/// file `lock` in place: Terraform takes the locked version, the package
/// passes its locked hashes, and the lock file is left as it was.
pub fn second_init_reuses_the_lock_file(tf: &TerraformDir, lock: &str) {
    std::fs::remove_dir_all(tf.path().join(".terraform")).expect("rm .terraform");
    let again = tf.ok(&["init"]).expect("second init");
    assert!(
        again
            .stdout
            .contains("Reusing previous version of batch-pipeline/batch from the dependency lock file"),
        "{}",
        again.text()
    );
    assert_eq!(tf.lock_file().as_deref(), Some(lock), "the lock file changed");
}
