//! `nodes/<index>/prep/slice.json`: what one array node works on.

use serde::{Deserialize, Serialize};

use crate::layout::config::LAYOUT_VERSION;

/// An inclusive-exclusive range of integer ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    /// First id.
    pub start: u64,
    /// One past the last id.
    pub end: u64,
}

/// A file of an SFTP source as prep listed it: procurement refuses a file
/// whose size or mtime has changed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceFile {
    /// Path below the source directory (`/`-separated).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: u64,
}

/// A node's share of the run's input: explicit items (S3 keys, ids), an
/// id range, or files with their listed size and mtime (SFTP). Exactly one
/// of `items` / `id_range` / `files` is present on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSlice {
    /// [`LAYOUT_VERSION`].
    pub layout_version: u32,
    /// The node index this slice belongs to.
    pub index: u32,
    /// S3 keys (S3 source) or record ids (synthetic source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// A range of ids (synthetic source), instead of listing them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_range: Option<IdRange>,
    /// Files with size and mtime (SFTP source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<SliceFile>,
}

impl NodeSlice {
    /// A slice listing `items`.
    pub fn items(index: u32, items: Vec<String>) -> Self {
        NodeSlice { layout_version: LAYOUT_VERSION, index, items, id_range: None, files: Vec::new() }
    }

    /// A slice covering ids `start..end`.
    pub fn range(index: u32, start: u64, end: u64) -> Self {
        NodeSlice {
            layout_version: LAYOUT_VERSION,
            index,
            items: Vec::new(),
            id_range: Some(IdRange { start, end }),
            files: Vec::new(),
        }
    }

    /// A slice of listed files.
    pub fn files(index: u32, files: Vec<SliceFile>) -> Self {
        NodeSlice { layout_version: LAYOUT_VERSION, index, items: Vec::new(), id_range: None, files }
    }

    /// The ids or keys of this slice as strings (a range expands here).
    pub fn item_strings(&self) -> Vec<String> {
        match self.id_range {
            Some(r) => (r.start..r.end).map(|i| i.to_string()).collect(),
            None if !self.files.is_empty() => self.files.iter().map(|f| f.path.clone()).collect(),
            None => self.items.clone(),
        }
    }

    /// Calls `f` with each id or key in order; a range is walked, never
    /// expanded into memory.
    pub fn for_each_item<E>(&self, mut f: impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        match self.id_range {
            Some(r) => (r.start..r.end).try_for_each(|i| f(&i.to_string())),
            None if !self.files.is_empty() => self.files.iter().try_for_each(|file| f(&file.path)),
            None => self.items.iter().try_for_each(|item| f(item)),
        }
    }

    /// Number of items (range length for a range).
    pub fn len(&self) -> u64 {
        match self.id_range {
            Some(r) => r.end.saturating_sub(r.start),
            None => (self.items.len() + self.files.len()) as u64,
        }
    }

    /// True when the slice has no work.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Splits `items` into `array_size` contiguous slices whose lengths differ
/// by at most one (the first `len % array_size` get one more). This is how
/// prep should divide work so that every node exists and is balanced.
pub fn split_even<T: Clone>(items: &[T], array_size: u32) -> Vec<Vec<T>> {
    let n = array_size.max(1) as usize;
    let base = items.len() / n;
    let extra = items.len() % n;
    let mut out = Vec::with_capacity(n);
    let mut at = 0;
    for i in 0..n {
        let take = base + usize::from(i < extra);
        out.push(items[at..at + take].to_vec());
        at += take;
    }
    out
}

/// The number of nodes needed for `total` items at `per_node` items each
/// (at least 1, at most the AWS Batch limit of 10,000 is the caller's check).
pub fn nodes_needed(total: u64, per_node: u64) -> u64 {
    total.div_ceil(per_node.max(1)).max(1)
}
