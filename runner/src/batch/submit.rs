//! SubmitJob and TerminateJob, checked and carried out as AWS Batch does.

use super::*;

impl LocalBatch {
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
        let queue = params.get("JobQueue").and_then(Value::as_str).unwrap_or("").to_string();
        let queue_slot = g.ready.queue_for(&queue, stage);
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
            queue,
            queue_slot,
            definition: definition.to_string(),
            stage: stage.to_string(),
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
}
