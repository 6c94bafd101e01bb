//! The prep handler against moto S3 and a temporary directory as EFS.

mod common;

use batch_jobs::RunLayout;
use batch_jobs::layout::{SourceSpec, Stage};
use batch_lambdas::ErrorKind;
use batch_lambdas::prep::{self, Mode, PrepStatus};
use common::{put_objects, s3_config, synthetic_config};
use serde_json::json;

/// 1,205 `.csv` keys (more than one ListObjectsV2 page) plus noise that
/// the suffix filter, the prefix and the folder-marker rule must drop.
fn source_keys() -> Vec<(String, usize)> {
    let mut keys: Vec<(String, usize)> =
        (0..1205).map(|i| (format!("in/{:05}.csv", 1204 - i), 10 + i % 7)).collect();
    keys.push(("in/readme.txt".into(), 5));
    keys.push(("in/sub/".into(), 0));
    keys.push(("other/x.csv".into(), 5));
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_listing_paginates_filters_sorts_and_writes_the_layout_idempotently() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = common::prep_deps(&moto);
    put_objects(&deps.s3, "src", &source_keys()).await;
    let efs = common::efs_dir();
    let event =
        json!({"config": s3_config(efs.path(), "src", "in/", ".csv", 100), "overrides": {"run_id": "r1"}});

    let first = prep::handle(&deps, event.clone()).await.unwrap();
    assert_eq!(first.status, PrepStatus::Ready);
    assert_eq!(first.run_id, "r1");
    assert_eq!(first.items, 1205);
    assert_eq!(first.array_size, 13);
    assert_eq!(first.mode, Mode::Array);
    assert_eq!((first.node_items.min, first.node_items.max), (92, 93));
    let expected_bytes: u64 = (0..1205u64).map(|i| 10 + i % 7).sum();
    assert_eq!(first.bytes, Some(expected_bytes));

    // The layout, read back the way the jobs read it.
    let layout = RunLayout::new(efs.path(), "r1").unwrap();
    let config = layout.read_config().unwrap();
    assert_eq!(config.array_size, 13);
    assert_eq!(config.stages, Stage::ALL.to_vec());
    assert_eq!(config.source, SourceSpec::S3 { bucket: "src".into(), prefix: "in/".into() });
    let mut all = Vec::new();
    for i in 0..13 {
        let slice = layout.node(i).read_slice().unwrap();
        assert!(!slice.items.is_empty());
        // data/ and results/ belong to the stages that fill them.
        assert!(layout.node(i).prep_dir().is_dir() && !layout.node(i).data_dir().exists());
        all.extend(slice.items);
    }
    let expected: Vec<String> = (0..1205).map(|i| format!("in/{i:05}.csv")).collect();
    assert_eq!(all, expected, "slices are the sorted, filtered keys, in order, each once");
    assert!(!layout.node(13).dir().exists());

    // A retry answers the same and leaves every file as it was, even when
    // new objects arrived in between (the run may already be submitted).
    let before = snapshot(layout.run_dir());
    put_objects(&deps.s3, "src", &[("in/99999.csv".into(), 3)]).await;
    let again = prep::handle(&deps, event.clone()).await.unwrap();
    assert_eq!(again, first);
    assert!(snapshot(layout.run_dir()) == before, "a replayed retry touches no file");

    // A retry after a crash between the slices and the record (no job
    // can have started: prep had not answered): the run is laid out
    // afresh from today's listing, not refused for differing from a
    // layout nothing used. A leftover temporary goes too.
    std::fs::remove_file(layout.run_dir().join("prep.done.json")).unwrap();
    std::fs::write(layout.node(0).dir().join(".slice.json.tmp-1-0"), b"partial").unwrap();
    let redone = prep::handle(&deps, event.clone()).await.unwrap();
    assert_eq!(redone.items, first.items + 1);
    let all: Vec<String> =
        (0..redone.array_size).flat_map(|i| layout.node(i).read_slice().unwrap().items).collect();
    assert_eq!(all.len() as u64, redone.items);
    assert!(all.contains(&"in/99999.csv".to_string()));
    assert!(!layout.node(0).dir().join(".slice.json.tmp-1-0").exists());

    // The same config under the same run id with another items_per_node.
    let other =
        json!({"config": s3_config(efs.path(), "src", "in/", ".csv", 50), "overrides": {"run_id": "r1"}});
    let err = prep::handle(&deps, other).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::LayoutConflict, "{}", err.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_prep_is_completed_by_its_retry() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = common::prep_deps(&moto);
    put_objects(&deps.s3, "src", &source_keys()[..30]).await;
    let efs = common::efs_dir();
    let event = json!({"config": s3_config(efs.path(), "src", "in/", ".csv", 10), "execution": "exec-1"});
    let first = prep::handle(&deps, event.clone()).await.unwrap();
    assert_eq!(first.run_id, "exec-1", "run id derived from the execution name");
    let layout = RunLayout::new(efs.path(), "exec-1").unwrap();
    let before = snapshot(layout.run_dir());
    // Lose the record and one slice: the retry rewrites exactly those.
    std::fs::remove_file(layout.run_dir().join("prep.done.json")).unwrap();
    std::fs::remove_file(layout.node(1).slice_path()).unwrap();
    let again = prep::handle(&deps, event).await.unwrap();
    assert_eq!(again, first);
    assert!(contents(layout.run_dir()) == contents_of(&before), "the retry rewrote the same bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_balancing_evens_out_sizes() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = common::prep_deps(&moto);
    let keys: Vec<(String, usize)> = [9000, 10, 10, 10, 10, 5000, 4000, 10, 10]
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("in/f{i}.csv"), *s))
        .collect();
    put_objects(&deps.s3, "src", &keys).await;
    let efs = common::efs_dir();
    let mut config = s3_config(efs.path(), "src", "in/", ".csv", 3);
    config["balance"] = json!("bytes");
    let out = prep::handle(&deps, json!({"config": config, "overrides": {"run_id": "b"}})).await.unwrap();
    assert_eq!(out.array_size, 3);
    let layout = RunLayout::new(efs.path(), "b").unwrap();
    let sizes: std::collections::HashMap<String, usize> = keys.into_iter().collect();
    let totals: Vec<usize> =
        (0..3).map(|i| layout.node(i).read_slice().unwrap().items.iter().map(|k| sizes[k]).sum()).collect();
    assert_eq!(totals, [9000, 5000, 4060]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_work_one_item_and_bad_sources() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = common::prep_deps(&moto);
    put_objects(
        &deps.s3,
        "src",
        &[
            ("in/only.csv".into(), 4),
            ("bad/a//b.csv".into(), 1),
            ("clash/day.csv".into(), 1),
            ("clash/day.csv.rejects.jsonl".into(), 1),
            ("nest/a".into(), 1),
            ("nest/a/b".into(), 1),
        ],
    )
    .await;
    let efs = common::efs_dir();

    let none = prep::handle(
        &deps,
        json!({"config": s3_config(efs.path(), "src", "empty/", "", 10), "overrides": {"run_id": "n"}}),
    )
    .await
    .unwrap();
    assert_eq!((none.status, none.array_size, none.mode, none.items), (PrepStatus::NoWork, 0, Mode::None, 0));
    assert!(!efs.path().join("runs/n").exists(), "NO_WORK writes nothing");

    // A bad setting is reported before any listing, even for an empty source.
    let mut config = s3_config(efs.path(), "src", "empty/", "", 10);
    config["s3_concurrency"] = json!(0);
    let err = prep::handle(&deps, json!({"config": config, "overrides": {"run_id": "z"}})).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidEvent);
    assert!(err.message.contains("s3_concurrency"), "{}", err.message);

    let one = prep::handle(
        &deps,
        json!({"config": s3_config(efs.path(), "src", "in/", ".csv", 10), "overrides": {"run_id": "one"}}),
    )
    .await
    .unwrap();
    assert_eq!((one.status, one.array_size, one.mode), (PrepStatus::Ready, 1, Mode::Single));
    let layout = RunLayout::new(efs.path(), "one").unwrap();
    assert_eq!(layout.node(0).read_slice().unwrap().items, ["in/only.csv"]);

    let err = prep::handle(
        &deps,
        json!({"config": s3_config(efs.path(), "src", "bad/", "", 10), "overrides": {"run_id": "u"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidSource);
    assert!(err.message.contains("bad/a//b.csv"), "{}", err.message);

    // Keys the jobs would refuse together or beside their own files are
    // refused here, before anything is written.
    for (prefix, says) in [
        ("clash/", "\"day.csv.rejects.jsonl\" ends with \".rejects.jsonl\""),
        ("nest/", "\"a\" is also the directory of \"a/b\""),
    ] {
        let err = prep::handle(
            &deps,
            json!({"config": s3_config(efs.path(), "src", prefix, "", 10), "overrides": {"run_id": "c"}}),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidSource);
        assert!(err.message.contains(says), "{}", err.message);
        assert!(!efs.path().join("runs/c").exists(), "a refused listing writes nothing");
    }

    let err = prep::handle(&deps, json!({"config": s3_config(efs.path(), "missing-bucket", "in/", "", 10)}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AwsRequestFailed);
    assert!(err.message.contains("NoSuchBucket"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn synthetic_ids_400k_into_10k_nodes() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = common::prep_deps(&moto);
    let efs = common::efs_dir();
    let started = std::time::Instant::now();
    let out = prep::handle(
        &deps,
        json!({"config": synthetic_config(efs.path(), 400_000, 40), "overrides": {"run_id": "big"}}),
    )
    .await
    .unwrap();
    eprintln!("400k ids into 10k nodes: {:?}", started.elapsed());
    assert_eq!(
        (out.array_size, out.items, out.node_items.min, out.node_items.max),
        (10_000, 400_000, 40, 40)
    );
    // Every id in exactly one node: node i's range starts where node i-1's
    // ended, each holds 40 ids, and the last ends at 400,000.
    let layout = RunLayout::new(efs.path(), "big").unwrap();
    let mut next = 0;
    for i in 0..10_000 {
        let r = layout.node(i).read_slice().unwrap().id_range.unwrap();
        assert_eq!(r.start, next, "node {i} starts where node {} ended", i.saturating_sub(1));
        assert_eq!(r.end - r.start, 40, "node {i}: {r:?}");
        next = r.end;
    }
    assert_eq!(next, 400_000, "the last node ends at the last id");

    // 10,001 ids at 1 per node: capped at 10,000 nodes, none empty.
    let out = prep::handle(
        &deps,
        json!({"config": synthetic_config(efs.path(), 10_001, 1), "overrides": {"run_id": "cap"}}),
    )
    .await
    .unwrap();
    assert_eq!((out.array_size, out.node_items.min, out.node_items.max), (10_000, 1, 2));
}

/// Every file under `dir` with its text.
fn contents(dir: &std::path::Path) -> Vec<(String, String)> {
    contents_of(&snapshot(dir))
}

fn contents_of(snapshot: &[(String, Vec<u8>, std::time::SystemTime)]) -> Vec<(String, String)> {
    snapshot.iter().map(|(p, b, _)| (p.clone(), String::from_utf8_lossy(b).into_owned())).collect()
}

/// Every file under `dir` with its bytes and modification time.
fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let meta = entry.metadata().unwrap();
                out.push((
                    path.display().to_string(),
                    std::fs::read(&path).unwrap(),
                    meta.modified().unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// `overrides.keys` names the inputs: only those are planned (under
/// `source_prefix` when given), and a key that does not exist fails the
/// run before anything is written, naming it.
#[tokio::test(flavor = "multi_thread")]
async fn overrides_keys_name_the_inputs() {
    let moto = testkit::MotoServer::start().unwrap();
    let deps = common::prep_deps(&moto);
    put_objects(
        &deps.s3,
        "src",
        &[("in/a.csv".into(), 3), ("in/b/c.csv".into(), 5), ("in/d.csv".into(), 7), ("alt/a.csv".into(), 11)],
    )
    .await;
    let efs = common::efs_dir();
    let config = s3_config(efs.path(), "src", "in/", ".csv", 1);

    let named = prep::handle(
        &deps,
        json!({"config": config, "overrides": {"run_id": "k", "keys": ["b/c.csv", "a.csv"]}}),
    )
    .await
    .unwrap();
    assert_eq!(
        (named.status, named.array_size, named.items, named.bytes),
        (PrepStatus::Ready, 2, 2, Some(8))
    );
    let layout = RunLayout::new(efs.path(), "k").unwrap();
    assert_eq!(layout.node(0).read_slice().unwrap().items, ["in/a.csv"]);
    assert_eq!(layout.node(1).read_slice().unwrap().items, ["in/b/c.csv"]);

    let under_prefix = prep::handle(
        &deps,
        json!({"config": config, "overrides": {"run_id": "p", "source_prefix": "alt/", "keys": ["a.csv"]}}),
    )
    .await
    .unwrap();
    assert_eq!((under_prefix.items, under_prefix.bytes), (1, Some(11)));
    let layout = RunLayout::new(efs.path(), "p").unwrap();
    assert_eq!(layout.node(0).read_slice().unwrap().items, ["alt/a.csv"]);

    let err = prep::handle(
        &deps,
        json!({"config": config, "overrides": {"run_id": "m", "keys": ["a.csv", "gone.csv", "x/gone.csv"]}}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidSource);
    assert_eq!(
        err.message,
        "overrides.keys: 2 key(s) not found under s3://src/in/: \"gone.csv\", \"x/gone.csv\""
    );
    assert!(!efs.path().join("runs/m").exists(), "a refused run writes nothing");
}
