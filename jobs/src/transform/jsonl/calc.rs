//! The streaming JSON-lines calculator: each line is validated, the
//! fields the calculations read are taken from it, and the results are
//! spliced into the original text (replacing an existing member of the
//! same name, or appended before the closing brace). Every line goes to
//! exactly one of the output or the rejects.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use super::expr::Calculations;
use super::scan::{Kind, ScanError, scan_object, unescape};

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
    /// Lines written to the rejects.
    pub records_rejected: u64,
    /// Rejects per rule.
    pub rejects_by_rule: BTreeMap<String, u64>,
    /// Rejects per field (field-level rules only).
    pub rejects_by_field: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct RejectOut<'a> {
    line: u64,
    field: Option<&'a str>,
    rule: &'a str,
    reason: &'a str,
    record: &'a str,
}

const MAX_REJECT_RECORD: usize = 1024;

/// Runs `calc` over every line of `input`.
pub fn calculate_jsonl<R: Read>(
    calc: &Calculations,
    options: CalcOptions,
    mut input: R,
    out: &mut dyn Write,
    rejects: &mut dyn Write,
) -> io::Result<CalcStats> {
    let max_record = options.max_record_bytes.max(64);
    let capacity = options.buffer_bytes.max(2 * max_record);
    let mut buf = vec![0u8; capacity];
    let mut worker = Worker::new(calc, out, rejects);
    let mut filled = 0usize;
    let mut first = true;
    let mut skipping = false;
    loop {
        let mut eof = false;
        while filled < capacity {
            let n = match input.read(&mut buf[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                eof = true;
                break;
            }
            filled += n;
            worker.stats.bytes_in += n as u64;
        }
        let mut at = 0;
        if first {
            first = false;
            if buf[..filled].starts_with(b"\xEF\xBB\xBF") {
                at = 3;
            }
        }
        if skipping {
            match memchr::memchr(b'\n', &buf[at..filled]) {
                Some(p) => {
                    at += p + 1;
                    skipping = false;
                }
                None => at = filled,
            }
        }
        if !skipping {
            let base = at;
            for nl in memchr::memchr_iter(b'\n', &buf[base..filled]) {
                let end = base + nl;
                worker.line(&buf[at..end])?;
                at = end + 1;
            }
            if eof && at < filled {
                worker.line(&buf[at..filled])?;
                at = filled;
            }
            if !eof && filled - at > max_record {
                let reason = format!("record longer than {max_record} bytes");
                worker.reject(&buf[at..filled], None, "recordTooLong", &reason)?;
                worker.line_no += 1;
                skipping = true;
                at = filled;
            }
        }
        if eof {
            break;
        }
        buf.copy_within(at..filled, 0);
        filled -= at;
    }
    worker.out.flush()?;
    worker.rejects.flush()?;
    Ok(worker.stats)
}

struct Worker<'c, 'w> {
    calc: &'c Calculations,
    out: &'w mut dyn Write,
    rejects: &'w mut dyn Write,
    stats: CalcStats,
    line_no: u64,
    /// Value span and kind per variable slot, for the current line.
    found: Vec<Option<((usize, usize), Kind)>>,
    values: Vec<f64>,
    stack: Vec<f64>,
    results: Vec<f64>,
    line_out: Vec<u8>,
    reject_buf: Vec<u8>,
}

impl<'c, 'w> Worker<'c, 'w> {
    fn new(calc: &'c Calculations, out: &'w mut dyn Write, rejects: &'w mut dyn Write) -> Self {
        let n = calc.variables.len();
        Worker {
            calc,
            out,
            rejects,
            stats: CalcStats::default(),
            line_no: 1,
            found: vec![None; n],
            values: vec![0.0; n],
            stack: Vec::with_capacity(16),
            results: vec![0.0; calc.assignments.len()],
            line_out: Vec::with_capacity(4096),
            reject_buf: Vec::with_capacity(512),
        }
    }

    fn line(&mut self, raw: &[u8]) -> io::Result<()> {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let result = self.process(line);
        self.line_no += 1;
        result
    }

    fn process(&mut self, line: &[u8]) -> io::Result<()> {
        if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            return self.reject(line, None, "blankLine", "blank line");
        }
        if let Err(e) = std::str::from_utf8(line) {
            let reason = format!("invalid UTF-8 at byte {}", e.valid_up_to());
            return self.reject(line, None, "encoding", &reason);
        }
        self.found.iter_mut().for_each(|f| *f = None);
        let variables = &self.calc.variables;
        let found = &mut self.found;
        let shape = scan_object(line, |m| {
            let key = &line[m.key.0..m.key.1];
            let slot = if m.key_escaped {
                let decoded = unescape(key);
                variables.iter().position(|v| *v == decoded)
            } else {
                variables.iter().position(|v| v.as_bytes() == key)
            };
            if let Some(s) = slot {
                found[s] = Some((m.value, m.kind));
            }
        });
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
                Some(((s, e), Kind::Number)) => {
                    let text = std::str::from_utf8(&line[s..e]).unwrap_or("");
                    self.values[slot] = text.parse().unwrap_or(f64::NAN);
                }
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
        let mut replaced: [(usize, usize, usize); 8] = [(0, 0, 0); 8];
        let mut n_replaced = 0;
        let out = &mut self.line_out;
        out.clear();
        let mut fmt = ryu::Buffer::new();
        let mut appended_any = false;
        let mut appends: Vec<usize> = Vec::new();
        for (i, a) in calc.assignments.iter().enumerate() {
            match self.found[a.slot] {
                Some(((s, e), _)) if n_replaced < replaced.len() => {
                    replaced[n_replaced] = (s, e, i);
                    n_replaced += 1;
                }
                _ => appends.push(i),
            }
        }
        let replaced = &mut replaced[..n_replaced];
        replaced.sort_unstable();
        let mut cursor = 0;
        for &(s, e, i) in replaced.iter() {
            out.extend_from_slice(&line[cursor..s]);
            out.extend_from_slice(fmt.format_finite(self.results[i]).as_bytes());
            cursor = e;
        }
        out.extend_from_slice(&line[cursor..close]);
        for i in appends {
            if !empty || appended_any {
                out.push(b',');
            }
            appended_any = true;
            out.push(b'"');
            out.extend_from_slice(calc.assignments[i].target.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(fmt.format_finite(self.results[i]).as_bytes());
        }
        out.extend_from_slice(&line[close..]);
        out.push(b'\n');
        self.out.write_all(out)
    }

    fn reject(&mut self, line: &[u8], field: Option<&str>, rule: &str, reason: &str) -> io::Result<()> {
        self.stats.records_in += 1;
        self.stats.records_rejected += 1;
        *self.stats.rejects_by_rule.entry(rule.to_string()).or_default() += 1;
        if let Some(f) = field {
            *self.stats.rejects_by_field.entry(f.to_string()).or_default() += 1;
        }
        let record = String::from_utf8_lossy(&line[..line.len().min(MAX_REJECT_RECORD)]);
        self.reject_buf.clear();
        serde_json::to_writer(
            &mut self.reject_buf,
            &RejectOut { line: self.line_no, field, rule, reason, record: &record },
        )
        .map_err(io::Error::other)?;
        self.reject_buf.push(b'\n');
        self.rejects.write_all(&self.reject_buf)
    }
}
