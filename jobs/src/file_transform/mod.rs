//! One input file through a compiled transform, into its outputs: the main
//! output `<rel>` (`<rel>.jsonl` / `<rel>.json` for XML, see
//! `CompiledTransform::output_name`), `<rel>.rejects.jsonl` and
//! `<rel>.stats.json`. The
//! processing stage runs it for every file of a node (outputs under
//! `results/`); `batch-transform` runs it on files a user names (outputs
//! under `--out`), so what a user tries locally is byte for byte what the
//! stage writes.

#[cfg(feature = "images")]
mod image;
mod input;
mod outcome;
pub mod outputs;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::atomic::CommitBatch;
use crate::exit::{ExitCode, JobError, JobResult};
use crate::safe_path::SafeRelPath;
use crate::transform::CompiledTransform;
use crate::transform::csv::CompiledRules;
use crate::transform::csv::{CsvError, ValidateOptions, validate_csv};
use crate::transform::image::ResizePlan;
use crate::transform::jsonl::Calculations;
use crate::transform::jsonl::{CalcOptions, calculate_jsonl};
use crate::transform::xml::{XmlTransform, xml_to_json};
use input::NamedInput;
pub use outcome::{FileOutcome, stats_json};
pub use outputs::{Output, OutputDir, Publisher};

/// Runs `compiled` (of kind `kind`) over `source`, whose name in the
/// outputs is `rel`. Every output is handed to `publisher` only once the
/// whole input went through and its counts add up (records in = out +
/// rejected); on any error nothing of this input is left under `out`.
/// The outputs are published when `publisher`'s batch is full (checked
/// here, after each input) or at its [`Publisher::finish`].
pub fn transform_file(
    compiled: &CompiledTransform,
    kind: &str,
    source: &Path,
    rel: &SafeRelPath,
    out: &OutputDir,
    publisher: &mut Publisher,
) -> JobResult<FileOutcome> {
    let outcome = transform_one(compiled, kind, source, rel, out, publisher.batch())?;
    publisher.input_done()?;
    Ok(outcome)
}

fn transform_one(
    compiled: &CompiledTransform,
    kind: &str,
    source: &Path,
    rel: &SafeRelPath,
    out: &OutputDir,
    batch: &mut CommitBatch,
) -> JobResult<FileOutcome> {
    match compiled {
        CompiledTransform::Csv(rules) => {
            records_file(Records::Csv(rules), kind, source, rel, rel.as_str(), out, batch)
        }
        CompiledTransform::Jsonl(calc) => {
            records_file(Records::Jsonl(calc), kind, source, rel, rel.as_str(), out, batch)
        }
        CompiledTransform::Xml(xml) => {
            let main_name = compiled.output_name(rel.as_str())?;
            records_file(Records::Xml(xml), kind, source, rel, &main_name, out, batch)
        }
        CompiledTransform::Image(plan) => image_file(plan, kind, source, rel, out, batch),
    }
}

/// The transforms that read records from the input and write one main
/// output (named by `CompiledTransform::output_name`).
enum Records<'a> {
    Csv(&'a CompiledRules),
    Jsonl(&'a Calculations),
    Xml(&'a XmlTransform),
}

#[cfg(feature = "images")]
fn image_file(
    plan: &ResizePlan,
    kind: &str,
    source: &Path,
    rel: &SafeRelPath,
    out: &OutputDir,
    batch: &mut CommitBatch,
) -> JobResult<FileOutcome> {
    image::transform_image(plan, kind, source, rel, out, batch)
}

/// Builds without the codecs (the prep Lambda) only check image specs.
#[cfg(not(feature = "images"))]
fn image_file(
    _: &ResizePlan,
    _: &str,
    _: &Path,
    _: &SafeRelPath,
    _: &OutputDir,
    _: &mut CommitBatch,
) -> JobResult<FileOutcome> {
    Err(JobError::config("image_resize: this build has no image codecs (feature `images`)"))
}

fn records_file(
    compiled: Records<'_>,
    kind: &str,
    source: &Path,
    rel: &SafeRelPath,
    main_name: &str,
    out: &OutputDir,
    batch: &mut CommitBatch,
) -> JobResult<FileOutcome> {
    let file = File::open(source).map_err(|e| JobError::io(source.display(), e))?;
    let input = NamedInput { file, path: source };
    let mut main = out.create(main_name)?;
    // The main output is at most the input's size for CSV (clean rows are
    // copied as they are) and a little more for JSON-lines (a member
    // spliced into each line) and for XML as JSON (about the same bytes):
    // reserve that much, the rest is given back.
    if let Ok(meta) = input.file.metadata() {
        main.writer.get_mut().preallocate(meta.len() + meta.len() / 8);
    }
    let mut rejects = out.create(&format!("{rel}.rejects.jsonl"))?;
    let mut rejects_writer = BufWriter::with_capacity(64 << 10, &mut rejects.writer);
    let (counts, stats_json) = match compiled {
        Records::Csv(rules) => {
            let stats =
                validate_csv(rules, ValidateOptions::default(), input, &mut main.writer, &mut rejects_writer)
                    .map_err(|e| match e {
                        CsvError::Io(io) => JobError::io(rel, io),
                        CsvError::Header { .. } => JobError::data(format!("{rel}: {e}")),
                        CsvError::TooManyUniqueKeys(_) => JobError::config(format!("{rel}: {e}")),
                    })?;
            let counts = (stats.records_in, stats.records_clean, stats.rejects.records_rejected);
            (counts, stats_json(kind, rel.as_str(), &stats)?)
        }
        Records::Jsonl(calc) => {
            let stats =
                calculate_jsonl(calc, CalcOptions::default(), input, &mut main.writer, &mut rejects_writer)
                    .map_err(|e| JobError::io(rel, e))?;
            let counts = (stats.records_in, stats.records_out, stats.rejects.records_rejected);
            (counts, stats_json(kind, rel.as_str(), &stats)?)
        }
        Records::Xml(xml) => {
            let stats = xml_to_json(xml, input, &mut main.writer, &mut rejects_writer)
                .map_err(|e| JobError::io(rel, e))?;
            if !stats.complete {
                tracing::warn!(input = %rel, "the XML could not be read to its end (truncated or malformed beyond recovery); see its last reject");
            }
            let counts = (stats.records_in, stats.records_out, stats.rejects.records_rejected);
            (counts, stats_json(kind, rel.as_str(), &stats)?)
        }
    };
    rejects_writer.into_inner().map_err(|e| JobError::io(format!("{rel}.rejects.jsonl"), e.into_error()))?;
    let (records_in, records_out, records_rejected) = counts;
    if records_in != records_out + records_rejected {
        return Err(JobError::new(
            ExitCode::Software,
            format!("{rel}: records_in {records_in} != out {records_out} + rejected {records_rejected}"),
        ));
    }
    let mut stats = out.create(&format!("{rel}.stats.json"))?;
    stats.writer.write_all(&stats_json).map_err(|e| JobError::io(rel, e))?;
    // Handed over last, together: an error above drops all three unwritten.
    let files = vec![main.finish(batch), rejects.finish(batch), stats.finish(batch)];
    Ok(FileOutcome { records_in, records_out, records_rejected, files })
}
