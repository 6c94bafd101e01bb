//! Retention of run directories on EFS (`config.retention`), run by the
//! Summarize step after it wrote its own run's summary.
//!
//! Which runs go (contract::run_config::Retention): only runs that have a
//! `run_summary.json` (they ended; a run without one is running, or never
//! got that far, and is kept), never the run being summarized, never a
//! directory whose summary cannot be read. A run that SUCCEEDED goes when
//! it is not among the `keep_runs` newest that succeeded or its summary is
//! older than `max_age_days`; a run that FAILED is kept for a rerun by its
//! id and goes only by age. "Newest" and "age" are the summary file's
//! modification time: when the run ended.
//!
//! How, safely:
//! - a run is first renamed to `runs/.trash/<run_id>.<nonce>`, one atomic
//!   rename: from then on no reader or writer finds it under `runs/`, and a
//!   half-removed directory is never mistaken for a run. Every pass starts
//!   by finishing what is in `.trash/` (a pass that crashed or ran out of
//!   time leaves it there). Run ids start with a letter or digit, so
//!   `.trash` is never a run.
//! - two passes at once: only one rename of a directory succeeds (the
//!   other finds it gone and moves on), and removing what another pass is
//!   removing treats "already gone" as done.
//! - a rerun of a run by its id removes the run's summary first (prep's
//!   replay), so it counts as running again. If that happens between this
//!   pass's reading of the summary and its rename, the pass sees the
//!   summary gone after the rename and renames the directory back.
//! - the work is bounded per pass ([`DEFAULT_BUDGET`]): what is left stays
//!   in `.trash/` for the next pass.
//!
//! Removal fans out over node directories ([`REMOVE_THREADS`] threads): on
//! EFS every unlink is a round trip, and a run of 10,000 nodes holds some
//! 60,000 entries.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use contract::run_config::Retention;
use serde::Serialize;

use crate::summary::SUMMARY_FILE;

/// `runs/.trash`: directories being removed.
pub const TRASH_DIR: &str = ".trash";

/// Threads removing one run's node directories (I/O bound on EFS).
pub const REMOVE_THREADS: usize = 16;

/// How long one pass may spend removing; the rest is the next pass's.
/// Well inside the prep function's timeout (the module's default is
/// 300 s), so the Summarize call ends by itself rather than being cut off.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);

/// Run ids named in the report (all are counted).
const MAX_NAMED: usize = 20;

const DAY: u64 = 86_400;

/// What a pass did: small whatever the number of runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Runs moved to `.trash/` and removed by this pass.
    pub runs_removed: u64,
    /// The first of them, by id.
    pub removed: Vec<String>,
    /// Run directories kept (the current run included).
    pub runs_kept: u64,
    /// Of those: without a summary (running, or never finished).
    pub runs_unfinished: u64,
    /// Leftovers of earlier passes finished by this one.
    pub trash_finished: u64,
    /// Directories left for the next pass (budget spent, or an error).
    pub trash_left: u64,
    /// Errors met (logged); the first are named.
    pub errors: Vec<String>,
}

/// One run directory and what its summary says.
#[derive(Debug, Clone)]
struct Finished {
    run_id: String,
    succeeded: bool,
    /// Unix seconds: the summary's modification time.
    ended: u64,
}

/// A run directory found under `runs/`.
#[derive(Debug, Clone)]
enum Found {
    Finished(Finished),
    /// No summary (running or never finished) or one that cannot be read.
    Unfinished,
}

/// Applies `retention` under `<efs_root>/runs/`, never touching `current`.
pub fn apply(efs_root: &Path, current: &str, retention: &Retention, now: SystemTime) -> RetentionReport {
    apply_with_budget(efs_root, current, retention, now, DEFAULT_BUDGET)
}

/// [`apply`] with a time budget (tests and the bench set their own).
pub fn apply_with_budget(
    efs_root: &Path,
    current: &str,
    retention: &Retention,
    now: SystemTime,
    budget: Duration,
) -> RetentionReport {
    let deadline = Instant::now() + budget;
    let runs = efs_root.join("runs");
    let trash = runs.join(TRASH_DIR);
    let mut report = RetentionReport::default();
    finish_trash(&trash, deadline, &mut report);

    let mut finished = Vec::new();
    let entries = match std::fs::read_dir(&runs) {
        Ok(entries) => entries,
        Err(e) => {
            report.errors.push(format!("{}: {e}", runs.display()));
            return report;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_run_dir(&entry, &name) {
            continue;
        }
        if name == current {
            report.runs_kept += 1;
            continue;
        }
        match inspect(&entry.path(), &name) {
            Found::Finished(run) => finished.push(run),
            Found::Unfinished => {
                report.runs_kept += 1;
                report.runs_unfinished += 1;
            }
        }
    }
    let doomed = choose(finished, current_succeeded(&runs, current), retention, unix(now));
    report.runs_kept += doomed.kept;
    for run_id in doomed.remove {
        if Instant::now() >= deadline {
            report.runs_kept += 1;
            continue;
        }
        match retire(&runs, &trash, &run_id) {
            Ok(Some(moved)) => match remove_tree(&moved, deadline) {
                Ok(()) => {
                    report.runs_removed += 1;
                    if report.removed.len() < MAX_NAMED {
                        report.removed.push(run_id);
                    }
                }
                Err(e) => {
                    report.trash_left += 1;
                    note(&mut report, format!("{}: {e}", moved.display()));
                }
            },
            // Gone already (another pass), or back in use (a rerun).
            Ok(None) => report.runs_kept += u64::from(runs.join(&run_id).is_dir()),
            Err(e) => {
                report.runs_kept += 1;
                note(&mut report, format!("{run_id}: {e}"));
            }
        }
    }
    tracing::info!(
        runs_removed = report.runs_removed,
        runs_kept = report.runs_kept,
        runs_unfinished = report.runs_unfinished,
        trash_finished = report.trash_finished,
        trash_left = report.trash_left,
        errors = report.errors.len(),
        removed = ?report.removed,
        "retention applied"
    );
    report
}

fn note(report: &mut RetentionReport, error: String) {
    tracing::warn!(error, "retention");
    if report.errors.len() < MAX_NAMED {
        report.errors.push(error);
    }
}

/// A directory whose name is a run id (not `.trash`, not a temp file).
fn is_run_dir(entry: &std::fs::DirEntry, name: &str) -> bool {
    entry.file_type().is_ok_and(|t| t.is_dir()) && batch_jobs::RunLayout::new("/", name).is_ok()
}

/// What `dir`'s summary says.
fn inspect(dir: &Path, run_id: &str) -> Found {
    let path = dir.join(SUMMARY_FILE);
    let Ok(bytes) = std::fs::read(&path) else { return Found::Unfinished };
    let Ok(summary) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        tracing::warn!(path = %path.display(), "unreadable run summary; the run is kept");
        return Found::Unfinished;
    };
    if summary.get("run_id").and_then(|v| v.as_str()) != Some(run_id) {
        tracing::warn!(path = %path.display(), "run summary of another run; the run is kept");
        return Found::Unfinished;
    }
    let succeeded = match summary.get("status").and_then(|v| v.as_str()) {
        Some("SUCCEEDED") => true,
        Some("FAILED") => false,
        _ => return Found::Unfinished,
    };
    let ended = std::fs::metadata(&path).and_then(|m| m.modified()).map(unix).unwrap_or(u64::MAX);
    Found::Finished(Finished { run_id: run_id.to_string(), succeeded, ended })
}

/// Whether the current run succeeded (its summary was just written): it
/// then takes one of the `keep_runs` places.
fn current_succeeded(runs: &Path, current: &str) -> bool {
    matches!(inspect(&runs.join(current), current), Found::Finished(Finished { succeeded: true, .. }))
}

/// Which finished runs go.
struct Choice {
    remove: Vec<String>,
    kept: u64,
}

fn choose(mut runs: Vec<Finished>, current_succeeded: bool, retention: &Retention, now: u64) -> Choice {
    // Newest first; the id breaks ties so every pass chooses the same.
    runs.sort_by(|a, b| b.ended.cmp(&a.ended).then_with(|| b.run_id.cmp(&a.run_id)));
    let mut places = retention.keep_runs.map(|n| u64::from(n).saturating_sub(u64::from(current_succeeded)));
    let too_old = |run: &Finished| {
        retention.max_age_days.is_some_and(|d| now.saturating_sub(run.ended) > u64::from(d) * DAY)
    };
    let mut choice = Choice { remove: Vec::new(), kept: 0 };
    for run in runs {
        let beyond_count = run.succeeded
            && match places.as_mut() {
                Some(0) => true,
                Some(n) => {
                    *n -= 1;
                    false
                }
                None => false,
            };
        if beyond_count || too_old(&run) {
            choice.remove.push(run.run_id);
        } else {
            choice.kept += 1;
        }
    }
    choice
}

/// Moves `runs/<run_id>` into the trash; `None` when it is gone already or
/// a rerun took it back meanwhile (then it is put back).
fn retire(runs: &Path, trash: &Path, run_id: &str) -> std::io::Result<Option<PathBuf>> {
    std::fs::create_dir_all(trash)?;
    let nonce = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let moved = trash.join(format!("{run_id}.{}-{nonce}", std::process::id()));
    match std::fs::rename(runs.join(run_id), &moved) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    if moved.join(SUMMARY_FILE).exists() {
        return Ok(Some(moved));
    }
    // A rerun's prep removed the summary between our reading it and the
    // rename: the run is live again. Put it back (if the rerun recreated
    // the directory meanwhile this fails, and the rerun redoes its nodes).
    tracing::warn!(run_id, "a rerun started while the run was being removed; putting it back");
    match std::fs::rename(&moved, runs.join(run_id)) {
        Ok(()) => Ok(None),
        Err(e) => {
            tracing::warn!(run_id, error = %e, "could not put the run back; its directory is removed");
            Ok(Some(moved))
        }
    }
}

/// Finishes every directory left in the trash by an earlier pass.
fn finish_trash(trash: &Path, deadline: Instant, report: &mut RetentionReport) {
    let Ok(entries) = std::fs::read_dir(trash) else { return };
    for entry in entries.flatten() {
        if Instant::now() >= deadline {
            report.trash_left += 1;
            continue;
        }
        match remove_tree(&entry.path(), deadline) {
            Ok(()) => report.trash_finished += 1,
            Err(e) => {
                report.trash_left += 1;
                note(report, format!("{}: {e}", entry.path().display()));
            }
        }
    }
}

/// Removes a run directory: its node directories in parallel, then the
/// rest. "Already gone" counts as removed (another pass got there first).
pub fn remove_tree(dir: &Path, deadline: Instant) -> std::io::Result<()> {
    remove_tree_with_threads(dir, deadline, REMOVE_THREADS)
}

/// [`remove_tree`] with `threads` removers (the bench compares).
pub fn remove_tree_with_threads(dir: &Path, deadline: Instant, threads: usize) -> std::io::Result<()> {
    let nodes = dir.join("nodes");
    let children: Vec<PathBuf> = match std::fs::read_dir(&nodes) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let threads = threads.clamp(1, children.len().max(1));
    let per_thread = children.len().div_ceil(threads).max(1);
    let results: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = children
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    for child in chunk {
                        if Instant::now() >= deadline {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                "time budget spent; the next pass finishes it",
                            ));
                        }
                        remove_all(child)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("a remover thread panicked"))))
            .collect()
    });
    for result in results {
        result?;
    }
    remove_all(dir)
}

/// `remove_dir_all` (or `remove_file`), where a path that vanished under
/// us, by another pass, is success.
fn remove_all(path: &Path) -> std::io::Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(()),
        Err(_) if !path.exists() => Ok(()),
        Err(e) => Err(e),
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, succeeded: bool, ended: u64) -> Finished {
        Finished { run_id: id.into(), succeeded, ended }
    }

    #[test]
    fn keep_runs_counts_successes_newest_first_and_age_takes_both() {
        let runs = vec![
            run("a", true, 100),
            run("b", true, 300),
            run("c", false, 250),
            run("d", true, 200),
            run("e", false, 10),
        ];
        let keep2 = Retention { keep_runs: Some(2), max_age_days: None };
        // The current run succeeded: one place left, b (newest).
        let c = choose(runs.clone(), true, &keep2, 1_000);
        assert_eq!(c.remove, vec!["d", "a"]);
        assert_eq!(c.kept, 3, "b and both failed runs");
        // The current run failed: two places.
        assert_eq!(choose(runs.clone(), false, &keep2, 1_000).remove, vec!["a"]);
        // Age: older than one day at now = 100 + 86,400 + 1 -> a and e.
        let age = Retention { keep_runs: None, max_age_days: Some(1) };
        let c = choose(runs.clone(), true, &age, 100 + DAY + 1);
        assert_eq!(c.remove, vec!["a", "e"]);
        // Both: either rule removes.
        let both = Retention { keep_runs: Some(2), max_age_days: Some(1) };
        assert_eq!(choose(runs, true, &both, 100 + DAY + 1).remove, vec!["d", "a", "e"]);
    }
}
