//! The parser's input: a `BufRead` over the file that knows where the
//! parser is (byte offset, line, column) and bounds what one event may
//! take. quick-xml copies each event into a buffer until its end, so a
//! 2 GB text node or tag would otherwise be held whole: past the limit
//! the reader refuses to hand out more bytes and the parse stops there.

use std::io::{self, BufRead, Read};

/// Bytes asked of the file at a time (as the other transforms read).
pub const READ_BYTES: usize = 128 << 10;

/// A place in the input, for rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Byte offset from the start of the file.
    pub offset: u64,
    /// Line, from 1.
    pub line: u64,
    /// Column in bytes, from 1.
    pub column: u64,
}

impl Pos {
    /// The place `bytes` (the input from here on) further on.
    pub fn advanced(self, bytes: &[u8]) -> Pos {
        let newlines = count_newlines(bytes) as u64;
        let offset = self.offset + bytes.len() as u64;
        if newlines == 0 {
            return Pos { offset, line: self.line, column: self.column + bytes.len() as u64 };
        }
        let after_last = memchr::memrchr(b'\n', bytes).map_or(0, |p| p + 1);
        Pos { offset, line: self.line + newlines, column: (bytes.len() - after_last) as u64 + 1 }
    }
}

/// Counts `\n` in `bytes`, 32 at a time (the compiler vectorises the
/// inner sum; a per-hit search is slow on line-dense XML).
fn count_newlines(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(32);
    let mut n = 0usize;
    for chunk in &mut chunks {
        n += chunk.iter().map(|&b| usize::from(b == b'\n')).sum::<usize>();
    }
    n + chunks.remainder().iter().filter(|&&b| b == b'\n').count()
}

/// The counting, bounded reader.
pub struct Counted<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Offset of `buf[0]` in the file.
    buf_offset: u64,
    /// Line and column are counted lazily up to here (an index in `buf`).
    counted: usize,
    /// Lines and line start up to `counted`.
    newlines: u64,
    line_start: u64,
    /// The bytes handed out may not go past this offset.
    limit: u64,
    /// Set when a read stopped at the limit.
    hit_limit: bool,
    /// The bytes taken since [`Self::start_capture`], the first
    /// [`CAPTURE_BYTES`] of them: what a reject shows of its record.
    capture: Vec<u8>,
    capturing: bool,
    /// Where the current event starts (see [`Self::mark`]) and, once the
    /// buffer holding it was refilled, its place.
    mark: u64,
    mark_pos: Option<Pos>,
}

/// How much of a record's XML is kept for its reject.
pub const CAPTURE_BYTES: usize = crate::transform::reject::MAX_REJECT_RECORD;

impl<R: Read> Counted<R> {
    /// Wraps `inner`; nothing is handed out past offset `limit` until
    /// [`Self::set_limit`] moves it.
    pub fn new(inner: R, limit: u64) -> Self {
        Counted {
            inner,
            buf: vec![0; READ_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            buf_offset: 0,
            counted: 0,
            newlines: 0,
            line_start: 0,
            limit,
            hit_limit: false,
            capture: Vec::with_capacity(CAPTURE_BYTES),
            capturing: false,
            mark: 0,
            mark_pos: None,
        }
    }

    /// Notes that an event starts here: [`Self::mark_pos`] gives its
    /// place later, counted only when asked for (most events never are).
    #[inline]
    pub fn mark(&mut self) {
        self.mark = self.offset();
        self.mark_pos = None;
    }

    /// The place of the last [`Self::mark`].
    pub fn mark_pos(&mut self) -> Pos {
        if let Some(pos) = self.mark_pos {
            return pos;
        }
        // The mark is never before the buffer: a refill saves its place
        // first (see `fill_buf`).
        let index =
            usize::try_from(self.mark.saturating_sub(self.buf_offset)).unwrap_or(usize::MAX).min(self.end);
        self.count_to(index);
        let pos = self.here(index);
        self.mark_pos = Some(pos);
        pos
    }

    /// The place of `buf[index]`, lines counted up to there.
    fn here(&self, index: usize) -> Pos {
        let offset = self.buf_offset + index as u64;
        Pos { offset, line: self.newlines + 1, column: offset - self.line_start + 1 }
    }

    /// Starts keeping what the parser takes, after `head` (the part of
    /// the record already taken).
    pub fn start_capture(&mut self, head: &[u8]) {
        self.capture.clear();
        self.capture.extend_from_slice(&head[..head.len().min(CAPTURE_BYTES)]);
        self.capturing = true;
    }

    /// Stops keeping; returns what was kept.
    pub fn stop_capture(&mut self) -> &[u8] {
        self.capturing = false;
        &self.capture
    }

    /// Where the parser is: the next byte it has not taken.
    #[cfg(test)]
    pub fn pos(&mut self) -> Pos {
        self.count_to(self.start);
        self.here(self.start)
    }

    /// Offset of the next byte the parser has not taken.
    #[inline]
    pub fn offset(&self) -> u64 {
        self.buf_offset + self.start as u64
    }

    /// Moves the limit (an absolute offset).
    #[inline]
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// Whether a read stopped at the limit (the parse then failed).
    pub fn hit_limit(&self) -> bool {
        self.hit_limit
    }

    fn count_to(&mut self, to: usize) {
        if to <= self.counted {
            return;
        }
        let bytes = &self.buf[self.counted..to];
        self.newlines += count_newlines(bytes) as u64;
        if let Some(p) = memchr::memrchr(b'\n', bytes) {
            self.line_start = self.buf_offset + (self.counted + p + 1) as u64;
        }
        self.counted = to;
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            // The mark's place must be known before its bytes go.
            if self.mark_pos.is_none() && self.mark >= self.buf_offset {
                self.mark_pos();
            }
            let end = self.end;
            self.count_to(end);
            self.buf_offset += self.end as u64;
            self.start = 0;
            self.end = 0;
            self.counted = 0;
            self.end = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
        }
        let room = self.limit.saturating_sub(self.offset());
        let n = (self.end - self.start).min(usize::try_from(room).unwrap_or(usize::MAX));
        if n == 0 && self.start < self.end {
            self.hit_limit = true;
            return Err(io::Error::other("over the size limit"));
        }
        Ok(&self.buf[self.start..self.start + n])
    }

    fn consume(&mut self, amt: usize) {
        let to = (self.start + amt).min(self.end);
        if self.capturing && self.capture.len() < CAPTURE_BYTES {
            let n = (to - self.start).min(CAPTURE_BYTES - self.capture.len());
            self.capture.extend_from_slice(&self.buf[self.start..self.start + n]);
        }
        self.start = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its input a few bytes at a time.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn positions_are_right_however_the_reads_fall() {
        let text = b"ab\ncd\n\nefg\nh";
        for step in [1, 2, 5, 100] {
            let mut r = Counted::new(Trickle(text, step), u64::MAX);
            let mut taken = 0;
            while taken < 9 {
                let n = r.fill_buf().unwrap().len().min(9 - taken);
                r.consume(n);
                taken += n;
            }
            assert_eq!(r.pos(), Pos { offset: 9, line: 4, column: 3 }, "step {step}");
        }
        let start = Pos { offset: 0, line: 1, column: 1 };
        assert_eq!(start.advanced(b"ab"), Pos { offset: 2, line: 1, column: 3 });
        assert_eq!(start.advanced(b"ab\ncd\n\nefg"), Pos { offset: 10, line: 4, column: 4 });
        assert_eq!(count_newlines(&[b'\n'; 100]), 100);
    }

    #[test]
    fn nothing_is_handed_out_past_the_limit() {
        let mut r = Counted::new(&b"0123456789"[..], 4);
        assert_eq!(r.fill_buf().unwrap(), b"0123");
        r.consume(4);
        assert!(r.fill_buf().is_err());
        assert!(r.hit_limit());
        r.set_limit(100);
        assert_eq!(r.fill_buf().unwrap(), b"456789");
    }
}
