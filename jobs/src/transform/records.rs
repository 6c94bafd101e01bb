//! The one record reader of the transforms: reads any amount of input
//! through one fixed buffer and hands a transform blocks of whole
//! `\n`-terminated records, as ripgrep's searcher shares one line buffer.
//!
//! What every transform must do the same way is done here, once:
//! - input is asked for in blocks of [`READ_BYTES`], small enough that the
//!   block just read is still in L2 when the transform scans it and copies
//!   records out of it (4 MiB reads measured 3x slower end to end: every
//!   byte made an extra round trip to memory);
//! - a leading UTF-8 BOM is dropped, recognised only whole;
//! - a record with no terminator within the limit is handed over as a
//!   head of at most the buffer ([`RecordSink::too_long`]) and the rest of
//!   it skipped up to its end ([`RecordSink::skip`]: the next `\n`, or
//!   where the transform's syntax ends it) without being buffered, so
//!   memory stays bounded whatever the input;
//! - the bytes read are counted (BOM included).
//!
//! What a record is beyond its `\n` (a `\r` before it, quotes that hide a
//! newline) is the transform's: it says how far it got
//! ([`RecordSink::records`]) and the rest is kept for the next block.

use std::io::{self, Read};

/// Bytes asked of the reader at a time (see the module comment).
pub const READ_BYTES: usize = 128 << 10;

/// The reject rule of a record longer than the limit.
pub const TOO_LONG_RULE: &str = "recordTooLong";

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A transform fed by a [`RecordReader`].
pub trait RecordSink {
    /// What stops the transform; reading errors become one.
    type Error: From<io::Error>;

    /// Handles every complete record of `block.data()` from `block.from`
    /// on and returns where the first incomplete one starts (at EOF, the
    /// end of the data: the last record needs no terminator).
    fn records(&mut self, block: Block<'_>) -> Result<usize, Self::Error>;

    /// A record longer than the limit whose end is not in the buffer:
    /// `head` is what was read of it (more than the limit). Its rest is
    /// skipped.
    fn too_long(&mut self, head: &[u8]) -> Result<(), Self::Error>;

    /// After [`Self::too_long`], the next piece of that record's rest:
    /// how many of its bytes belong to the record (its terminator
    /// included), or `None` when the record goes on past it. By default
    /// a record ends at its first `\n`; a transform whose records may
    /// hold a `\n` (CSV's quoted fields) ends it where its own parser
    /// would, so the records after it do not depend on where the limit
    /// cut.
    fn skip(&mut self, piece: &[u8]) -> Option<usize> {
        memchr::memchr(b'\n', piece).map(|p| p + 1)
    }
}

/// The records a [`RecordSink`] is given: `padded[from..len]`, with
/// `padded` readable `pad` bytes past `len` (for word-sized loads).
#[derive(Clone, Copy)]
pub struct Block<'a> {
    /// The buffer up to `len` and its padding after.
    pub padded: &'a [u8],
    /// End of the data.
    pub len: usize,
    /// Start of the first record not yet handled.
    pub from: usize,
    /// No more input follows.
    pub eof: bool,
}

impl<'a> Block<'a> {
    /// The data, without the padding.
    pub fn data(&self) -> &'a [u8] {
        &self.padded[..self.len]
    }
}

/// One input buffer and the reading loop around it; reusable for any
/// number of inputs.
///
/// The buffer starts at one read's size and grows to its capacity only as
/// records need it: zeroing the whole capacity (4 MiB by default) up front
/// was most of the cost of a small file.
pub struct RecordReader {
    buf: Vec<u8>,
    capacity: usize,
    pad: usize,
    max_record: usize,
}

impl RecordReader {
    /// A reader for records of at most `max_record_bytes` (at least 64),
    /// through a buffer of `buffer_bytes` (at least twice the record
    /// limit) with `pad` readable bytes after the data.
    pub fn new(max_record_bytes: usize, buffer_bytes: usize, pad: usize) -> Self {
        let max_record = max_record_bytes.max(64);
        let capacity = buffer_bytes.max(2 * max_record);
        RecordReader { buf: vec![0; capacity.min(READ_BYTES) + pad], capacity, pad, max_record }
    }

    /// The record limit in effect.
    pub fn max_record(&self) -> usize {
        self.max_record
    }

    /// The buffer's largest length, padding included: the largest
    /// position a [`Block`] holds.
    pub fn buffer_len(&self) -> usize {
        self.capacity + self.pad
    }

    /// Feeds all of `input` to `sink`; returns the bytes read.
    pub fn read_all<R: Read, S: RecordSink>(&mut self, mut input: R, sink: &mut S) -> Result<u64, S::Error> {
        let (capacity, pad, max_record) = (self.capacity, self.pad, self.max_record);
        let buf = &mut self.buf;
        let mut bytes_in = 0u64;
        let mut filled = 0usize;
        let mut start = 0usize;
        let mut first = true;
        let mut skipping = false;
        loop {
            let want = (filled + READ_BYTES).min(capacity);
            if buf.len() < want + pad {
                buf.resize(want + pad, 0);
            }
            let n = loop {
                match input.read(&mut buf[filled..want]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            let eof = n == 0;
            filled += n;
            bytes_in += n as u64;
            if first {
                // A BOM is only recognised whole: wait for 3 bytes (or EOF).
                if filled < BOM.len() && !eof {
                    continue;
                }
                first = false;
                if buf[..filled].starts_with(BOM) {
                    start = BOM.len();
                }
            }
            if skipping {
                match sink.skip(&buf[start..filled]) {
                    Some(n) => {
                        start += n;
                        skipping = false;
                    }
                    None => start = filled,
                }
            }
            let mut consumed = start;
            if !skipping {
                let block = Block { padded: &buf[..filled + pad], len: filled, from: start, eof };
                consumed = sink.records(block)?;
                if !eof && filled - consumed > max_record {
                    // No terminator within the limit: hand over what we
                    // have and skip to the record's end without buffering
                    // the rest.
                    sink.too_long(&buf[consumed..filled])?;
                    skipping = true;
                    consumed = filled;
                }
            }
            if eof {
                return Ok(bytes_in);
            }
            buf.copy_within(consumed..filled, 0);
            filled -= consumed;
            start = 0;
        }
    }
}

/// The reject of a record longer than `max_record`: the part of it a
/// reject shows (at most `max_record` bytes, whether or not all of it was
/// read, so the reject does not depend on how reads fell) and the reason.
pub fn too_long_reject(head: &[u8], max_record: usize) -> (&[u8], String) {
    (&head[..head.len().min(max_record)], format!("record longer than {max_record} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what a reader hands over: `\n`-terminated records (the
    /// last one at EOF without) and over-long heads.
    #[derive(Default)]
    struct Lines {
        records: Vec<Vec<u8>>,
        too_long: Vec<usize>,
    }

    impl RecordSink for Lines {
        type Error = io::Error;
        fn records(&mut self, block: Block<'_>) -> io::Result<usize> {
            let data = block.data();
            let mut at = block.from;
            for nl in memchr::memchr_iter(b'\n', &data[block.from..]) {
                self.records.push(data[at..block.from + nl].to_vec());
                at = block.from + nl + 1;
            }
            if block.eof && at < data.len() {
                self.records.push(data[at..].to_vec());
                at = data.len();
            }
            Ok(at)
        }
        fn too_long(&mut self, head: &[u8]) -> io::Result<()> {
            self.too_long.push(head.len());
            Ok(())
        }
    }

    /// Hands out its input a few bytes at a time, as a pipe may.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn read(input: &[u8], step: usize, max_record: usize) -> (Lines, u64) {
        let mut lines = Lines::default();
        let mut reader = RecordReader::new(max_record, 0, 8);
        let bytes = reader.read_all(Trickle(input, step), &mut lines).expect("in-memory read");
        (lines, bytes)
    }

    #[test]
    fn a_bom_is_dropped_however_the_reads_fall() {
        for step in [1, 2, 3, 1000] {
            let (lines, bytes) = read(b"\xEF\xBB\xBFa\nb", step, 64);
            assert_eq!(lines.records, [b"a".to_vec(), b"b".to_vec()], "step {step}");
            assert_eq!(bytes, 6, "the BOM is counted as read");
        }
        let (lines, _) = read(b"\xEF\xBBa\n", 1, 64);
        assert_eq!(lines.records, [b"\xEF\xBBa".to_vec()], "half a BOM is data");
        let (lines, _) = read(b"a\n\xEF\xBB\xBFb\n", 1000, 64);
        assert_eq!(lines.records[1], b"\xEF\xBB\xBFb", "only a leading BOM is dropped");
    }

    #[test]
    fn an_over_long_record_is_handed_over_once_and_skipped_in_bounded_memory() {
        let mut input = b"short\n".to_vec();
        input.extend_from_slice(&[b'x'; 10_000]);
        input.extend_from_slice(b"\nafter\n");
        let mut reader = RecordReader::new(64, 0, 0);
        assert_eq!(reader.buffer_len(), 128, "the buffer is twice the limit, not the record");
        let mut lines = Lines::default();
        let bytes = reader.read_all(&input[..], &mut lines).expect("in-memory read");
        assert_eq!(lines.records, [b"short".to_vec(), b"after".to_vec()]);
        assert_eq!(lines.too_long.len(), 1);
        assert!(lines.too_long[0] > 64 && lines.too_long[0] <= 128, "head {}", lines.too_long[0]);
        assert_eq!(bytes, input.len() as u64);
    }

    #[test]
    fn the_last_record_needs_no_terminator_and_the_padding_is_readable() {
        struct Padded(Vec<usize>);
        impl RecordSink for Padded {
            type Error = io::Error;
            fn records(&mut self, block: Block<'_>) -> io::Result<usize> {
                self.0.push(block.padded.len() - block.len);
                Ok(if block.eof { block.len } else { block.from })
            }
            fn too_long(&mut self, _: &[u8]) -> io::Result<()> {
                Ok(())
            }
        }
        let mut sink = Padded(Vec::new());
        let bytes = RecordReader::new(64, 0, 16).read_all(&b"ab"[..], &mut sink).expect("in-memory read");
        assert_eq!(bytes, 2);
        assert!(sink.0.iter().all(|&pad| pad == 16));
        let (lines, _) = read(b"one\r\ntwo", 3, 64);
        assert_eq!(lines.records, [b"one\r".to_vec(), b"two".to_vec()], "a \\r is the transform's");
    }

    #[test]
    fn the_reject_shows_at_most_the_limit() {
        let (head, reason) = too_long_reject(&[b'x'; 100], 64);
        assert_eq!((head.len(), reason.as_str()), (64, "record longer than 64 bytes"));
        assert_eq!(too_long_reject(b"abc", 64).0, b"abc");
    }
}
