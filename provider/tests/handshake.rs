//! The provider binary's go-plugin handshake, as a process: what Terraform
//! sees on stdout and in the exit code under each environment.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

fn provider() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_terraform-provider-batch"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Starts the provider, reads its first stdout line, then stops it and
/// returns (line, everything else it printed on stdout).
fn first_line_then_kill(mut child: Child) -> (String, String) {
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).expect("read handshake");
    std::thread::sleep(Duration::from_millis(200));
    let _ = child.kill();
    let _ = child.wait();
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    (line, rest)
}

#[test]
fn refuses_to_run_without_terraform() {
    let out = provider().output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "stdout must stay empty: {:?}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("This binary is a plugin"), "{stderr}");

    let out = provider().env("TF_PLUGIN_MAGIC_COOKIE", "not-the-cookie").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn refuses_protocols_it_does_not_speak() {
    let out = provider()
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("speaks only version 6"));
}

#[test]
fn plaintext_handshake_names_a_live_unix_socket() {
    let child = provider()
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("TF_DISABLE_PLUGIN_TLS", "1")
        .env("PLUGIN_CLIENT_CERT", "ignored when TLS is disabled")
        .spawn()
        .unwrap();
    let mut child = child;
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields.len(), 6, "{line}");
    assert_eq!(&fields[..3], &["1", "6", "unix"]);
    assert_eq!(fields[4], "grpc");
    assert_eq!(fields[5], "", "no certificate in plaintext mode");
    // The socket is bound before the line is printed.
    let socket = std::path::Path::new(fields[3]);
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(socket).unwrap().file_type().is_socket());
    std::os::unix::net::UnixStream::connect(socket).expect("socket accepts connections");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn mtls_handshake_carries_the_server_certificate() {
    // Shaped like go-plugin's: ECDSA P-521, CA:true.
    let client_pem = include_str!("fixtures/client-p521.pem");
    let child = provider()
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .env("PLUGIN_CLIENT_CERT", client_pem)
        .spawn()
        .unwrap();
    let (line, rest) = first_line_then_kill(child);
    assert!(line.ends_with('\n'));
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(&fields[..3], &["1", "6", "unix"]);
    let cert = fields[5];
    assert!(!cert.ends_with('='), "base64 must be unpadded: {cert}");
    let der = base64::engine::general_purpose::STANDARD_NO_PAD.decode(cert).expect("standard base64");
    // A DER certificate: a SEQUENCE that names localhost.
    assert_eq!(der[0], 0x30);
    assert!(der.windows(9).any(|w| w == b"localhost"));
    assert_eq!(rest, "", "nothing but the handshake line on stdout");
}

#[test]
fn bad_client_certificate_is_a_clear_error() {
    let out = provider()
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_CLIENT_CERT", "garbage")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PLUGIN_CLIENT_CERT"));
}

#[test]
fn tcp_listener_stays_within_the_port_range() {
    let child = provider()
        .arg("--tcp")
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_MIN_PORT", "41000")
        .env("PLUGIN_MAX_PORT", "41999")
        .spawn()
        .unwrap();
    let (line, _) = first_line_then_kill(child);
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields[2], "tcp");
    let addr: std::net::SocketAddr = fields[3].parse().unwrap();
    assert!(addr.ip().is_loopback());
    assert!((41000..=41999).contains(&addr.port()), "{addr}");
}

#[test]
fn debug_mode_prints_a_reattach_value() {
    let child = provider().arg("--debug").spawn().unwrap();
    let mut child = child;
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    for _ in 0..4 {
        reader.read_line(&mut text).unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    let value = text
        .split("TF_REATTACH_PROVIDERS='")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap_or_else(|| panic!("no reattach value in {text:?}"));
    let json: serde_json::Value = serde_json::from_str(value).unwrap();
    let entry = &json["registry.terraform.io/batch-pipeline/batch"];
    assert_eq!(entry["Protocol"], "grpc");
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Addr"]["Network"], "unix");
    assert!(entry["Pid"].as_u64().unwrap() > 0);
}
