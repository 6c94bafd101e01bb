//! One FIFO queue against the pipeline's two queues, side by side in one
//! run: the local Batch runs the three N_TO_N array jobs of NODES nodes
//! (default 10,000) on SLOTS slots (default 16: a compute environment of
//! 16 vCPUs, 1 vCPU a job), and reports the time to the first egress
//! completion and the makespan of each.
//!
//! It measures scheduling, not the jobs: each stage is a synthetic command
//! (`/bin/sh` sleeping STAGE_MS, default 20 ms), so the figures are about
//! who gets the next slot. Usage:
//!   cargo bench --profile dev -p batch-runner --bench queue_priority
//!   NODES=2000 SLOTS=8 STAGE_MS=10 ROUNDS=2 cargo bench ... (A B B A per round)

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use batch_runner::batch::{BatchConfig, LocalBatch, STAGES, Status};
use serde_json::json;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The synthetic stage commands: sleep, exit 0.
fn write_stage_commands(bin: &Path, stage_ms: u64) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(bin)?;
    for stage in STAGES {
        let path = bin.join(stage);
        std::fs::write(&path, format!("#!/bin/sh\nexec sleep {}.{:03}\n", stage_ms / 1000, stage_ms % 1000))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

struct Measured {
    first_egress: Duration,
    makespan: Duration,
    /// Procurement nodes not yet started when the first egress completed.
    procurement_waiting: usize,
}

/// Submits the three stages to `queues` (one per stage) and runs them to
/// the end.
async fn run(dir: &Path, nodes: u64, slots: usize, queues: [&str; 3]) -> Result<Measured, String> {
    let batch = LocalBatch::new(BatchConfig {
        bin_dir: dir.join("bin"),
        efs_dir: dir.join("efs"),
        log_dir: dir.join("logs"),
        concurrency: slots,
        default_attempts: 1,
        rerun_only: None,
        inject: Vec::new(),
        progress: false,
        default_env: Vec::new(),
    });
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| e.to_string())?;
    let workers = batch.start_workers();
    let mut previous: Option<String> = None;
    for (stage, queue) in STAGES.iter().zip(queues) {
        let mut params = json!({
            "JobName": format!("{stage}-bench"), "JobQueue": queue,
            "JobDefinition": format!("bench-{stage}:1"), "ArrayProperties": {"Size": nodes},
            "ContainerOverrides": {"Environment": [{"Name": "RUN_ID", "Value": "bench"}]},
        });
        if let Some(id) = &previous {
            params["DependsOn"] = json!([{"JobId": id, "Type": "N_TO_N"}]);
        }
        let out = batch.submit(&params).map_err(|e| format!("{e:?}"))?;
        previous = out["JobId"].as_str().map(str::to_string);
    }
    batch.wait_all_terminal().await;
    batch.shutdown();
    for w in workers {
        let _ = w.await;
    }
    measure(&batch)
}

fn measure(batch: &Arc<LocalBatch>) -> Result<Measured, String> {
    let g = batch.lock();
    let t0 = batch.started;
    for job in &g.jobs {
        let failed = job.children.iter().filter(|c| c.status != Status::Succeeded).count();
        if failed > 0 {
            let reason = job.children.iter().find_map(|c| c.reason.clone()).unwrap_or_default();
            return Err(format!("{}: {failed} nodes did not succeed ({reason})", job.stage));
        }
    }
    let [procurement, _, egress] = &g.jobs[..] else { return Err("three jobs expected".into()) };
    let first = egress.children.iter().filter_map(|c| c.stopped).min().ok_or("no egress node stopped")?;
    let last =
        g.jobs.iter().flat_map(|j| &j.children).filter_map(|c| c.stopped).max().ok_or("nothing ran")?;
    let waiting = procurement.children.iter().filter(|c| c.started.is_none_or(|s| s > first)).count();
    Ok(Measured { first_egress: first - t0, makespan: last - t0, procurement_waiting: waiting })
}

/// The two set-ups: label, and the queue each stage is submitted to.
const SETUPS: [(&str, [&str; 3]); 2] = [
    ("one FIFO queue (all stages)", ["bench-queue"; 3]),
    (
        "two queues: procurement (priority 1), processing + egress (priority 1000)",
        ["bench-queue", "bench-later-stages-queue", "bench-later-stages-queue"],
    ),
];

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

fn main() -> Result<(), String> {
    let nodes = env_or("NODES", 10_000);
    let slots = env_or("SLOTS", 16) as usize;
    let stage_ms = env_or("STAGE_MS", 20);
    // Rounds of A B B A: a machine whose load drifts during the run
    // weighs on both set-ups alike.
    let rounds = env_or("ROUNDS", 1).max(1);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let bin = dir.path().join("bin");
    write_stage_commands(&bin, stage_ms).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    println!(
        "{nodes} nodes x 3 stages, {slots} slots, synthetic stage commands of {stage_ms} ms ({} cores), {rounds} round(s) of A B B A",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| queues | first egress done | makespan | procurement nodes not started then |");
    println!("|---|---|---|---|");
    let mut first_egress = [Vec::new(), Vec::new()];
    let mut makespan = [Vec::new(), Vec::new()];
    let order = [0, 1, 1, 0];
    for (n, setup) in (0..rounds).flat_map(|_| order).enumerate() {
        let (label, queues) = SETUPS[setup];
        let run_dir = dir.path().join(format!("run{n}"));
        std::fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;
        std::os::unix::fs::symlink(&bin, run_dir.join("bin")).map_err(|e| e.to_string())?;
        let m = rt.block_on(run(&run_dir, nodes, slots, queues))?;
        println!(
            "| {label} | {:.2} s | {:.2} s | {} |",
            m.first_egress.as_secs_f64(),
            m.makespan.as_secs_f64(),
            m.procurement_waiting
        );
        first_egress[setup].push(m.first_egress.as_secs_f64());
        makespan[setup].push(m.makespan.as_secs_f64());
    }
    let (fifo_first, ours_first) = (mean(&first_egress[0]), mean(&first_egress[1]));
    let (fifo_makespan, ours_makespan) = (mean(&makespan[0]), mean(&makespan[1]));
    println!(
        "means: first egress {fifo_first:.2} s (one queue) vs {ours_first:.2} s (two), {:.0}x sooner; makespan {fifo_makespan:.2} s vs {ours_makespan:.2} s, ratio (two / one) {:.3}",
        fifo_first / ours_first.max(1e-9),
        ours_makespan / fifo_makespan.max(1e-9)
    );
    Ok(())
}
