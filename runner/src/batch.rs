//! A local AWS Batch: SubmitJob runs array children as local processes of
//! the job binaries, with N_TO_N dependencies per index, bounded
//! concurrency and the job definition's retry strategy; DescribeJobs and
//! ListJobs are served over HTTP from the same job states so that the real
//! watcher binary can read them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

use crate::http::{Request, Response};
use crate::interp::StatesError;

pub use contract::STAGE_NAMES as STAGES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Runnable,
    Running,
    Succeeded,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Runnable => "RUNNABLE",
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
        }
    }
    fn terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed)
    }
}

/// A failure to inject (tests): `stage:index:exit[:times]`.
#[derive(Debug, Clone)]
pub struct Injection {
    pub stage: String,
    pub index: u32,
    pub exit: i32,
    pub times: u32,
}

impl std::str::FromStr for Injection {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let p: Vec<&str> = s.split(':').collect();
        let bad = || format!("{s:?}: expected STAGE:INDEX:EXIT[:TIMES]");
        if p.len() < 3 || p.len() > 4 {
            return Err(bad());
        }
        Ok(Injection {
            stage: p[0].to_string(),
            index: p[1].parse().map_err(|_| bad())?,
            exit: p[2].parse().map_err(|_| bad())?,
            times: p.get(3).map(|t| t.parse()).transpose().map_err(|_| bad())?.unwrap_or(u32::MAX),
        })
    }
}

#[derive(Debug, Clone)]
pub struct BatchConfig {
    pub bin_dir: PathBuf,
    pub efs_dir: PathBuf,
    pub log_dir: PathBuf,
    pub concurrency: usize,
    /// Attempts when SubmitJob has no RetryStrategy (the provider's job definitions retry exit 75).
    pub default_attempts: u32,
    pub rerun_only: Option<HashSet<u32>>,
    pub inject: Vec<Injection>,
    pub progress: bool,
    /// Environment every child gets under its own (AWS region and dummy
    /// credentials where the runner's environment has none).
    pub default_env: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub records_in: u64,
    pub records_out: u64,
    pub records_rejected: u64,
    pub objects: u64,
}

#[derive(Debug, Clone)]
pub struct Child {
    pub status: Status,
    pub attempts: u32,
    pub started: Option<Instant>,
    pub stopped: Option<Instant>,
    pub reason: Option<String>,
    pub counts: Option<Counts>,
    pub skipped: bool,
}

pub struct Job {
    pub id: String,
    pub name: String,
    pub queue: String,
    pub definition: String,
    pub stage: String,
    pub rank: usize,
    pub array: bool,
    pub run_id: String,
    env: Vec<(String, String)>,
    depends: Option<(usize, bool)>,
    dependents: Vec<usize>,
    attempts: u32,
    /// `RetryStrategy.EvaluateOnExit`, in order.
    exit_rules: Vec<ExitRule>,
    pub created_ms: u64,
    pub children: Vec<Child>,
    bar: Option<ProgressBar>,
    pub first_start: Option<Instant>,
    /// Children in a terminal status, of them failed, and the records the
    /// succeeded ones read: kept as counters so that each completion costs
    /// O(1), not a scan of 10,000 children under the lock.
    terminal: usize,
    failed: usize,
    records_in: u64,
    /// TerminateJob's reason, once terminated: running children watch it
    /// and are killed, and nothing is retried or started after it.
    terminated: tokio::sync::watch::Sender<Option<String>>,
}

impl Job {
    /// Every child is SUCCEEDED or FAILED.
    pub fn done(&self) -> bool {
        self.terminal == self.children.len()
    }

    /// Child `index` reaches `status` (SUCCEEDED or FAILED), with the counts
    /// its done marker reported.
    fn finish_child(&mut self, index: u32, status: Status, counts: Option<Counts>) {
        let c = &mut self.children[index as usize];
        if c.status.terminal() {
            return;
        }
        c.status = status;
        self.terminal += 1;
        if status == Status::Failed {
            self.failed += 1;
        }
        self.records_in += counts.as_ref().map_or(0, |n| n.records_in);
        c.counts = counts;
    }

    /// Children failed by TerminateJob (their reason is the one given):
    /// killed while running, or never started.
    pub fn terminated_children(&self) -> usize {
        let reason = self.terminated.borrow();
        let Some(reason) = reason.as_deref() else { return 0 };
        self.children
            .iter()
            .filter(|c| c.status == Status::Failed && c.reason.as_deref() == Some(reason))
            .count()
    }

    pub fn status(&self) -> Status {
        let c = &self.children;
        if self.done() {
            if self.failed == 0 { Status::Succeeded } else { Status::Failed }
        } else if c.iter().any(|x| x.status == Status::Running || x.status.terminal()) {
            Status::Running
        } else if c.iter().any(|x| x.status == Status::Runnable) {
            Status::Runnable
        } else {
            Status::Pending
        }
    }
}

#[derive(Default)]
pub struct Inner {
    pub jobs: Vec<Job>,
    by_id: HashMap<String, usize>,
    ready: BinaryHeap<(usize, Reverse<u32>, usize)>,
    shutdown: bool,
}

pub struct LocalBatch {
    pub cfg: BatchConfig,
    inner: Mutex<Inner>,
    work: Notify,
    changed: Notify,
    progress: MultiProgress,
    pub started: Instant,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub use contract::naming::valid_job_name;

fn stage_of(definition: &str) -> Option<&'static str> {
    contract::naming::stage_of_job_definition(definition).map(contract::Stage::as_str)
}

impl LocalBatch {
    pub fn new(cfg: BatchConfig) -> Arc<Self> {
        let progress = MultiProgress::new();
        if !cfg.progress {
            progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        Arc::new(LocalBatch {
            cfg,
            inner: Mutex::new(Inner::default()),
            work: Notify::new(),
            changed: Notify::new(),
            progress,
            started: Instant::now(),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the worker tasks (one per concurrency slot).
    pub fn start_workers(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.cfg.concurrency.max(1))
            .map(|_| {
                let me = self.clone();
                tokio::spawn(async move { me.worker().await })
            })
            .collect()
    }

    pub fn shutdown(&self) {
        self.lock().shutdown = true;
        self.work.notify_waiters();
    }

    /// Some job was terminated (TerminateJob).
    pub fn any_terminated(&self) -> bool {
        self.lock().jobs.iter().any(|j| j.terminated.borrow().is_some())
    }

    pub fn all_terminal(&self) -> bool {
        let g = self.lock();
        g.jobs.iter().all(Job::done)
    }

    /// Waits until every submitted job is terminal.
    pub async fn wait_all_terminal(&self) {
        loop {
            let notified = self.changed.notified();
            if self.all_terminal() {
                return;
            }
            notified.await;
        }
    }

    /// SubmitJob, checked as AWS Batch checks it (job name, array size,
    /// environment entries) before anything runs.
    pub fn submit(&self, params: &Value) -> Result<Value, StatesError> {
        let client = |m: String| StatesError::new("Batch.ClientException", m);
        let name =
            params.get("JobName").and_then(Value::as_str).ok_or_else(|| client("JobName missing".into()))?;
        if !valid_job_name(name) {
            // SubmitJob refuses it: a run id AWS would not take fails here too.
            return Err(client(format!(
                "JobName {name:?}: up to 128 letters, digits, '-' and '_', the first alphanumeric (AWS Batch SubmitJob)"
            )));
        }
        let definition = params
            .get("JobDefinition")
            .and_then(Value::as_str)
            .ok_or_else(|| client("JobDefinition missing".into()))?;
        let stage = stage_of(definition).ok_or_else(|| {
            client(format!(
                "job definition {definition:?}: its name must end with -procurement, -processing or -egress"
            ))
        })?;
        let size = match params.get("ArrayProperties").and_then(|a| a.get("Size")) {
            None => None,
            Some(v) => {
                let n = v
                    .as_u64()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| client(format!("array size {v} must be 1..=10000")))?;
                if n == 1 {
                    tracing::warn!(
                        job = name,
                        "array size 1: AWS Batch refuses it (2..=10000); run locally as one child"
                    );
                }
                Some(n as u32)
            }
        };
        let mut env = Vec::new();
        for e in
            params.pointer("/ContainerOverrides/Environment").and_then(Value::as_array).into_iter().flatten()
        {
            // As SubmitJob: a name and a string value, or the call is refused
            // (a number from a `Value.$` path was dropped silently).
            match (e.get("Name").and_then(Value::as_str), e.get("Value")) {
                (Some(k), Some(Value::String(v))) => env.push((k.to_string(), v.clone())),
                (Some(k), None) => env.push((k.to_string(), String::new())),
                _ => {
                    return Err(client(format!(
                        "ContainerOverrides.Environment entry {e}: needs a Name and a string Value"
                    )));
                }
            }
        }
        let run_id = env.iter().find(|(k, _)| k == "RUN_ID").map(|(_, v)| v.clone()).unwrap_or_default();
        let (attempts, exit_rules) = match params.get("RetryStrategy") {
            Some(rs) => {
                let attempts = rs.get("Attempts").and_then(Value::as_u64).unwrap_or(1).clamp(1, 10) as u32;
                let rules = rs
                    .get("EvaluateOnExit")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(ExitRule::from_json)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(client)?;
                (attempts, rules)
            }
            // The provider's job definitions: exit 75 retries, the rest exits.
            None => (self.cfg.default_attempts, ExitRule::provider_default()),
        };
        let mut g = self.lock();
        let mut depends = None;
        if let Some(deps) = params.get("DependsOn").and_then(Value::as_array) {
            if deps.len() > 1 {
                return Err(client("the local runner supports one dependency per job".into()));
            }
            if let Some(d) = deps.first() {
                let id = d
                    .get("JobId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| client("DependsOn JobId missing".into()))?;
                let parent = *g.by_id.get(id).ok_or_else(|| client(format!("DependsOn: no job {id}")))?;
                let n_to_n = d.get("Type").and_then(Value::as_str) == Some("N_TO_N");
                if n_to_n && (size.is_none() || g.jobs[parent].children.len() != size.unwrap_or(0) as usize) {
                    return Err(client("N_TO_N needs two array jobs of the same size".into()));
                }
                depends = Some((parent, n_to_n));
            }
        }
        let idx = g.jobs.len();
        let id = format!("local-{:04}-{stage}-{:x}", idx, now_ms() & 0xffff_ffff);
        let n = size.unwrap_or(1);
        let bar = self.progress.add(ProgressBar::new(n as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(stage.to_string());
        let child = Child {
            status: Status::Pending,
            attempts: 0,
            started: None,
            stopped: None,
            reason: None,
            counts: None,
            skipped: false,
        };
        g.jobs.push(Job {
            id: id.clone(),
            name: name.to_string(),
            queue: params.get("JobQueue").and_then(Value::as_str).unwrap_or("").to_string(),
            definition: definition.to_string(),
            stage: stage.to_string(),
            rank: STAGES.iter().position(|s| *s == stage).unwrap_or(0),
            array: size.is_some(),
            run_id,
            env,
            depends,
            dependents: vec![],
            attempts,
            exit_rules,
            created_ms: now_ms(),
            children: vec![child; n as usize],
            bar: Some(bar),
            first_start: None,
            terminal: 0,
            failed: 0,
            records_in: 0,
            terminated: tokio::sync::watch::Sender::new(None),
        });
        g.by_id.insert(id.clone(), idx);
        if let Some((p, _)) = depends {
            g.jobs[p].dependents.push(idx);
        }
        for i in 0..n {
            if self.cfg.rerun_only.as_ref().is_some_and(|only| !only.contains(&i)) {
                g.jobs[idx].finish_child(i, Status::Succeeded, None);
                let c = &mut g.jobs[idx].children[i as usize];
                c.skipped = true;
                c.reason = Some("succeeded in an earlier attempt of this run".into());
                if let Some(b) = &g.jobs[idx].bar {
                    b.inc(1);
                }
                continue;
            }
            resolve(&mut g, idx, i);
        }
        drop(g);
        self.work.notify_waiters();
        self.changed.notify_waiters();
        tracing::info!(job = %id, stage, size = n, "job submitted");
        Ok(
            json!({"JobId": id, "JobName": name, "JobArn": format!("arn:aws:batch:local:000000000000:job/{id}")}),
        )
    }

    /// TerminateJob (`JobId`, `Reason`), as AWS Batch does it: children
    /// not started yet fail at once with the reason (and so do the nodes
    /// that depend on them), running ones are killed and fail with it, and
    /// none is retried. Terminating a finished job changes nothing.
    pub fn terminate(&self, params: &Value) -> Result<Value, StatesError> {
        let client = |m: String| StatesError::new("Batch.ClientException", m);
        let id = params.get("JobId").and_then(Value::as_str).ok_or_else(|| client("JobId missing".into()))?;
        let reason = params
            .get("Reason")
            .and_then(Value::as_str)
            .ok_or_else(|| client("Reason missing".into()))?
            .to_string();
        let mut g = self.lock();
        let job = *g.by_id.get(id).ok_or_else(|| client(format!("no job {id}")))?;
        if g.jobs[job].done() {
            return Ok(json!({}));
        }
        tracing::info!(job = %id, reason, "terminating job");
        g.jobs[job].terminated.send_replace(Some(reason.clone()));
        for index in 0..g.jobs[job].children.len() as u32 {
            let c = &mut g.jobs[job].children[index as usize];
            if matches!(c.status, Status::Pending | Status::Runnable) {
                c.reason = Some(reason.clone());
                g.jobs[job].finish_child(index, Status::Failed, None);
                settle_dependents(&mut g, job, index);
            }
        }
        update_bar(&g.jobs[job]);
        drop(g);
        self.work.notify_waiters();
        self.changed.notify_waiters();
        Ok(json!({}))
    }

    async fn worker(self: Arc<Self>) {
        loop {
            let notified = self.work.notified();
            let next = {
                let mut g = self.lock();
                if g.shutdown {
                    return;
                }
                g.ready.pop()
            };
            let Some((_, Reverse(index), job)) = next else {
                notified.await;
                continue;
            };
            self.run_child(job, index).await;
        }
    }

    async fn run_child(&self, job: usize, index: u32) {
        let (bin, env, stage, run_id, id, array, attempt, mut terminated) = {
            let mut g = self.lock();
            let j = &mut g.jobs[job];
            // A child terminated while it waited in the queue.
            if j.children[index as usize].status != Status::Runnable {
                return;
            }
            let now = Instant::now();
            j.first_start.get_or_insert(now);
            let c = &mut j.children[index as usize];
            c.status = Status::Running;
            c.attempts += 1;
            c.started = Some(now);
            (
                self.cfg.bin_dir.join(&j.stage),
                j.env.clone(),
                j.stage.clone(),
                j.run_id.clone(),
                j.id.clone(),
                j.array,
                c.attempts,
                j.terminated.subscribe(),
            )
        };
        let injected = self
            .cfg
            .inject
            .iter()
            .find(|x| x.stage == stage && x.index == index && attempt <= x.times)
            .map(|x| x.exit);
        let (code, stderr) = match injected {
            Some(code) => (Some(code), format!("injected failure: exit {code}")),
            None => {
                let mut cmd = tokio::process::Command::new(&bin);
                cmd.envs(self.cfg.default_env.iter().cloned())
                    .envs(env)
                    .env("PIPELINE_EFS_ROOT", &self.cfg.efs_dir)
                    .env("AWS_BATCH_JOB_ID", if array { format!("{id}:{index}") } else { id.clone() })
                    .env("AWS_BATCH_JOB_ATTEMPT", attempt.to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true);
                if array {
                    cmd.env("AWS_BATCH_JOB_ARRAY_INDEX", index.to_string());
                }
                match cmd.spawn() {
                    Err(e) => (None, format!("could not start {}: {e}", bin.display())),
                    Ok(mut child) => {
                        let mut stderr = child.stderr.take();
                        let ran = tokio::select! {
                            ran = async {
                                let mut err = Vec::new();
                                if let Some(s) = stderr.as_mut() {
                                    let _ = s.read_to_end(&mut err).await;
                                }
                                (child.wait().await, err)
                            } => Some(ran),
                            _ = terminated.wait_for(Option::is_some) => None,
                        };
                        match ran {
                            Some((status, err)) => (
                                status.ok().and_then(|s| s.code()),
                                String::from_utf8_lossy(&err).into_owned(),
                            ),
                            None => {
                                let _ = child.kill().await;
                                (None, "killed: the job was terminated".to_string())
                            }
                        }
                    }
                }
            }
        };
        let ok = code == Some(0);
        let counts = if ok { read_counts(&self.cfg.efs_dir, &run_id, index, &stage) } else { None };
        if !ok {
            let log = self.cfg.log_dir.join(format!("{stage}-{index}-attempt{attempt}.log"));
            if let Err(e) = std::fs::write(&log, &stderr) {
                tracing::warn!(error = %e, "could not write {}", log.display());
            }
        }
        let mut g = self.lock();
        let j = &mut g.jobs[job];
        let termination = j.terminated.borrow().clone();
        let retry =
            !ok && termination.is_none() && attempt < j.attempts && ExitRule::retries(&j.exit_rules, code);
        j.children[index as usize].stopped = Some(Instant::now());
        if ok {
            j.finish_child(index, Status::Succeeded, counts);
        } else if retry {
            tracing::info!(stage, index, attempt, exit = ?code, "retrying node");
            j.children[index as usize].status = Status::Runnable;
            let rank = j.rank;
            g.ready.push((rank, Reverse(index), job));
            drop(g);
            self.work.notify_one();
            return;
        } else {
            let tail: String = stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            tracing::warn!(stage, index, attempt, exit = ?code, "node failed");
            j.finish_child(index, Status::Failed, None);
            j.children[index as usize].reason = Some(match termination {
                // As AWS Batch: a terminated job's reason is the one given.
                Some(reason) if !ok => reason,
                _ => format!(
                    "exit {} after {attempt} attempt(s): {tail}",
                    code.map_or("signal".to_string(), |c| c.to_string())
                ),
            });
        }
        update_bar(j);
        settle_dependents(&mut g, job, index);
        drop(g);
        self.work.notify_waiters();
        self.changed.notify_waiters();
    }

    pub fn finish_bars(&self) {
        let g = self.lock();
        for j in &g.jobs {
            if let Some(b) = &j.bar {
                b.finish();
            }
        }
    }

    /// The Batch API stand-in (DescribeJobs, ListJobs) for the watcher.
    pub fn handle_http(&self, req: &Request) -> Response {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let g = self.lock();
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/v1/describejobs") => {
                let mut out = Vec::new();
                for id in
                    body.get("jobs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
                {
                    let (parent, child) = match id.rsplit_once(':') {
                        Some((p, i)) => (p, Some(i.parse::<usize>().ok())),
                        None => (id, None),
                    };
                    let Some(&j) = g.by_id.get(parent) else { continue };
                    // As AWS: an id that names no job (a child index out of
                    // range) is left out of the answer, not described as
                    // its parent.
                    let job = &g.jobs[j];
                    match child {
                        None => out.push(describe(job, None)),
                        Some(Some(i)) if i < job.children.len() => out.push(describe(job, Some(i))),
                        Some(_) => {}
                    }
                }
                Response::json(200, &json!({"jobs": out}))
            }
            ("POST", "/v1/listjobs") => {
                let Some(&j) = body.get("arrayJobId").and_then(Value::as_str).and_then(|id| g.by_id.get(id))
                else {
                    return Response::json(200, &json!({"jobSummaryList": []}));
                };
                let job = &g.jobs[j];
                // AWS lists RUNNING jobs when no status is asked for.
                let want = body.get("jobStatus").and_then(Value::as_str).unwrap_or("RUNNING");
                let max =
                    body.get("maxResults").and_then(Value::as_u64).unwrap_or(100).clamp(1, 1000) as usize;
                let start: usize =
                    body.get("nextToken").and_then(Value::as_str).and_then(|t| t.parse().ok()).unwrap_or(0);
                let matching: Vec<usize> =
                    (0..job.children.len()).filter(|&i| job.children[i].status.as_str() == want).collect();
                let page: Vec<Value> = matching
                    .iter()
                    .skip(start)
                    .take(max)
                    .map(|&i| {
                        json!({"jobId": format!("{}:{i}", job.id), "jobArn": format!("arn:aws:batch:local:000000000000:job/{}:{i}", job.id),
                               "jobName": job.name, "status": job.children[i].status.as_str(), "createdAt": job.created_ms,
                               "arrayProperties": {"index": i}})
                    })
                    .collect();
                let mut resp = json!({"jobSummaryList": page});
                if start + max < matching.len() {
                    resp["nextToken"] = json!((start + max).to_string());
                }
                Response::json(200, &resp)
            }
            _ => Response::json(
                400,
                &json!({"__type": "ClientException", "message": format!("the local Batch serves DescribeJobs and ListJobs only, not {} {}", req.method, req.path)}),
            ),
        }
    }
}

/// One `EvaluateOnExit` rule: every condition it has must match.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitRule {
    on_exit_code: Option<String>,
    on_reason: Option<String>,
    on_status_reason: Option<String>,
    retry: bool,
}

impl ExitRule {
    fn from_json(rule: &Value) -> Result<Self, String> {
        let text = |k: &str| rule.get(k).and_then(Value::as_str).map(str::to_string);
        let retry = match text("Action").map(|a| a.to_ascii_uppercase()).as_deref() {
            Some("RETRY") => true,
            Some("EXIT") => false,
            other => {
                return Err(format!("RetryStrategy.EvaluateOnExit: Action {other:?} is not RETRY or EXIT"));
            }
        };
        Ok(ExitRule {
            on_exit_code: text("OnExitCode"),
            on_reason: text("OnReason"),
            on_status_reason: text("OnStatusReason"),
            retry,
        })
    }

    /// What the provider's job definitions say (exit 75 retries, a lost
    /// host retries, anything else exits); locally no host is lost.
    fn provider_default() -> Vec<Self> {
        let rule = |code: Option<&str>, reason: Option<&str>, retry| ExitRule {
            on_exit_code: code.map(str::to_string),
            on_reason: reason.map(str::to_string),
            on_status_reason: None,
            retry,
        };
        let retryable = contract::retry::RETRYABLE_EXIT_CODE.to_string();
        vec![rule(Some(&retryable), None, true), rule(None, Some("*"), false)]
    }

    /// AWS Batch's reading: the first rule whose conditions all match
    /// decides; none matching (or no rules) retries. Locally a failed
    /// attempt's reason is "Essential container in task exited" with an
    /// exit code, "CannotStartContainerError" without, and there is no
    /// status reason to match.
    fn retries(rules: &[ExitRule], code: Option<i32>) -> bool {
        let reason =
            if code.is_some() { "Essential container in task exited" } else { "CannotStartContainerError" };
        rules
            .iter()
            .find(|r| {
                r.on_exit_code.as_deref().is_none_or(|p| code_matches(p, code))
                    && r.on_reason.as_deref().is_none_or(|p| glob(p, reason))
                    && r.on_status_reason.as_deref().is_none_or(|p| glob(p, ""))
            })
            .is_none_or(|r| r.retry)
    }
}

/// A Batch `EvaluateOnExit` pattern: text, optionally ending in `*`.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => text.starts_with(prefix),
        None => text == pattern,
    }
}

/// Whether an `onExitCode` pattern matches. A child without an exit code
/// (killed by a signal, or it could not start) matches none, as in AWS
/// Batch: such an attempt is not retried by exit-code rules.
fn code_matches(pattern: &str, code: Option<i32>) -> bool {
    code.is_some_and(|code| glob(pattern, &code.to_string()))
}

/// Moves a Pending child to Runnable or Failed once its dependency allows.
fn resolve(g: &mut Inner, job: usize, index: u32) {
    if g.jobs[job].children[index as usize].status != Status::Pending {
        return;
    }
    let verdict = match g.jobs[job].depends {
        None => Some(true),
        Some((p, true)) => match g.jobs[p].children[index as usize].status {
            Status::Succeeded => Some(true),
            Status::Failed => Some(false),
            _ => None,
        },
        Some((p, false)) => {
            let c = &g.jobs[p].children;
            if c.iter().all(|x| x.status.terminal()) {
                Some(c.iter().all(|x| x.status == Status::Succeeded))
            } else {
                None
            }
        }
    };
    match verdict {
        Some(true) => {
            g.jobs[job].children[index as usize].status = Status::Runnable;
            let rank = g.jobs[job].rank;
            g.ready.push((rank, Reverse(index), job));
        }
        Some(false) => {
            let j = &mut g.jobs[job];
            j.finish_child(index, Status::Failed, None);
            j.children[index as usize].reason = Some("Dependent Job failed".into());
            update_bar(j);
            settle_dependents(g, job, index);
        }
        None => {}
    }
}

/// Child `index` of `job` became terminal: its N_TO_N dependents' node
/// `index` may go (or fail), and once the whole job is done, every node of
/// a job that depends on all of it.
fn settle_dependents(g: &mut Inner, job: usize, index: u32) {
    let dependents = g.jobs[job].dependents.clone();
    let done = g.jobs[job].done();
    for d in dependents {
        match g.jobs[d].depends {
            Some((_, true)) => resolve(g, d, index),
            _ if done => {
                for i in 0..g.jobs[d].children.len() as u32 {
                    resolve(g, d, i);
                }
            }
            _ => {}
        }
    }
}

fn update_bar(j: &Job) {
    if let Some(b) = &j.bar {
        let secs = j.first_start.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0).max(1e-3);
        b.set_position(j.terminal as u64);
        b.set_message(format!("failed {}  {:.0} records/s", j.failed, j.records_in as f64 / secs));
    }
}

/// A node's counts from its stage's done marker (the run layout's path).
fn read_counts(efs: &std::path::Path, run_id: &str, index: u32, stage: &str) -> Option<Counts> {
    let stage = contract::Stage::from_name(stage)?;
    let path = batch_jobs::RunLayout::new(efs, run_id).ok()?.node(index).done_path(stage);
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    Some(Counts {
        records_in: n("records_in"),
        records_out: n("records_out"),
        records_rejected: n("records_rejected"),
        objects: v.get("objects").and_then(Value::as_array).map_or(0, |a| a.len() as u64),
    })
}

fn describe(job: &Job, child: Option<usize>) -> Value {
    let mut d = json!({
        "jobName": job.name, "jobQueue": job.queue, "jobDefinition": job.definition,
        "createdAt": job.created_ms,
    });
    // `startedAt` only once something started, as AWS omits it before.
    let started_at = |t: Option<Instant>| t.map(|t| now_ms().saturating_sub(t.elapsed().as_millis() as u64));
    match child.and_then(|i| job.children.get(i).map(|c| (i, c))) {
        Some((i, c)) => {
            if let Some(ms) = started_at(c.started) {
                d["startedAt"] = json!(ms);
            }
            d["jobId"] = json!(format!("{}:{i}", job.id));
            d["status"] = json!(c.status.as_str());
            d["arrayProperties"] = json!({"index": i});
            if let Some(r) = &c.reason {
                d["statusReason"] = json!(r);
            }
        }
        None => {
            if let Some(ms) = started_at(job.first_start) {
                d["startedAt"] = json!(ms);
            }
            let status = job.status();
            d["jobId"] = json!(job.id);
            d["status"] = json!(status.as_str());
            if job.array {
                let mut summary = serde_json::Map::new();
                for s in ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"] {
                    summary.insert(
                        s.into(),
                        json!(job.children.iter().filter(|c| c.status.as_str() == s).count()),
                    );
                }
                d["arrayProperties"] = json!({"size": job.children.len(), "statusSummary": summary});
            }
            if status == Status::Failed {
                let failed = job.children.iter().filter(|c| c.status == Status::Failed).count();
                d["statusReason"] = json!(format!("{failed} of {} child jobs failed", job.children.len()));
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    #[test]
    fn stage_from_job_definition_names() {
        assert_eq!(
            super::stage_of("arn:aws:batch:us-east-1:1:job-definition/noaa-processing:3"),
            Some("processing")
        );
        assert_eq!(super::stage_of("noaa-egress"), Some("egress"));
        assert_eq!(super::stage_of("arn:jd/p-procurement:1"), Some("procurement"));
        assert_eq!(super::stage_of("something-else:1"), None);
        assert!(super::code_matches("7*", Some(75)));
        assert!(!super::code_matches("75", Some(65)));
        // No exit code (a signal, or the binary did not start): no rule
        // matches, not even "*", so the attempt is not retried.
        assert!(!super::code_matches("*", None));
        assert!(!super::code_matches("75", None));
    }

    #[test]
    fn exit_rules_are_read_as_aws_batch_reads_them() {
        use super::ExitRule;
        let rules = |v: serde_json::Value| -> Vec<ExitRule> {
            v.as_array().unwrap().iter().map(|r| ExitRule::from_json(r).unwrap()).collect()
        };
        // The provider's: 75 retries, anything else (a signal too) exits.
        let provider = ExitRule::provider_default();
        assert!(ExitRule::retries(&provider, Some(75)));
        assert!(!ExitRule::retries(&provider, Some(65)));
        assert!(!ExitRule::retries(&provider, None));
        // Order decides: an EXIT rule before a catch-all RETRY wins.
        let r = rules(serde_json::json!([
            {"OnExitCode": "1", "Action": "EXIT"}, {"OnExitCode": "*", "Action": "RETRY"}]));
        assert!(!ExitRule::retries(&r, Some(1)));
        assert!(ExitRule::retries(&r, Some(2)));
        // No rule matching, or no rules at all: retried.
        assert!(ExitRule::retries(
            &rules(serde_json::json!([{"OnExitCode": "7", "Action": "EXIT"}])),
            Some(1)
        ));
        assert!(ExitRule::retries(&[], None));
        // A lost host (status reason) never happens locally.
        let host = rules(serde_json::json!([
            {"OnStatusReason": "Host EC2*", "Action": "RETRY"}, {"OnReason": "*", "Action": "EXIT"}]));
        assert!(!ExitRule::retries(&host, Some(75)));
        assert!(ExitRule::from_json(&serde_json::json!({"OnExitCode": "1", "Action": "MAYBE"})).is_err());
    }

    /// The DescribeJobs / ListJobs stand-in answers as AWS does for what
    /// has not happened yet: no `startedAt` before a start, nothing for an
    /// index out of range, RUNNING jobs when no status is asked for.
    #[test]
    fn the_batch_api_stand_in_answers_like_aws_before_anything_ran() {
        use super::{BatchConfig, LocalBatch};
        use crate::http::Request;
        use serde_json::{Value, json};
        let batch = LocalBatch::new(BatchConfig {
            bin_dir: "/nonexistent".into(),
            efs_dir: "/nonexistent".into(),
            log_dir: "/nonexistent".into(),
            concurrency: 1,
            default_attempts: 1,
            rerun_only: None,
            inject: Vec::new(),
            progress: false,
            default_env: Vec::new(),
        });
        let submitted = batch
            .submit(&json!({"JobName": "p", "JobQueue": "q", "JobDefinition": "t-procurement:1",
                "ArrayProperties": {"Size": 3},
                "ContainerOverrides": {"Environment": [{"Name": "RUN_ID", "Value": "r"}]}}))
            .unwrap();
        let id = submitted["JobId"].as_str().unwrap().to_string();
        let call = |path: &str, body: Value| -> Value {
            let r = batch.handle_http(&Request {
                method: "POST".into(),
                path: path.into(),
                body: body.to_string().into_bytes(),
            });
            assert_eq!(r.status, 200);
            serde_json::from_slice(&r.body).unwrap()
        };
        let jobs =
            call("/v1/describejobs", json!({"jobs": [id.clone(), format!("{id}:1"), format!("{id}:99")]}));
        let jobs = jobs["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 2, "the out-of-range child is left out: {jobs:?}");
        assert_eq!(jobs[0]["jobId"], id.as_str());
        assert_eq!(jobs[0]["arrayProperties"]["size"], 3);
        assert_eq!(jobs[1]["jobId"], format!("{id}:1"));
        assert!(jobs.iter().all(|j| j.get("startedAt").is_none()), "nothing started: {jobs:?}");
        // A number where SubmitJob wants a string is refused, not dropped.
        let err = batch
            .submit(&json!({"JobName": "n", "JobQueue": "q", "JobDefinition": "t-processing:1",
                "ContainerOverrides": {"Environment": [{"Name": "RUN_ID", "Value": 7}]}}))
            .unwrap_err();
        assert!(err.cause.contains("RUN_ID") && err.cause.contains("string Value"), "{err:?}");
        let listed = call("/v1/listjobs", json!({"arrayJobId": id}));
        assert_eq!(listed["jobSummaryList"], json!([]), "no child is RUNNING");
        let listed = call("/v1/listjobs", json!({"arrayJobId": id, "jobStatus": "RUNNABLE"}));
        assert_eq!(listed["jobSummaryList"].as_array().map(Vec::len), Some(3), "{listed}");
    }
}
