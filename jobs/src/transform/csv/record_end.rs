//! Where a CSV record ends, found a piece at a time: for skipping the rest
//! of a record longer than the limit without holding it.
//!
//! A record ends at the first `\n` outside quotes, exactly where the
//! validator's own parser ends it (`Engine::parse_quoted` in
//! validate.rs): a field that starts with `"` runs to its closing quote
//! (`""` is a quote inside it), and after a quoting error (text after a
//! closing quote, a quote inside an unquoted field) the record ends at the
//! next `\n`. So an over-long record ends in the same place whether the
//! validator saw all of it or the reader cut it at the limit.

/// The scanner's place in the record.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// In a field that did not start with a quote.
    Unquoted,
    /// Inside quotes.
    Quoted,
    /// Just after a quote inside quotes: an escaped quote or the closing one.
    QuoteSeen,
    /// A `\r` right after a closing quote.
    CarriageReturn,
    /// After a quoting error: the record ends at the next `\n`.
    Broken,
}

/// A record's end, looked for across the pieces it is fed.
#[derive(Debug)]
pub(super) struct RecordEnd {
    state: State,
    delimiter: u8,
    /// `\n`s inside the record so far (each inside quotes).
    inner_lines: u64,
}

impl RecordEnd {
    /// A scanner at the start of a record.
    pub(super) fn new(delimiter: u8) -> Self {
        RecordEnd { state: State::FieldStart, delimiter, inner_lines: 0 }
    }

    /// The `\n`s inside the record (not its terminator) seen so far.
    pub(super) fn inner_lines(&self) -> u64 {
        self.inner_lines
    }

    /// Feeds the next piece of the record: the number of its bytes up to
    /// and including the record's terminating `\n`, or `None` when the
    /// record goes on past it.
    pub(super) fn feed(&mut self, piece: &[u8]) -> Option<usize> {
        let delimiter = self.delimiter;
        for (at, &b) in piece.iter().enumerate() {
            self.state = match (self.state, b) {
                (State::Quoted, b'"') => State::QuoteSeen,
                (State::Quoted, b'\n') => {
                    self.inner_lines += 1;
                    State::Quoted
                }
                (State::Quoted, _) => State::Quoted,
                (_, b'\n') => return Some(at + 1),
                (State::FieldStart, b'"') | (State::QuoteSeen, b'"') => State::Quoted,
                (State::FieldStart | State::Unquoted | State::QuoteSeen, d) if d == delimiter => {
                    State::FieldStart
                }
                (State::Unquoted, b'"') => State::Broken,
                (State::FieldStart | State::Unquoted, _) => State::Unquoted,
                (State::QuoteSeen, b'\r') => State::CarriageReturn,
                (State::QuoteSeen | State::CarriageReturn | State::Broken, _) => State::Broken,
            };
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of the first record of `data` fed whole and fed one byte at
    /// a time (the same, or the test fails), and its inner lines.
    fn end_of(data: &[u8]) -> (Option<usize>, u64) {
        let mut whole = RecordEnd::new(b',');
        let end = whole.feed(data);
        let mut bytewise = RecordEnd::new(b',');
        let mut fed = 0;
        let mut bytewise_end = None;
        for b in data {
            fed += 1;
            if bytewise.feed(std::slice::from_ref(b)).is_some() {
                bytewise_end = Some(fed);
                break;
            }
        }
        assert_eq!(end, bytewise_end, "{:?}", String::from_utf8_lossy(data));
        (end, whole.inner_lines())
    }

    #[test]
    fn a_record_ends_at_its_first_newline_outside_quotes() {
        assert_eq!(end_of(b"a,b\nc\n"), (Some(4), 0));
        assert_eq!(end_of(b"a,\"b\nc\",d\ne\n"), (Some(10), 1));
        assert_eq!(end_of(b"\"x\"\"\n\"\"y\"\nz\n"), (Some(10), 1), "escaped quotes stay inside");
        assert_eq!(end_of(b"\"a\"\r\nb\n"), (Some(5), 0));
        assert_eq!(end_of(b"\"a\n"), (None, 1), "an open quote runs on");
    }

    #[test]
    fn after_a_quoting_error_the_record_ends_at_the_next_newline() {
        assert_eq!(end_of(b"ab\"c\nd\"\n"), (Some(5), 0), "a quote inside an unquoted field");
        assert_eq!(end_of(b"\"a\"x\"\nb\n"), (Some(6), 0), "text after a closing quote");
        assert_eq!(end_of(b"\"a\"\rx\n"), (Some(6), 0), "a lone \\r after a closing quote");
    }
}
