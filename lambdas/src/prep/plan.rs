//! How many array nodes a run gets and what each one works on.
//!
//! Rules (docs/lambdas.md, "Array size"):
//! - `n = ceil(items / items_per_node)`, raised to 2 (AWS Batch's smallest
//!   array) and capped at `max_nodes` (nodes then get more items) and at
//!   the item count (never an empty node).
//! - One item gives `n = 1`: no array can hold it without an empty node,
//!   so the state machine submits plain (non-array) jobs (`mode: single`),
//!   which the jobs run as index 0.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use batch_jobs::NodeSlice;
use batch_jobs::layout::SliceFile;

use crate::prep::listing::SourceObject;
use crate::prep::request::MIN_ARRAY_SIZE;

/// The number of nodes for `items` (>= 1) work items.
pub fn node_count(items: u64, items_per_node: u32, max_nodes: u32) -> u32 {
    let wanted = items.div_ceil(u64::from(items_per_node.max(1)));
    let capped = wanted.clamp(u64::from(MIN_ARRAY_SIZE), u64::from(max_nodes.max(MIN_ARRAY_SIZE)));
    // `capped` <= 10,000 here, and `items` bounds it below that.
    capped.min(items).max(1) as u32
}

/// The length of node `index`'s share when `total` items are split into
/// `nodes` contiguous runs differing by at most one (the first
/// `total % nodes` get one more).
fn even_share(total: u64, nodes: u32, index: u32) -> u64 {
    let nodes = u64::from(nodes.max(1));
    total / nodes + u64::from(u64::from(index) < total % nodes)
}

/// Slices of the id range `start..start+count` over `nodes` nodes.
pub fn range_slices(start: u64, count: u64, nodes: u32) -> Vec<NodeSlice> {
    let mut at = start;
    (0..nodes)
        .map(|index| {
            let len = even_share(count, nodes, index);
            let slice = NodeSlice::range(index, at, at + len);
            at += len;
            slice
        })
        .collect()
}

/// Node `index`'s slice of `objects`: keys (S3), or files with the size
/// and mtime procurement checks (SFTP, whose listing carries mtimes).
fn slice_of(index: u32, objects: Vec<SourceObject>) -> NodeSlice {
    if objects.iter().any(|o| o.mtime.is_some()) {
        let files = objects
            .into_iter()
            .map(|o| SliceFile { path: o.key, size: o.size, mtime: o.mtime.unwrap_or(0) })
            .collect();
        NodeSlice::files(index, files)
    } else {
        NodeSlice::items(index, objects.into_iter().map(|o| o.key).collect())
    }
}

/// Slices of sorted keys by count: contiguous runs, lengths differing by
/// at most one. The keys are moved, not copied: a listing of millions of
/// keys is held once.
pub fn count_slices(objects: Vec<SourceObject>, nodes: u32) -> Vec<NodeSlice> {
    let total = objects.len() as u64;
    let mut objects = objects.into_iter();
    (0..nodes)
        .map(|index| {
            let len = even_share(total, nodes, index) as usize;
            slice_of(index, objects.by_ref().take(len).collect())
        })
        .collect()
}

/// Slices of keys by bytes: largest object first onto the node with the
/// fewest bytes so far (ties: fewer items, then lower index), which keeps
/// every node's total within the largest object of the lightest node's.
/// The first `nodes` objects land on distinct nodes, so none is empty even
/// with zero-byte objects. Each node's keys are sorted; they are moved,
/// not copied.
pub fn byte_slices(mut objects: Vec<SourceObject>, nodes: u32) -> Vec<NodeSlice> {
    objects.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.key.cmp(&b.key)));
    let mut heap: BinaryHeap<Reverse<(u64, usize, u32)>> = (0..nodes).map(|i| Reverse((0, 0, i))).collect();
    let mut shares: Vec<Vec<SourceObject>> = vec![Vec::new(); nodes as usize];
    for object in objects {
        let Some(Reverse((bytes, count, index))) = heap.pop() else { break };
        let size = object.size;
        shares[index as usize].push(object);
        heap.push(Reverse((bytes + size, count + 1, index)));
    }
    shares
        .into_iter()
        .enumerate()
        .map(|(index, mut share)| {
            share.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            slice_of(index as u32, share)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(sizes: &[u64]) -> Vec<SourceObject> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, s)| SourceObject { key: format!("k{i:03}"), size: *s, mtime: None, etag: None })
            .collect()
    }

    #[test]
    fn node_count_rules() {
        assert_eq!(node_count(1, 40, 10_000), 1);
        assert_eq!(node_count(2, 40, 10_000), 2);
        assert_eq!(node_count(30, 40, 10_000), 2);
        assert_eq!(node_count(81, 40, 10_000), 3);
        assert_eq!(node_count(400_000, 40, 10_000), 10_000);
        assert_eq!(node_count(400_001, 40, 10_000), 10_000);
        assert_eq!(node_count(10_001, 1, 10_000), 10_000);
        assert_eq!(node_count(5, 1, 3), 3);
        assert_eq!(node_count(3, 1, 10_000), 3);
    }

    #[test]
    fn ranges_cover_everything_once() {
        let slices = range_slices(100, 10, 3);
        let ranges: Vec<_> = slices.iter().map(|s| s.id_range.map(|r| (r.start, r.end))).collect();
        assert_eq!(ranges, [Some((100, 104)), Some((104, 107)), Some((107, 110))]);
        assert_eq!(slices[2].index, 2);
    }

    #[test]
    fn count_slices_are_contiguous_and_balanced() {
        let slices = count_slices(objects(&[1; 7]), 3);
        let lens: Vec<_> = slices.iter().map(|s| s.items.len()).collect();
        assert_eq!(lens, [3, 2, 2]);
        assert_eq!(slices[1].items, ["k003", "k004"]);
    }

    #[test]
    fn byte_slices_even_out_sizes_and_never_leave_a_node_empty() {
        let slices = byte_slices(objects(&[100, 1, 1, 1, 1, 60, 40, 0, 0]), 3);
        let totals: Vec<u64> = slices
            .iter()
            .map(|s| {
                s.items
                    .iter()
                    .map(|k| [100, 1, 1, 1, 1, 60, 40, 0, 0][k[1..].parse::<usize>().unwrap()])
                    .sum()
            })
            .collect();
        assert_eq!(totals, [100, 60, 44]);
        assert!(slices.iter().all(|s| !s.items.is_empty()));
        let all: usize = slices.iter().map(|s| s.items.len()).sum();
        assert_eq!(all, 9);
        assert!(slices.iter().all(|s| s.items.windows(2).all(|w| w[0] < w[1])));
        let zeros = byte_slices(objects(&[0, 0, 0]), 3);
        assert!(zeros.iter().all(|s| s.items.len() == 1));
    }

    /// Listed files (SFTP) keep their size and mtime in the slice, both
    /// ways of splitting.
    #[test]
    fn files_carry_size_and_mtime() {
        let files: Vec<SourceObject> = (0..5u64)
            .map(|i| SourceObject {
                key: format!("f{i}"),
                size: 10 * i,
                mtime: Some(1_700_000_000 + i),
                etag: None,
            })
            .collect();
        for slices in [count_slices(files.clone(), 2), byte_slices(files.clone(), 2)] {
            assert!(slices.iter().all(|s| s.items.is_empty() && !s.files.is_empty()));
            let mut all: Vec<SliceFile> = slices.into_iter().flat_map(|s| s.files).collect();
            all.sort_by(|a, b| a.path.cmp(&b.path));
            let want: Vec<SliceFile> = files
                .iter()
                .map(|o| SliceFile { path: o.key.clone(), size: o.size, mtime: o.mtime.unwrap() })
                .collect();
            assert_eq!(all, want);
        }
    }
}
