//! The files a transform writes for one input: each atomic (a reader sees
//! the whole file or none) and checksummed as it is written, so the done
//! marker can list its size and CRC64-NVME without reading it back.

use std::path::{Path, PathBuf};

use crate::atomic::{AtomicFile, CommitBatch};
use crate::checksum::ChecksumWriter;
use crate::exit::{JobError, JobResult};
use crate::layout::FileEntry;
use crate::safe_path::SafeRelPath;

/// The directory outputs go to, and how the done marker names them.
#[derive(Debug, Clone)]
pub struct OutputDir {
    dir: PathBuf,
    /// Put before an output's relative path in its [`FileEntry`]: the
    /// processing stage's marker paths are relative to the node directory
    /// (`results/<rel>`); `batch-transform` lists them as they are.
    entry_prefix: String,
}

impl OutputDir {
    /// Outputs under `dir`, named `<entry_prefix><rel>` in the file entries.
    pub fn new(dir: impl Into<PathBuf>, entry_prefix: impl Into<String>) -> Self {
        OutputDir { dir: dir.into(), entry_prefix: entry_prefix.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts the output `rel` (`/`-separated, checked), creating its
    /// parent directories.
    pub fn create(&self, rel: &str) -> JobResult<Output> {
        let path = SafeRelPath::new("output file", rel)?.join_onto(&self.dir);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| JobError::io(parent.display(), e))?;
        }
        let file = AtomicFile::create(&path).map_err(|e| JobError::io(path.display(), e))?;
        Ok(Output { entry: format!("{}{rel}", self.entry_prefix), writer: ChecksumWriter::new(file) })
    }
}

/// An output being written. Unbuffered: the transforms hand over their
/// main output in large blocks (a buffer would add a copy of every byte);
/// small writers wrap it in a `BufWriter`. Dropped without
/// [`Output::commit`], it leaves nothing behind.
pub struct Output {
    entry: String,
    /// The file, checksummed as it is written.
    pub writer: ChecksumWriter<AtomicFile>,
}

impl Output {
    /// The name its file entry will have.
    pub fn entry_name(&self) -> &str {
        &self.entry
    }

    /// Hands the written file to `batch`, which publishes it (see
    /// [`Publisher`]); returns its entry for the done marker.
    pub fn finish(self, batch: &mut CommitBatch) -> FileEntry {
        let (file, bytes, crc64nvme) = self.writer.finish();
        batch.push(file);
        FileEntry { path: self.entry, bytes, crc64nvme }
    }
}

/// Publishes the outputs of a run of inputs in batches: the durable
/// commit's fsyncs and directory fsyncs shared by up to `every` files
/// (see [`CommitBatch`]) instead of paid per file, which for small
/// outputs (an image's thumbnail, rejects and stats) cost as much CPU as
/// the transform. Whoever lists the outputs as done (the processing
/// stage's done marker) calls [`Publisher::finish`] first. Dropped
/// without it, the unpublished outputs are removed.
#[derive(Debug)]
pub struct Publisher {
    batch: CommitBatch,
    every: usize,
}

impl Publisher {
    /// The processing stage's batch: 64 files (an open descriptor each
    /// while they wait; no data is held).
    pub const STAGE_FILES: usize = 64;

    /// Publishes once `every` files (at least 1) wait.
    pub fn new(every: usize) -> Self {
        Publisher { batch: CommitBatch::default(), every: every.max(1) }
    }

    /// The batch an input's outputs go to ([`Output::finish`]).
    pub fn batch(&mut self) -> &mut CommitBatch {
        &mut self.batch
    }

    /// After an input: publishes the batch if it is full.
    pub fn input_done(&mut self) -> JobResult<()> {
        if self.batch.len() >= self.every { self.finish() } else { Ok(()) }
    }

    /// Publishes what waits; after it every output handed over is
    /// durable under its name.
    pub fn finish(&mut self) -> JobResult<()> {
        self.batch.commit().map_err(|e| JobError::io("publishing outputs", e))
    }
}
