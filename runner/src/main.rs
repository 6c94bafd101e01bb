//! `batch-pipeline run`: one pipeline execution on this machine.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use batch_runner::batch::Injection;
use batch_runner::run::{self, RunOptions};
use clap::{Parser, Subcommand};
use testkit::faults::FaultSpec;

#[derive(Parser)]
#[command(name = "batch-pipeline", about = "Runs a batch_pipeline's state machine definition locally")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Execute the definition: prep, the three N_TO_N array jobs, the watcher loop.
    Run {
        /// The ASL JSON (batch_state_machine_definition.definition; a JSON string is accepted too).
        #[arg(long)]
        definition: PathBuf,
        /// The execution input: {"config": <batch_pipeline.run_config>, "overrides": {...}}.
        #[arg(long)]
        input: PathBuf,
        /// The local directory that stands in for EFS.
        #[arg(long)]
        efs_dir: PathBuf,
        /// Array children run at once (default: twice the number of cores:
        /// a node's process also waits, on fsyncs and S3 round trips; with
        /// one slot a core, 10,000 small nodes kept 2 cores 82% busy, with
        /// two 95%: BENCHMARKS.md, "Local runner").
        #[arg(long)]
        concurrency: Option<usize>,
        /// Write the machine-readable summary here.
        #[arg(long)]
        summary_json: Option<PathBuf>,
        /// Run only the unfinished indices of this run and complete it.
        #[arg(long, value_name = "RUN_ID")]
        rerun_failed: Option<String>,
        /// Where prep, watcher, procurement, processing, egress are (default: next to this binary).
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Attempts per node when SubmitJob carries no RetryStrategy (exit 75 is retried).
        #[arg(long, default_value_t = 3)]
        attempts: u32,
        /// Testing aid: make STAGE:INDEX exit with EXIT (for TIMES attempts, default all).
        #[arg(long, value_name = "STAGE:INDEX:EXIT[:TIMES]")]
        inject_failure: Vec<Injection>,
        /// Hide the progress bars.
        #[arg(long)]
        no_progress: bool,
        /// Serve the data plane's S3 from this directory (a folder per
        /// bucket) on 127.0.0.1 and give prep, the watcher and the jobs
        /// AWS_ENDPOINT_URL_S3 pointing at it (moto keeps the rest).
        #[arg(long, value_name = "DIR")]
        s3_dir: Option<PathBuf>,
        /// Testing aid: prep, the watcher and the jobs reach moto, the S3
        /// and the local Batch through fault proxies drawing from this plan
        /// (e.g. `seed=7,rate=0.1,services=s3+batch`; docs/reliability.md).
        #[arg(long, value_name = "SPEC")]
        faults: Option<FaultSpec>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATCH_RUNNER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("batch-pipeline: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> anyhow::Result<ExitCode> {
    let Command::Run {
        definition,
        input,
        efs_dir,
        concurrency,
        summary_json,
        rerun_failed,
        bin_dir,
        attempts,
        inject_failure,
        no_progress,
        s3_dir,
        faults,
    } = Cli::parse().command;
    let bin_dir = match bin_dir {
        Some(d) => d,
        None => std::env::current_exe()?.parent().context("binary has no directory")?.to_path_buf(),
    };
    let opts = RunOptions {
        definition,
        input,
        efs_dir,
        bin_dir,
        concurrency: concurrency.unwrap_or_else(|| 2 * num_cpus::get()).max(1),
        attempts: attempts.max(1),
        rerun_failed,
        inject: inject_failure,
        progress: !no_progress && std::io::stderr().is_terminal(),
        functions: vec![],
        s3_dir,
        faults,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let summary = rt.block_on(run::run(&opts))?;
    eprint!("{}", run::table(&summary));
    let text = serde_json::to_string_pretty(&summary)?;
    match summary_json {
        Some(p) => std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?,
        None => println!("{text}"),
    }
    Ok(if summary["status"] == "SUCCEEDED" { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
