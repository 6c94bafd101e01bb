//! The parser's input: a window over the file that quick-xml parses as a
//! slice (its zero-copy reader, 2.3x faster here than its `BufRead` one,
//! which copies every event into a buffer). The driver parses the window's
//! complete events, keeps the incomplete one at its end, and asks for more:
//! the window then moves what is left to its front and reads on. It grows
//! only while one event does not fit, up to a limit, so memory stays
//! bounded whatever the file: past the limit the event is too long.
//!
//! Lines and columns are counted lazily, only up to the places asked for
//! (a record's start, a problem), and in bulk over the bytes the window
//! drops, so most bytes are counted once, vectorised.

use std::io::{self, Read};

/// Bytes asked of the file at a time (as the other transforms read: the
/// block just read is still in L2 when it is parsed).
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

/// Counts `\n` in `bytes`, 32 at a time (the compiler vectorises the
/// inner sum; a per-hit search is slow on line-dense XML).
fn count_newlines(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(32);
    let mut n = 0u64;
    for chunk in &mut chunks {
        n += chunk.iter().map(|&b| u64::from(b == b'\n')).sum::<u64>();
    }
    n + chunks.remainder().iter().filter(|&&b| b == b'\n').count() as u64
}

/// Lines counted up to an offset.
#[derive(Debug, Default)]
pub struct Lines {
    /// Counted up to here (absolute offset).
    counted: u64,
    newlines: u64,
    /// Offset just after the last newline counted.
    line_start: u64,
}

impl Lines {
    /// Counts `bytes`, which start at the counted point.
    fn count(&mut self, bytes: &[u8]) {
        self.newlines += count_newlines(bytes);
        if let Some(p) = memchr::memrchr(b'\n', bytes) {
            self.line_start = self.counted + p as u64 + 1;
        }
        self.counted += bytes.len() as u64;
    }

    fn here(&self) -> Pos {
        Pos { offset: self.counted, line: self.newlines + 1, column: self.counted - self.line_start + 1 }
    }
}

/// The bytes in hand and the counters, as the driver sees them while it
/// parses: positions of anything in `data` can be asked for.
pub struct Src<'a> {
    /// The window's bytes (consumed ones too, until the next fill),
    /// `data[0]` at offset `base`.
    pub data: &'a [u8],
    /// Where the unconsumed bytes start in `data`.
    pub start: usize,
    /// Offset of `data[0]` in the file.
    pub base: u64,
    lines: &'a mut Lines,
}

impl Src<'_> {
    /// The place of `offset`, which must be in `data` (or past what
    /// was asked for before; an earlier one gives the latest counted).
    pub fn pos(&mut self, offset: u64) -> Pos {
        if offset > self.lines.counted {
            let from = usize::try_from(self.lines.counted.saturating_sub(self.base)).unwrap_or(usize::MAX);
            let to = usize::try_from(offset - self.base).unwrap_or(usize::MAX).min(self.data.len());
            if let Some(bytes) = self.data.get(from..to) {
                self.lines.count(bytes);
            }
        }
        self.lines.here()
    }

    /// The bytes from `offset` on that are in hand, at most `n`.
    pub fn bytes_from(&self, offset: u64, n: usize) -> &[u8] {
        let from =
            usize::try_from(offset.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.data.len());
        &self.data[from..(from + n).min(self.data.len())]
    }
}

/// The window over the file.
pub struct Window<R> {
    inner: R,
    buf: Vec<u8>,
    /// `buf[start..filled]` is not consumed yet.
    start: usize,
    filled: usize,
    /// Offset of `buf[0]` in the file.
    base: u64,
    eof: bool,
    /// The window never holds more than this.
    max: usize,
    lines: Lines,
}

impl<R: Read> Window<R> {
    /// A window over `inner` that may grow to `max` bytes.
    pub fn new(inner: R, max: usize) -> Self {
        let max = max.max(2 * READ_BYTES);
        Window {
            inner,
            buf: vec![0; 2 * READ_BYTES],
            start: 0,
            filled: 0,
            base: 0,
            eof: false,
            max,
            lines: Lines::default(),
        }
    }

    /// The bytes not yet consumed and the counters.
    pub fn src(&mut self) -> Src<'_> {
        Src { data: &self.buf[..self.filled], start: self.start, base: self.base, lines: &mut self.lines }
    }

    /// Offset of the first byte not consumed.
    pub fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Whether the file has ended (what is in hand is all there is).
    pub fn eof(&self) -> bool {
        self.eof
    }

    /// Marks `n` more bytes consumed.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.filled);
    }

    /// Reads more after what is in hand. Returns false when it cannot:
    /// the unconsumed bytes already fill the largest window.
    pub fn fill(&mut self) -> io::Result<bool> {
        // Lines are counted over the bytes about to go, in bulk.
        let dropped = usize::try_from(self.lines.counted.saturating_sub(self.base)).unwrap_or(usize::MAX);
        if dropped < self.start {
            self.lines.count(&self.buf[dropped..self.start]);
        }
        self.buf.copy_within(self.start..self.filled, 0);
        self.filled -= self.start;
        self.base += self.start as u64;
        self.start = 0;
        if self.buf.len() - self.filled < READ_BYTES {
            if self.buf.len() >= self.max {
                return Ok(false);
            }
            // One event needs more room: double (the driver then parses
            // the event again, so doubling keeps the work linear).
            let grown = (self.buf.len() * 2).min(self.max);
            self.buf.resize(grown, 0);
        }
        let n = loop {
            match self.inner.read(&mut self.buf[self.filled..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.filled += n;
        self.eof = n == 0;
        Ok(true)
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
            let mut w = Window::new(Trickle(text, step), 0);
            let mut taken = 0;
            while taken < 9 {
                assert!(w.fill().unwrap());
                let src = w.src();
                let n = (src.data.len() - src.start).min(9 - taken);
                w.consume(n);
                taken += n;
            }
            let offset = w.offset();
            assert_eq!(w.src().pos(offset), Pos { offset: 9, line: 4, column: 3 }, "step {step}");
            while !w.eof() {
                assert!(w.fill().unwrap());
            }
            let pos = w.src().pos(11);
            assert_eq!((pos.line, pos.column), (5, 1), "step {step}");
        }
    }

    #[test]
    fn the_window_grows_for_one_event_up_to_its_limit() {
        let input = vec![b'x'; 3 * READ_BYTES];
        let mut w = Window::new(&input[..], 2 * READ_BYTES);
        while w.fill().unwrap() {}
        assert_eq!(w.src().data.len(), 2 * READ_BYTES, "full, nothing consumed");
        assert!(!w.eof());
        let mut w = Window::new(&input[..], 4 * READ_BYTES);
        while !w.eof() {
            assert!(w.fill().unwrap());
        }
        assert_eq!(w.src().data.len(), 3 * READ_BYTES);
        assert_eq!(count_newlines(&[b'\n'; 100]), 100);
    }
}
