//! processing: every file in `data/` -> `results/` through the run's
//! transform. For input `data/<rel>` it writes `results/<rel>` (clean or
//! computed records; `results/<rel>.jsonl` or `.json` for XML converted
//! to JSON), `results/<rel>.rejects.jsonl` and
//! `results/<rel>.stats.json`, each atomically (see `file_transform`).

use crate::atomic::remove_stale_temps;
use crate::exit::{JobError, JobResult};
use crate::file_transform::{OutputDir, Publisher, transform_file};
use crate::layout::{DoneMarker, Stage, Verify};
use crate::safe_path::SafeRelPath;
use crate::stages::{JobContext, fingerprint};

/// Runs processing for the node; returns its done marker.
pub fn run(ctx: &JobContext) -> JobResult<DoneMarker> {
    let node = &ctx.node;
    let upstream = ctx.upstream_marker_bytes(Stage::Procurement)?;
    let transform_json = serde_json::to_vec(&ctx.config.transform).unwrap_or_default();
    let fp = fingerprint(&[("procurement", &upstream), ("transform", &transform_json)]);
    if let Ok(marker) = node.completed(Stage::Processing, &fp, Verify::Sizes) {
        tracing::info!(files = marker.files.len(), "processing already done for this input; skipping");
        return Ok(marker);
    }
    let compiled = ctx.config.transform.compile()?;
    let upstream_marker: DoneMarker =
        serde_json::from_slice(&upstream).map_err(|e| JobError::data(format!("procurement marker: {e}")))?;
    node.clear_done(Stage::Processing)?;
    let results = node.results_dir();
    node.reset_dir(&results)?;
    let outputs = OutputDir::new(&results, "results/");
    let mut marker = DoneMarker::new(node.run_id(), node.index(), Stage::Processing, fp);
    let mut publisher = Publisher::new(Publisher::STAGE_FILES);
    for input in &upstream_marker.files {
        let rel = input.path.strip_prefix("data/").ok_or_else(|| {
            JobError::data(format!("procurement marker lists {:?} outside data/", input.path))
        })?;
        let rel = SafeRelPath::new("procurement marker file", rel)?;
        let source = rel.join_onto(&node.data_dir());
        let started = std::time::Instant::now();
        let outcome =
            transform_file(&compiled, ctx.config.transform.kind(), &source, &rel, &outputs, &mut publisher)?;
        let (records_in, records_out, rejected) =
            (outcome.records_in, outcome.records_out, outcome.records_rejected);
        marker.files.extend(outcome.files);
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(
            input = %rel,
            records_in,
            records_out,
            records_rejected = rejected,
            mb_per_s = (input.bytes as f64 / 1e6 / secs.max(1e-9)).round(),
            "processed"
        );
        marker.records_in += records_in;
        marker.records_out += records_out;
        marker.records_rejected += rejected;
    }
    // Every output durable under its name before the marker lists it.
    publisher.finish()?;
    remove_stale_temps(&results).map_err(|e| JobError::io(results.display(), e))?;
    node.write_done(&marker)?;
    tracing::info!(
        records_in = marker.records_in,
        records_out = marker.records_out,
        records_rejected = marker.records_rejected,
        "processing done"
    );
    Ok(marker)
}
