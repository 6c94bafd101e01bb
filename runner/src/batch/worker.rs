//! The workers: each runs ready array children as local processes of the
//! job binaries, applies the retry strategy, and moves the dependent nodes
//! on (N_TO_N per index).

use super::*;

impl LocalBatch {
    pub(super) async fn worker(self: Arc<Self>) {
        loop {
            let notified = self.work.notified();
            let next = {
                let mut g = self.lock();
                if g.shutdown {
                    return;
                }
                g.ready.pop()
            };
            let Some((job, index)) = next else {
                notified.await;
                continue;
            };
            self.run_child(job, index).await;
        }
    }

    pub(super) async fn run_child(&self, job: usize, index: u32) {
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
            let queue = j.queue_slot;
            g.ready.push(queue, job, index);
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
}

/// Moves a Pending child to Runnable or Failed once its dependency allows.
pub(super) fn resolve(g: &mut Inner, job: usize, index: u32) {
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
            let queue = g.jobs[job].queue_slot;
            g.ready.push(queue, job, index);
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
pub(super) fn settle_dependents(g: &mut Inner, job: usize, index: u32) {
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

/// A node's counts from its stage's done marker (the run layout's path).
pub(super) fn read_counts(efs: &std::path::Path, run_id: &str, index: u32, stage: &str) -> Option<Counts> {
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
