//! A line far longer than `max_record_bytes` is rejected without being
//! held in memory: the heap's peak while the transform reads a 16 MiB line
//! is what it is for a line just over the limit (its fixed buffers), not
//! more. Measured with a counting global allocator, which is why these
//! tests have a test binary of their own.

mod heap_counter;

use std::io::{self, Read};

use batch_jobs::transform::csv::{CompiledRules, ValidateOptions, builtin_rule_set, validate_csv};
use batch_jobs::transform::jsonl::{CalcOptions, Calculations, calculate_jsonl};
use heap_counter::{MEASURING, heap_growth};

const HUGE: usize = 16 << 20;
/// Just over both transforms' `max_record_bytes` below.
const SMALL: usize = 8 << 10;
/// What the heap may grow by for the huge line beyond the small one: far
/// below the 16 MiB a buffered line would take.
const SLACK: usize = 64 << 10;

/// `head`, then `fill_len` bytes of `fill`, then `tail`, produced as read
/// (the line never exists in memory outside the transform).
struct HugeLine {
    parts: [Vec<u8>; 2],
    fill: u8,
    fill_len: usize,
    pos: usize,
}

impl HugeLine {
    fn new(head: &[u8], fill: u8, fill_len: usize, tail: &[u8]) -> Self {
        HugeLine { parts: [head.to_vec(), tail.to_vec()], fill, fill_len, pos: 0 }
    }
}

impl Read for HugeLine {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (head, tail, fill_len) = (&self.parts[0], &self.parts[1], self.fill_len);
        let total = head.len() + fill_len + tail.len();
        let n = buf.len().min(total - self.pos);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let at = self.pos + i;
            *b = if at < head.len() {
                head[at]
            } else if at < head.len() + fill_len {
                self.fill
            } else {
                tail[at - head.len() - fill_len]
            };
        }
        self.pos += n;
        Ok(n)
    }
}

const GOOD: &[u8] = b"USW00094728,20230101,TMAX,-12,,,W,0700\n";

#[test]
fn huge_csv_line_is_rejected_without_buffering_it() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let rules = CompiledRules::compile(&builtin_rule_set("ghcn-daily").unwrap()).unwrap();
    let options =
        ValidateOptions { max_record_bytes: 4096, buffer_bytes: 8192, max_unique_keys: 10, fast_path: true };
    let grew = |len: usize| {
        let mut rejects = Vec::with_capacity(4096);
        let input = HugeLine::new(GOOD, b'A', len, &[b"\n", GOOD].concat());
        let (stats, grew) =
            heap_growth(|| validate_csv(&rules, options, input, &mut io::sink(), &mut rejects).unwrap());
        assert_eq!((stats.records_in, stats.records_clean, stats.rejects.records_rejected), (3, 2, 1));
        assert!(String::from_utf8_lossy(&rejects).contains("recordTooLong"));
        grew
    };
    assert_does_not_grow_with_the_line(grew(SMALL), grew(HUGE));
}

#[test]
fn huge_jsonl_line_is_rejected_without_buffering_it() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let calc = Calculations::parse(&["review_score = stars * review_count".to_string()]).unwrap();
    let options = CalcOptions { max_record_bytes: 1000, buffer_bytes: 2048 };
    let good = b"{\"stars\":1,\"review_count\":2}\n";
    let grew = |len: usize| {
        let mut rejects = Vec::with_capacity(4096);
        let input =
            HugeLine::new(&[&good[..], b"{\"x\":\""].concat(), b'a', len, &[&b"\"}\n"[..], good].concat());
        let (stats, grew) =
            heap_growth(|| calculate_jsonl(&calc, options, input, &mut io::sink(), &mut rejects).unwrap());
        assert_eq!((stats.records_in, stats.records_out, stats.rejects.records_rejected), (3, 2, 1));
        assert!(String::from_utf8_lossy(&rejects).contains("recordTooLong"));
        grew
    };
    assert_does_not_grow_with_the_line(grew(SMALL), grew(HUGE));
}

/// The heap's growth for the huge line is the small line's (fixed
/// buffers), and the counter would have seen the line had it been held.
fn assert_does_not_grow_with_the_line(small: usize, huge: usize) {
    assert!(
        huge <= small + SLACK,
        "the heap grew {huge} bytes for a {HUGE}-byte line, {small} for a {SMALL}-byte one"
    );
    let (held, grew) = heap_growth(|| vec![1u8; HUGE]);
    assert!(grew >= HUGE, "the counter saw {grew} bytes of a {HUGE}-byte allocation");
    drop(held);
}
