//! Start-to-handshake time of the provider binary: from spawn until the
//! go-plugin handshake line arrives on stdout, in the AutoMTLS mode Terraform
//! uses (so it includes making the server certificate). Baseline, measured in
//! the same run: spawning `/bin/true` until it exits, the floor any process
//! start pays on this machine.
//!
//! Run: cargo bench -p terraform-provider-batch --bench handshake
//!
//! With `HANDSHAKE_COMPARE=<another provider binary>` (what
//! scripts/bench-compare.sh passes: the base revision's build), that binary
//! is timed too, interleaved with this one, and the ratio printed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const RUNS: usize = 200;

/// A go-plugin-shaped client certificate (ECDSA P-521, CA:true).
fn client_cert_pem() -> String {
    include_str!("../tests/fixtures/client-p521.pem").to_string()
}

fn time_handshake(bin: &str, pem: &str) -> Duration {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .env("PLUGIN_CLIENT_CERT", pem)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn provider");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("handshake");
    let elapsed = start.elapsed();
    assert!(line.starts_with("1|6|unix|"), "unexpected handshake {line:?}");
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn time_true() -> Duration {
    let start = Instant::now();
    let status = Command::new("/bin/true").status().expect("spawn /bin/true");
    assert!(status.success());
    start.elapsed()
}

fn summary(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(samples[samples.len() / 2]), ms(samples[samples.len() * 9 / 10]), ms(samples[0]))
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_terraform-provider-batch");
    let pem = client_cert_pem();
    // Warm the page cache once for each.
    time_handshake(bin, &pem);
    time_true();
    let mut provider = Vec::with_capacity(RUNS);
    let mut baseline = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        provider.push(time_handshake(bin, &pem));
        baseline.push(time_true());
    }
    let mut other = Vec::with_capacity(RUNS);
    let mut this_beside_other = Vec::with_capacity(RUNS);
    let compare = std::env::var("HANDSHAKE_COMPARE").ok();
    if let Some(other_bin) = &compare {
        time_handshake(other_bin, &pem);
        for run in 0..RUNS {
            // Which goes first alternates, so neither always follows the other.
            if run % 2 == 0 {
                other.push(time_handshake(other_bin, &pem));
                this_beside_other.push(time_handshake(bin, &pem));
            } else {
                this_beside_other.push(time_handshake(bin, &pem));
                other.push(time_handshake(other_bin, &pem));
            }
        }
    }
    let (p50, p90, pmin) = summary(provider);
    let (b50, b90, bmin) = summary(baseline);
    println!("start-to-handshake over {RUNS} runs (interleaved):");
    println!("  provider (AutoMTLS)  median {p50:.2} ms  p90 {p90:.2} ms  min {pmin:.2} ms");
    println!("  baseline /bin/true   median {b50:.2} ms  p90 {b90:.2} ms  min {bmin:.2} ms");
    println!("  ratio provider/baseline (median): {:.1}x", p50 / b50);
    println!("  goal: median under 10 ms -> {}", if p50 < 10.0 { "met" } else { "NOT met" });
    if let Some(other_bin) = &compare {
        let (o50, o90, omin) = summary(other);
        let (t50, t90, tmin) = summary(this_beside_other);
        println!("beside the other build ({other_bin}), {RUNS} more runs of each, interleaved:");
        println!("  this build           median {t50:.2} ms  p90 {t90:.2} ms  min {tmin:.2} ms");
        println!("  other build          median {o50:.2} ms  p90 {o90:.2} ms  min {omin:.2} ms");
        println!("  ratio this/other (median): {:.3}", t50 / o50);
    }
}
