//! Benchmark of retention's removal of one run directory of 10,000 nodes
//! (docs/operations.md, "Run directories on EFS"), laid out as a finished
//! run leaves it: per node `prep/slice.json`, `data/<i>.csv`,
//! `results/<i>.csv` and three done markers (~70,000 entries). The
//! baseline is `std::fs::remove_dir_all` on the whole directory (one
//! thread); ours is `summary::retention::remove_tree` (node directories
//! over `REMOVE_THREADS` threads), alternating in the same run on a fresh
//! copy each time, on tmpfs and on a disk directory. Each removal is
//! checked: the directory is gone.
//!
//! `cargo bench --profile dev -p batch-lambdas --bench retention -- [DISK_DIR] [RUNS]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use batch_jobs::RunLayout;
use batch_jobs::layout::{DoneMarker, FileEntry, Stage};
use batch_lambdas::summary::retention::{REMOVE_THREADS, remove_tree};

const NODES: u32 = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let disk = args.first().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/bench-efs"));
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(3).max(1);
    println!("## retention: removing one run directory of 10,000 nodes\n");
    println!(
        "| file system | entries | remove_dir_all (baseline) median | remove_tree, {REMOVE_THREADS} threads median | ratio |\n|---|---|---|---|---|"
    );
    for (label, base) in [("tmpfs (/dev/shm)", PathBuf::from("/dev/shm")), ("disk", disk)] {
        if std::fs::create_dir_all(&base).is_err() || !base.is_dir() {
            println!("| {label} | (no {}) | | | |", base.display());
            continue;
        }
        let Ok(dir) = tempfile::Builder::new().prefix("retention-bench-").tempdir_in(&base) else {
            println!("| {label} | (cannot write in {}) | | | |", base.display());
            continue;
        };
        let (mut baseline, mut ours, mut entries) = (Vec::new(), Vec::new(), 0);
        for k in 0..runs {
            let a = write_run(dir.path(), &format!("a{k}"));
            entries = count(&a);
            baseline.push(time(&a, |p| std::fs::remove_dir_all(p)));
            let b = write_run(dir.path(), &format!("b{k}"));
            ours.push(time(&b, |p| remove_tree(p, Instant::now() + Duration::from_secs(3600))));
        }
        let (a, b) = (median(&mut baseline), median(&mut ours));
        println!(
            "| {label} | {entries} | {:.0} ms | {:.0} ms | {:.1}x |",
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
}

/// A finished run of [`NODES`] nodes under `efs/runs/<run_id>`.
fn write_run(efs: &Path, run_id: &str) -> PathBuf {
    let layout = RunLayout::new(efs, run_id).expect("run id");
    std::fs::create_dir_all(layout.run_dir()).expect("run dir");
    std::fs::write(layout.run_json_path(), b"{}").expect("run.json");
    for i in 0..NODES {
        let node = layout.node(i);
        for dir in [node.prep_dir(), node.data_dir(), node.results_dir()] {
            std::fs::create_dir_all(dir).expect("node dir");
        }
        std::fs::write(node.slice_path(), format!("{{\"index\":{i}}}")).expect("slice");
        std::fs::write(node.data_dir().join(format!("{i}.csv")), [b'x'; 4000]).expect("data");
        std::fs::write(node.results_dir().join(format!("{i}.csv")), [b'y'; 4000]).expect("result");
        for stage in Stage::ALL {
            let mut m = DoneMarker::new(run_id, i, stage, "fp".into());
            m.files =
                vec![FileEntry { path: format!("data/{i}.csv"), bytes: 4000, crc64nvme: "0".repeat(16) }];
            // Plain writes: the jobs' atomic write fsyncs, which would make
            // laying out 60 runs of 10,000 nodes take far longer than
            // removing them; what is removed is the same.
            std::fs::write(node.done_path(stage), serde_json::to_vec(&m).expect("marker")).expect("marker");
        }
    }
    layout.run_dir().to_path_buf()
}

fn count(dir: &Path) -> u64 {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            n += 1;
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    n
}

/// One removal, checked.
fn time(dir: &Path, remove: impl Fn(&Path) -> std::io::Result<()>) -> Duration {
    let started = Instant::now();
    remove(dir).expect("removed");
    let took = started.elapsed();
    assert!(!dir.exists(), "{} still exists", dir.display());
    took
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
