//! The streaming JSON-lines calculator: each line is validated, the
//! fields the calculations read are taken from it, and the results are
//! spliced into the original text (replacing an existing member of the
//! same name, or appended before the closing brace). Every line goes to
//! exactly one of the output or the rejects.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use super::expr::Calculations;
use super::number::{parse_f64, write_f64};
use super::scan::{Kind, ObjectShape, ScanError, scan_object, unescape};
use crate::transform::output::OutputBlock;
use crate::transform::records::{Block, RecordReader, RecordSink, TOO_LONG_RULE, too_long_reject};
use crate::transform::reject::{RejectCounts, write_reject};

/// Tuning that bounds memory.
#[derive(Debug, Clone, Copy)]
pub struct CalcOptions {
    /// Longer lines are rejected (`recordTooLong`) without being buffered.
    pub max_record_bytes: usize,
    /// Read buffer size.
    pub buffer_bytes: usize,
}

impl Default for CalcOptions {
    fn default() -> Self {
        CalcOptions { max_record_bytes: 1 << 20, buffer_bytes: 4 << 20 }
    }
}

/// Counts for one input; serialised as the stats file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalcStats {
    /// Bytes read.
    pub bytes_in: u64,
    /// Lines read.
    pub records_in: u64,
    /// Lines written to the output.
    pub records_out: u64,
    /// Records written to the rejects output, and why.
    #[serde(flatten)]
    pub rejects: RejectCounts,
}

/// Runs `calc` over every line of `input`.
///
/// Output lines are collected into blocks
/// ([`crate::transform::output::OUT_BLOCK`] bytes), so `out` needs no
/// buffering of its own; `rejects` gets one small write per reject and
/// should be buffered.
pub fn calculate_jsonl<R: Read>(
    calc: &Calculations,
    options: CalcOptions,
    input: R,
    out: &mut dyn Write,
    rejects: &mut dyn Write,
) -> io::Result<CalcStats> {
    let mut reader = RecordReader::new(options.max_record_bytes, options.buffer_bytes, 0);
    let mut worker = Worker::new(calc, out, rejects, reader.max_record());
    worker.stats.bytes_in = reader.read_all(input, &mut worker)?;
    worker.out.finish()?;
    worker.rejects.flush()?;
    Ok(worker.stats)
}

/// The worker as the record reader's consumer: one line at a time.
impl RecordSink for Worker<'_, '_> {
    type Error = io::Error;

    fn records(&mut self, block: Block<'_>) -> io::Result<usize> {
        let data = block.data();
        let mut at = block.from;
        for nl in memchr::memchr_iter(b'\n', &data[block.from..]) {
            let end = block.from + nl;
            self.line(&data[at..end])?;
            at = end + 1;
        }
        if block.eof && at < data.len() {
            self.line(&data[at..])?;
            at = data.len();
        }
        Ok(at)
    }

    /// Rejects a line longer than the limit (see [`too_long_reject`]).
    fn too_long(&mut self, head: &[u8]) -> io::Result<()> {
        let (shown, reason) = too_long_reject(head, self.max_record);
        self.reject(shown, None, TOO_LONG_RULE, &reason)?;
        self.line_no += 1;
        Ok(())
    }
}

struct Worker<'c, 'w> {
    calc: &'c Calculations,
    /// The output, handed to its writer in blocks.
    out: OutputBlock<'w>,
    rejects: &'w mut dyn Write,
    stats: CalcStats,
    line_no: u64,
    /// Value span and kind per variable slot, for the current line.
    found: Vec<Option<((usize, usize), Kind)>>,
    values: Vec<f64>,
    stack: Vec<f64>,
    results: Vec<f64>,
    /// Per assignment: `,"<target>":`, what appending its member writes
    /// before the value (without the comma when it opens an empty object).
    member_heads: Vec<Vec<u8>>,
    /// Per key length up to 64: nonzero when some variable has it.
    by_length: [u64; 65],
    max_record: usize,
    reject_buf: Vec<u8>,
}

impl<'c, 'w> Worker<'c, 'w> {
    fn new(
        calc: &'c Calculations,
        out: &'w mut dyn Write,
        rejects: &'w mut dyn Write,
        max_record: usize,
    ) -> Self {
        let n = calc.variables.len();
        Worker {
            calc,
            out: OutputBlock::new(out),
            rejects,
            stats: CalcStats::default(),
            line_no: 1,
            found: vec![None; n],
            values: vec![0.0; n],
            stack: Vec::with_capacity(16),
            results: vec![0.0; calc.assignments.len()],
            member_heads: calc
                .assignments
                .iter()
                .map(|a| [b",\"", a.target.as_bytes(), b"\":"].concat())
                .collect(),
            by_length: {
                let mut by_length = [0u64; 65];
                for (slot, v) in calc.variables.iter().enumerate() {
                    if let Some(entry) = by_length.get_mut(v.len()) {
                        *entry |= 1 << (slot % 64);
                    }
                }
                by_length
            },
            max_record,
            reject_buf: Vec::with_capacity(512),
        }
    }

    fn line(&mut self, raw: &[u8]) -> io::Result<()> {
        if raw.len() > self.max_record {
            // Whether or not the whole line fitted in the buffer, so the
            // answer does not depend on how reads fell.
            return self.too_long(raw);
        }
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let result = self.process(line);
        self.line_no += 1;
        result
    }

    fn process(&mut self, line: &[u8]) -> io::Result<()> {
        if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            return self.reject(line, None, "blankLine", "blank line");
        }
        self.found.iter_mut().for_each(|f| *f = None);
        let variables = &self.calc.variables;
        let by_length = &self.by_length;
        let found = &mut self.found;
        let shape = scan_object(line, |m| {
            let key = &line[m.key.0..m.key.1];
            let slot = if m.key_escaped {
                let decoded = unescape(key);
                variables.iter().position(|v| *v == decoded)
            } else {
                // Most keys have a length no variable has: one lookup.
                let candidates = by_length.get(key.len()).copied().unwrap_or(u64::MAX);
                if candidates == 0 { None } else { variables.iter().position(|v| v.as_bytes() == key) }
            };
            if let Some(s) = slot {
                found[s] = Some((m.value, m.kind));
            }
        });
        // The encoding is checked before the syntax (an invalid line is
        // reported as such), but only lines that are not plain ASCII need
        // the check, and a successful scan tells which those are.
        if !matches!(shape, Ok(ObjectShape { ascii: true, .. }))
            && let Err(e) = std::str::from_utf8(line)
        {
            let reason = format!("invalid UTF-8 at byte {}", e.valid_up_to());
            return self.reject(line, None, "encoding", &reason);
        }
        let shape = match shape {
            Ok(shape) => shape,
            Err(ScanError::Syntax { at, what }) => {
                let reason = format!("invalid JSON at byte {at}: expected {what}");
                return self.reject(line, None, "invalidJson", &reason);
            }
            Err(ScanError::NotObject(kind)) => {
                let reason = format!("line is a JSON {kind}, not an object");
                return self.reject(line, None, "notObject", &reason);
            }
        };
        let calc = self.calc;
        for (slot, name) in calc.variables.iter().enumerate() {
            if !calc.is_input[slot] {
                continue;
            }
            match self.found[slot] {
                None => {
                    let reason = format!("field {name:?} is missing");
                    return self.reject(line, Some(name), "missingField", &reason);
                }
                Some(((s, e), Kind::Number)) => self.values[slot] = parse_f64(&line[s..e]),
                Some((_, kind)) => {
                    let reason = format!("field {name:?} is a {}, not a number", kind.name());
                    return self.reject(line, Some(name), "notNumber", &reason);
                }
            }
        }
        for (i, a) in calc.assignments.iter().enumerate() {
            let v = Calculations::eval(&a.ops, &self.values, &mut self.stack);
            if !v.is_finite() {
                let reason = format!("{} evaluates to {v}", a.target);
                return self.reject(line, Some(&a.target), "nonFinite", &reason);
            }
            self.values[a.slot] = v;
            self.results[i] = v;
        }
        self.write_record(line, shape.close, shape.empty)?;
        self.stats.records_in += 1;
        self.stats.records_out += 1;
        Ok(())
    }

    /// Writes `line` with each result replacing the member of the same
    /// name, or appended before the closing brace.
    fn write_record(&mut self, line: &[u8], close: usize, empty: bool) -> io::Result<()> {
        let calc = self.calc;
        if calc.assignments.iter().any(|a| self.found[a.slot].is_some()) {
            self.write_with_replacements(line, close, empty);
        } else {
            // The usual case, every target new to the record: the line up
            // to its closing brace, the appended members, the rest. Kept
            // apart from the general path, which costs ~2% more of the
            // whole transform's instructions (cachegrind, Yelp sample).
            let out = self.out.block();
            out.extend_from_slice(&line[..close]);
            for (i, head) in self.member_heads.iter().enumerate() {
                let head = if empty && i == 0 { &head[1..] } else { &head[..] };
                out.extend_from_slice(head);
                write_f64(out, self.results[i]);
            }
            out.extend_from_slice(&line[close..]);
            out.push(b'\n');
        }
        self.out.hand_over_if_full()
    }

    /// [`Self::write_record`] for a line that already has some of the
    /// targets: those values are replaced in place, the others appended.
    fn write_with_replacements(&mut self, line: &[u8], close: usize, empty: bool) {
        let calc = self.calc;
        // (value start, value end, assignment) of targets the line already
        // has, in line order. Allocating is fine on this rare path.
        let mut replaced: Vec<(usize, usize, usize)> = calc
            .assignments
            .iter()
            .enumerate()
            .filter_map(|(i, a)| self.found[a.slot].map(|((s, e), _)| (s, e, i)))
            .collect();
        replaced.sort_unstable();
        let out = self.out.block();
        let mut cursor = 0;
        for &(s, e, i) in replaced.iter() {
            out.extend_from_slice(&line[cursor..s]);
            write_f64(out, self.results[i]);
            cursor = e;
        }
        out.extend_from_slice(&line[cursor..close]);
        let mut appended_any = false;
        for (i, head) in self.member_heads.iter().enumerate() {
            if replaced.iter().any(|&(_, _, r)| r == i) {
                continue;
            }
            let head = if empty && !appended_any { &head[1..] } else { &head[..] };
            appended_any = true;
            out.extend_from_slice(head);
            write_f64(out, self.results[i]);
        }
        out.extend_from_slice(&line[close..]);
        out.push(b'\n');
    }

    fn reject(&mut self, line: &[u8], field: Option<&str>, rule: &str, reason: &str) -> io::Result<()> {
        self.stats.records_in += 1;
        self.stats.rejects.add(field, rule);
        self.reject_buf.clear();
        write_reject(&mut self.reject_buf, self.line_no, field, rule, reason, line);
        self.rejects.write_all(&self.reject_buf)
    }
}
