//! What one input gave, and its stats file: shared by the record
//! transforms (`mod.rs`) and the image transform (`image.rs`).

use serde::Serialize;

use crate::exit::{ExitCode, JobError, JobResult};
use crate::layout::FileEntry;

/// What one input gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileOutcome {
    /// Records read.
    pub records_in: u64,
    /// Records written to the main output.
    pub records_out: u64,
    /// Records written to the rejects file.
    pub records_rejected: u64,
    /// The files written, in the order written (main output, rejects,
    /// stats), for the done marker.
    pub files: Vec<FileEntry>,
}

/// The stats file of one input.
#[derive(Debug, Serialize)]
struct StatsFile<'a, S: Serialize> {
    transform: &'a str,
    input: &'a str,
    #[serde(flatten)]
    stats: S,
}

/// The stats file's bytes: pretty JSON and a final newline.
pub fn stats_json<S: Serialize>(kind: &str, input: &str, stats: &S) -> JobResult<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(&StatsFile { transform: kind, input, stats })
        .map_err(|e| JobError::new(ExitCode::Software, format!("stats: {e}")))?;
    out.push(b'\n');
    Ok(out)
}
