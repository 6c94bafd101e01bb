//! The counts of one input, written as its stats file.

use serde::{Deserialize, Serialize};

use crate::transform::reject::RejectCounts;

/// Counts for one input; serialised as the stats file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XmlStats {
    /// Bytes parsed (the whole file unless it ended at an error).
    pub bytes_in: u64,
    /// Records started (see the module comment).
    pub records_in: u64,
    /// Records written as JSON.
    pub records_out: u64,
    /// Records written to the rejects output, and why.
    #[serde(flatten)]
    pub rejects: RejectCounts,
    /// False when the file ended at an error the parser cannot go on
    /// after (the rest of it was not read).
    pub complete: bool,
}
