//! jobs/ca-bundle.sh, which `make build-images` uses to find the CA
//! bundle it copies into the images: the standard locations of the Linux
//! distributions and macOS, or SSL_CERT_FILE, and a clear error when none
//! holds certificates (it used to copy Debian's path, whatever the host).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ca-bundle.sh")
}

fn run(ssl_cert_file: Option<&Path>, candidates: &[&Path]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(script()).args(candidates).env_remove("SSL_CERT_FILE");
    if let Some(f) = ssl_cert_file {
        cmd.env("SSL_CERT_FILE", f);
    }
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

#[test]
fn the_first_candidate_holding_certificates_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (missing, empty, not_pem, fedora, other) = (
        dir.path().join("missing.crt"),
        dir.path().join("empty.crt"),
        dir.path().join("not-pem.crt"),
        dir.path().join("ca-bundle.crt"),
        dir.path().join("cert.pem"),
    );
    std::fs::write(&empty, "").unwrap();
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    std::fs::write(&fedora, PEM).unwrap();
    std::fs::write(&other, PEM).unwrap();
    let out = run(None, &[&missing, &empty, &not_pem, &fedora, &other]);
    assert_eq!(stdout(&out), fedora.display().to_string());
}

#[test]
fn ssl_cert_file_comes_first_and_must_hold_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let (mine, standard) = (dir.path().join("mine.pem"), dir.path().join("standard.crt"));
    std::fs::write(&mine, PEM).unwrap();
    std::fs::write(&standard, PEM).unwrap();
    assert_eq!(stdout(&run(Some(&mine), &[&standard])), mine.display().to_string());
    // Set but wrong: an error naming it, not a silent fallback.
    let gone = dir.path().join("gone.pem");
    let out = run(Some(&gone), &[&standard]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SSL_CERT_FILE") && err.contains("gone.pem"), "{err}");
}

#[test]
fn no_bundle_is_a_clear_error_listing_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.crt"), dir.path().join("b.pem"));
    let out = run(None, &[&a, &b]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no CA bundle") && err.contains("a.crt") && err.contains("b.pem"), "{err}");
    assert!(err.contains("SSL_CERT_FILE"), "{err}");
}

#[test]
fn the_standard_list_covers_the_common_distributions() {
    let text = std::fs::read_to_string(script()).unwrap();
    for path in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ] {
        assert!(text.contains(path), "{path}");
    }
    // And this host's bundle is found without arguments.
    let out = Command::new("bash").arg(script()).output().unwrap();
    let found = stdout(&out);
    assert!(std::fs::read_to_string(&found).unwrap().contains("-----BEGIN CERTIFICATE-----"), "{found}");
}
