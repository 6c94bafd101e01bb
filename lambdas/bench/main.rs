//! Benchmarks of the two functions (docs/lambdas.md, "Benchmarks"):
//!
//! 1. prep of 400,000 synthetic ids into 10,000 node directories: the
//!    compiled prep function, already started, from event to response
//!    (planning + run layout writes), on tmpfs and on the given disk
//!    directory, then the same event again (a retry, replayed);
//! 2. cold init of each compiled function: process start until its first
//!    `GET /runtime/invocation/next` on a runtime-API stand-in, and its peak
//!    RSS (VmHWM) at that moment; side by side with a Python handler that
//!    imports boto3 and builds its client before the same call.
//!
//! Everything measured is the binaries given on the command line (the
//! release `bootstrap`s); this harness only starts them and serves the
//! runtime API, so it may be a debug build. `lambdas/bench/run.sh` builds
//! the zips and runs this.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::lambda_runtime::blocking::RuntimeApi;

struct Args {
    prep: PathBuf,
    watcher: PathBuf,
    python: PathBuf,
    python_bootstrap: PathBuf,
    disk_dir: PathBuf,
    runs: usize,
}

fn parse_args() -> Result<Args, String> {
    // `cargo bench` adds `--bench`; everything else is ours.
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut get = |name: &str| -> Result<String, String> {
        match (args.next(), args.next()) {
            (Some(flag), Some(value)) if flag == name => Ok(value),
            _ => Err(format!("expected {name} <value>")),
        }
    };
    Ok(Args {
        prep: get("--prep")?.into(),
        watcher: get("--watcher")?.into(),
        python: get("--python")?.into(),
        python_bootstrap: get("--python-bootstrap")?.into(),
        disk_dir: get("--disk-dir")?.into(),
        runs: get("--runs")?.parse().map_err(|e| format!("--runs: {e}"))?,
    })
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "lambdas bench: {e}\nusage: cargo bench -p batch-lambdas --bench lambdas -- --prep BIN --watcher BIN --python PY --python-bootstrap FILE --disk-dir DIR --runs N"
            );
            std::process::exit(64);
        }
    };
    println!("## prep: 400,000 ids into 10,000 node directories (event -> response, warm process)\n");
    println!("| file system | median | min | max | retry (replayed) |\n|---|---|---|---|---|");
    for (label, base) in [("tmpfs (/dev/shm)", PathBuf::from("/dev/shm")), ("disk", args.disk_dir.clone())] {
        if !base.is_dir() {
            println!("| {label} | (no {}) | | | |", base.display());
            continue;
        }
        let (times, replay) = prep_400k(&args.prep, &base, args.runs);
        println!(
            "| {label} | {} | {} | {} | {} |",
            ms(median(&times)),
            ms(times[0]),
            ms(times[times.len() - 1]),
            ms(replay)
        );
    }

    println!(
        "\n## cold init: process start -> first GET /runtime/invocation/next ({} runs each)\n",
        args.runs
    );
    println!(
        "| function | init median | init min | init max | peak RSS (VmHWM) median |\n|---|---|---|---|---|"
    );
    let mut rows = Vec::new();
    for (label, program, argv, client) in [
        ("prep (Rust)", args.prep.clone(), vec![], "s3"),
        ("watcher (Rust)", args.watcher.clone(), vec![], "batch"),
        ("Python + boto3, s3 client", args.python.clone(), vec![args.python_bootstrap.clone()], "s3"),
        ("Python + boto3, batch client", args.python.clone(), vec![args.python_bootstrap.clone()], "batch"),
    ] {
        let (mut inits, mut rss) = (Vec::new(), Vec::new());
        for _ in 0..args.runs {
            let (init, hwm) = cold_init(&program, &argv, client);
            inits.push(init);
            rss.push(hwm);
        }
        inits.sort();
        rss.sort();
        let row = (label, median(&inits), rss[rss.len() / 2]);
        println!(
            "| {label} | {} | {} | {} | {:.1} MB |",
            ms(row.1),
            ms(inits[0]),
            ms(inits[inits.len() - 1]),
            row.2 as f64 / 1024.0
        );
        rows.push(row);
    }
    println!("\n## ratios (Python / Rust)\n");
    for (rust, py) in [(0, 2), (1, 3)] {
        println!(
            "- {} vs {}: init {:.0}x, peak RSS {:.1}x",
            rows[py].0,
            rows[rust].0,
            rows[py].1.as_secs_f64() / rows[rust].1.as_secs_f64(),
            rows[py].2 as f64 / rows[rust].2 as f64
        );
    }

    println!("\n## prep process peak RSS after one 400,000-id invocation\n");
    let (hwm, took) = prep_process_rss(&args.prep);
    println!("- VmHWM {:.1} MB after the invocation (answered in {})", hwm as f64 / 1024.0, ms(took));
}

fn event_400k(efs: &Path, run_id: &str) -> serde_json::Value {
    // BENCH_PLANT_MISMATCH=N asks prep for N ids more than
    // [`assert_counts`] expects: shows that a mismatch fails the bench.
    let planted: u64 = std::env::var("BENCH_PLANT_MISMATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    json!({
        "config": {
            "version": 1,
            "efs_mount_path": efs.display().to_string(),
            "source": {"type": "synthetic", "count": 400_000 + planted},
            "items_per_node": 40,
            "transform": {"kind": "jsonl_calc", "calculations": ["review_score = stars * review_count"]},
            "egress": {"bucket": "out", "prefix": "results"}
        },
        "overrides": {"run_id": run_id}
    })
}

/// Event-to-response times of `runs` fresh 400k preps (sorted), and of one
/// retry (replayed from the prep record).
fn prep_400k(prep_bin: &Path, base: &Path, runs: usize) -> (Vec<Duration>, Duration) {
    let api = RuntimeApi::start().expect("runtime api");
    let mut cmd = Command::new(prep_bin);
    lambda_env(&mut cmd, &api.host_port());
    let mut child = cmd.spawn().expect("prep");
    let mut times = Vec::new();
    let mut replay = Duration::ZERO;
    let mut kept = Vec::with_capacity(runs);
    flush_disks();
    for run in 0..runs {
        let efs = tempfile::Builder::new().prefix("bench-efs-").tempdir_in(base).expect("temp dir");
        let event = event_400k(efs.path(), &format!("bench-{run}"));
        let started = Instant::now();
        let outcome = api.invoke(event.clone());
        times.push(started.elapsed());
        assert_counts(outcome.response());
        let started = Instant::now();
        assert_eq!(api.invoke(event), outcome);
        replay = started.elapsed();
        // Deleted after the last run, not between runs: on a disk mounted
        // with `discard`, a commit after 30,000 deletions issues the
        // discards, and the next run's syncfs paid for them.
        kept.push(efs);
    }
    stop(&mut child);
    drop(kept);
    times.sort();
    (times, replay)
}

/// A prep time only counts if prep did the whole job: every id, in
/// 10,000 nodes of 40. A panic here fails the bench (run.sh exits 101).
fn assert_counts(response: &serde_json::Value) {
    let got = (&response["array_size"], &response["items"], &response["node_items"]);
    let want = (&json!(10_000), &json!(400_000), &json!({"min": 40, "max": 40}));
    assert_eq!(got, want, "prep's counts: {response}");
}

/// `sync`: writes back every dirty page first, outside the timed part.
fn flush_disks() {
    let _ = Command::new("sync").status();
}

fn lambda_env(cmd: &mut Command, api: &str) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
}

/// Start -> first GET next, and VmHWM (kB) at that moment.
fn cold_init(program: &Path, argv: &[PathBuf], client: &str) -> (Duration, u64) {
    let api = RuntimeApi::start().expect("runtime api");
    let mut cmd = Command::new(program);
    cmd.args(argv);
    lambda_env(&mut cmd, &api.host_port());
    cmd.env("BENCH_CLIENT", client);
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let first = api.wait_first_next(Duration::from_secs(30)).expect("no GET next within 30 s");
    let hwm = vm_hwm_kb(&child);
    stop(&mut child);
    (first.duration_since(started), hwm)
}

/// The prep binary's VmHWM after it handled one 400k-id event (tmpfs).
fn prep_process_rss(prep_bin: &Path) -> (u64, Duration) {
    let api = RuntimeApi::start().expect("runtime api");
    let efs = tempfile::Builder::new()
        .prefix("bench-efs-")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("tmp");
    let mut cmd = Command::new(prep_bin);
    lambda_env(&mut cmd, &api.host_port());
    let mut child = cmd.spawn().expect("prep");
    let started = Instant::now();
    let outcome = api.invoke(event_400k(efs.path(), "rss"));
    let took = started.elapsed();
    assert_counts(outcome.response());
    let hwm = vm_hwm_kb(&child);
    stop(&mut child);
    (hwm, took)
}

/// Fails rather than report 0 kB: a process that already exited has no
/// VmHWM, and a 0 in the table would read as a figure.
fn vm_hwm_kb(child: &Child) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or_else(|| panic!("no VmHWM for process {}: did it exit?", child.id()))
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
