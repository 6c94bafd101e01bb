//! The run layout contract as the prep Lambda uses it: run.json,
//! node slices at scale, idempotency, path safety, done markers.

use batch_jobs::layout::{
    CreateOutcome, DoneMarker, EgressSpec, MarkerMismatch, NodeSlice, RunConfig, RunLayout, SourceSpec,
    Stage, SyntheticFormat, Verify, split_even,
};
use batch_jobs::transform::{RuleSetRef, TransformSpec};
use batch_jobs::{ExitCode, LAYOUT_VERSION};

fn config(run_id: &str, array_size: u32) -> RunConfig {
    RunConfig::new(
        run_id,
        array_size,
        SourceSpec::Synthetic { format: SyntheticFormat::YelpJsonl, records_per_id: 1 },
        TransformSpec::JsonlCalc { calculations: vec!["review_score = stars * review_count".into()] },
        Some(EgressSpec {
            bucket: "egress".into(),
            prefix: "out".into(),
            multipart_threshold_bytes: 16 << 20,
            part_size_bytes: 8 << 20,
        }),
    )
}

#[test]
fn create_run_is_idempotent_and_immutable() {
    let efs = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(efs.path(), "run-1").unwrap();
    let cfg = config("run-1", 3);
    assert_eq!(layout.create_run(&cfg).unwrap(), CreateOutcome::Created);
    let mut retried = cfg.clone();
    retried.created_at = "2099-01-01T00:00:00Z".into();
    assert_eq!(layout.create_run(&retried).unwrap(), CreateOutcome::AlreadyExists);
    assert_eq!(layout.read_config().unwrap(), cfg, "first created_at kept");
    let mut changed = cfg.clone();
    changed.array_size = 4;
    let err = layout.create_run(&changed).unwrap_err();
    assert_eq!(err.exit, ExitCode::Config);
    assert!(err.message.contains("run.json is immutable"), "{err}");
    let text = std::fs::read_to_string(layout.run_json_path()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["layout_version"], LAYOUT_VERSION);
    assert_eq!(json["stages"], serde_json::json!(["procurement", "processing", "egress"]));
    assert_eq!(json["transform"]["kind"], "jsonl_calc");
}

#[test]
fn bad_configs_are_refused_with_the_field_named() {
    let efs = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(efs.path(), "r").unwrap();
    let mut c = config("r", 0);
    assert!(layout.create_run(&c).unwrap_err().message.contains("array_size 0"));
    c.array_size = 10_001;
    assert!(layout.create_run(&c).unwrap_err().message.contains("array_size 10001"));
    let mut c = config("r", 1);
    // A run of the first layout (markers with sha256), and one from the
    // future: refused as config errors, not misread.
    for version in [1, LAYOUT_VERSION + 1] {
        c.layout_version = version;
        let err = layout.create_run(&c).unwrap_err();
        assert_eq!(err.exit, ExitCode::Config);
        assert!(err.message.contains(&format!("layout_version {version}")), "{}", err.message);
    }
    let mut c = config("r", 1);
    c.transform = TransformSpec::CsvValidate { rules: RuleSetRef::Builtin { builtin: "nope".into() } };
    assert!(layout.create_run(&c).unwrap_err().message.contains("unknown builtin rule set"));
    let mut c = config("r", 1);
    c.egress.as_mut().unwrap().prefix = "../up".into();
    let err = layout.create_run(&c).unwrap_err();
    assert_eq!(err.exit, ExitCode::Config);
    assert!(err.message.contains("unsafe egress.prefix"), "{err}");
}

#[test]
fn unsafe_run_ids_are_refused() {
    for bad in ["", "..", "../x", "/abs", "a/b", "a\0b"] {
        let err = RunLayout::new("/efs", bad).unwrap_err();
        assert_eq!(err.exit, ExitCode::DataError);
        assert!(err.message.starts_with("unsafe run_id"), "{bad:?}: {err}");
    }
}

#[test]
fn ten_thousand_nodes_with_400k_ids() {
    // Correctness at the seed's scale; the time is measured in `make bench`
    // (lambdas/bench), not asserted here. tmpfs when there is one.
    let shm = std::path::Path::new("/dev/shm");
    let efs = if shm.is_dir() { tempfile::tempdir_in(shm).unwrap() } else { tempfile::tempdir().unwrap() };
    let layout = RunLayout::new(efs.path(), "big").unwrap();
    layout.create_run(&config("big", 10_000)).unwrap();
    let ids: Vec<String> = (0..400_000u32).map(|i| format!("id-{i:07}")).collect();
    let slices: Vec<NodeSlice> = split_even(&ids, 10_000)
        .into_iter()
        .enumerate()
        .map(|(i, items)| NodeSlice::items(i as u32, items))
        .collect();
    layout.write_node_slices(&slices).unwrap();
    let node = layout.node(9_999);
    let slice = node.read_slice().unwrap();
    assert_eq!(slice.items.len(), 40);
    assert_eq!(slice.items[0], "id-0399960");
    // The bulk writer makes prep/ only; data/ and results/ are the stages'.
    assert!(node.prep_dir().is_dir() && !node.data_dir().exists() && !node.results_dir().exists());
    // Idempotent: the same slices again are fine; a different one is not.
    layout.write_node_slices(&slices[..10]).unwrap();
    let err = layout.write_node_slice(0, &["other".to_string()]).unwrap_err();
    assert!(err.message.contains("node slices are immutable"), "{err}");
    // No temporary file is left anywhere.
    let leftovers = walk(layout.run_dir()).into_iter().filter(|p| p.contains(".tmp-")).count();
    assert_eq!(leftovers, 0);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

#[test]
fn slices_and_ranges_round_trip() {
    let efs = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(efs.path(), "r").unwrap();
    layout.write_slice(&NodeSlice::range(2, 80, 120)).unwrap();
    let s = layout.node(2).read_slice().unwrap();
    assert_eq!(s.len(), 40);
    assert_eq!(s.item_strings()[0], "80");
    let text = std::fs::read_to_string(layout.node(2).slice_path()).unwrap();
    assert_eq!(text, "{\"layout_version\":2,\"index\":2,\"id_range\":{\"start\":80,\"end\":120}}\n");
    // A slice file copied to the wrong node is refused.
    std::fs::create_dir_all(layout.node(3).prep_dir()).unwrap();
    std::fs::copy(layout.node(2).slice_path(), layout.node(3).slice_path()).unwrap();
    let err = layout.node(3).read_slice().unwrap_err();
    assert_eq!(err.exit, ExitCode::DataError);
    assert!(err.message.contains("slice is for node 2, not 3"));
    assert_eq!(layout.node(4).read_slice().unwrap_err().exit, ExitCode::NoInput);
}

/// Found by fuzzing (fuzz/jobs, layout_readers): a backwards id range read
/// as an empty slice, so the node did no work and reported success.
#[test]
fn a_backwards_id_range_is_refused() {
    let efs = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(efs.path(), "r").unwrap();
    let node = layout.node(0);
    std::fs::create_dir_all(node.prep_dir()).unwrap();
    std::fs::write(node.slice_path(), r#"{"layout_version":2,"index":0,"id_range":{"start":20,"end":10}}"#)
        .unwrap();
    let err = node.read_slice().unwrap_err();
    assert_eq!(err.exit, ExitCode::DataError);
    assert!(err.message.contains("id_range 20..10 runs backwards"), "{}", err.message);
    assert!(err.message.contains("slice.json"), "{}", err.message);
    // An empty range (start == end) is a node with no work, as prep writes it.
    std::fs::write(node.slice_path(), r#"{"layout_version":2,"index":0,"id_range":{"start":7,"end":7}}"#)
        .unwrap();
    assert!(node.read_slice().unwrap().is_empty());
}

#[test]
fn done_markers_match_only_the_same_input_and_intact_outputs() {
    let efs = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(efs.path(), "r").unwrap();
    let node = layout.node(0);
    node.create_dirs().unwrap();
    std::fs::write(node.data_dir().join("a.csv"), b"hello\n").unwrap();
    let mut marker = DoneMarker::new("r", 0, Stage::Procurement, "fp1".into());
    marker.records_in = 1;
    marker.add_file(node.dir(), "data/a.csv").unwrap();
    node.write_done(&marker).unwrap();
    assert_eq!(node.completed(Stage::Procurement, "fp1", Verify::Checksums).unwrap(), marker);
    assert_eq!(node.completed(Stage::Procurement, "fp2", Verify::Sizes), Err(MarkerMismatch::InputChanged));
    assert_eq!(node.completed(Stage::Processing, "fp1", Verify::Sizes), Err(MarkerMismatch::Missing));
    std::fs::write(node.data_dir().join("a.csv"), b"HELLO\n").unwrap();
    assert!(node.completed(Stage::Procurement, "fp1", Verify::Sizes).is_ok());
    assert!(matches!(
        node.completed(Stage::Procurement, "fp1", Verify::Checksums),
        Err(MarkerMismatch::OutputChanged(_))
    ));
    let bytes = std::fs::read(node.done_path(Stage::Procurement)).unwrap();
    assert_eq!(bytes, marker.to_bytes(), "markers are canonical");
    assert!(
        String::from_utf8(bytes)
            .unwrap()
            .contains(&format!("\"crc64nvme\": \"{}\"", batch_jobs::checksum::crc64_hex(b"hello\n")))
    );
}
