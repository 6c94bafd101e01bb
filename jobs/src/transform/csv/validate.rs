//! The streaming CSV validator: reads any amount of input through a fixed
//! buffer, sends each record to exactly one of the clean output or the
//! rejects output, and counts.
//!
//! Speed comes from four choices: input is read in blocks small enough to
//! stay in cache (by the transforms' one reader,
//! [`crate::transform::records`], which also drops a BOM and skips
//! over-long records); records and fields are found by walking the set
//! bits of bitmasks of the block ([`crate::transform::classify`]) instead
//! of every byte; a plain ASCII row first goes through compiled per-field
//! checks ([`super::fast`]) and only a row they do not pass takes the
//! general path, which decides again and names the reason; and runs of
//! clean records are copied whole into a 256 KiB output block (one copy
//! per run, one `write` per block: [`crate::transform::output`]). Quoted
//! records (any `"`) take a byte-by-byte RFC 4180 path.
//!
//! Output contract (docs/jobs.md):
//! - clean output = the clean input records byte for byte, terminators
//!   included, with a `\n` added after an unterminated last record and a
//!   leading UTF-8 BOM removed;
//! - one JSON object per rejected record in the rejects output;
//! - `records_in == records_clean + records_rejected`.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use super::compiled::CompiledRules;
use super::fast::{Batch, FastRules, PAD};
use super::record_end::RecordEnd;
use super::rules::Violation;
use crate::transform::classify::{MaskArrays, set_bits, window};
use crate::transform::output::OutputBlock;
use crate::transform::records::{Block, RecordReader, RecordSink, TOO_LONG_RULE, too_long_reject};
use crate::transform::reject::{RejectCounts, write_reject};

/// Tuning that bounds memory.
#[derive(Debug, Clone, Copy)]
pub struct ValidateOptions {
    /// Records longer than this are rejected (`recordTooLong`) without
    /// being buffered whole.
    pub max_record_bytes: usize,
    /// Read buffer size (at least `2 * max_record_bytes` is used).
    pub buffer_bytes: usize,
    /// Upper bound on distinct keys remembered for `unique`/`primaryKey`
    /// (~16 bytes each); exceeding it fails the file with a config error.
    pub max_unique_keys: usize,
    /// Pass plain rows through the compiled fast checks first (the
    /// default). Off, every row takes the general path: same output,
    /// slower; the tests compare the two.
    pub fast_path: bool,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            max_record_bytes: 1 << 20,
            buffer_bytes: 4 << 20,
            max_unique_keys: 2_000_000,
            fast_path: true,
        }
    }
}

/// Counts for one validated input; serialised as the stats file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvStats {
    /// Bytes read (including a BOM and the header).
    pub bytes_in: u64,
    /// Data records read (the header is not a record).
    pub records_in: u64,
    /// Records written to the clean output.
    pub records_clean: u64,
    /// Records written to the rejects output, and why.
    #[serde(flatten)]
    pub rejects: RejectCounts,
}

/// What stops validation of a file as a whole.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// Reading input or writing output failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The header names do not match the schema.
    #[error("header {found:?} does not match schema fields {expected:?}")]
    Header {
        /// Names found.
        found: Vec<String>,
        /// Names expected.
        expected: Vec<String>,
    },
    /// More distinct keys than `max_unique_keys`.
    #[error("more than {0} distinct unique/primaryKey values; raise max_unique_keys or drop the constraint")]
    TooManyUniqueKeys(usize),
}

/// One line of the rejects output.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RejectRecord {
    /// 1-based line number where the record starts.
    pub line: u64,
    /// The field that failed, when the reason is about one field.
    pub field: Option<String>,
    /// The rule that failed.
    pub rule: String,
    /// Human-readable reason.
    pub reason: String,
    /// The raw record (lossy UTF-8, cut at 1024 bytes).
    pub record: String,
}

/// Identity hasher for sets of precomputed 64-bit fingerprints.
#[derive(Default)]
struct Fingerprint(u64);

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type FingerprintSet = HashSet<u64, BuildHasherDefault<Fingerprint>>;

/// Validates `input` against `rules`, writing clean records to `clean`
/// and reject lines to `rejects`.
///
/// Clean records go to `clean` in blocks of 256 KiB, so `clean` needs no
/// buffering of its own; `rejects` gets one small write per reject and
/// should be buffered.
pub fn validate_csv<R: Read>(
    rules: &CompiledRules,
    options: ValidateOptions,
    input: R,
    clean: &mut dyn Write,
    rejects: &mut dyn Write,
) -> Result<CsvStats, CsvError> {
    // PAD readable bytes past the data: the fast checks load whole words.
    let mut reader = RecordReader::new(options.max_record_bytes, options.buffer_bytes, PAD);
    let mut engine = Engine::new(rules, options, &reader, clean, rejects);
    engine.stats.bytes_in = reader.read_all(input, &mut engine)?;
    engine.finish()
}

/// Outcome of parsing one quoted record.
enum Quoted {
    NeedMore,
    Done {
        /// End of the record content (at its terminator).
        end: usize,
        /// Start of the next record.
        next: usize,
        /// Newlines inside quotes.
        inner_lines: u64,
        /// A quoting error, if any.
        error: Option<&'static str>,
    },
}

struct Engine<'r, 'w> {
    rules: &'r CompiledRules,
    /// The row checks of the fast path (`None` when the rule set needs
    /// the general path for every row).
    fast: Option<&'r FastRules>,
    options: ValidateOptions,
    max_record: usize,
    /// Clean output, handed to its writer in blocks.
    clean: OutputBlock<'w>,
    rejects: &'w mut dyn Write,
    stats: CsvStats,
    /// Line number of the next record.
    line: u64,
    header_pending: bool,
    /// Byte classes of the block being scanned.
    masks: MaskArrays,
    /// Rows waiting for the fast checks (`None` without a fast path).
    batch: Option<Batch>,
    /// Runs of clean records (byte ranges of the block) not yet copied.
    runs: Vec<(usize, usize)>,
    /// (start, end) of fields of the current general-path record.
    fields: Vec<(usize, usize)>,
    /// Unescaped field contents of a quoted record.
    scratch: Vec<u8>,
    scratch_fields: Vec<(usize, usize)>,
    unique: Vec<FingerprintSet>,
    primary: FingerprintSet,
    keys: usize,
    reject_buf: Vec<u8>,
    /// The end of the over-long record being skipped.
    over_long: RecordEnd,
}

impl<'r, 'w> Engine<'r, 'w> {
    fn new(
        rules: &'r CompiledRules,
        options: ValidateOptions,
        reader: &RecordReader,
        clean: &'w mut dyn Write,
        rejects: &'w mut dyn Write,
    ) -> Self {
        // Batches hold u32 positions into the read buffer.
        let small_buffer = reader.buffer_len() <= u32::MAX as usize;
        let max_record = reader.max_record();
        let fast = if options.fast_path && small_buffer { rules.fast() } else { None };
        Engine {
            rules,
            batch: fast.map(|fast| Batch::new(fast, max_record)),
            fast,
            options,
            max_record,
            clean: OutputBlock::new(clean),
            rejects,
            stats: CsvStats::default(),
            line: 1,
            header_pending: rules.header,
            masks: MaskArrays::default(),
            runs: Vec::with_capacity(256),
            fields: Vec::with_capacity(rules.fields.len() + 1),
            scratch: Vec::new(),
            scratch_fields: Vec::new(),
            unique: rules.fields.iter().map(|_| FingerprintSet::default()).collect(),
            primary: FingerprintSet::default(),
            keys: 0,
            reject_buf: Vec::with_capacity(256),
            over_long: RecordEnd::new(rules.delimiter),
        }
    }

    fn finish(mut self) -> Result<CsvStats, CsvError> {
        self.clean.finish()?;
        self.rejects.flush()?;
        Ok(self.stats)
    }

    /// The record loop of [`RecordSink::records`]: clean runs are collected in
    /// `self.runs`; returns the end of what was consumed and whether a
    /// `\n` must follow the last run (an unterminated last record).
    ///
    /// Plain ASCII rows are gathered into a [`Batch`] and checked column
    /// by column; any other row (the header, quotes, non-ASCII) first
    /// flushes the batch, so records are still handled in order.
    fn scan_rows(
        &mut self,
        padded: &[u8],
        len: usize,
        from: usize,
        eof: bool,
        masks: &MaskArrays,
        fast: Option<&FastRules>,
    ) -> Result<(usize, bool), CsvError> {
        let data = &padded[..len];
        let any_special = masks.special.iter().any(|&w| w != 0);
        let mut batch = self.batch.take();
        let mut run_start = from; // first byte of clean records not yet in `runs`
        let mut rs = from; // start of the current record
        if let (Some(fast), Some(batch)) = (fast, batch.as_mut())
            && !any_special
            && !self.header_pending
        {
            // The usual block: plain ASCII rows only, so every newline ends
            // a record and every record goes to the batch.
            for (w, &word) in masks.newlines.iter().enumerate() {
                let mut newlines = word;
                while newlines != 0 {
                    let nl = from + 64 * w + newlines.trailing_zeros() as usize;
                    newlines &= newlines - 1;
                    batch.push(fast, padded, &masks.delimiters, from, rs, nl);
                    rs = nl + 1;
                    if batch.is_full() {
                        self.flush_batch(batch, fast, padded, masks, from, &mut run_start)?;
                    }
                }
            }
        }
        // Words wholly before `rs` were handled by the loop above (all of
        // them, in a block without special bytes).
        let handled = (rs - from) / 64;
        for (w, &word) in masks.newlines.iter().enumerate().skip(handled) {
            let mut newlines = word;
            while newlines != 0 {
                let nl = from + 64 * w + newlines.trailing_zeros() as usize;
                newlines &= newlines - 1;
                if nl < rs {
                    continue; // handled above, or inside a quoted record
                }
                let special = any_special && has_bits(&masks.special, rs - from, nl - rs);
                if let (Some(fast), Some(batch)) = (fast, batch.as_mut())
                    && !special
                    && !self.header_pending
                {
                    batch.push(fast, padded, &masks.delimiters, from, rs, nl);
                    rs = nl + 1;
                    if batch.is_full() {
                        self.flush_batch(batch, fast, padded, masks, from, &mut run_start)?;
                    }
                    continue;
                }
                if let (Some(fast), Some(batch)) = (fast, batch.as_mut()) {
                    self.flush_batch(batch, fast, padded, masks, from, &mut run_start)?;
                }
                match self.general_row(data, masks, from, rs, nl, special, eof)? {
                    None => {
                        self.push_run(run_start, rs);
                        self.batch = batch;
                        return Ok((rs, false));
                    }
                    Some((ok, next)) => {
                        if !ok {
                            self.push_run(run_start, rs);
                            run_start = next;
                        }
                        rs = next;
                    }
                }
            }
        }
        if let (Some(fast), Some(batch)) = (fast, batch.as_mut()) {
            self.flush_batch(batch, fast, padded, masks, from, &mut run_start)?;
        }
        self.batch = batch;
        if !eof || rs >= len {
            self.push_run(run_start, rs);
            return Ok((rs, false));
        }
        // The last record has no terminator.
        let ok = if memchr::memchr(b'"', &data[rs..len]).is_some() {
            match self.parse_quoted(data, rs, true) {
                Quoted::Done { end, error, .. } => self.quoted_record(&data[rs..end], error)?,
                Quoted::NeedMore => false, // unreachable at EOF
            }
        } else {
            let nfields = self.collect_fields(&masks.delimiters, from, rs, len);
            let special = has_bits(&masks.special, rs - from, len - rs);
            self.plain_record(data, rs, len, nfields, special)?
        };
        if ok {
            self.push_run(run_start, len);
        } else {
            self.push_run(run_start, rs);
        }
        Ok((len, ok))
    }

    /// Checks the gathered rows (see [`Batch::check`]); rows the fast
    /// checks do not pass go through [`Self::general_row`], in order.
    fn flush_batch(
        &mut self,
        batch: &mut Batch,
        fast: &FastRules,
        padded: &[u8],
        masks: &MaskArrays,
        base: usize,
        run_start: &mut usize,
    ) -> Result<(), CsvError> {
        let rows = batch.len();
        if rows == 0 {
            return Ok(());
        }
        batch.check(fast, padded);
        let first_line = self.line;
        let mut clean = 0u64;
        for r in 0..rows {
            if batch.ok[r] != 0 {
                clean += 1;
                continue;
            }
            let (start, newline) = (batch.starts[r], batch.newlines[r]);
            // Every batch row is one line, so this is its line number.
            self.line = first_line + r as u64;
            let result = self.general_row(&padded[..newline], masks, base, start, newline, false, false)?;
            if result.is_some_and(|(ok, _)| !ok) {
                self.push_run(*run_start, start);
                *run_start = newline + 1;
            }
        }
        self.line = first_line + rows as u64;
        self.stats.records_in += clean;
        self.stats.records_clean += clean;
        batch.clear();
        Ok(())
    }

    /// The general path for the record starting at `start` whose first
    /// line ends at `newline`: returns whether it is clean and where the
    /// next record starts, or `None` when a quoted record needs more
    /// input. Advances the line count.
    #[allow(clippy::too_many_arguments)]
    fn general_row(
        &mut self,
        data: &[u8],
        masks: &MaskArrays,
        base: usize,
        start: usize,
        newline: usize,
        special: bool,
        eof: bool,
    ) -> Result<Option<(bool, usize)>, CsvError> {
        // A quote may hide this `\n`: such a record's end and length are
        // the quote-aware parser's, as the reader's skip ends it
        // (record_end.rs) when the limit cuts it before its end is read.
        if special && memchr::memchr(b'"', &data[start..newline]).is_some() {
            return match self.parse_quoted(data, start, eof) {
                Quoted::NeedMore => Ok(None),
                Quoted::Done { end, next, inner_lines, error } => {
                    let ok = if end - start > self.max_record {
                        self.reject_too_long(&data[start..end])?;
                        false
                    } else {
                        self.quoted_record(&data[start..end], error)?
                    };
                    self.line += 1 + inner_lines;
                    Ok(Some((ok, next)))
                }
            };
        }
        if newline - start > self.max_record {
            self.reject_too_long(&data[start..newline])?;
            self.line += 1;
            return Ok(Some((false, newline + 1)));
        }
        let nfields = self.collect_fields(&masks.delimiters, base, start, newline);
        let ok = self.plain_record(data, start, newline, nfields, special)?;
        self.line += 1;
        Ok(Some((ok, newline + 1)))
    }

    /// Fills `self.fields` with the fields of the plain record
    /// `[start, end)` (at most one more than the schema has); returns how
    /// many there are.
    fn collect_fields(&mut self, delimiters: &[u64], base: usize, start: usize, end: usize) -> usize {
        let cap = self.rules.fields.len() + 1;
        self.fields.clear();
        let mut nfields = 0;
        let mut field_start = start;
        for pos in set_bits(delimiters, base, start, end) {
            if nfields < cap {
                self.fields.push((field_start, pos));
            }
            nfields += 1;
            field_start = pos + 1;
        }
        if nfields < cap {
            self.fields.push((field_start, end));
        }
        nfields + 1
    }

    fn push_run(&mut self, start: usize, end: usize) {
        if start < end {
            self.runs.push((start, end));
        }
    }

    /// Copies the collected clean runs of `data` (plus a `\n` when the
    /// last record had none) to the output block (see
    /// [`crate::transform::output`]).
    fn write_runs(&mut self, data: &[u8], newline: bool) -> io::Result<()> {
        let block = self.clean.block();
        for &(s, e) in &self.runs {
            block.extend_from_slice(&data[s..e]);
        }
        if newline {
            block.push(b'\n');
        }
        self.runs.clear();
        self.clean.hand_over_if_full()
    }

    /// Checks an unquoted record `data[start..end]` whose fields are in
    /// `self.fields`. Returns true when it is clean.
    fn plain_record(
        &mut self,
        data: &[u8],
        start: usize,
        end: usize,
        nfields: usize,
        special: bool,
    ) -> Result<bool, CsvError> {
        let mut end = end;
        if end > start && data[end - 1] == b'\r' {
            end -= 1;
            if let Some(last) = self.fields.last_mut()
                && last.1 > end
            {
                last.1 = end;
            }
        }
        let raw = &data[start..end];
        if raw.is_empty() {
            return self.reject(raw, None, "blankRow", "blank row");
        }
        if special && let Err(e) = std::str::from_utf8(raw) {
            let reason = format!("invalid UTF-8 at byte {} of the record", e.valid_up_to());
            return self.reject(raw, None, "encoding", &reason);
        }
        if self.header_pending {
            self.header_pending = false;
            let found: Vec<String> =
                self.fields.iter().map(|&(s, e)| String::from_utf8_lossy(&data[s..e]).into_owned()).collect();
            return self.header(found, nfields);
        }
        let fields = std::mem::take(&mut self.fields);
        let result = self.check_fields(data, &fields, nfields, !special, raw);
        self.fields = fields;
        result
    }

    /// Checks a quoted record (fields already in `scratch`).
    fn quoted_record(&mut self, raw: &[u8], error: Option<&'static str>) -> Result<bool, CsvError> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(reason) = error {
            return self.reject(raw, None, "quoting", reason);
        }
        let ascii = self.scratch.is_ascii();
        if !ascii && let Err(e) = std::str::from_utf8(raw) {
            let reason = format!("invalid UTF-8 at byte {} of the record", e.valid_up_to());
            return self.reject(raw, None, "encoding", &reason);
        }
        let scratch = std::mem::take(&mut self.scratch);
        let fields = std::mem::take(&mut self.scratch_fields);
        let result = if self.header_pending {
            self.header_pending = false;
            let found =
                fields.iter().map(|&(s, e)| String::from_utf8_lossy(&scratch[s..e]).into_owned()).collect();
            self.header(found, fields.len())
        } else {
            self.check_fields(&scratch, &fields, fields.len(), ascii, raw)
        };
        self.scratch = scratch;
        self.scratch_fields = fields;
        result
    }

    fn header(&mut self, found: Vec<String>, nfields: usize) -> Result<bool, CsvError> {
        let expected: Vec<String> = self.rules.fields.iter().map(|f| f.name.clone()).collect();
        if found != expected || nfields != expected.len() {
            return Err(CsvError::Header { found, expected });
        }
        // The header is neither clean nor rejected: report "not clean" so
        // it is left out of the clean run, and undo the count.
        Ok(false)
    }

    fn check_fields(
        &mut self,
        src: &[u8],
        fields: &[(usize, usize)],
        nfields: usize,
        ascii: bool,
        raw: &[u8],
    ) -> Result<bool, CsvError> {
        let rules = self.rules;
        if nfields != rules.fields.len() {
            let reason = format!("expected {} fields, found {nfields}", rules.fields.len());
            return self.reject(raw, None, "fieldCount", &reason);
        }
        for (rule, &(s, e)) in rules.fields.iter().zip(fields) {
            if let Err(Violation { rule: name, message }) = rule.check(&src[s..e], ascii) {
                return self.reject(raw, Some(&rule.name), name, &message);
            }
        }
        if rules.needs_uniqueness() {
            return self.check_unique(src, fields, raw);
        }
        self.stats.records_in += 1;
        self.stats.records_clean += 1;
        Ok(true)
    }

    fn check_unique(&mut self, src: &[u8], fields: &[(usize, usize)], raw: &[u8]) -> Result<bool, CsvError> {
        let rules = self.rules;
        let mut new_keys: Vec<(usize, u64)> = Vec::new();
        for (i, rule) in rules.fields.iter().enumerate() {
            let (s, e) = fields[i];
            let v = &src[s..e];
            if !rule.unique || rule.is_missing(v) {
                continue;
            }
            let fp = fingerprint(&[v]);
            if self.unique[i].contains(&fp) {
                let reason = format!("duplicate value {:?}", super::rules::show(v));
                return self.reject(raw, Some(&rule.name), "unique", &reason);
            }
            new_keys.push((i, fp));
        }
        let pk_fp = if rules.primary_key.is_empty() {
            None
        } else {
            let parts: Vec<&[u8]> =
                rules.primary_key.iter().map(|&i| &src[fields[i].0..fields[i].1]).collect();
            let fp = fingerprint(&parts);
            if self.primary.contains(&fp) {
                let shown: Vec<String> = parts.iter().map(|p| super::rules::show(p)).collect();
                let reason = format!("duplicate primary key {shown:?}");
                return self.reject(raw, None, "primaryKey", &reason);
            }
            Some(fp)
        };
        self.keys += new_keys.len() + usize::from(pk_fp.is_some());
        if self.keys > self.options.max_unique_keys {
            return Err(CsvError::TooManyUniqueKeys(self.options.max_unique_keys));
        }
        for (i, fp) in new_keys {
            self.unique[i].insert(fp);
        }
        if let Some(fp) = pk_fp {
            self.primary.insert(fp);
        }
        self.stats.records_in += 1;
        self.stats.records_clean += 1;
        Ok(true)
    }

    /// Rejects a record longer than the limit (see [`too_long_reject`]).
    fn reject_too_long(&mut self, head: &[u8]) -> Result<(), CsvError> {
        let (shown, reason) = too_long_reject(head, self.max_record);
        self.reject(shown, None, TOO_LONG_RULE, &reason)?;
        Ok(())
    }

    /// Counts and writes one reject; always returns `Ok(false)`.
    fn reject(
        &mut self,
        raw: &[u8],
        field: Option<&str>,
        rule: &str,
        reason: &str,
    ) -> Result<bool, CsvError> {
        self.stats.records_in += 1;
        self.stats.rejects.add(field, rule);
        self.reject_buf.clear();
        write_reject(&mut self.reject_buf, self.line, field, rule, reason, raw);
        self.rejects.write_all(&self.reject_buf)?;
        Ok(false)
    }

    /// RFC 4180 parse of the record starting at `start`: fields unescaped
    /// into `scratch`, ranges into `scratch_fields`.
    fn parse_quoted(&mut self, data: &[u8], start: usize, eof: bool) -> Quoted {
        let delimiter = self.rules.delimiter;
        self.scratch.clear();
        self.scratch_fields.clear();
        let mut inner_lines = 0u64;
        let mut i = start;
        let len = data.len();
        // Skips to the end of the line after a quoting error.
        let fail = |i: usize, inner_lines: u64, reason: &'static str| -> Quoted {
            match memchr::memchr(b'\n', &data[i.min(len)..]) {
                Some(p) => Quoted::Done { end: i + p, next: i + p + 1, inner_lines, error: Some(reason) },
                None if eof => Quoted::Done { end: len, next: len, inner_lines, error: Some(reason) },
                None => Quoted::NeedMore,
            }
        };
        loop {
            let field_start = self.scratch.len();
            if i < len && data[i] == b'"' {
                i += 1;
                loop {
                    let Some(q) = memchr::memchr(b'"', &data[i..]) else {
                        if !eof {
                            return Quoted::NeedMore;
                        }
                        inner_lines += memchr::memchr_iter(b'\n', &data[i..]).count() as u64;
                        return Quoted::Done {
                            end: len,
                            next: len,
                            inner_lines,
                            error: Some("unterminated quoted field"),
                        };
                    };
                    let chunk = &data[i..i + q];
                    inner_lines += memchr::memchr_iter(b'\n', chunk).count() as u64;
                    self.scratch.extend_from_slice(chunk);
                    i += q + 1;
                    if i == len && !eof {
                        return Quoted::NeedMore;
                    }
                    if i < len && data[i] == b'"' {
                        self.scratch.push(b'"');
                        i += 1;
                        continue;
                    }
                    break;
                }
                self.scratch_fields.push((field_start, self.scratch.len()));
                if i == len {
                    return Quoted::Done { end: len, next: len, inner_lines, error: None };
                }
                match data[i] {
                    c if c == delimiter => {
                        i += 1;
                        continue;
                    }
                    b'\n' => {
                        return Quoted::Done { end: i, next: i + 1, inner_lines, error: None };
                    }
                    b'\r' if data.get(i + 1) == Some(&b'\n') => {
                        return Quoted::Done { end: i + 1, next: i + 2, inner_lines, error: None };
                    }
                    b'\r' if i + 1 == len && !eof => return Quoted::NeedMore,
                    _ => return fail(i, inner_lines, "text after a closing quote"),
                }
            } else {
                // Unquoted field inside a record that has quotes elsewhere.
                let mut j = i;
                while j < len && data[j] != delimiter && data[j] != b'\n' && data[j] != b'"' {
                    j += 1;
                }
                if j < len && data[j] == b'"' {
                    return fail(j, inner_lines, "quote character inside an unquoted field");
                }
                if j == len && !eof {
                    return Quoted::NeedMore;
                }
                let mut value_end = j;
                if (j == len || data[j] == b'\n') && value_end > i && data[value_end - 1] == b'\r' {
                    value_end -= 1;
                }
                self.scratch.extend_from_slice(&data[i..value_end]);
                self.scratch_fields.push((field_start, self.scratch.len()));
                if j == len {
                    return Quoted::Done { end: len, next: len, inner_lines, error: None };
                }
                if data[j] == b'\n' {
                    return Quoted::Done { end: j, next: j + 1, inner_lines, error: None };
                }
                i = j + 1;
            }
        }
    }
}

/// The engine as the record reader's consumer.
impl RecordSink for Engine<'_, '_> {
    type Error = CsvError;

    /// Handles every complete record of the block (whose buffer extends
    /// [`PAD`] bytes past the data). Clean records are written before it
    /// returns.
    fn records(&mut self, block: Block<'_>) -> Result<usize, CsvError> {
        let Block { padded, len, from, eof } = block;
        let mut masks = std::mem::take(&mut self.masks);
        masks.classify(&padded[from..len], self.rules.delimiter);
        let result = self.scan_rows(padded, len, from, eof, &masks, self.fast);
        self.masks = masks;
        let (consumed, newline) = result?;
        self.write_runs(&padded[..len], newline)?;
        Ok(consumed)
    }

    /// Rejects a record the reader cut at the limit before its end, and
    /// starts looking for that end.
    fn too_long(&mut self, head: &[u8]) -> Result<(), CsvError> {
        self.reject_too_long(head)?;
        self.over_long = RecordEnd::new(self.rules.delimiter);
        let ended = self.over_long.feed(head);
        debug_assert!(ended.is_none(), "the reader cut a record the parser had seen the end of");
        Ok(())
    }

    /// The rest of the over-long record ends where the parser would end
    /// it; its line and the `\n`s in its quotes are counted then.
    fn skip(&mut self, piece: &[u8]) -> Option<usize> {
        let n = self.over_long.feed(piece)?;
        self.line += 1 + self.over_long.inner_lines();
        Some(n)
    }
}

/// Whether any of the `len` bits from bit `at` of `words` is set.
#[inline]
fn has_bits(words: &[u64], at: usize, len: usize) -> bool {
    let mut at = at;
    let end = at + len;
    while at < end {
        let n = (end - at).min(64);
        if window(words, at, n) != 0 {
            return true;
        }
        at += n;
    }
    false
}

/// A 64-bit fingerprint of a tuple of values (length-prefixed, SipHash
/// with fixed keys, so identical across runs). Distinct tuples collide with
/// probability ~n²/2⁶⁵, i.e. about 1e-5 for 30 million keys.
fn fingerprint(parts: &[&[u8]]) -> u64 {
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new_with_keys(0x005e_ed0f_ba7c, 0x0006_a0b5_2024);
    for p in parts {
        h.write_usize(p.len());
        p.hash(&mut h);
    }
    h.finish()
}
