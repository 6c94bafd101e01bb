//! The run layout on EFS, shared by the prep Lambda (writer) and the jobs
//! (readers). Documented in docs/run-layout.md; version [`LAYOUT_VERSION`].
//!
//! ```text
//! <efs_root>/runs/<run_id>/run.json                 RunConfig (immutable)
//! <efs_root>/runs/<run_id>/nodes/<index>/prep/slice.json   NodeSlice
//! <efs_root>/runs/<run_id>/nodes/<index>/data/...          procurement output
//! <efs_root>/runs/<run_id>/nodes/<index>/results/...       processing output
//! <efs_root>/runs/<run_id>/nodes/<index>/<stage>.done.json DoneMarker
//! ```
//!
//! Every file is written atomically ([`crate::atomic`]); directories are
//! created idempotently; names from data pass [`crate::safe_path`].

mod config;
mod ledger;
mod marker;
mod messages;
mod names;
mod slice;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use config::{
    EgressSpec, LAYOUT_VERSION, MAX_ARRAY_SIZE, MAX_S3_CONCURRENCY, RunConfig, SftpSource, SourceSpec, Stage,
    SyntheticFormat, default_multipart_threshold, default_part_size, now_rfc3339, rfc3339_from_unix,
};
pub use ledger::{
    CLAIMS_DIR, DONE_DIR, InputIdentity, LEDGER_DIR, LEDGER_JSON, LedgerInput, NodeLedger, claim_key,
    done_key, id_of_key, ledger_prefix,
};
pub use marker::{DoneMarker, FileEntry, MarkerMismatch, ObjectEntry, Verify};
pub use messages::{MESSAGES_JSON, NodeMessages, QueueMessage};
pub use names::{MANIFEST_NAME, RESERVED_SUFFIXES, check_data_names};
pub use slice::{IdRange, NodeSlice, SliceFile, nodes_needed, split_even};

use crate::atomic::{self, fsync_dir, remove_stale_temps_of, temp_path_for, write_atomic};
use crate::exit::{ExitCode, JobError, JobResult};
use crate::safe_path::check_run_id;

/// File name of the run config inside the run directory.
pub const RUN_JSON: &str = "run.json";
/// File name of a node's slice inside `prep/`.
pub const SLICE_JSON: &str = "slice.json";
/// File name of a failed run's failed indices inside the run directory.
pub const FAILED_INDICES_JSON: &str = "failed_indices.json";

/// `runs/<run_id>/failed_indices.json`: which indices of a run failed, per
/// stage and their union, in compact range form ([`crate::ranges`]), so a
/// person and `--rerun-failed` can read the whole list, which the
/// execution's cause (at most 32,768 characters) cannot always carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailedIndices {
    /// The run id.
    pub run_id: String,
    /// The execution that found them.
    pub execution: String,
    /// Per stage, e.g. `"0-9999"`; `""` for none.
    pub failed_indices: std::collections::BTreeMap<String, String>,
    /// The union: what a rerun submits.
    pub rerun_indices: String,
    /// How many indices `rerun_indices` holds.
    pub rerun_count: u64,
}

/// What [`RunLayout::create_run`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// run.json was written now.
    Created,
    /// An identical run.json (apart from `created_at`) was already there
    /// and was kept: a retried prep.
    AlreadyExists,
}

/// One run's directory tree under an EFS root.
#[derive(Debug, Clone)]
pub struct RunLayout {
    run_id: String,
    run_dir: PathBuf,
}

impl RunLayout {
    /// The layout of `run_id` under `efs_root` (`<efs_root>/runs/<run_id>`).
    /// Fails if the run id is not a safe directory name.
    pub fn new(efs_root: impl AsRef<Path>, run_id: &str) -> JobResult<Self> {
        check_run_id(run_id)?;
        Ok(RunLayout { run_id: run_id.to_string(), run_dir: efs_root.as_ref().join("runs").join(run_id) })
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// `<efs_root>/runs/<run_id>`.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// `<run_dir>/run.json`.
    pub fn run_json_path(&self) -> PathBuf {
        self.run_dir.join(RUN_JSON)
    }

    /// `<run_dir>/failed_indices.json`.
    pub fn failed_indices_path(&self) -> PathBuf {
        self.run_dir.join(FAILED_INDICES_JSON)
    }

    /// Writes `failed_indices.json` atomically (replacing an earlier
    /// attempt's: the latest execution of the run is the one that counts).
    pub fn write_failed_indices(&self, failed: &FailedIndices) -> JobResult<()> {
        let mut bytes = serde_json::to_vec_pretty(failed).map_err(|e| {
            JobError::new(ExitCode::Software, format!("serialising {FAILED_INDICES_JSON}: {e}"))
        })?;
        bytes.push(b'\n');
        let path = self.failed_indices_path();
        write_atomic(&path, &bytes).map_err(|e| JobError::io(path.display(), e))
    }

    /// Reads `failed_indices.json`; `Ok(None)` if the run has none.
    pub fn read_failed_indices(&self) -> JobResult<Option<FailedIndices>> {
        let path = self.failed_indices_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| JobError::data(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(JobError::io(path.display(), e)),
        }
    }

    /// The directories of node `index`.
    pub fn node(&self, index: u32) -> NodeLayout {
        NodeLayout {
            run_id: self.run_id.clone(),
            index,
            dir: self.run_dir.join("nodes").join(index.to_string()),
        }
    }

    /// Validates `config` and writes run.json atomically. Idempotent: if
    /// run.json exists and describes the same run (ignoring `created_at`),
    /// it is kept and `AlreadyExists` returned; if it describes a different
    /// run, that is an error (run.json is immutable).
    pub fn create_run(&self, config: &RunConfig) -> JobResult<CreateOutcome> {
        config.validate()?;
        if config.run_id != self.run_id {
            return Err(JobError::config(format!(
                "run.json run_id {:?} differs from the layout's run id {:?}",
                config.run_id, self.run_id
            )));
        }
        create_dir_synced(&self.run_dir.join("nodes"))?;
        match self.read_config() {
            Ok(existing) if existing.same_run_as(config) => {
                return Ok(CreateOutcome::AlreadyExists);
            }
            Ok(_) => {
                return Err(JobError::config(format!(
                    "{} exists with a different config; run.json is immutable",
                    self.run_json_path().display()
                )));
            }
            Err(err) if err.exit == ExitCode::NoInput => {}
            Err(err) => return Err(err),
        }
        let mut bytes = serde_json::to_vec_pretty(config)
            .map_err(|e| JobError::new(ExitCode::Software, format!("serialising run.json: {e}")))?;
        bytes.push(b'\n');
        let path = self.run_json_path();
        write_atomic(&path, &bytes).map_err(|e| JobError::io(path.display(), e))?;
        Ok(CreateOutcome::Created)
    }

    /// Reads and validates run.json. Missing -> exit 66; malformed or
    /// another run's -> 65/78.
    pub fn read_config(&self) -> JobResult<RunConfig> {
        let path = self.run_json_path();
        let bytes = fs::read(&path).map_err(|e| JobError::io(path.display(), e))?;
        let config: RunConfig =
            serde_json::from_slice(&bytes).map_err(|e| JobError::data(format!("{}: {e}", path.display())))?;
        config.validate().map_err(|e| e.context(path.display()))?;
        if config.run_id != self.run_id {
            return Err(JobError::data(format!(
                "{}: run_id {:?} is not {:?}",
                path.display(),
                config.run_id,
                self.run_id
            )));
        }
        Ok(config)
    }

    /// Creates node `index`'s `prep/`, `data/`, `results/` and writes its
    /// slice atomically. Idempotent: an identical existing slice is left as
    /// it is; a different one is an error (slices are part of the immutable
    /// run).
    pub fn write_node_slice(&self, index: u32, items: &[String]) -> JobResult<()> {
        self.write_slice(&NodeSlice::items(index, items.to_vec()))
    }

    /// Like [`RunLayout::write_node_slice`] for any [`NodeSlice`] (e.g. an
    /// id range). The slice's own `index` says which node it is for.
    pub fn write_slice(&self, slice: &NodeSlice) -> JobResult<()> {
        let node = self.node(slice.index);
        node.create_dirs()?;
        let bytes = slice_bytes(slice)?;
        let path = node.slice_path();
        if existing_matches(&path, &bytes)? {
            return Ok(());
        }
        write_atomic(&path, &bytes).map_err(|e| JobError::io(path.display(), e))
    }

    /// Writes many slices at once, as fast as the file system allows: all
    /// directories and temporary files first, one `syncfs`, all renames,
    /// one more `syncfs`. Same guarantees as [`RunLayout::write_slice`]
    /// (atomic, durable, idempotent) without an fsync per file, which is
    /// what makes 10,000 nodes take well under a second on a local disk.
    pub fn write_node_slices(&self, slices: &[NodeSlice]) -> JobResult<()> {
        let nodes_dir = self.run_dir.join("nodes");
        create_dir_synced(&nodes_dir)?;
        // Metadata operations dominate (2 mkdirs, a create and a rename per
        // node; `data/` and `results/` are made by the stages that fill
        // them, so prep does not pay for 20,000 more mkdirs); on network and sandboxed file systems they are latency
        // bound, so a few threads overlap them.
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4) * 2;
        let chunk = slices.len().div_ceil(threads).max(1);
        let staged: Vec<JobResult<Vec<(PathBuf, PathBuf)>>> = std::thread::scope(|scope| {
            let handles: Vec<_> =
                slices.chunks(chunk).map(|part| scope.spawn(move || self.stage_slices(part))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(JobError::new(ExitCode::Software, "slice writer thread panicked"))
                    })
                })
                .collect()
        });
        let mut pending = Vec::with_capacity(slices.len());
        let mut first_error = None;
        for result in staged {
            match result {
                Ok(p) => pending.extend(p),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let result = match first_error {
            Some(e) => Err(e),
            None => (|| {
                sync_filesystem(&nodes_dir)?;
                let chunk = pending.len().div_ceil(threads).max(1);
                std::thread::scope(|scope| {
                    let handles: Vec<_> = pending
                        .chunks(chunk)
                        .map(|part| {
                            scope.spawn(move || -> JobResult<()> {
                                for (temp, path) in part {
                                    fs::rename(temp, path).map_err(|e| JobError::io(path.display(), e))?;
                                }
                                Ok(())
                            })
                        })
                        .collect();
                    for h in handles {
                        h.join().unwrap_or_else(|_| {
                            Err(JobError::new(ExitCode::Software, "rename thread panicked"))
                        })?;
                    }
                    Ok::<(), JobError>(())
                })?;
                sync_filesystem(&nodes_dir)
            })(),
        };
        if result.is_err() {
            for (temp, _) in &pending {
                let _ = fs::remove_file(temp);
            }
        }
        result
    }

    /// Creates the directories of each slice's node and writes the slice
    /// under a temporary name; returns (temp, final) pairs to rename.
    fn stage_slices(&self, slices: &[NodeSlice]) -> JobResult<Vec<(PathBuf, PathBuf)>> {
        let mut pending = Vec::with_capacity(slices.len());
        for slice in slices {
            let node = self.node(slice.index);
            node.create_prep_dir_unsynced()?;
            let bytes = slice_bytes(slice)?;
            let path = node.slice_path();
            if existing_matches(&path, &bytes)? {
                continue;
            }
            let temp = temp_path_for(&path).map_err(|e| JobError::io(path.display(), e))?;
            if let Err(e) = fs::write(&temp, &bytes) {
                for (t, _) in &pending {
                    let _ = fs::remove_file(t);
                }
                return Err(JobError::io(temp.display(), e));
            }
            pending.push((temp, path));
        }
        Ok(pending)
    }
}

fn slice_bytes(slice: &NodeSlice) -> JobResult<Vec<u8>> {
    let mut bytes = serde_json::to_vec(slice)
        .map_err(|e| JobError::new(ExitCode::Software, format!("serialising slice: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// True if `path` holds exactly `bytes`; an error if it holds something
/// else (immutable content); false if it does not exist.
fn existing_matches(path: &Path, bytes: &[u8]) -> JobResult<bool> {
    match fs::read(path) {
        Ok(existing) if existing == bytes => Ok(true),
        Ok(_) => Err(JobError::data(format!(
            "{} exists with different content; node slices are immutable within a run",
            path.display()
        ))),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(JobError::io(path.display(), err)),
    }
}

/// `create_dir_all`, then fsync of the directory's parent so the new entry
/// is durable. Existing directories are fine.
fn create_dir_synced(dir: &Path) -> JobResult<()> {
    fs::create_dir_all(dir).map_err(|e| JobError::io(dir.display(), e))?;
    if let Some(parent) = dir.parent() {
        fsync_dir(parent).map_err(|e| JobError::io(parent.display(), e))?;
    }
    Ok(())
}

/// Flushes every dirty page and metadata change of the file system holding
/// `dir` (Linux `syncfs`); elsewhere fsyncs `dir` only.
fn sync_filesystem(dir: &Path) -> JobResult<()> {
    let handle = fs::File::open(dir).map_err(|e| JobError::io(dir.display(), e))?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs only reads the descriptor, which `handle` keeps open.
        let rc = unsafe { libc::syncfs(handle.as_raw_fd()) };
        if rc != 0 {
            return Err(JobError::io(format!("syncfs {}", dir.display()), io::Error::last_os_error()));
        }
    }
    #[cfg(not(target_os = "linux"))]
    handle.sync_all().map_err(|e| JobError::io(dir.display(), e))?;
    Ok(())
}

/// One node's directories under `runs/<run_id>/nodes/<index>/`.
#[derive(Debug, Clone)]
pub struct NodeLayout {
    run_id: String,
    index: u32,
    dir: PathBuf,
}

impl NodeLayout {
    /// The node index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// `nodes/<index>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `nodes/<index>/prep`.
    pub fn prep_dir(&self) -> PathBuf {
        self.dir.join("prep")
    }

    /// `nodes/<index>/data`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `nodes/<index>/results`.
    pub fn results_dir(&self) -> PathBuf {
        self.dir.join("results")
    }

    /// `nodes/<index>/prep/slice.json`.
    pub fn slice_path(&self) -> PathBuf {
        self.prep_dir().join(SLICE_JSON)
    }

    /// `nodes/<index>/<stage>.done.json`.
    pub fn done_path(&self, stage: Stage) -> PathBuf {
        self.dir.join(format!("{}.done.json", stage.as_str()))
    }

    /// Creates `prep/`, `data/`, `results/` (existing ones are fine) and
    /// makes the new entries durable.
    pub fn create_dirs(&self) -> JobResult<()> {
        self.create_dirs_unsynced()?;
        for dir in [&self.dir, self.dir.parent().unwrap_or(&self.dir)] {
            fsync_dir(dir).map_err(|e| JobError::io(dir.display(), e))?;
        }
        Ok(())
    }

    fn create_dirs_unsynced(&self) -> JobResult<()> {
        Self::mkdirs(&[self.dir.clone(), self.prep_dir(), self.data_dir(), self.results_dir()])
    }

    /// The node directory and `prep/` only: what prep's bulk writer needs.
    fn create_prep_dir_unsynced(&self) -> JobResult<()> {
        Self::mkdirs(&[self.dir.clone(), self.prep_dir()])
    }

    fn mkdirs(dirs: &[PathBuf]) -> JobResult<()> {
        // One mkdir per directory (the parent `nodes/` exists); existing
        // ones are fine. Falls back to create_dir_all if `nodes/` is gone.
        let mkdir = |dir: &Path| match fs::create_dir(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir_all(dir),
            Err(e) => Err(e),
        };
        for dir in dirs {
            mkdir(dir).map_err(|e| JobError::io(dir.display(), e))?;
        }
        Ok(())
    }

    /// `nodes/<index>/prep/messages.json` (queue-fed runs).
    pub fn messages_path(&self) -> PathBuf {
        self.prep_dir().join(MESSAGES_JSON)
    }

    /// Writes the node's queue messages atomically (prep, after the slice).
    pub fn write_messages(&self, messages: &NodeMessages) -> JobResult<()> {
        let mut bytes = serde_json::to_vec(messages)
            .map_err(|e| JobError::new(ExitCode::Software, format!("serialising {MESSAGES_JSON}: {e}")))?;
        bytes.push(b'\n');
        let path = self.messages_path();
        write_atomic(&path, &bytes).map_err(|e| JobError::io(path.display(), e))
    }

    /// The node's queue messages; `Ok(None)` when the run is not queue-fed
    /// (no file). Malformed -> 65, another layout version or node -> 78/65.
    pub fn read_messages(&self) -> JobResult<Option<NodeMessages>> {
        let path = self.messages_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(JobError::io(path.display(), e)),
        };
        let messages: NodeMessages =
            serde_json::from_slice(&bytes).map_err(|e| JobError::data(format!("{}: {e}", path.display())))?;
        if messages.layout_version != LAYOUT_VERSION {
            return Err(JobError::config(format!(
                "{}: layout_version {} is not supported",
                path.display(),
                messages.layout_version
            )));
        }
        if messages.index != self.index {
            return Err(JobError::data(format!(
                "{}: messages are for node {}, not {}",
                path.display(),
                messages.index,
                self.index
            )));
        }
        Ok(Some(messages))
    }

    /// `nodes/<index>/prep/ledger.json` (incremental runs).
    pub fn ledger_path(&self) -> PathBuf {
        self.prep_dir().join(LEDGER_JSON)
    }

    /// Writes the node's ledger inputs atomically (prep, after the slice).
    pub fn write_ledger(&self, ledger: &NodeLedger) -> JobResult<()> {
        let mut bytes = serde_json::to_vec(ledger)
            .map_err(|e| JobError::new(ExitCode::Software, format!("serialising {LEDGER_JSON}: {e}")))?;
        bytes.push(b'\n');
        let path = self.ledger_path();
        write_atomic(&path, &bytes).map_err(|e| JobError::io(path.display(), e))
    }

    /// The node's ledger inputs; `Ok(None)` when the run is not incremental
    /// (no file). Malformed -> 65, another layout version -> 78, another
    /// node -> 65.
    pub fn read_ledger(&self) -> JobResult<Option<NodeLedger>> {
        let path = self.ledger_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(JobError::io(path.display(), e)),
        };
        let ledger: NodeLedger =
            serde_json::from_slice(&bytes).map_err(|e| JobError::data(format!("{}: {e}", path.display())))?;
        if ledger.layout_version != LAYOUT_VERSION {
            return Err(JobError::config(format!(
                "{}: layout_version {} is not supported",
                path.display(),
                ledger.layout_version
            )));
        }
        if ledger.index != self.index {
            return Err(JobError::data(format!(
                "{}: inputs are for node {}, not {}",
                path.display(),
                ledger.index,
                self.index
            )));
        }
        Ok(Some(ledger))
    }

    /// Reads the node's slice. Missing -> exit 66, malformed -> 65.
    pub fn read_slice(&self) -> JobResult<NodeSlice> {
        let path = self.slice_path();
        let bytes = fs::read(&path).map_err(|e| JobError::io(path.display(), e))?;
        let slice: NodeSlice =
            serde_json::from_slice(&bytes).map_err(|e| JobError::data(format!("{}: {e}", path.display())))?;
        if slice.layout_version != LAYOUT_VERSION {
            return Err(JobError::config(format!(
                "{}: layout_version {} is not supported",
                path.display(),
                slice.layout_version
            )));
        }
        if slice.index != self.index {
            return Err(JobError::data(format!(
                "{}: slice is for node {}, not {}",
                path.display(),
                slice.index,
                self.index
            )));
        }
        let kinds = usize::from(!slice.items.is_empty())
            + usize::from(slice.id_range.is_some())
            + usize::from(!slice.files.is_empty());
        if kinds > 1 {
            return Err(JobError::data(format!(
                "{}: has more than one of items, id_range and files",
                path.display()
            )));
        }
        // A backwards range would read as no work: the node would succeed
        // having done nothing.
        if let Some(range) = slice.id_range
            && range.start > range.end
        {
            return Err(JobError::data(format!(
                "{}: id_range {}..{} runs backwards",
                path.display(),
                range.start,
                range.end
            )));
        }
        Ok(slice)
    }

    /// The stage's done marker, if one can be read.
    pub fn read_done(&self, stage: Stage) -> Result<DoneMarker, MarkerMismatch> {
        let path = self.done_path(stage);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(MarkerMismatch::Missing),
            Err(e) => return Err(MarkerMismatch::Unreadable(e.to_string())),
        };
        serde_json::from_slice(&bytes).map_err(|e| MarkerMismatch::Unreadable(e.to_string()))
    }

    /// The stage's marker if it exists and matches `input_fingerprint` and
    /// the files on disk: the signal to skip the stage's work.
    pub fn completed(
        &self,
        stage: Stage,
        input_fingerprint: &str,
        verify: Verify,
    ) -> Result<DoneMarker, MarkerMismatch> {
        let marker = self.read_done(stage)?;
        marker.check(&self.run_id, self.index, stage, input_fingerprint, &self.dir, verify)?;
        Ok(marker)
    }

    /// Writes the stage's marker atomically (the last write of a stage).
    pub fn write_done(&self, marker: &DoneMarker) -> JobResult<()> {
        let path = self.done_path(marker.stage);
        write_atomic(&path, &marker.to_bytes()).map_err(|e| JobError::io(path.display(), e))
    }

    /// Removes the stage's marker (before redoing the stage, so a reader
    /// never pairs an old marker with new, partly written outputs).
    pub fn clear_done(&self, stage: Stage) -> JobResult<()> {
        let path = self.done_path(stage);
        // Temporary markers of an attempt killed while writing one.
        remove_stale_temps_of(&path).map_err(|e| JobError::io(self.dir.display(), e))?;
        match fs::remove_file(&path) {
            Ok(()) => fsync_dir(&self.dir).map_err(|e| JobError::io(self.dir.display(), e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(JobError::io(path.display(), e)),
        }
    }

    /// Deletes everything under `dir` (one of this node's stage
    /// directories) so a redone stage starts empty, then recreates it.
    pub fn reset_dir(&self, dir: &Path) -> JobResult<()> {
        if !dir.starts_with(&self.dir) {
            return Err(JobError::new(ExitCode::Software, format!("{} is outside node dir", dir.display())));
        }
        match fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(JobError::io(dir.display(), e)),
        }
        fs::create_dir_all(dir).map_err(|e| JobError::io(dir.display(), e))?;
        fsync_dir(&self.dir).map_err(|e| JobError::io(self.dir.display(), e))
    }

    /// Files under `dir`, relative to it, sorted, temporaries skipped.
    pub fn list(&self, dir: &Path) -> JobResult<Vec<String>> {
        atomic::list_files_sorted(dir).map_err(|e| JobError::io(dir.display(), e))
    }
}

#[cfg(test)]
mod failed_indices_tests {
    use super::*;

    #[test]
    fn failed_indices_round_trip_and_a_run_without_them_reads_none() {
        let dir = tempfile::tempdir().unwrap();
        let layout = RunLayout::new(dir.path(), "r1").unwrap();
        assert_eq!(layout.read_failed_indices().unwrap(), None);
        fs::create_dir_all(layout.run_dir()).unwrap();
        let failed = FailedIndices {
            run_id: "r1".into(),
            execution: "e".into(),
            failed_indices: [("egress".to_string(), "0-9999".to_string())].into(),
            rerun_indices: "0-9999".into(),
            rerun_count: 10_000,
        };
        layout.write_failed_indices(&failed).unwrap();
        assert_eq!(layout.failed_indices_path(), dir.path().join("runs/r1/failed_indices.json"));
        assert_eq!(layout.read_failed_indices().unwrap(), Some(failed));
        fs::write(layout.failed_indices_path(), b"{").unwrap();
        assert!(layout.read_failed_indices().is_err());
    }
}
