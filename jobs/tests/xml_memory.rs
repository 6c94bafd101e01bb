//! xml_to_json holds one record, not the file: the heap's peak while it
//! converts a generated stream of small records is the same for 4 MiB and
//! for 64 MiB, and a record far over `max_record_bytes` (one huge text
//! node, or many small elements) costs no more than the limit. Measured
//! with a counting global allocator, hence a test binary of its own. Not
//! timed (the bench reports speed and peak RSS on a 1 GB file).

mod heap_counter;

use std::io::{self, Read};

use batch_jobs::transform::xml::{XmlSpec, XmlStats, xml_to_json};
use heap_counter::{MEASURING, heap_growth};

/// `head`, then `body` repeated `times`, then `tail`, produced as read.
struct Stream {
    parts: [Vec<u8>; 3],
    times: usize,
    part: usize,
    at: usize,
}

impl Stream {
    fn new(head: &str, body: &str, times: usize, tail: &str) -> Self {
        Stream { parts: [head.into(), body.into(), tail.into()], times, part: 0, at: 0 }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.part < 3 {
            let src = &self.parts[self.part];
            let take = (src.len() - self.at).min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&src[self.at..self.at + take]);
            n += take;
            self.at += take;
            if self.at == src.len() {
                self.at = 0;
                if self.part == 1 && self.times > 1 {
                    self.times -= 1;
                } else {
                    self.part += 1;
                }
            }
        }
        Ok(n)
    }
}

/// Output discarded, counted.
struct Sink(u64);

impl io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const BOOK: &str = "<book id=\"bk101\" lang=\"en\">\n  <author>Gambardella, Matthew</author>\n  <title>XML Developer&apos;s Guide</title>\n  <genre>Computer</genre>\n  <price>44.95</price>\n  <description>An in-depth look at creating applications with XML.</description>\n</book>\n";

fn convert(spec: &str, input: Stream) -> (XmlStats, usize) {
    let spec: XmlSpec = serde_json::from_str(spec).expect("test spec");
    let t = spec.compile().expect("test spec compiles");
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let (stats, growth) = heap_growth(|| {
        let (mut out, mut rejects) = (Sink(0), Sink(0));
        xml_to_json(&t, input, &mut out, &mut rejects).expect("in-memory I/O")
    });
    assert_eq!(stats.records_in, stats.records_out + stats.rejects.records_rejected);
    (stats, growth)
}

#[test]
fn the_heap_does_not_grow_with_the_file() {
    let per_book = BOOK.len();
    let small = (4 << 20) / per_book;
    let large = (64 << 20) / per_book;
    let spec = r#"{"record_path":"/catalog/book"}"#;
    let (s, small_peak) = convert(spec, Stream::new("<catalog>\n", BOOK, small, "</catalog>\n"));
    assert_eq!(s.records_out as usize, small);
    let (l, large_peak) = convert(spec, Stream::new("<catalog>\n", BOOK, large, "</catalog>\n"));
    assert_eq!(l.records_out as usize, large);
    assert!(l.bytes_in > 63 << 20);
    // Fixed buffers only: the read buffer, the output block, one record.
    assert!(large_peak < 2 << 20, "peak heap growth {large_peak} bytes for a 64 MiB file");
    assert!(large_peak <= small_peak + (64 << 10), "64 MiB: {large_peak} bytes, 4 MiB: {small_peak} bytes");
}

#[test]
fn an_over_long_record_costs_no_more_than_the_limit() {
    let spec = r#"{"record_path":"/c/b","max_record_bytes":65536}"#;
    // Many small elements: the record is dropped at the limit and the
    // rest of it skipped.
    let head = "<c><b>ok</b><b>";
    let item = "<i a=\"1\">x</i>";
    let mut peaks = Vec::new();
    for times in [10_000, 2 << 20] {
        let (stats, peak) = convert(spec, Stream::new(head, item, times, "</b><b>ok</b></c>"));
        assert_eq!((stats.records_out, stats.rejects.records_rejected), (2, 1));
        assert_eq!(stats.rejects.rejects_by_rule.get("recordTooLong"), Some(&1));
        peaks.push(peak);
    }
    // What the record held up to the limit (a tree of ~4,700 elements),
    // whether it goes on for 140 KB or for 28 MB.
    assert!(peaks[1] < 2 << 20 && peaks[1] <= peaks[0] + (64 << 10), "peak heap growth {peaks:?}");
    // One text node of 32 MiB: the parser is refused bytes past the limit.
    let (stats, text_peak) = convert(spec, Stream::new(head, "x", 32 << 20, "</b><b>ok</b></c>"));
    assert_eq!((stats.records_in, stats.rejects.records_rejected, stats.complete), (2, 1, false));
    assert!(text_peak < 1 << 20, "peak heap growth {text_peak} bytes for a 32 MiB text node");
}
