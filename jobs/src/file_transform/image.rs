//! An `image_resize` input: one record, several outputs. For input `<rel>`
//! the outputs go to `<rel>/<WxH>.<ext>`, one per size, beside
//! `<rel>.rejects.jsonl` (empty, or the input's one reject line) and
//! `<rel>.stats.json` (what happened to it: the outputs, or the error).
//! All of them are handed over together at the end, as for the other
//! transforms.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::input::NamedInput;
use super::outcome::{FileOutcome, stats_json};
use super::outputs::{Output, OutputDir};
use crate::atomic::CommitBatch;
use crate::exit::{ExitCode, JobError, JobResult};
use crate::safe_path::SafeRelPath;
use crate::transform::image::{ResizePlan, read_input, run};

/// Runs `plan` over the image `source`, named `rel` in the outputs.
pub(super) fn transform_image(
    plan: &ResizePlan,
    kind: &str,
    source: &Path,
    rel: &SafeRelPath,
    out: &OutputDir,
    batch: &mut CommitBatch,
) -> JobResult<FileOutcome> {
    let file = File::open(source).map_err(|e| JobError::io(source.display(), e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let input = read_input(NamedInput { file, path: source }, plan.max_input_bytes, size)
        .map_err(|e| JobError::io(rel, e))?;
    let mut written: Vec<Output> = Vec::with_capacity(plan.sizes.len());
    let (stats, reject) = run(plan, input, |name, bytes| -> JobResult<String> {
        // The record names the output relative to the output directory,
        // so the stage's stats and batch-transform's are the same bytes.
        let path = format!("{rel}/{name}");
        let mut output = out.create(&path)?;
        output.writer.write_all(bytes).map_err(|e| JobError::io(output.entry_name(), e))?;
        written.push(output);
        Ok(path)
    })?;
    let mut rejects = out.create(&format!("{rel}.rejects.jsonl"))?;
    if let Some(reject) = &reject {
        tracing::warn!(input = %rel, rule = reject.rule, reason = %reject.reason, "image rejected");
        let mut line = Vec::new();
        reject.write_line(&mut line, rel.as_str());
        rejects.writer.write_all(&line).map_err(|e| JobError::io(rejects.entry_name(), e))?;
    }
    let (records_in, records_out, records_rejected) =
        (stats.records_in, stats.records_out, stats.rejects.records_rejected);
    if records_in != records_out + records_rejected {
        return Err(JobError::new(
            ExitCode::Software,
            format!("{rel}: records_in {records_in} != out {records_out} + rejected {records_rejected}"),
        ));
    }
    let mut stats_file = out.create(&format!("{rel}.stats.json"))?;
    stats_file
        .writer
        .write_all(&stats_json(kind, rel.as_str(), &stats)?)
        .map_err(|e| JobError::io(rel, e))?;
    let mut files = Vec::with_capacity(written.len() + 2);
    for output in written {
        files.push(output.finish(batch));
    }
    files.push(rejects.finish(batch));
    files.push(stats_file.finish(batch));
    Ok(FileOutcome { records_in, records_out, records_rejected, files })
}
