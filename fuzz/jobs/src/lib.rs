//! What the jobs' fuzz targets share: splitting one input into parts,
//! a reader that hands its data over a few bytes at a time, and the checks
//! every transform's rejects output must pass.

use std::io::{self, Read};

use batch_jobs::transform::csv::RejectRecord;
use batch_jobs::transform::reject::RejectCounts;

/// Between the settings part of an input (a rule set, calculations) and
/// the data part.
pub const SEPARATOR: &[u8] = b"\n===\n";

/// `(settings, data)` of an input holding [`SEPARATOR`], else `None`.
pub fn split_settings(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = input.windows(SEPARATOR.len()).position(|w| w == SEPARATOR)?;
    Some((&input[..at], &input[at + SEPARATOR.len()..]))
}

/// Gives its data at most `step` bytes per `read`, so the record reader
/// sees records cut at every possible place across blocks.
pub struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl<'a> Trickle<'a> {
    pub fn new(data: &'a [u8], step: usize) -> Self {
        Trickle { data, step: step.max(1) }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.len().min(self.step).min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A read step chosen by the data itself (1..=7 bytes), so one input
/// always takes the same path and a crash reproduces.
pub fn step_for(data: &[u8]) -> usize {
    data.iter().fold(0usize, |h, &b| h.wrapping_mul(31).wrapping_add(usize::from(b))) % 7 + 1
}

/// Checks a rejects output against its counts: one JSON object per line
/// in the documented shape, line numbers increasing, as many lines as
/// `records_rejected`, and the per-rule and per-field counts summing up.
pub fn check_rejects(rejects: &[u8], counts: &RejectCounts) {
    check_rejects_lines(rejects, counts, false);
}

/// [`check_rejects`], where `shared_lines` lets records that start on
/// the same line follow each other (XML elements, unlike CSV records,
/// can share a line).
pub fn check_rejects_lines(rejects: &[u8], counts: &RejectCounts, shared_lines: bool) {
    let text = std::str::from_utf8(rejects).expect("the rejects output is UTF-8");
    let mut lines = 0u64;
    let mut last_line = 0u64;
    let mut by_rule = std::collections::BTreeMap::<String, u64>::new();
    let mut by_field = std::collections::BTreeMap::<String, u64>::new();
    for line in text.split_terminator('\n') {
        let record: RejectRecord = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("reject line is not a reject record ({e}): {line:?}"));
        assert!(
            record.line > last_line || (shared_lines && record.line == last_line && record.line > 0),
            "reject line numbers must increase: {line:?}"
        );
        last_line = record.line;
        *by_rule.entry(record.rule).or_default() += 1;
        if let Some(field) = record.field {
            *by_field.entry(field).or_default() += 1;
        }
        lines += 1;
    }
    assert!(rejects.is_empty() || rejects.ends_with(b"\n"), "the rejects output ends with a newline");
    assert_eq!(lines, counts.records_rejected, "reject lines vs records_rejected");
    assert_eq!(by_rule, counts.rejects_by_rule, "rejects_by_rule vs the reject lines");
    assert_eq!(by_field, counts.rejects_by_field, "rejects_by_field vs the reject lines");
}

/// What one CSV validation gave.
#[derive(Debug, PartialEq)]
pub struct CsvRun {
    pub result: Result<batch_jobs::transform::csv::CsvStats, String>,
    pub clean: Vec<u8>,
    pub rejects: Vec<u8>,
}

/// Validates `data` with `rules`.
pub fn validate(
    rules: &batch_jobs::transform::csv::CompiledRules,
    options: batch_jobs::transform::csv::ValidateOptions,
    input: impl Read,
) -> CsvRun {
    let (mut clean, mut rejects) = (Vec::new(), Vec::new());
    let result = batch_jobs::transform::csv::validate_csv(rules, options, input, &mut clean, &mut rejects)
        .map_err(|e| e.to_string());
    CsvRun { result, clean, rejects }
}

/// A rule set compiled as given and as plain data (no header line), for
/// [`check_csv`]; `None` if it does not compile.
pub fn compile_both(
    rule_set: &batch_jobs::transform::csv::RuleSet,
) -> Option<(batch_jobs::transform::csv::CompiledRules, batch_jobs::transform::csv::CompiledRules)> {
    use batch_jobs::transform::csv::CompiledRules;
    let rules = CompiledRules::compile(rule_set).ok()?;
    let mut as_data = rule_set.clone();
    as_data.dialect.header = false;
    let as_data =
        CompiledRules::compile(&as_data).expect("a rule set that compiles with a header compiles without");
    Some((rules, as_data))
}

/// Everything the CSV validator promises (docs/jobs.md), on one input:
/// - every record goes to exactly one output:
///   `records_in == records_clean + records_rejected`, and the rejects
///   output holds one well-formed reject per rejected record;
/// - the same output whatever the path (fast checks on or off) and however
///   the reads fall (the data a few bytes per read);
/// - the clean output is clean: validated again (as data, with `as_data`,
///   the same rules without a header line) every record passes and comes
///   out byte for byte.
pub fn check_csv(
    rules: &batch_jobs::transform::csv::CompiledRules,
    as_data: &batch_jobs::transform::csv::CompiledRules,
    data: &[u8],
) {
    use batch_jobs::transform::csv::ValidateOptions;
    // Small buffers: records cross block boundaries and the over-long
    // path is reached with small inputs (and 4 MiB buffers per run would
    // cut the executions per second a hundredfold).
    let options = ValidateOptions {
        max_record_bytes: 256,
        buffer_bytes: 1024,
        max_unique_keys: 10_000,
        ..ValidateOptions::default()
    };
    let run = validate(rules, options, data);
    let stats = match &run.result {
        Ok(stats) => stats,
        // A bad header or too many keys stops the file: nothing is
        // committed downstream, so the outputs do not matter.
        Err(_) => return,
    };
    assert_eq!(stats.bytes_in, data.len() as u64, "bytes_in counts every byte read");
    assert_eq!(
        stats.records_in,
        stats.records_clean + stats.rejects.records_rejected,
        "records_in == records_clean + records_rejected"
    );
    check_rejects(&run.rejects, &stats.rejects);
    assert!(run.clean.is_empty() || run.clean.ends_with(b"\n"), "clean output ends with a newline");

    let slow = validate(rules, ValidateOptions { fast_path: false, ..options }, data);
    assert_eq!(run, slow, "the fast checks and the general path disagree");
    let trickled = validate(rules, options, Trickle::new(data, step_for(data)));
    assert_eq!(run, trickled, "the output depends on how the reads fell");

    let again = validate(as_data, options, run.clean.as_slice());
    let again_stats = again.result.as_ref().expect("the clean output validates");
    assert_eq!(
        again_stats.rejects.records_rejected,
        0,
        "clean output rejected: {:?}",
        String::from_utf8_lossy(&again.rejects)
    );
    assert_eq!(again_stats.records_clean, stats.records_clean, "clean output has another record count");
    assert_eq!(again.clean, run.clean, "clean output changed when validated again");
}
