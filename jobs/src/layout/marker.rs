//! Per-stage done markers: `nodes/<index>/<stage>.done.json`.
//!
//! A marker is written last, atomically, after every output file of the
//! stage is committed. It names what the stage consumed (an input
//! fingerprint) and what it produced (counts, and size + CRC64-NVME of each
//! output file), so a retried node can tell "already done, same input"
//! from "stale or partial" without trusting anything but the marker. It
//! carries no timestamps, so a redone node's marker is byte-identical too.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checksum::checksum_file;
use crate::layout::config::{LAYOUT_VERSION, Stage};
use crate::safe_path::SafeRelPath;

/// One output file, relative to the node directory (e.g. `data/x.csv`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// `/`-separated path relative to `nodes/<index>/`.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// CRC64-NVME of the content, 16 lowercase hex digits (see
    /// [`crate::checksum`]).
    pub crc64nvme: String,
}

/// One object egress uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEntry {
    /// Full S3 key.
    pub key: String,
    /// Size in bytes.
    pub bytes: u64,
    /// CRC64-NVME of the content, 16 lowercase hex digits (see
    /// [`crate::checksum`]).
    pub crc64nvme: String,
}

/// The content of `<stage>.done.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoneMarker {
    /// [`LAYOUT_VERSION`].
    pub layout_version: u32,
    /// The run.
    pub run_id: String,
    /// The node.
    pub index: u32,
    /// The stage that finished.
    pub stage: Stage,
    /// SHA-256 over what the stage consumed (its config and its inputs'
    /// checksums); a marker only counts when this matches the current one.
    pub input_fingerprint: String,
    /// Records read.
    pub records_in: u64,
    /// Records written to the stage's main output.
    pub records_out: u64,
    /// Records written to a rejects file (processing only).
    pub records_rejected: u64,
    /// Output files, sorted by path.
    pub files: Vec<FileEntry>,
    /// Objects uploaded (egress only), sorted by key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectEntry>,
}

/// How much of a marker's promise to re-check before trusting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Every listed file exists with the listed size.
    Sizes,
    /// Also re-checksum every file (reads all outputs).
    Checksums,
}

/// Why an existing marker was not accepted (logged, then the stage redoes
/// its work).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerMismatch {
    /// No marker file.
    Missing,
    /// The marker is not valid JSON of the expected shape.
    Unreadable(String),
    /// Different layout version, run, node or stage.
    WrongIdentity,
    /// Consumed a different input.
    InputChanged,
    /// A listed output is gone, has another size or another checksum.
    OutputChanged(String),
}

impl DoneMarker {
    /// A marker with no files yet.
    pub fn new(run_id: &str, index: u32, stage: Stage, input_fingerprint: String) -> Self {
        DoneMarker {
            layout_version: LAYOUT_VERSION,
            run_id: run_id.to_string(),
            index,
            stage,
            input_fingerprint,
            records_in: 0,
            records_out: 0,
            records_rejected: 0,
            files: Vec::new(),
            objects: Vec::new(),
        }
    }

    /// Checksums `node_dir/rel` and lists it.
    pub fn add_file(&mut self, node_dir: &Path, rel: &str) -> std::io::Result<()> {
        let rel_path = SafeRelPath::new("output file", rel)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let (bytes, crc64nvme) = checksum_file(&rel_path.join_onto(node_dir))?;
        self.files.push(FileEntry { path: rel.to_string(), bytes, crc64nvme });
        Ok(())
    }

    /// Canonical bytes: pretty JSON with files sorted, newline-terminated.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut sorted = self.clone();
        sorted.files.sort_by(|a, b| a.path.cmp(&b.path));
        sorted.objects.sort_by(|a, b| a.key.cmp(&b.key));
        let mut out = serde_json::to_vec_pretty(&sorted).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Checks that this marker is for (`run_id`, `index`, `stage`), consumed
    /// `input_fingerprint`, and that its outputs under `node_dir` are intact.
    pub fn check(
        &self,
        run_id: &str,
        index: u32,
        stage: Stage,
        input_fingerprint: &str,
        node_dir: &Path,
        verify: Verify,
    ) -> Result<(), MarkerMismatch> {
        if self.layout_version != LAYOUT_VERSION
            || self.run_id != run_id
            || self.index != index
            || self.stage != stage
        {
            return Err(MarkerMismatch::WrongIdentity);
        }
        if self.input_fingerprint != input_fingerprint {
            return Err(MarkerMismatch::InputChanged);
        }
        for file in &self.files {
            let rel = SafeRelPath::new("marker file", &file.path)
                .map_err(|e| MarkerMismatch::Unreadable(e.to_string()))?;
            let path = rel.join_onto(node_dir);
            let meta = std::fs::metadata(&path)
                .map_err(|e| MarkerMismatch::OutputChanged(format!("{}: {e}", file.path)))?;
            if meta.len() != file.bytes {
                return Err(MarkerMismatch::OutputChanged(format!(
                    "{}: {} bytes, marker says {}",
                    file.path,
                    meta.len(),
                    file.bytes
                )));
            }
            if verify == Verify::Checksums {
                let (_, crc) = checksum_file(&path)
                    .map_err(|e| MarkerMismatch::OutputChanged(format!("{}: {e}", file.path)))?;
                if crc != file.crc64nvme {
                    return Err(MarkerMismatch::OutputChanged(format!("{}: checksum differs", file.path)));
                }
            }
        }
        Ok(())
    }
}
