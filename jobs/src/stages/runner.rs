//! The process harness every binary shares: command line (with the same
//! settings from the environment), JSON logs on stderr carrying run id,
//! stage and index on every line, and the mapping of the outcome to an
//! exit code.

use std::path::PathBuf;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::exit::{ExitCode, JobError, JobResult};
use crate::layout::{DoneMarker, Stage};
use crate::stages::{
    ARRAY_INDEX_ENV, DEFAULT_EFS_ROOT, EFS_ROOT_ENV, JobContext, RUN_ID_ENV, egress, processing, procurement,
};

/// Settings shared by the three binaries. Each can come from its
/// environment variable, which is how AWS Batch passes them.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 done; 75 retryable (network, throttling, I/O); \
64 usage, 65 bad data, 66 missing input, 70 bug, 77 permission, 78 bad config: permanent. \
See docs/jobs.md."
)]
pub struct JobArgs {
    /// The run id (directory under <efs-root>/runs/).
    #[arg(long, env = RUN_ID_ENV)]
    pub run_id: String,
    /// This node's index in the array (0-based; AWS Batch sets it).
    #[arg(long, env = ARRAY_INDEX_ENV, default_value_t = 0)]
    pub index: u32,
    /// Where the shared EFS volume is mounted.
    #[arg(long, env = EFS_ROOT_ENV, default_value = DEFAULT_EFS_ROOT)]
    pub efs_root: PathBuf,
}

/// A stage's work on its node: what one binary runs.
pub type StageWork = fn(&JobContext) -> JobResult<DoneMarker>;

/// Parses arguments, runs `work` as `stage`, logs, and exits with the
/// right code. Each binary passes its own stage's work (not the stage to
/// dispatch on), so it links only that stage: processing carries no AWS
/// SDK, TLS or async runtime, which a process that starts 10,000 times
/// in a run pays for in relocations and page faults at every start.
pub fn main(stage: Stage, about: &'static str, work: StageWork) -> ! {
    let command = <JobArgs as clap::CommandFactory>::command().name(stage.as_str()).about(about);
    let parsed = command
        .try_get_matches()
        .and_then(|matches| <JobArgs as clap::FromArgMatches>::from_arg_matches(&matches));
    let args = match parsed {
        Ok(a) => a,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            // Asked for: plain text, for a person.
            let _ = e.print();
            std::process::exit(0);
        }
        Err(e) => {
            // Like every other failure, one JSON line (without the run id
            // and index, which are what may be missing).
            init_logging();
            let error = e.render().to_string();
            tracing::error!(
                stage = stage.as_str(),
                exit_code = ExitCode::Usage.code(),
                retryable = false,
                error = error.trim_end(),
                "stage failed"
            );
            std::process::exit(ExitCode::Usage.code());
        }
    };
    init_logging();
    exit_on_panic(stage, &args);
    let span = tracing::info_span!("job", run_id = %args.run_id, stage = stage.as_str(), index = args.index);
    let _entered = span.enter();
    let started = std::time::Instant::now();
    let code = match run(stage, &args, work) {
        Ok(marker) => {
            tracing::info!(
                exit_code = 0,
                records_in = marker.records_in,
                records_out = marker.records_out,
                records_rejected = marker.records_rejected,
                seconds = started.elapsed().as_secs_f64(),
                "stage finished"
            );
            ExitCode::Success
        }
        Err(e) => {
            tracing::error!(
                exit_code = e.exit.code(),
                retryable = e.exit.is_retryable(),
                error = %e.message,
                "stage failed"
            );
            e.exit
        }
    };
    std::process::exit(code.code())
}

/// A panic is a bug: logged as a JSON line with the job's fields (the
/// panicking thread may be a runtime worker outside the job's span) and
/// the process exits 70, not Rust's 101, which no retry strategy knows.
fn exit_on_panic(stage: Stage, args: &JobArgs) {
    let (run_id, index) = (args.run_id.clone(), args.index);
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(
            run_id = %run_id,
            stage = stage.as_str(),
            index,
            exit_code = ExitCode::Software.code(),
            retryable = false,
            error = %info,
            "stage failed: panic"
        );
        std::process::exit(ExitCode::Software.code());
    }));
}

/// Runs `work` as `stage` for the node described by `args`.
pub fn run(stage: Stage, args: &JobArgs, work: StageWork) -> JobResult<DoneMarker> {
    let ctx = JobContext::load(args.efs_root.clone(), &args.run_id, args.index, stage)?;
    work(&ctx)
}

/// procurement's work: its async stage on a runtime of its own, with two
/// workers for the checksums of what it downloads.
pub fn procurement(ctx: &JobContext) -> JobResult<DoneMarker> {
    block_on(tokio::runtime::Builder::new_multi_thread().worker_threads(2), procurement::run(ctx))
}

/// processing's work (synchronous: no runtime).
pub fn processing(ctx: &JobContext) -> JobResult<DoneMarker> {
    processing::run(ctx)
}

/// egress's work: its async stage on a runtime of its own. One thread:
/// egress only waits on reads and requests (the checksums were computed
/// by processing), and worker threads were a tenth of a small node's CPU
/// in starts, wake-ups and context switches.
pub fn egress(ctx: &JobContext) -> JobResult<DoneMarker> {
    block_on(&mut tokio::runtime::Builder::new_current_thread(), egress::run(ctx))
}

fn block_on(
    runtime: &mut tokio::runtime::Builder,
    stage: impl std::future::Future<Output = JobResult<DoneMarker>>,
) -> JobResult<DoneMarker> {
    let runtime = runtime
        .enable_all()
        .build()
        .map_err(|e| JobError::new(ExitCode::Software, format!("tokio runtime: {e}")))?;
    runtime.block_on(stage)
}

/// JSON lines on stderr; the `job` span's fields (run_id, stage, index)
/// are in every line under `span`. `RUST_LOG` overrides the level.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(std::io::stderr)
        .try_init();
}
