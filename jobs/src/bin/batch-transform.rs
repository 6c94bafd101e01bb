//! batch-transform: runs a processing transform on local files exactly as
//! the processing stage does, to try a rule set or a transform before
//! deploying it. For each input it writes `<out>/<name>` (`<name>.jsonl`
//! or `<name>.json` for XML),
//! `<out>/<name>.rejects.jsonl` and `<out>/<name>.stats.json` (byte for
//! byte what the stage writes for that file), prints the counts, and exits
//! with the stage's exit codes.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use batch_jobs::file_transform::{FileOutcome, OutputDir, Publisher, transform_file};
use batch_jobs::safe_path::SafeRelPath;
use batch_jobs::{ExitCode, JobError, JobResult, TransformSpec};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Runs a processing transform on local files exactly as the processing stage does.",
    after_help = "Exit codes as the stage's: 0 done; 65 bad data, 66 missing input, 70 bug, \
77 permission, 78 bad transform: see docs/jobs.md."
)]
struct Args {
    /// The transform, as run.json's `transform` (e.g.
    /// '{"kind":"jsonl_calc","calculations":["y = x * 2"]}'), or @<file>
    /// holding it.
    #[arg(long)]
    transform: String,
    /// Where the outputs go (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Input files; each one's outputs are named after its file name, so
    /// two inputs may not share a name.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let code = match run(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("batch-transform: {e} (exit {})", e.exit);
            e.exit.code()
        }
    };
    std::process::exit(code);
}

fn run(args: &Args) -> JobResult<()> {
    let spec = read_spec(&args.transform)?;
    let compiled = spec.compile()?;
    let inputs = input_names(&args.inputs)?;
    std::fs::create_dir_all(&args.out).map_err(|e| JobError::io(args.out.display(), e))?;
    let outputs = OutputDir::new(&args.out, "");
    // Each input's outputs are published before its counts are printed,
    // so what was printed is there even if a later input fails.
    let mut publisher = Publisher::new(1);
    let mut stdout = std::io::stdout().lock();
    let mut total = FileOutcome::default();
    for (path, name) in &inputs {
        let outcome = transform_file(&compiled, spec.kind(), path, name, &outputs, &mut publisher)?;
        print_counts(&mut stdout, name.as_str(), &outcome);
        total.records_in += outcome.records_in;
        total.records_out += outcome.records_out;
        total.records_rejected += outcome.records_rejected;
    }
    if inputs.len() > 1 {
        print_counts(&mut stdout, "total", &total);
    }
    Ok(())
}

/// The transform from `--transform`: JSON, or `@<file>` holding JSON.
fn read_spec(arg: &str) -> JobResult<TransformSpec> {
    let (text, from) = match arg.strip_prefix('@') {
        Some(file) => (
            std::fs::read_to_string(file).map_err(|e| JobError::io(format!("--transform @{file}"), e))?,
            format!("--transform @{file}"),
        ),
        None => (arg.to_string(), "--transform".to_string()),
    };
    serde_json::from_str(&text).map_err(|e| JobError::new(ExitCode::Config, format!("{from}: {e}")))
}

/// Each input with the name its outputs get (its file name), refused
/// before any work when it is not a file or two inputs share a name.
fn input_names(inputs: &[PathBuf]) -> JobResult<Vec<(PathBuf, SafeRelPath)>> {
    let mut seen = BTreeSet::new();
    let mut named = Vec::with_capacity(inputs.len());
    for path in inputs {
        let meta = std::fs::metadata(path).map_err(|e| JobError::io(path.display(), e))?;
        if !meta.is_file() {
            return Err(JobError::new(ExitCode::Usage, format!("{}: not a file", path.display())));
        }
        let name = file_name(path)?;
        if !seen.insert(name.clone()) {
            return Err(JobError::new(
                ExitCode::Usage,
                format!("two inputs are named {:?}; their outputs would overwrite each other", name.as_str()),
            ));
        }
        named.push((path.clone(), name));
    }
    Ok(named)
}

fn file_name(path: &Path) -> JobResult<SafeRelPath> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        JobError::new(ExitCode::Usage, format!("{}: the file name is not UTF-8", path.display()))
    })?;
    Ok(SafeRelPath::new("input file name", name)?)
}

fn print_counts(out: &mut dyn Write, name: &str, outcome: &FileOutcome) {
    // A closed stdout (e.g. piped into `head`) must not fail the run: the
    // outputs are what matters.
    let _ = writeln!(
        out,
        "{name}: records_in={} records_out={} records_rejected={}",
        outcome.records_in, outcome.records_out, outcome.records_rejected
    );
}
