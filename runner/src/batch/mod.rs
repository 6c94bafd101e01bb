//! A local AWS Batch: SubmitJob runs array children as local processes of
//! the job binaries, with N_TO_N dependencies per index, bounded
//! concurrency and the job definition's retry strategy; DescribeJobs and
//! ListJobs are served over HTTP from the same job states so that the real
//! watcher binary can read them.
//!
//! - this file: the job graph's state (jobs, children, counts) and its
//!   lifecycle (workers started, all terminal, shutdown);
//! - `submit.rs`: SubmitJob and TerminateJob, checked as AWS Batch checks them;
//! - `worker.rs`: running children, retries, N_TO_N dependencies, counts;
//! - `api.rs`: DescribeJobs and ListJobs for the watcher;
//! - `queues.rs`: the job queues the slots serve, by priority then FIFO;
//! - `exit_rule.rs`: `EvaluateOnExit` rules;
//! - `injection.rs`: failures injected for tests.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

use crate::states_error::StatesError;
use testkit::http::{Request, Response};

mod api;
mod exit_rule;
mod injection;
mod queues;
mod submit;
mod worker;

pub use contract::STAGE_NAMES as STAGES;
pub use contract::naming::valid_job_name;
pub use exit_rule::ExitRule;
pub use injection::Injection;
pub use queues::{FIRST_STAGE_PRIORITY, LATER_STAGES_PRIORITY};

#[cfg(test)]
use exit_rule::code_matches;
use worker::{resolve, settle_dependents};

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
    /// Its queue among `Inner::ready`'s.
    queue_slot: usize,
    pub definition: String,
    pub stage: String,
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
    /// RUNNABLE nodes per job queue; the worker slots take them in the
    /// queues' priority order, FIFO within a queue.
    ready: queues::Queues,
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

    /// The job queues used so far and their priorities, in order of first use.
    pub fn queue_priorities(&self) -> Vec<(String, i32)> {
        self.lock().ready.priorities()
    }

    /// Starts the worker tasks (one per concurrency slot: the compute
    /// environment's vCPUs over the vCPUs of one job).
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

    pub fn finish_bars(&self) {
        let g = self.lock();
        for j in &g.jobs {
            if let Some(b) = &j.bar {
                b.finish();
            }
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
        use serde_json::{Value, json};
        use testkit::http::Request;
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
            let r = batch.handle_http(&Request::new("POST", path, body.to_string()));
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
