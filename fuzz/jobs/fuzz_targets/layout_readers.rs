//! The run layout's readers on arbitrary file contents: the same bytes as
//! run.json, a node's slice.json, a done marker and failed_indices.json
//! (each written by another process and read back after a crash, a retry
//! or a hand edit). Each reader must refuse with an error or return a value
//! that keeps the layout's promises:
//! - run.json: validated (its transform compiles), of this run, and
//!   written again it reads back the same;
//! - slice.json: this layout version and node, items or an id range (not
//!   both), the range not backwards, and it reads back the same;
//! - a done marker: its canonical bytes read back the same, and checking
//!   it never follows a path out of the node directory;
//! - failed_indices.json: reads back the same; its index lists, when they
//!   decode, are ascending without duplicates, encode and decode back to
//!   the same list, and abbreviate within their limit.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use batch_jobs::layout::Verify;
use batch_jobs::{DoneMarker, FailedIndices, LAYOUT_VERSION, NodeSlice, RunConfig, RunLayout, Stage, ranges};
use libfuzzer_sys::fuzz_target;

const RUN_ID: &str = "fuzz-run";

struct Scratch {
    layout: RunLayout,
    node_dir: PathBuf,
    paths: [PathBuf; 4],
}

/// One run directory for the whole session, node 0 created (its files are
/// rewritten by each input).
static SCRATCH: LazyLock<Scratch> = LazyLock::new(|| {
    let root = std::env::temp_dir().join(format!("jobs-fuzz-layout-{}", std::process::id()));
    let layout = RunLayout::new(&root, RUN_ID).expect("run id is valid");
    let node = layout.node(0);
    node.create_dirs().expect("node directories");
    let paths = [
        layout.run_json_path(),
        node.slice_path(),
        node.done_path(Stage::Processing),
        layout.failed_indices_path(),
    ];
    Scratch { node_dir: node.dir().to_path_buf(), layout, paths }
});

fn check_config(config: RunConfig) {
    assert_eq!(config.run_id, RUN_ID, "read_config returned another run's config");
    config.validate().expect("read_config returned a config that does not validate");
    let written = serde_json::to_vec_pretty(&config).expect("a config serialises");
    let back: RunConfig = serde_json::from_slice(&written).expect("a written config reads back");
    assert_eq!(back, config, "run.json changed when written and read again");
}

fn check_slice(slice: NodeSlice) {
    assert_eq!(slice.layout_version, LAYOUT_VERSION);
    assert_eq!(slice.index, 0, "read_slice returned another node's slice");
    assert!(slice.items.is_empty() || slice.id_range.is_none(), "slice has both items and id_range");
    if let Some(range) = slice.id_range {
        assert!(range.start <= range.end, "read_slice accepted a backwards id_range {range:?}");
    }
    let written = serde_json::to_vec(&slice).expect("a slice serialises");
    let back: NodeSlice = serde_json::from_slice(&written).expect("a written slice reads back");
    assert_eq!(back, slice, "slice.json changed when written and read again");
}

fn check_marker(marker: DoneMarker, node_dir: &std::path::Path) {
    let bytes = marker.to_bytes();
    let back: DoneMarker = serde_json::from_slice(&bytes).expect("a marker's canonical bytes read back");
    let mut sorted = marker.clone();
    sorted.files.sort_by(|a, b| a.path.cmp(&b.path));
    sorted.objects.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(back, sorted, "done marker changed when written and read again");
    let verdict = marker.check(
        &marker.run_id,
        marker.index,
        marker.stage,
        &marker.input_fingerprint,
        node_dir,
        Verify::Checksums,
    );
    if verdict.is_ok() {
        for file in &marker.files {
            let rel = batch_jobs::safe_path::SafeRelPath::new("file", &file.path)
                .expect("check accepted a marker listing an unsafe path");
            assert!(rel.join_onto(node_dir).starts_with(node_dir));
        }
    }
}

fn check_ranges(text: &str, data_len: usize) {
    let Ok(indices) = ranges::decode(text) else { return };
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "decoded indices not ascending: {text:?}");
    let compact = ranges::encode(&indices);
    assert_eq!(ranges::decode(&compact).as_ref(), Ok(&indices), "encode/decode changed {text:?}");
    let limit = data_len % 64;
    let short = ranges::abbreviate(&compact, limit);
    assert!(short.len() <= limit.max(4), "abbreviate({compact:?}, {limit}) is {short:?}");
}

fn check_failed(failed: FailedIndices, data_len: usize) {
    let written = serde_json::to_vec_pretty(&failed).expect("failed indices serialise");
    let back: FailedIndices = serde_json::from_slice(&written).expect("written failed indices read back");
    assert_eq!(back, failed, "failed_indices.json changed when written and read again");
    check_ranges(&failed.rerun_indices, data_len);
    for text in failed.failed_indices.values() {
        check_ranges(text, data_len);
    }
}

fuzz_target!(|data: &[u8]| {
    let s = &*SCRATCH;
    for path in &s.paths {
        std::fs::write(path, data).expect("scratch file written");
    }
    if let Ok(config) = s.layout.read_config() {
        check_config(config);
    }
    if let Ok(slice) = s.layout.node(0).read_slice() {
        check_slice(slice);
    }
    if let Ok(marker) = s.layout.node(0).read_done(Stage::Processing) {
        check_marker(marker, &s.node_dir);
    }
    if let Ok(Some(failed)) = s.layout.read_failed_indices() {
        check_failed(failed, data.len());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check_ranges(text, data.len());
    }
});
