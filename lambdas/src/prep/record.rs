//! `runs/<run_id>/prep.done.json`: a finished prep's request fingerprint and
//! response, written last (atomically) after run.json and every slice.
//!
//! A retried invocation (Step Functions `Retry`, a lost response) finds it
//! and returns the same response without listing the source again, so
//! objects that arrived in between do not change a run that may already
//! have been submitted. A different request under the same run id is a
//! `LayoutConflict`. The jobs never read this file.

use std::io;
use std::path::PathBuf;

use batch_jobs::RunLayout;
use batch_jobs::atomic::write_atomic;
use serde::{Deserialize, Serialize};

use crate::CONTRACT_VERSION;
use crate::error::{ErrorKind, LambdaError};
use crate::prep::response::PrepResponse;

/// File name inside the run directory.
pub const PREP_RECORD: &str = "prep.done.json";

/// The file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepRecord {
    /// [`CONTRACT_VERSION`].
    pub contract_version: u32,
    /// The request's fingerprint.
    pub request_fingerprint: String,
    /// The response prep gave.
    pub response: PrepResponse,
}

/// Where the record of `layout`'s run lives.
pub fn record_path(layout: &RunLayout) -> PathBuf {
    layout.run_dir().join(PREP_RECORD)
}

/// The response of an earlier, finished prep of this run with the same
/// request; `None` if there was none; `LayoutConflict` if it was for a
/// different request.
pub fn replay(layout: &RunLayout, fingerprint: &str) -> Result<Option<PrepResponse>, LambdaError> {
    let path = record_path(layout);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(storage_error(&path, e)),
    };
    let record: PrepRecord = serde_json::from_slice(&bytes)
        .map_err(|e| LambdaError::new(ErrorKind::StorageFailed, format!("{}: {e}", path.display())))?;
    if record.request_fingerprint != fingerprint {
        return Err(LambdaError::new(
            ErrorKind::LayoutConflict,
            format!(
                "run {} was prepared from a different config or overrides ({} has request fingerprint {}, this \
                 request is {}); runs are immutable, use another run id",
                layout.run_id(),
                path.display(),
                record.request_fingerprint,
                fingerprint
            ),
        ));
    }
    Ok(Some(record.response))
}

/// Writes the record (last step of a successful prep).
pub fn write(layout: &RunLayout, fingerprint: &str, response: &PrepResponse) -> Result<(), LambdaError> {
    let record = PrepRecord {
        contract_version: CONTRACT_VERSION,
        request_fingerprint: fingerprint.to_string(),
        response: response.clone(),
    };
    let mut bytes = serde_json::to_vec_pretty(&record).map_err(|e| LambdaError::internal(e.to_string()))?;
    bytes.push(b'\n');
    let path = record_path(layout);
    write_atomic(&path, &bytes).map_err(|e| storage_error(&path, e))
}

pub(crate) fn storage_error(path: &std::path::Path, err: io::Error) -> LambdaError {
    LambdaError::from_layout(batch_jobs::JobError::io(path.display(), err), ErrorKind::StorageFailed)
}
