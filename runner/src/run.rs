//! One local execution: loads the definition, starts the Lambda functions
//! and the local Batch, runs the interpreter, builds the summary.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use batch_jobs::RunLayout;
use contract::Stage;
use serde_json::{Value, json};

use crate::asl::Machine;
use crate::batch::{BatchConfig, Injection, LocalBatch, STAGES, Status};
use crate::embedded_s3::EmbeddedS3;
use crate::interp::{self, Effects, Outcome, StatesError};
use crate::lambda::LambdaFunction;
use testkit::faults::{FaultProxy, FaultSpec};
use testkit::http;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub definition: PathBuf,
    pub input: PathBuf,
    pub efs_dir: PathBuf,
    pub bin_dir: PathBuf,
    pub concurrency: usize,
    pub attempts: u32,
    pub rerun_failed: Option<String>,
    pub inject: Vec<Injection>,
    pub progress: bool,
    /// Explicit function binaries: function name (or suffix) -> path.
    pub functions: Vec<(String, PathBuf)>,
    /// Serve the data plane's S3 from this directory (one folder per
    /// bucket) on 127.0.0.1 and point `AWS_ENDPOINT_URL_S3` of prep, the
    /// watcher and the jobs at it; other services keep `AWS_ENDPOINT_URL`.
    pub s3_dir: Option<PathBuf>,
    /// Testing aid: prep's, the watcher's and the jobs' AWS calls (moto,
    /// the embedded S3, the local Batch) go through fault proxies drawing
    /// from this plan; the summary's `faults` says what was injected.
    pub faults: Option<FaultSpec>,
}

struct LocalEffects {
    batch: Arc<LocalBatch>,
    functions: HashMap<String, LambdaFunction>,
    /// The Wait shortcut (every job terminal) was taken: a later Wait
    /// sleeps its time, so a watcher that still says "not finished" is
    /// polled at the definition's pace, not in a tight loop.
    shortcut_taken: std::sync::atomic::AtomicBool,
}

impl Effects for LocalEffects {
    async fn invoke_lambda(&self, params: Value) -> Result<Value, StatesError> {
        let name = params.get("FunctionName").and_then(Value::as_str).unwrap_or("");
        let f = self.functions.get(&function_kind(name)).ok_or_else(|| {
            StatesError::new(
                "Lambda.ResourceNotFoundException",
                format!("no local binary for function {name:?}"),
            )
        })?;
        let payload = params.get("Payload").cloned().unwrap_or(json!({}));
        let out = f.invoke(payload).await?;
        Ok(json!({"ExecutedVersion": "$LATEST", "Payload": out, "StatusCode": 200}))
    }

    async fn submit_job(&self, params: Value) -> Result<Value, StatesError> {
        self.batch.submit(&params)
    }

    async fn terminate_job(&self, params: Value) -> Result<Value, StatesError> {
        self.batch.terminate(&params)
    }

    async fn wait(&self, seconds: u64) {
        use std::sync::atomic::Ordering;
        if self.shortcut_taken.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
            _ = self.batch.wait_all_terminal() => self.shortcut_taken.store(true, Ordering::Relaxed),
        }
    }
}

/// `arn:aws:lambda:r:a:function:noaa-prep[:qualifier]` -> `prep` / `watcher`.
fn function_kind(name: &str) -> String {
    let short = name.split(":function:").nth(1).unwrap_or(name);
    let short = short.split(':').next().unwrap_or(short);
    if short.ends_with("prep") {
        "prep".into()
    } else if short.ends_with("watcher") || short.ends_with("watch") {
        "watcher".into()
    } else {
        short.to_string()
    }
}

/// What a rerun of `run_id` must run: the indices without the last
/// stage's done marker, and those the run's `failed_indices.json` (compact
/// ranges, written when a run fails) names; normally the same set.
pub fn rerun_indices(efs: &Path, run_id: &str) -> Result<Vec<u32>> {
    let (size, mut missing) = unfinished_indices(efs, run_id)?;
    let layout = RunLayout::new(efs, run_id).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(recorded) = layout.read_failed_indices().map_err(|e| anyhow::anyhow!("{e}"))? {
        let listed = batch_jobs::ranges::decode(&recorded.rerun_indices)
            .map_err(|e| anyhow::anyhow!("{}: rerun_indices: {e}", layout.failed_indices_path().display()))?;
        if let Some(bad) = listed.iter().find(|i| **i >= size) {
            bail!(
                "{}: index {bad} is outside the array (size {size})",
                layout.failed_indices_path().display()
            );
        }
        tracing::info!(run_id, recorded = %recorded.rerun_indices, "failed indices recorded by the run");
        missing.extend(listed);
        missing.sort_unstable();
        missing.dedup();
    }
    Ok(missing)
}

/// Indices whose last stage has no done marker: what a rerun must run.
pub fn unfinished_indices(efs: &Path, run_id: &str) -> Result<(u32, Vec<u32>)> {
    let layout = RunLayout::new(efs, run_id).map_err(|e| anyhow::anyhow!("run id {run_id:?}: {e}"))?;
    let run: Value = serde_json::from_slice(
        &std::fs::read(layout.run_json_path())
            .with_context(|| format!("run {run_id} not found under {}", efs.display()))?,
    )
    .context("run.json")?;
    let size = run.get("array_size").and_then(Value::as_u64).context("run.json has no array_size")? as u32;
    let last = run
        .get("stages")
        .and_then(Value::as_array)
        .and_then(|s| s.last())
        .and_then(Value::as_str)
        .and_then(Stage::from_name)
        .unwrap_or(Stage::Egress);
    let missing = (0..size).filter(|i| !layout.node(*i).done_path(last).exists()).collect();
    Ok((size, missing))
}

pub async fn run(opts: &RunOptions) -> Result<Value> {
    let started = Instant::now();
    let bytes =
        std::fs::read(&opts.definition).with_context(|| format!("reading {}", opts.definition.display()))?;
    let def: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", opts.definition.display()))?;
    // Terraform outputs the definition as a JSON string; accept both. The
    // size CreateStateMachine checks is that of the definition's own text.
    let def = match def {
        Value::String(s) => {
            crate::limits::check_definition_size(s.as_bytes()).map_err(anyhow::Error::msg)?;
            serde_json::from_str(&s).context("definition string is not JSON")?
        }
        v => {
            crate::limits::check_definition_size(&bytes).map_err(anyhow::Error::msg)?;
            v
        }
    };
    let machine = Machine::from_json(&def)?;
    let mut input: Value = serde_json::from_slice(
        &std::fs::read(&opts.input).with_context(|| format!("reading {}", opts.input.display()))?,
    )
    .with_context(|| format!("{} is not JSON", opts.input.display()))?;
    std::fs::create_dir_all(&opts.efs_dir)?;
    let efs_dir = std::fs::canonicalize(&opts.efs_dir)?;

    let mut rerun_only = None;
    if let Some(run_id) = &opts.rerun_failed {
        let missing = rerun_indices(&efs_dir, run_id)?;
        tracing::info!(run_id, indices = %batch_jobs::ranges::encode(&missing), "rerunning the unfinished indices");
        if !input.is_object() {
            bail!("the input must be a JSON object");
        }
        if !input.get("overrides").is_some_and(Value::is_object) {
            input["overrides"] = json!({});
        }
        input["overrides"]["run_id"] = json!(run_id);
        rerun_only = Some(missing.into_iter().collect::<HashSet<u32>>());
    }

    let execution = execution_name();
    // StartExecution refuses a bad name; so does the runner.
    crate::limits::check_execution_name(&execution).map_err(anyhow::Error::msg)?;
    let log_dir = efs_dir.join(".batch-runner").join(&execution);
    std::fs::create_dir_all(&log_dir)?;
    // AWS settings for the Lambdas and the jobs alike: an S3 client
    // without a region or credentials fails.
    let passthrough: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| k.starts_with("AWS_") || k == "RUST_LOG").collect();
    let has = |k: &str| passthrough.iter().any(|(n, _)| n == k);
    let mut defaults = vec![];
    for (k, v) in
        [("AWS_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local")]
    {
        if !has(k) {
            defaults.push((k.to_string(), v.to_string()));
        }
    }
    // Kept alive until the run ends: the jobs and the Summarize step write to it.
    let _embedded_s3 = match &opts.s3_dir {
        Some(dir) => {
            let credential = |k: &str| {
                passthrough
                    .iter()
                    .chain(&defaults)
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let s3 = EmbeddedS3::start(
                dir,
                &credential("AWS_ACCESS_KEY_ID"),
                &credential("AWS_SECRET_ACCESS_KEY"),
            )
            .await?;
            // After the passthrough in every child's environment, so it wins.
            defaults.push(("AWS_ENDPOINT_URL_S3".into(), s3.endpoint()));
            Some(s3)
        }
        None => None,
    };
    // Kept alive until the run ends, like the embedded S3.
    let mut fault_proxies: Vec<(&str, FaultProxy)> = vec![];
    if let Some(spec) = &opts.faults {
        for (var, name) in [("AWS_ENDPOINT_URL", "aws"), ("AWS_ENDPOINT_URL_S3", "s3")] {
            let current = defaults.iter().rev().chain(passthrough.iter()).find(|(k, _)| k == var);
            let Some((_, url)) = current.cloned() else { continue };
            let proxy = FaultProxy::start_for_url(&url, spec.clone())
                .with_context(|| format!("--faults: a proxy in front of {var}={url}"))?;
            defaults.retain(|(k, _)| k != var);
            defaults.push((var.to_string(), proxy.url()));
            fault_proxies.push((name, proxy));
        }
    }
    let batch = LocalBatch::new(BatchConfig {
        bin_dir: opts.bin_dir.clone(),
        efs_dir: efs_dir.clone(),
        log_dir: log_dir.clone(),
        concurrency: opts.concurrency,
        default_attempts: opts.attempts,
        rerun_only,
        inject: opts.inject.clone(),
        progress: opts.progress,
        default_env: defaults.clone(),
    });
    let workers = batch.start_workers();
    let b = batch.clone();
    let (batch_addr, batch_server) = http::serve(move |req| {
        let b = b.clone();
        async move { b.handle_http(&req) }
    })
    .await?;

    let mut functions = HashMap::new();
    for kind in ["prep", "watcher"] {
        let bin = opts
            .functions
            .iter()
            .find(|(n, _)| function_kind(n) == kind)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| opts.bin_dir.join(kind));
        let mut env = passthrough.clone();
        env.extend(defaults.clone());
        env.push(("PIPELINE_EFS_ROOT".into(), efs_dir.display().to_string()));
        if kind == "watcher" {
            // The watcher's Batch client talks to the local Batch.
            let mut url = format!("http://{batch_addr}");
            if let Some(spec) = &opts.faults {
                let proxy = FaultProxy::start(batch_addr, spec.clone())
                    .context("--faults: a proxy in front of Batch")?;
                url = proxy.url();
                fault_proxies.push(("batch", proxy));
            }
            env.retain(|(k, _)| k != "AWS_ENDPOINT_URL" && k != "AWS_ENDPOINT_URL_BATCH");
            env.push(("AWS_ENDPOINT_URL".into(), url.clone()));
            env.push(("AWS_ENDPOINT_URL_BATCH".into(), url));
        }
        let f = LambdaFunction::start(kind, bin, env, log_dir.join(format!("{kind}.log"))).await?;
        functions.insert(kind.to_string(), f);
    }
    let effects = LocalEffects { batch: batch.clone(), functions, shortcut_taken: Default::default() };
    // StartTime as Step Functions gives it (RFC 3339, UTC): the watcher
    // reads the run's deadline from it.
    let start_time = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .map_err(|e| anyhow::anyhow!("formatting the execution's start time: {e}"))?;
    let context = json!({"Execution": {
        "Name": execution,
        "Id": format!("arn:aws:states:local:000000000000:execution:local:{execution}"),
        "StartTime": start_time,
    }});
    // Ctrl-C or SIGTERM ends the execution as Step Functions' StopExecution
    // would: the children still running are killed below (not orphaned to
    // go on writing into the EFS directory) and the summary is written.
    let ran = tokio::select! {
        ran = interp::execute_counted(&machine, input, context, &effects) => ran,
        signal = stop_signal() => interp::Execution {
            outcome: Outcome::Failed {
                error: "States.Aborted".into(),
                cause: format!("the runner received {signal}"),
                state: String::new(),
                output: Value::Null,
            },
            usage: Default::default(),
        },
    };
    let outcome = ran.outcome;
    tracing::info!(
        history_events = ran.usage.history_events,
        largest_payload_bytes = ran.usage.largest_payload_bytes,
        largest_payload_at = %ran.usage.largest_payload_at,
        "Step Functions limits used"
    );
    // Children the definition terminated are being killed: a moment for
    // them to stop, so the summary counts them as terminated rather than
    // cut off by the runner's own end.
    if batch.any_terminated() {
        let _ = tokio::time::timeout(Duration::from_secs(10), batch.wait_all_terminal()).await;
    }
    batch.finish_bars();
    batch.shutdown();
    for f in effects.functions.values() {
        f.stop().await;
    }
    batch_server.abort();
    // A worker waits on its child; one still running when the execution
    // ended (a Fail state, the timeout) is killed with its task (the
    // children are kill_on_drop) rather than waited for, perhaps forever.
    for w in workers {
        w.abort();
        let _ = w.await;
    }
    let mut summary = summary(&batch, &outcome, started.elapsed(), &efs_dir, &log_dir);
    // A failed run's full failed lists go to the run directory, where a
    // person and `--rerun-failed` read them: the execution's cause holds
    // only a bounded line.
    if let Some(path) = write_failed_indices(&summary, &efs_dir, &execution) {
        summary["failed_indices_file"] = json!(path);
    }
    summary["limits"] = json!({
        "history_events": ran.usage.history_events,
        "max_history_events": crate::limits::MAX_HISTORY_EVENTS,
        "largest_payload_bytes": ran.usage.largest_payload_bytes,
        "largest_payload_at": ran.usage.largest_payload_at,
        "max_payload_bytes": crate::limits::MAX_PAYLOAD_BYTES,
    });
    if !fault_proxies.is_empty() {
        summary["faults"] = fault_proxies.iter().map(|(name, p)| (name.to_string(), p.report())).collect();
    }
    Ok(summary)
}

/// Writes `runs/<run_id>/failed_indices.json` for a run with failed
/// nodes (through the jobs' run layout, atomically); its path, or `None`
/// when nothing failed or there is no run directory.
fn write_failed_indices(summary: &Value, efs: &Path, execution: &str) -> Option<PathBuf> {
    let run_id = summary["run_id"].as_str().filter(|r| !r.is_empty())?;
    let rerun = summary["rerun_indices"].as_str().filter(|r| !r.is_empty())?;
    let layout = RunLayout::new(efs, run_id).ok()?;
    if !layout.run_dir().is_dir() {
        return None;
    }
    let failed = batch_jobs::FailedIndices {
        run_id: run_id.to_string(),
        execution: execution.to_string(),
        failed_indices: STAGES
            .iter()
            .map(|s| (s.to_string(), summary["failed_indices"][*s].as_str().unwrap_or("").to_string()))
            .collect(),
        rerun_indices: rerun.to_string(),
        rerun_count: summary["rerun_count"].as_u64().unwrap_or(0),
    };
    match layout.write_failed_indices(&failed) {
        Ok(()) => Some(layout.failed_indices_path()),
        Err(e) => {
            tracing::warn!(error = %e, "writing failed_indices.json");
            None
        }
    }
}

/// Waits for Ctrl-C or SIGTERM; says which. If a handler cannot be
/// installed, that signal keeps its default action (the process ends).
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
    }
    match tokio::signal::ctrl_c().await {
        Ok(()) => "SIGINT",
        Err(_) => std::future::pending().await,
    }
}

/// A fresh execution name per run, as Step Functions gives (prep makes the
/// run id of it): the time and a random part. The process id repeats (a
/// container's runner is always the same small pid), and a repeated name
/// would replay the earlier run's recorded prep.
fn execution_name() -> String {
    use std::hash::{BuildHasher, RandomState};
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let random = RandomState::new().hash_one(now.as_nanos()) as u32;
    format!("local-{}-{random:08x}", now.as_secs())
}

fn median_p95(mut v: Vec<f64>) -> (Option<f64>, Option<f64>) {
    if v.is_empty() {
        return (None, None);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (Some(at(0.5)), Some(at(0.95)))
}

fn summary(batch: &LocalBatch, outcome: &Outcome, elapsed: Duration, efs: &Path, log_dir: &Path) -> Value {
    let g = batch.lock();
    let t0 = batch.started;
    let mut stages = BTreeMap::new();
    let mut run_id = String::new();
    for (k, job) in g.jobs.iter().enumerate() {
        run_id = job.run_id.clone();
        // Children that ran at least once: not those skipped by a rerun,
        // nor those failed because their dependency failed (never started).
        let ran: Vec<_> = job.children.iter().filter(|c| c.attempts > 0).collect();
        let first = ran.iter().filter_map(|c| c.started).min();
        let last = ran.iter().filter_map(|c| c.stopped).max();
        let sum = |f: fn(&crate::batch::Counts) -> u64| {
            job.children.iter().filter_map(|c| c.counts.as_ref()).map(f).sum::<u64>()
        };
        let mut failed: Vec<usize> = job
            .children
            .iter()
            .enumerate()
            .filter(|(_, c)| c.status == Status::Failed)
            .map(|(i, _)| i)
            .collect();
        failed.sort_unstable();
        // N_TO_N lag: node i stopping in the stage before -> starting here.
        let mut lag = Vec::new();
        if k > 0 && job.stage != g.jobs[k - 1].stage {
            let prev = &g.jobs[k - 1];
            for (i, c) in job.children.iter().enumerate() {
                if let (Some(s), Some(p)) = (c.started, prev.children.get(i).and_then(|p| p.stopped))
                    && let Some(d) = s.checked_duration_since(p)
                {
                    lag.push(d.as_secs_f64() * 1000.0);
                }
            }
        }
        let (lag_median, lag_p95) = median_p95(lag);
        let node_ms: Vec<f64> = ran
            .iter()
            .filter_map(|c| Some(c.stopped?.checked_duration_since(c.started?)?.as_secs_f64() * 1000.0))
            .collect();
        let (node_median, _) = median_p95(node_ms);
        stages.insert(
            job.stage.clone(),
            json!({
                "job_id": job.id,
                "status": job.status().as_str(),
                "nodes": job.children.len(),
                "ran": ran.len(),
                "succeeded": job.children.iter().filter(|c| c.status == Status::Succeeded).count(),
                "failed": failed.len(),
                "failed_indices": batch_jobs::ranges::encode(&failed.iter().map(|i| *i as u32).collect::<Vec<_>>()),
                "terminated": job.terminated_children(),
                "retries": ran.iter().map(|c| c.attempts.saturating_sub(1) as u64).sum::<u64>(),
                "records_in": sum(|c| c.records_in),
                "records_out": sum(|c| c.records_out),
                "records_rejected": sum(|c| c.records_rejected),
                "objects": sum(|c| c.objects),
                "started_s": first.map(|f| f.duration_since(t0).as_secs_f64()),
                "finished_s": last.map(|l| l.duration_since(t0).as_secs_f64()),
                "wall_s": first.zip(last).map(|(f, l)| l.saturating_duration_since(f).as_secs_f64()),
                "node_median_ms": node_median,
                "lag_ms_median": lag_median,
                "lag_ms_p95": lag_p95,
            }),
        );
    }
    let (status, error, cause, state, output) = match outcome {
        Outcome::Succeeded { output, state } => ("SUCCEEDED", None, None, state, output),
        Outcome::Failed { error, cause, state, output } => {
            ("FAILED", Some(error), Some(cause), state, output)
        }
    };
    if run_id.is_empty() {
        run_id = output.pointer("/prep/run/run_id").and_then(Value::as_str).unwrap_or("").to_string();
    }
    let st = |s: &str, k: &str| stages.get(s).and_then(|v| v.get(k)).and_then(Value::as_u64).unwrap_or(0);
    let failed_indices: BTreeMap<&str, Value> = STAGES
        .iter()
        .map(|s| (*s, stages.get(*s).map(|v| v["failed_indices"].clone()).unwrap_or(json!(""))))
        .collect();
    let mut rerun: Vec<u32> = failed_indices
        .values()
        .filter_map(Value::as_str)
        .flat_map(|t| batch_jobs::ranges::decode(t).unwrap_or_default())
        .collect();
    rerun.sort_unstable();
    rerun.dedup();
    json!({
        "status": status,
        "error": error,
        "cause": cause,
        "final_state": state,
        "run_id": run_id,
        "run_dir": RunLayout::new(efs, &run_id).map_or(Value::Null, |l| json!(l.run_dir())),
        "logs": log_dir,
        "elapsed_s": elapsed.as_secs_f64(),
        "array_size": output.pointer("/prep/run/array_size"),
        "records_in": st("processing", "records_in"),
        "records_clean": st("processing", "records_out"),
        "records_rejected": st("processing", "records_rejected"),
        "output_objects": st("egress", "objects"),
        "failed_indices": failed_indices,
        "rerun_indices": batch_jobs::ranges::encode(&rerun),
        "rerun_count": rerun.len(),
        // SubmitJob calls that made a job: three for a run, whatever was retried.
        "jobs_submitted": g.jobs.len(),
        "stages": stages,
        "prep": output.pointer("/prep/run"),
        // The definition's Summarize step: the run summary's totals and
        // key (or why it could not be written), as the execution's output
        // carries them.
        "run_summary": output.pointer("/summary/totals"),
        "run_summary_error": output.pointer("/summary_error"),
        "watch": output.pointer("/watch/verdict").map(|v| json!({"finished": v.get("finished"), "succeeded": v.get("succeeded"), "status": v.get("status"), "cause": v.get("cause")})),
    })
}

/// The human-readable table of a summary.
pub fn table(s: &Value) -> String {
    let mut out = String::new();
    let g = |k: &str| s.get(k).map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or_default();
    out.push_str(&format!(
        "run {}  {}  in {:.1} s  (array size {})\n",
        g("run_id"),
        g("status"),
        s["elapsed_s"].as_f64().unwrap_or(0.0),
        g("array_size")
    ));
    if s["status"] == "FAILED" {
        out.push_str(&format!("  error {}: {}\n", g("error"), g("cause")));
    }
    out.push_str(&format!(
        "  records in {}  clean {}  rejected {}  output objects {} (+ one _manifest.json per node)\n",
        g("records_in"),
        g("records_clean"),
        g("records_rejected"),
        g("output_objects")
    ));
    let row = |cells: [String; 11]| {
        let [stage, rest @ ..] = cells;
        let mut line = format!("  {stage:<12}");
        for (cell, width) in rest.iter().zip([6, 6, 6, 8, 10, 10, 9, 8, 10, 10]) {
            line.push_str(&format!(" {cell:>width$}"));
        }
        line + "\n"
    };
    out.push_str(&row([
        "stage",
        "nodes",
        "ran",
        "failed",
        "retries",
        "records in",
        "out",
        "rejected",
        "wall s",
        "lag p50 ms",
        "lag p95 ms",
    ]
    .map(String::from)));
    for stage in STAGES {
        let Some(v) = s["stages"].get(stage) else { continue };
        // serde_json's Display ignores width, so every cell is a String.
        let n = |k: &str| v.get(k).and_then(Value::as_u64).map_or("-".to_string(), |x| x.to_string());
        let f = |k: &str| v.get(k).and_then(Value::as_f64).map_or("-".to_string(), |x| format!("{x:.1}"));
        out.push_str(&row([
            stage.to_string(),
            n("nodes"),
            n("ran"),
            n("failed"),
            n("retries"),
            n("records_in"),
            n("records_out"),
            n("records_rejected"),
            f("wall_s"),
            f("lag_ms_median"),
            f("lag_ms_p95"),
        ]));
    }
    if let Some(l) = s.get("limits") {
        out.push_str(&format!(
            "  step functions: {} of {} history events, largest payload {} of {} bytes ({})\n",
            l["history_events"],
            l["max_history_events"],
            l["largest_payload_bytes"],
            l["max_payload_bytes"],
            l["largest_payload_at"].as_str().unwrap_or("-")
        ));
    }
    if let Some(f) = s.get("failed_indices_file").and_then(Value::as_str) {
        out.push_str(&format!("  failed indices {} ({})\n", g("rerun_indices"), f));
    }
    let rs = &s["run_summary"];
    if let Some(path) = rs.get("summary_path").and_then(Value::as_str) {
        let object = match (rs["summary_bucket"].as_str(), rs["summary_key"].as_str()) {
            (Some(b), Some(k)) => format!(", s3://{b}/{k}"),
            _ => String::new(),
        };
        out.push_str(&format!("  run summary {path}{object}\n"));
    } else if let Some(e) = s.get("run_summary_error").filter(|e| !e.is_null()) {
        out.push_str(&format!("  run summary not written: {e}\n"));
    }
    out.push_str(&format!("  run dir {}\n  logs {}\n", g("run_dir"), g("logs")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_line_up_with_the_header() {
        let stage = |records: u64| {
            json!({"nodes": 12, "ran": 12, "failed": 0, "retries": 1, "records_in": records,
                   "records_out": records - 3, "records_rejected": 3, "wall_s": 0.84, "lag_ms_median": 0.1})
        };
        let summary = json!({
            "run_id": "r", "status": "SUCCEEDED", "elapsed_s": 2.2, "array_size": 12,
            "records_in": 60000, "records_clean": 59997, "records_rejected": 3, "output_objects": 36,
            "stages": {"procurement": stage(12), "processing": stage(60000), "egress": stage(59997)},
        });
        let text = table(&summary);
        let lines: Vec<&str> =
            text.lines().skip_while(|l| !l.trim_start().starts_with("stage")).take(4).collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "ragged table:\n{text}");
        assert!(
            lines[2].contains("60000") && lines[2].contains("59997") && lines[2].ends_with("-"),
            "{text}"
        );
    }

    /// The names the runner gives its executions are names StartExecution
    /// accepts (1-80 characters, no reserved ones), and each is new.
    #[test]
    fn generated_execution_names_pass_step_functions_rules() {
        let (a, b) = (execution_name(), execution_name());
        assert_ne!(a, b);
        for name in [a, b] {
            assert!(crate::limits::check_execution_name(&name).is_ok(), "{name}");
            assert!(name.len() <= crate::limits::MAX_EXECUTION_NAME_CHARS);
        }
    }

    /// The table shows what the run used of the limits and where the
    /// failed list is.
    #[test]
    fn table_reports_the_limits_used_and_the_failed_indices_file() {
        let summary = json!({
            "run_id": "r", "status": "FAILED", "error": "PipelineRunFailed", "cause": "c", "elapsed_s": 1.0,
            "rerun_indices": "0-9999", "failed_indices_file": "/efs/runs/r/failed_indices.json",
            "limits": {"history_events": 36, "max_history_events": 25000, "largest_payload_bytes": 2239,
                       "max_payload_bytes": 262144, "largest_payload_at": "Watch output"},
        });
        let text = table(&summary);
        assert!(
            text.contains("36 of 25000 history events, largest payload 2239 of 262144 bytes (Watch output)"),
            "{text}"
        );
        assert!(text.contains("failed indices 0-9999 (/efs/runs/r/failed_indices.json)"), "{text}");
        assert!(!text.contains("run summary"), "{text}");
        let mut with = summary.clone();
        with["run_summary"] = json!({"summary_path": "/efs/runs/r/run_summary.json",
                                     "summary_bucket": "out", "summary_key": "results/r/_run_summary.json"});
        let text = table(&with);
        assert!(
            text.contains("run summary /efs/runs/r/run_summary.json, s3://out/results/r/_run_summary.json"),
            "{text}"
        );
        let mut without = summary;
        without["run_summary_error"] =
            json!({"Error": "AwsRequestFailed", "Cause": "PutObject: AccessDenied"});
        assert!(table(&without).contains("run summary not written: {\"Cause\""), "{}", table(&without));
    }
}
