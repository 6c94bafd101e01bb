//! The files a transform writes for one input: each atomic (a reader sees
//! the whole file or none) and checksummed as it is written, so the done
//! marker can list its size and CRC64-NVME without reading it back.

use std::path::{Path, PathBuf};

use crate::atomic::AtomicFile;
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

    /// Publishes the file; returns its entry for the done marker.
    pub fn commit(self) -> JobResult<FileEntry> {
        let (file, bytes, crc64nvme) = self.writer.finish();
        file.commit().map_err(|e| JobError::io(&self.entry, e))?;
        Ok(FileEntry { path: self.entry, bytes, crc64nvme })
    }
}
