//! The Batch API stand-in the real watcher reads: DescribeJobs and
//! ListJobs over HTTP, answered from the same job states.

use super::*;

impl LocalBatch {
    /// The Batch API stand-in (DescribeJobs, ListJobs) for the watcher.
    pub fn handle_http(&self, req: &Request) -> Response {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let g = self.lock();
        match (req.method.as_str(), req.target.as_str()) {
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
                &json!({"__type": "ClientException", "message": format!("the local Batch serves DescribeJobs and ListJobs only, not {} {}", req.method, req.target)}),
            ),
        }
    }
}

pub(super) fn describe(job: &Job, child: Option<usize>) -> Value {
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
