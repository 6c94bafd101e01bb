//! Every node's done markers, read from EFS with bounded parallelism.
//!
//! 10,000 nodes of three stages are 30,000 small files. On EFS each open
//! and read is a network round trip (about a millisecond), so one thread
//! would take tens of seconds; [`READ_THREADS`] threads overlap the round
//! trips and keep the summary under 10 s. Only sums leave a thread: nothing
//! per node is kept, so memory does not grow with the node count.

use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;

use batch_jobs::RunLayout;
use batch_jobs::layout::{DoneMarker, Stage};

/// Threads reading markers. I/O bound (EFS latency), not CPU bound, so
/// more than the function's vCPUs; bounded so a run of any size opens at
/// most this many files at once.
pub const READ_THREADS: usize = 32;

/// Most unreadable markers named in the summary (all are counted).
pub const MAX_NAMED_PROBLEMS: usize = 20;

/// One stage's sums over the nodes whose marker was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageTally {
    /// Nodes with a readable done marker.
    pub done: u64,
    /// Summed from the markers.
    pub records_in: u64,
    pub records_out: u64,
    pub records_rejected: u64,
    /// Files the stage wrote on EFS, and their bytes.
    pub files: u64,
    pub file_bytes: u64,
    /// Objects the stage uploaded, and their bytes.
    pub objects: u64,
    pub object_bytes: u64,
    /// Earliest and latest marker modification time (Unix seconds): when
    /// the stage's first and last node finished.
    pub first_done: Option<u64>,
    pub last_done: Option<u64>,
}

impl StageTally {
    fn add(&mut self, marker: &DoneMarker, mtime: Option<u64>) {
        self.done += 1;
        self.records_in += marker.records_in;
        self.records_out += marker.records_out;
        self.records_rejected += marker.records_rejected;
        self.files += marker.files.len() as u64;
        self.file_bytes += marker.files.iter().map(|f| f.bytes).sum::<u64>();
        self.objects += marker.objects.len() as u64;
        self.object_bytes += marker.objects.iter().map(|o| o.bytes).sum::<u64>();
        if let Some(t) = mtime {
            self.first_done = Some(self.first_done.map_or(t, |f| f.min(t)));
            self.last_done = Some(self.last_done.map_or(t, |l| l.max(t)));
        }
    }

    fn merge(&mut self, other: &StageTally) {
        self.done += other.done;
        self.records_in += other.records_in;
        self.records_out += other.records_out;
        self.records_rejected += other.records_rejected;
        self.files += other.files;
        self.file_bytes += other.file_bytes;
        self.objects += other.objects;
        self.object_bytes += other.object_bytes;
        for t in [other.first_done, other.last_done].into_iter().flatten() {
            self.first_done = Some(self.first_done.map_or(t, |f| f.min(t)));
            self.last_done = Some(self.last_done.map_or(t, |l| l.max(t)));
        }
    }
}

/// What the markers of a whole run add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunTally {
    /// Per stage, in the run's stage order.
    pub stages: Vec<(Stage, StageTally)>,
    /// Nodes whose last stage is done.
    pub nodes_done: u64,
    /// The first stage's files (the inputs as fetched) of those nodes.
    pub inputs_processed: u64,
    pub input_bytes_processed: u64,
    /// Markers that exist but could not be read or parsed, or belong to
    /// another run or node: counted as not done.
    pub unreadable: u64,
    /// The first [`MAX_NAMED_PROBLEMS`] of them, `path: reason`.
    pub problems: Vec<String>,
}

impl RunTally {
    fn empty(stages: &[Stage]) -> Self {
        RunTally {
            stages: stages.iter().map(|s| (*s, StageTally::default())).collect(),
            ..Default::default()
        }
    }

    fn merge(&mut self, other: RunTally) {
        for ((_, mine), (_, theirs)) in self.stages.iter_mut().zip(&other.stages) {
            mine.merge(theirs);
        }
        self.nodes_done += other.nodes_done;
        self.inputs_processed += other.inputs_processed;
        self.input_bytes_processed += other.input_bytes_processed;
        self.unreadable += other.unreadable;
        for p in other.problems {
            if self.problems.len() < MAX_NAMED_PROBLEMS {
                self.problems.push(p);
            }
        }
    }
}

/// Reads the markers of nodes `0..array_size` for `stages`.
pub fn collect(layout: &RunLayout, array_size: u32, stages: &[Stage]) -> RunTally {
    collect_with_threads(layout, array_size, stages, READ_THREADS)
}

/// [`collect`] with `threads` readers (the bench compares 1 with
/// [`READ_THREADS`]).
pub fn collect_with_threads(
    layout: &RunLayout,
    array_size: u32,
    stages: &[Stage],
    threads: usize,
) -> RunTally {
    let threads = threads.clamp(1, array_size.max(1) as usize);
    let per_thread = (array_size as usize).div_ceil(threads).max(1) as u32;
    let parts: Vec<RunTally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads as u32)
            .map(|t| {
                let from = t.saturating_mul(per_thread).min(array_size);
                let to = from.saturating_add(per_thread).min(array_size);
                scope.spawn(move || collect_range(layout, from..to, stages))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    let mut t = RunTally::empty(stages);
                    t.problems.push("a marker reader thread panicked".into());
                    t
                })
            })
            .collect()
    });
    let mut total = RunTally::empty(stages);
    for part in parts {
        total.merge(part);
    }
    total
}

fn collect_range(layout: &RunLayout, nodes: std::ops::Range<u32>, stages: &[Stage]) -> RunTally {
    let mut tally = RunTally::empty(stages);
    for index in nodes {
        let node = layout.node(index);
        let mut first_stage_files = None;
        let mut last_done = false;
        for (k, (stage, stage_tally)) in tally.stages.iter_mut().enumerate() {
            let path = node.done_path(*stage);
            match read_marker(&path) {
                Ok(None) => {}
                Ok(Some((marker, mtime))) => {
                    if marker.run_id != layout.run_id() || marker.index != index || marker.stage != *stage {
                        tally.unreadable += 1;
                        if tally.problems.len() < MAX_NAMED_PROBLEMS {
                            tally.problems.push(format!(
                                "{}: written for run {:?} node {} stage {}",
                                path.display(),
                                marker.run_id,
                                marker.index,
                                marker.stage.as_str()
                            ));
                        }
                        continue;
                    }
                    stage_tally.add(&marker, mtime);
                    if k == 0 {
                        first_stage_files = Some((
                            marker.files.len() as u64,
                            marker.files.iter().map(|f| f.bytes).sum::<u64>(),
                        ));
                    }
                    last_done = k + 1 == stages.len();
                }
                Err(reason) => {
                    tally.unreadable += 1;
                    if tally.problems.len() < MAX_NAMED_PROBLEMS {
                        tally.problems.push(format!("{}: {reason}", path.display()));
                    }
                }
            }
        }
        if last_done {
            tally.nodes_done += 1;
            if let Some((files, bytes)) = first_stage_files {
                tally.inputs_processed += files;
                tally.input_bytes_processed += bytes;
            }
        }
    }
    tally
}

/// A marker and its modification time (Unix seconds); `None` if absent.
fn read_marker(path: &Path) -> Result<Option<(DoneMarker, Option<u64>)>, String> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mtime = file
        .metadata()
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    let marker: DoneMarker = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    Ok(Some((marker, mtime)))
}
