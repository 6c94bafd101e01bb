//! processing: every file in `data/` -> `results/` through the run's
//! transform. For input `data/<rel>` it writes `results/<rel>` (clean or
//! computed records), `results/<rel>.rejects.jsonl` and
//! `results/<rel>.stats.json`, each atomically.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use serde::Serialize;

use crate::atomic::{AtomicFile, naming_file, remove_stale_temps};
use crate::checksum::ChecksumWriter;
use crate::exit::{ExitCode, JobError, JobResult};
use crate::layout::{DoneMarker, FileEntry, Stage, Verify};
use crate::safe_path::SafeRelPath;
use crate::stages::{JobContext, fingerprint};
use crate::transform::TransformSpec;
use crate::transform::csv::{CompiledRules, CsvError, ValidateOptions, validate_csv};
use crate::transform::jsonl::{CalcOptions, Calculations, calculate_jsonl};
use crate::transform::xml::{XmlTransform, xml_to_json};

/// The stats file of one input.
#[derive(Debug, Serialize)]
struct StatsFile<'a, S: Serialize> {
    transform: &'a str,
    input: &'a str,
    #[serde(flatten)]
    stats: S,
}

enum Compiled {
    Csv(CompiledRules),
    Jsonl(Calculations),
    Xml(XmlTransform),
}

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
    let compiled = match &ctx.config.transform {
        TransformSpec::CsvValidate { rules } => Compiled::Csv(rules.compile()?),
        TransformSpec::JsonlCalc { calculations } => Compiled::Jsonl(
            Calculations::parse(calculations)
                .map_err(|e| JobError::config(format!("transform.calculations: {e}")))?,
        ),
        TransformSpec::XmlToJson(spec) => Compiled::Xml(spec.compile().map_err(JobError::config)?),
    };
    let upstream_marker: DoneMarker =
        serde_json::from_slice(&upstream).map_err(|e| JobError::data(format!("procurement marker: {e}")))?;
    node.clear_done(Stage::Processing)?;
    let results = node.results_dir();
    node.reset_dir(&results)?;
    let mut marker = DoneMarker::new(node.run_id(), node.index(), Stage::Processing, fp);
    for input in &upstream_marker.files {
        let rel = input.path.strip_prefix("data/").ok_or_else(|| {
            JobError::data(format!("procurement marker lists {:?} outside data/", input.path))
        })?;
        let rel = SafeRelPath::new("procurement marker file", rel)?;
        let source = rel.join_onto(&node.data_dir());
        let started = std::time::Instant::now();
        let (records_in, records_out, rejected) =
            process_file(&compiled, &ctx.config.transform, &source, &rel, &results, &mut marker)?;
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

/// A results file being written: atomic and checksummed. Unbuffered: the
/// transforms hand over their main output in large blocks (a buffer would
/// add a copy of every byte); small writers wrap it in a `BufWriter`.
struct Output {
    rel: String,
    writer: ChecksumWriter<AtomicFile>,
}

impl Output {
    fn create(results: &Path, rel: &str) -> JobResult<Self> {
        let path = SafeRelPath::new("results file", rel)?.join_onto(results);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| JobError::io(parent.display(), e))?;
        }
        let file = AtomicFile::create(&path).map_err(|e| JobError::io(path.display(), e))?;
        Ok(Output { rel: format!("results/{rel}"), writer: ChecksumWriter::new(file) })
    }

    fn commit(self) -> JobResult<FileEntry> {
        let (file, bytes, crc64nvme) = self.writer.finish();
        file.commit().map_err(|e| JobError::io(&self.rel, e))?;
        Ok(FileEntry { path: self.rel, bytes, crc64nvme })
    }
}

fn process_file(
    compiled: &Compiled,
    spec: &TransformSpec,
    source: &Path,
    rel: &SafeRelPath,
    results: &Path,
    marker: &mut DoneMarker,
) -> JobResult<(u64, u64, u64)> {
    let file = File::open(source).map_err(|e| JobError::io(source.display(), e))?;
    let input = NamedInput { file, path: source };
    let kind = spec.kind();
    let mut main = Output::create(results, &spec.output_name(rel.as_str()))?;
    // The main output is at most the input's size for CSV (clean rows are
    // copied as they are) and a little more for JSON-lines (a member
    // spliced into each line): reserve that much, the rest is given back.
    if let Ok(meta) = input.file.metadata() {
        main.writer.get_mut().preallocate(meta.len() + meta.len() / 8);
    }
    let mut rejects = Output::create(results, &format!("{rel}.rejects.jsonl"))?;
    let mut rejects_writer = BufWriter::with_capacity(64 << 10, &mut rejects.writer);
    let (counts, stats_json) = match compiled {
        Compiled::Csv(rules) => {
            let stats =
                validate_csv(rules, ValidateOptions::default(), input, &mut main.writer, &mut rejects_writer)
                    .map_err(|e| match e {
                        CsvError::Io(io) => JobError::io(rel, io),
                        CsvError::Header { .. } => JobError::data(format!("{rel}: {e}")),
                        CsvError::TooManyUniqueKeys(_) => JobError::config(format!("{rel}: {e}")),
                    })?;
            let counts = (stats.records_in, stats.records_clean, stats.rejects.records_rejected);
            (counts, to_json(kind, rel.as_str(), &stats)?)
        }
        Compiled::Jsonl(calc) => {
            let stats =
                calculate_jsonl(calc, CalcOptions::default(), input, &mut main.writer, &mut rejects_writer)
                    .map_err(|e| JobError::io(rel, e))?;
            let counts = (stats.records_in, stats.records_out, stats.rejects.records_rejected);
            (counts, to_json(kind, rel.as_str(), &stats)?)
        }
        Compiled::Xml(xml) => {
            let stats = xml_to_json(xml, input, &mut main.writer, &mut rejects_writer)
                .map_err(|e| JobError::io(rel, e))?;
            if !stats.complete {
                tracing::warn!(input = %rel, "the XML could not be read to its end: the rest is one rejected record");
            }
            let counts = (stats.records_in, stats.records_out, stats.rejects.records_rejected);
            (counts, to_json(kind, rel.as_str(), &stats)?)
        }
    };
    rejects_writer.into_inner().map_err(|e| JobError::io(&rejects.rel, e.into_error()))?;
    if counts.0 != counts.1 + counts.2 {
        return Err(JobError::new(
            ExitCode::Software,
            format!("{rel}: records_in {} != out {} + rejected {}", counts.0, counts.1, counts.2),
        ));
    }
    marker.files.push(main.commit()?);
    marker.files.push(rejects.commit()?);
    let mut stats = Output::create(results, &format!("{rel}.stats.json"))?;
    stats.writer.write_all(&stats_json).map_err(|e| JobError::io(rel, e))?;
    marker.files.push(stats.commit()?);
    Ok(counts)
}

/// The input file, its read errors naming it (the outputs' write errors
/// name theirs, see `AtomicFile`), so a transform's I/O error says which
/// of the files failed.
struct NamedInput<'a> {
    file: File,
    path: &'a Path,
}

impl Read for NamedInput<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf).map_err(|e| naming_file(e, "reading", self.path))
    }
}

fn to_json<S: Serialize>(kind: &str, input: &str, stats: &S) -> JobResult<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(&StatsFile { transform: kind, input, stats })
        .map_err(|e| JobError::new(ExitCode::Software, format!("stats: {e}")))?;
    out.push(b'\n');
    Ok(out)
}
