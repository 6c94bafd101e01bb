//! Benchmark of summarize's marker reading (docs/lambdas.md, "summarize"):
//! 10,000 nodes x 3 done markers, read and summed by
//! `summary::collect::collect_with_threads`, with one thread (the baseline:
//! a plain loop) and with `READ_THREADS`, side by side in the same run,
//! alternating, on tmpfs and on a disk directory. On EFS every open is a
//! network round trip, which the threads overlap; a local disk shows the
//! same effect smaller.
//!
//! `cargo bench --profile dev -p batch-lambdas --bench summary -- [DISK_DIR] [RUNS]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use batch_jobs::RunLayout;
use batch_jobs::layout::{DoneMarker, FileEntry, ObjectEntry, Stage};
use batch_lambdas::summary::collect::{READ_THREADS, collect_with_threads};

const NODES: u32 = 10_000;

fn main() {
    // `cargo bench` adds `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let disk = args.first().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/bench-efs"));
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    println!("## summarize: done markers of 10,000 nodes x 3 stages (read and summed)\n");
    println!(
        "| file system | 1 thread (baseline) median | {READ_THREADS} threads median | ratio |\n|---|---|---|---|"
    );
    for (label, base) in [("tmpfs (/dev/shm)", PathBuf::from("/dev/shm")), ("disk", disk)] {
        if std::fs::create_dir_all(&base).is_err() || !base.is_dir() {
            println!("| {label} | (no {}) | | |", base.display());
            continue;
        }
        let Ok(dir) = tempfile::Builder::new().prefix("summary-bench-").tempdir_in(&base) else {
            println!("| {label} | (cannot write in {}) | | |", base.display());
            continue;
        };
        let layout = write_run(dir.path());
        let (mut one, mut many) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            one.push(time(&layout, 1));
            many.push(time(&layout, READ_THREADS));
        }
        let (a, b) = (median(&mut one), median(&mut many));
        println!(
            "| {label} | {:.0} ms | {:.0} ms | {:.1}x |",
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
}

/// A run of [`NODES`] nodes with every stage's marker, as the jobs write them.
fn write_run(efs: &Path) -> RunLayout {
    let layout = RunLayout::new(efs, "bench").expect("run id");
    for i in 0..NODES {
        for stage in Stage::ALL {
            let mut m = DoneMarker::new("bench", i, stage, "fp".into());
            m.records_in = 40;
            m.records_out = 39;
            m.records_rejected = 1;
            m.files =
                vec![FileEntry { path: format!("data/{i}.jsonl"), bytes: 4000, crc64nvme: "0".repeat(16) }];
            if stage == Stage::Egress {
                m.objects = vec![ObjectEntry {
                    key: format!("results/bench/{i}/{i}.jsonl"),
                    bytes: 4000,
                    crc64nvme: "0".repeat(16),
                }];
            }
            let node = layout.node(i);
            std::fs::create_dir_all(node.dir()).expect("node dir");
            node.write_done(&m).expect("marker");
        }
    }
    layout
}

/// One collect with `threads`, checked: every node done, every record counted.
fn time(layout: &RunLayout, threads: usize) -> Duration {
    let started = Instant::now();
    let tally = collect_with_threads(layout, NODES, &Stage::ALL, threads);
    let took = started.elapsed();
    assert_eq!(tally.nodes_done, NODES as u64, "{threads} threads");
    assert_eq!(tally.stages[1].1.records_in, 40 * NODES as u64, "{threads} threads");
    took
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
