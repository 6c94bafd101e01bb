//! Benchmark (ignored in normal runs; `make bench` runs it): wall time of
//! `terraform plan` on an unchanged pipeline, beside the same plan with
//! `-refresh=false` (Terraform's own floor, no AWS calls), and the number of
//! AWS calls one refresh makes, counted by moto's request recorder.
//!
//! With `BENCH_PLAN_COMPARE=<folder of another provider binary>` (what
//! scripts/bench-compare.sh passes: the base revision's build), the same
//! plan is timed with that provider too, on its own moto, interleaved with
//! this one, and the ratio printed.

use std::path::Path;
use std::time::{Duration, Instant};

use testkit::{MotoServer, TerraformDir};

const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn post(endpoint: &str, path: &str) -> String {
    let out = std::process::Command::new(testkit::paths::tools_venv().join("bin").join("python"))
        .args(["-c", "import sys,urllib.request as u; r=u.urlopen(u.Request(sys.argv[1], method=sys.argv[2])); sys.stdout.write(r.read().decode())"])
        .arg(format!("{endpoint}{path}"))
        .arg(if path.contains("download") { "GET" } else { "POST" })
        .output()
        .unwrap();
    // A recorder call that failed would make the call count below a
    // silent zero or a stale recording: fail the bench instead.
    assert!(out.status.success(), "{path}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "benchmark: run by make bench"]
fn plan_time_and_refresh_calls() {
    let moto = MotoServer::start().expect("moto");
    let provider_dir = Path::new(env!("CARGO_BIN_EXE_terraform-provider-batch")).parent().unwrap();
    let tf = TerraformDir::for_example(provider_dir, &moto, "local").expect("examples/local");
    let endpoint = format!("endpoint={}", moto.endpoint());
    let egress = "egress_bucket=bench-results";
    tf.ok(&["apply", "-auto-approve", "-var", &endpoint, "-var", egress]).unwrap();

    let mut with_refresh = Vec::new();
    let mut without_refresh = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let run = tf.run(&["plan", "-detailed-exitcode", "-var", &endpoint, "-var", egress]).unwrap();
        with_refresh.push(t.elapsed());
        assert_eq!(run.code, 0, "{}", run.text());
        let t = Instant::now();
        let run = tf
            .run(&["plan", "-refresh=false", "-detailed-exitcode", "-var", &endpoint, "-var", egress])
            .unwrap();
        without_refresh.push(t.elapsed());
        assert_eq!(run.code, 0, "{}", run.text());
    }

    if let Ok(other_dir) = std::env::var("BENCH_PLAN_COMPARE") {
        compare_with(Path::new(&other_dir), &tf, &endpoint, egress);
    }

    let base = moto.endpoint();
    post(&base, "/moto-api/recorder/reset-recording");
    post(&base, "/moto-api/recorder/start-recording");
    tf.ok(&["plan", "-var", &endpoint, "-var", egress]).unwrap();
    post(&base, "/moto-api/recorder/stop-recording");
    let recording = post(&base, "/moto-api/recorder/download-recording");
    let calls: Vec<String> = recording
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|r| {
            let target = r["headers"]["X-Amz-Target"].as_str().map(str::to_string);
            target.unwrap_or_else(|| {
                format!("{} {}", r["method"].as_str().unwrap_or(""), r["url"].as_str().unwrap_or(""))
            })
        })
        .collect();

    let (p, b) = (median(with_refresh), median(without_refresh));
    println!("terraform plan on an unchanged pipeline, median of {RUNS} (examples/local against moto):");
    println!("  plan (refresh)            {p:8.1} ms");
    println!("  plan -refresh=false       {b:8.1} ms   (Terraform's floor, no AWS calls)");
    println!("  refresh costs             {:8.1} ms   ratio {:.2}x", p - b, p / b);
    println!("AWS calls in one refresh: {}", calls.len());
    for c in &calls {
        println!("  {c}");
    }
    assert!(!calls.is_empty(), "the recorder saw no calls: {recording:.200}");
}

/// Plans with refresh, the provider in `other_dir` (on a moto of its own,
/// the same example applied) and this one taking turns.
fn compare_with(other_dir: &Path, this: &TerraformDir, this_endpoint: &str, egress: &str) {
    let other_moto = MotoServer::start().expect("moto for the other build");
    let other = TerraformDir::for_example(other_dir, &other_moto, "local").expect("examples/local");
    let other_endpoint = format!("endpoint={}", other_moto.endpoint());
    other.ok(&["apply", "-auto-approve", "-var", &other_endpoint, "-var", egress]).unwrap();
    let plan = |tf: &TerraformDir, endpoint: &str| {
        let t = Instant::now();
        let run = tf.run(&["plan", "-detailed-exitcode", "-var", endpoint, "-var", egress]).unwrap();
        assert_eq!(run.code, 0, "{}", run.text());
        t.elapsed()
    };
    let (mut this_times, mut other_times) = (Vec::new(), Vec::new());
    for round in 0..RUNS {
        // Which goes first alternates, so neither always follows the other.
        if round % 2 == 0 {
            other_times.push(plan(&other, &other_endpoint));
            this_times.push(plan(this, this_endpoint));
        } else {
            this_times.push(plan(this, this_endpoint));
            other_times.push(plan(&other, &other_endpoint));
        }
    }
    let (t, o) = (median(this_times), median(other_times));
    println!(
        "plan (refresh) beside the other build ({}), median of {RUNS} each, interleaved:",
        other_dir.display()
    );
    println!("  this build                {t:8.1} ms");
    println!("  other build               {o:8.1} ms");
    println!("  ratio this/other          {:8.3}", t / o);
}
