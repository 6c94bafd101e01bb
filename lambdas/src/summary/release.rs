//! A failed incremental run releases its claims (docs/incremental.md), so
//! the next run takes its unfinished inputs at once instead of after
//! `claim_ttl_seconds`.
//!
//! The unfinished inputs are those in `prep/ledger.json` of every node
//! without an egress done marker (a finished node's egress has recorded
//! its inputs and deleted their claims already). One ListObjectsV2 of
//! `_ledger/claims/` finds which of them still have a claim; each is read
//! (who holds it) and deleted only if this run holds it, with
//! `If-Match: <the ETag read>`: a claim another run took over (an expired
//! one, or one taken between the read and the delete) has another ETag,
//! and S3 refuses the delete with 412. So a run only ever removes its own
//! claims.

use std::collections::BTreeSet;

use batch_jobs::RunLayout;
use batch_jobs::layout::{CLAIMS_DIR, Stage, claim_key};
use futures_util::StreamExt;
use serde::Serialize;

use crate::error::LambdaError;
use crate::prep::ledger::{lost_race, read_claim};

/// Requests in flight at once (as prep claims).
const CONCURRENCY: usize = 32;

/// Threads reading the nodes' ledger files (EFS round trips).
const READ_THREADS: usize = 16;

/// Errors named in the report (all are logged).
const MAX_NAMED: usize = 20;

/// What the release did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseReport {
    /// Inputs of nodes whose egress did not finish.
    pub inputs_unfinished: u64,
    /// Claims of this run deleted.
    pub released: u64,
    /// Claims held by another run (taken over), left alone.
    pub held_elsewhere: u64,
    /// Errors (the claims then lapse at their expiry, as before).
    pub errors: Vec<String>,
}

/// The ledger of the run's unfinished inputs.
#[derive(Debug, Default)]
pub struct Unfinished {
    /// The egress bucket and `<prefix>_ledger/`, from the nodes' files.
    pub ledger: Option<(String, String)>,
    /// The inputs' ids.
    pub ids: BTreeSet<String>,
    /// Ledger files that could not be read.
    pub problems: Vec<String>,
}

/// Reads `prep/ledger.json` of every node of `0..array_size` without an
/// egress done marker.
pub fn unfinished_inputs(layout: &RunLayout, array_size: u32) -> Unfinished {
    let threads = READ_THREADS.clamp(1, array_size.max(1) as usize);
    let per_thread = (array_size as usize).div_ceil(threads).max(1) as u32;
    let parts: Vec<Unfinished> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads as u32)
            .map(|t| {
                let from = t.saturating_mul(per_thread).min(array_size);
                let to = from.saturating_add(per_thread).min(array_size);
                scope.spawn(move || {
                    let mut part = Unfinished::default();
                    for index in from..to {
                        let node = layout.node(index);
                        if node.done_path(Stage::Egress).exists() {
                            continue;
                        }
                        match node.read_ledger() {
                            Ok(Some(ledger)) => {
                                part.ledger.get_or_insert((ledger.bucket, ledger.prefix));
                                part.ids.extend(ledger.inputs.into_iter().map(|i| i.id));
                            }
                            Ok(None) => {}
                            Err(e) => part.problems.push(format!("node {index}: {}", e.message)),
                        }
                    }
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Unfinished {
                    problems: vec!["a ledger reader thread panicked".into()],
                    ..Unfinished::default()
                })
            })
            .collect()
    });
    let mut all = Unfinished::default();
    for part in parts {
        if all.ledger.is_none() {
            all.ledger = part.ledger;
        }
        all.ids.extend(part.ids);
        all.problems.extend(part.problems);
    }
    all
}

/// Deletes this run's claims on `unfinished`'s inputs. Never fails: what
/// goes wrong is reported, and those claims lapse at their expiry.
pub async fn release(s3: &aws_sdk_s3::Client, run_id: &str, unfinished: Unfinished) -> ReleaseReport {
    let mut report = ReleaseReport { inputs_unfinished: unfinished.ids.len() as u64, ..Default::default() };
    for problem in unfinished.problems {
        note(&mut report, problem);
    }
    let Some((bucket, prefix)) = unfinished.ledger else { return report };
    if unfinished.ids.is_empty() {
        return report;
    }
    let claims = match crate::prep::ledger::list_ids(s3, &bucket, &format!("{prefix}{CLAIMS_DIR}")).await {
        Ok(claims) => claims,
        Err(e) => {
            note(&mut report, e.message);
            return report;
        }
    };
    let held: Vec<&String> = unfinished.ids.iter().filter(|id| claims.contains_key(*id)).collect();
    let outcomes: Vec<Result<bool, LambdaError>> = futures_util::stream::iter(held)
        .map(|id| {
            let key = claim_key(&prefix, id);
            let bucket = bucket.as_str();
            async move { release_one(s3, bucket, &key, run_id).await }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome {
            Ok(true) => report.released += 1,
            Ok(false) => report.held_elsewhere += 1,
            Err(e) => note(&mut report, e.message),
        }
    }
    tracing::info!(
        run_id,
        inputs_unfinished = report.inputs_unfinished,
        released = report.released,
        held_elsewhere = report.held_elsewhere,
        errors = report.errors.len(),
        ledger = %format!("s3://{bucket}/{prefix}"),
        "claims of a failed run released"
    );
    report
}

/// Deletes one claim if `run_id` holds it: true when deleted, false when
/// another run holds it (or it went meanwhile).
async fn release_one(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    run_id: &str,
) -> Result<bool, LambdaError> {
    let Some(holder) = read_claim(s3, bucket, key).await? else { return Ok(false) };
    if holder.run_id != run_id {
        return Ok(false);
    }
    match s3.delete_object().bucket(bucket).key(key).if_match(&holder.etag).send().await {
        Ok(_) => Ok(true),
        Err(e) if lost_race(&e) => Ok(false),
        Err(e) => Err(LambdaError::from_sdk(&format!("DeleteObject s3://{bucket}/{key}"), e)),
    }
}

fn note(report: &mut ReleaseReport, error: String) {
    tracing::warn!(error, "claim release");
    if report.errors.len() < MAX_NAMED {
        report.errors.push(error);
    }
}
