//! Incremental runs (docs/incremental.md): which listed inputs this run
//! takes. An input is skipped when the ledger has its done record (one
//! ListObjectsV2 of `_ledger/done/` for the whole run, not a request per
//! input) or when another run holds a live claim on it; every other input
//! is claimed with a conditional PutObject before it goes into a slice:
//!
//! - no claim: `If-None-Match: *` — of two runs racing for it, S3 lets
//!   exactly one create the object; the other gets 412 (or 409 while the
//!   first write is in flight) and leaves the input;
//! - an expired claim (its run is past its deadline: the watcher has
//!   terminated that run's jobs, so nobody works on it any more) is taken
//!   over with `If-Match: <its ETag>` — of two runs taking over the same
//!   claim only the first write matches;
//! - a claim of this same run (a retried prep) is kept.
//!
//! Egress deletes a claim once it has written the input's done record;
//! the claims of a node that failed lapse at their expiry
//! (`claim_ttl_seconds`, longer than a run may take).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use batch_jobs::layout::{CLAIMS_DIR, DONE_DIR, InputIdentity, LedgerInput, id_of_key};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, LambdaError};
use crate::prep::listing::SourceObject;

/// Claims in flight at once.
const CLAIM_CONCURRENCY: usize = 32;

/// Where the ledger is and who is asking.
#[derive(Debug, Clone)]
pub struct LedgerSpec {
    /// The egress bucket.
    pub bucket: String,
    /// `<egress prefix>/_ledger/`.
    pub prefix: String,
    /// This run.
    pub run_id: String,
    /// How long this run's claims hold.
    pub claim_ttl_seconds: u32,
    /// `overrides.full`: ignore the done records (claims still apply).
    pub full: bool,
}

/// What the ledger did to the listing (prep's response `ledger`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerSummary {
    /// Inputs listed.
    pub listed: u64,
    /// Skipped: finished by an earlier run.
    pub done: u64,
    /// Skipped: another run holds a live claim (or won the race for it).
    pub claimed_elsewhere: u64,
    /// Taken over from an expired claim.
    pub taken_over: u64,
    /// Claimed by this run (including taken over): what it processes.
    pub claimed: u64,
}

/// A claim's body.
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    run_id: String,
    /// Unix seconds.
    claimed_at: u64,
    /// Unix seconds after which another run may take the input.
    expires_at: u64,
    input: InputIdentity,
}

/// How one claim attempt ended.
enum Outcome {
    Claimed,
    TakenOver,
    Elsewhere,
}

/// The inputs of `objects` this run takes, in the listing's order, each
/// with its ledger entry; `identity` says what each object is.
pub async fn take_new(
    s3: &aws_sdk_s3::Client,
    spec: &LedgerSpec,
    objects: Vec<SourceObject>,
    identity: impl Fn(&SourceObject) -> InputIdentity,
    now: u64,
) -> Result<(Vec<(SourceObject, LedgerInput)>, LedgerSummary), LambdaError> {
    let mut summary = LedgerSummary { listed: objects.len() as u64, ..LedgerSummary::default() };
    let done: HashSet<String> = if spec.full {
        HashSet::new()
    } else {
        list_ids(s3, &spec.bucket, &format!("{}{DONE_DIR}", spec.prefix)).await?.into_keys().collect()
    };
    let mut fresh = Vec::with_capacity(objects.len());
    for object in objects {
        let input = identity(&object);
        let entry = LedgerInput { id: input.id(), input };
        if done.contains(&entry.id) {
            summary.done += 1;
        } else {
            fresh.push((object, entry));
        }
    }
    if fresh.is_empty() {
        return Ok((Vec::new(), summary));
    }
    let claims = Arc::new(list_ids(s3, &spec.bucket, &format!("{}{CLAIMS_DIR}", spec.prefix)).await?);
    let outcomes: Vec<Result<Outcome, LambdaError>> = futures_util::stream::iter(fresh.iter())
        .map(|(_, entry)| {
            let claims = Arc::clone(&claims);
            async move { claim(s3, spec, entry, claims.get(&entry.id).map(String::as_str), now).await }
        })
        .buffered(CLAIM_CONCURRENCY)
        .collect()
        .await;
    let mut taken = Vec::with_capacity(fresh.len());
    for (item, outcome) in fresh.into_iter().zip(outcomes) {
        match outcome? {
            Outcome::Claimed => taken.push(item),
            Outcome::TakenOver => {
                summary.taken_over += 1;
                taken.push(item);
            }
            Outcome::Elsewhere => summary.claimed_elsewhere += 1,
        }
    }
    summary.claimed = taken.len() as u64;
    tracing::info!(
        ledger = %format!("s3://{}/{}", spec.bucket, spec.prefix),
        listed = summary.listed,
        done = summary.done,
        claimed_elsewhere = summary.claimed_elsewhere,
        taken_over = summary.taken_over,
        claimed = summary.claimed,
        full = spec.full,
        "incremental: inputs taken"
    );
    Ok((taken, summary))
}

/// The ids under `folder` with each object's ETag (all pages).
pub(crate) async fn list_ids(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    folder: &str,
) -> Result<HashMap<String, String>, LambdaError> {
    let what = format!("ListObjectsV2 s3://{bucket}/{folder}");
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(folder).into_paginator().send();
    let mut ids = HashMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| LambdaError::from_sdk(&what, e))?;
        for object in page.contents() {
            if let Some(id) = object.key().and_then(|k| id_of_key(folder, k)) {
                ids.insert(id.to_string(), object.e_tag().unwrap_or_default().to_string());
            }
        }
    }
    Ok(ids)
}

/// Claims one input; `listed` is its claim's ETag when the listing showed one.
async fn claim(
    s3: &aws_sdk_s3::Client,
    spec: &LedgerSpec,
    entry: &LedgerInput,
    listed: Option<&str>,
    now: u64,
) -> Result<Outcome, LambdaError> {
    let key = batch_jobs::layout::claim_key(&spec.prefix, &entry.id);
    let body = Claim {
        run_id: spec.run_id.clone(),
        claimed_at: now,
        expires_at: now + u64::from(spec.claim_ttl_seconds),
        input: entry.input.clone(),
    };
    let body = serde_json::to_vec(&body).map_err(|e| LambdaError::internal(format!("claim: {e}")))?;
    let put = |condition: Condition<'_>| {
        let request = s3
            .put_object()
            .bucket(&spec.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body.clone()));
        match condition {
            Condition::Absent => request.if_none_match("*"),
            Condition::Is(etag) => request.if_match(etag),
        }
    };
    let what = format!("PutObject s3://{}/{key}", spec.bucket);
    if listed.is_none() {
        match put(Condition::Absent).send().await {
            Ok(_) => return Ok(Outcome::Claimed),
            Err(e) if lost_race(&e) => {}
            Err(e) => return Err(LambdaError::from_sdk(&what, e)),
        }
    }
    // A claim exists (listed, or created since by another run): whose?
    let Some(existing) = read_claim(s3, &spec.bucket, &key).await? else {
        // Deleted since (its input is done now): leave it, the next run
        // sees the done record or takes it.
        return Ok(Outcome::Elsewhere);
    };
    if existing.run_id == spec.run_id {
        return Ok(Outcome::Claimed);
    }
    if existing.expires_at > now {
        return Ok(Outcome::Elsewhere);
    }
    match put(Condition::Is(&existing.etag)).send().await {
        Ok(_) => {
            tracing::info!(id = entry.id, previous_run = existing.run_id, "took over an expired claim");
            Ok(Outcome::TakenOver)
        }
        Err(e) if lost_race(&e) => Ok(Outcome::Elsewhere),
        Err(e) => Err(LambdaError::from_sdk(&what, e)),
    }
}

enum Condition<'a> {
    Absent,
    Is(&'a str),
}

/// A conditional write another run won: 412 Precondition Failed, 409
/// ConditionalRequestConflict (a competing write in flight) or, for
/// `If-Match`, 404 (the claim was deleted meanwhile).
pub(crate) fn lost_race<E: ProvideErrorMetadata>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    match err.raw_response().map(|r| r.status().as_u16()) {
        Some(412 | 409) => true,
        // Not a missing bucket: that is a real error.
        Some(404) => err.as_service_error().and_then(ProvideErrorMetadata::code) == Some("NoSuchKey"),
        _ => false,
    }
}

/// Who holds an existing claim, and its ETag (for the takeover, and for
/// the release of a failed run's claims).
pub(crate) struct Holder {
    pub(crate) run_id: String,
    pub(crate) expires_at: u64,
    pub(crate) etag: String,
}

/// The claim's holder; `None` when the claim does not exist.
pub(crate) async fn read_claim(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Holder>, LambdaError> {
    let what = format!("GetObject s3://{bucket}/{key}");
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
        Err(e) => return Err(LambdaError::from_sdk(&what, e)),
    };
    let etag = out.e_tag().unwrap_or_default().to_string();
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| LambdaError::new(ErrorKind::AwsUnavailable, format!("{what}: reading the body: {e}")))?
        .into_bytes();
    match serde_json::from_slice::<Claim>(&bytes) {
        Ok(claim) => Ok(Some(Holder { run_id: claim.run_id, expires_at: claim.expires_at, etag })),
        // Not prep's (written by hand?): expired, so the input is not stuck
        // behind it for ever.
        Err(e) => {
            tracing::warn!(key, error = %e, "unreadable claim; treating it as expired");
            Ok(Some(Holder { run_id: String::new(), expires_at: 0, etag }))
        }
    }
}
