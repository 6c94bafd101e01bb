//! A validating, non-allocating JSON scanner for one JSON-lines record.
//! It checks the whole line against RFC 8259 (the caller has already
//! checked UTF-8) and reports the byte spans of the top-level members, so
//! the calculator can read a few numbers and splice its results into the
//! original text without building a document tree.

/// Nesting deeper than this is refused (serde_json's default limit too).
pub const MAX_DEPTH: usize = 128;

/// Why a line is not a usable record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanError {
    /// Not valid JSON; `at` is the byte offset of the problem.
    Syntax {
        /// Byte offset in the line.
        at: usize,
        /// What was expected or found.
        what: &'static str,
    },
    /// Valid JSON, but not an object (`array`, `string`, `number`, ...).
    NotObject(&'static str),
}

/// The kind of a member's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A JSON number.
    Number,
    /// A JSON string.
    String,
    /// true / false.
    Bool,
    /// null.
    Null,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Kind {
    /// The JSON name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Bool => "boolean",
            Kind::Null => "null",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

/// One top-level member of the record object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Key content span (between the quotes).
    pub key: (usize, usize),
    /// Whether the key contains escapes (then compare decoded).
    pub key_escaped: bool,
    /// Value span.
    pub value: (usize, usize),
    /// Value kind.
    pub kind: Kind,
}

/// The shape of a scanned record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectShape {
    /// Offset of the closing `}`.
    pub close: usize,
    /// Whether the object has no members.
    pub empty: bool,
    /// Whether every byte of the line is ASCII (then it is valid UTF-8
    /// without a separate check). Bytes >= 0x80 can only appear inside
    /// strings of a valid line, where the scanner notes them.
    pub ascii: bool,
}

/// Scans `line` as one JSON object, calling `member` for each top-level
/// member in order.
pub fn scan_object(line: &[u8], mut member: impl FnMut(Member)) -> Result<ObjectShape, ScanError> {
    let mut s = Scanner { b: line, i: 0, non_ascii: false };
    s.ws();
    match s.peek() {
        b'{' => {}
        0 if s.i == line.len() => return Err(s.err("a JSON value")),
        _ => {
            // Valid JSON of another type is reported as such.
            let kind = s.value(0)?;
            s.ws();
            if s.i != line.len() {
                return Err(s.err("end of line after the value"));
            }
            return Err(ScanError::NotObject(kind.name()));
        }
    }
    s.i += 1;
    s.ws();
    let mut empty = true;
    if s.peek() == b'}' {
        s.i += 1;
    } else {
        loop {
            s.ws();
            if s.peek() != b'"' {
                return Err(s.err("a string key"));
            }
            let key_start = s.i + 1;
            let key_escaped = s.string()?;
            let key = (key_start, s.i - 1);
            s.ws();
            if s.peek() != b':' {
                return Err(s.err("':'"));
            }
            s.i += 1;
            s.ws();
            let vstart = s.i;
            let kind = s.value(1)?;
            member(Member { key, key_escaped, value: (vstart, s.i), kind });
            empty = false;
            s.ws();
            match s.peek() {
                b',' => s.i += 1,
                b'}' => {
                    s.i += 1;
                    break;
                }
                _ => return Err(s.err("',' or '}'")),
            }
        }
    }
    let close = s.i - 1;
    s.ws();
    if s.i != line.len() {
        return Err(s.err("end of line after the object"));
    }
    Ok(ObjectShape { close, empty, ascii: !s.non_ascii })
}

/// What a high surrogate escape must be followed by.
const LOW_AFTER_HIGH: &str = "a low surrogate escape (\\uDC00-\\uDFFF) after a high one";
/// What a low surrogate escape alone is.
const LONE_LOW: &str = "no lone low surrogate escape (\\uDC00-\\uDFFF)";

/// The code unit of the four hex digits at `b[at..at + 4]`, if they are.
fn hex4(b: &[u8], at: usize) -> Option<u16> {
    let digits = std::str::from_utf8(b.get(at..at + 4)?).ok()?;
    if !digits.bytes().all(|d| d.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(digits, 16).ok()
}

/// Decodes a JSON string's content (between quotes, already validated).
pub fn unescape(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let quoted = format!("\"{text}\"");
    serde_json::from_str::<String>(&quoted).unwrap_or_else(|_| text.into_owned())
}

/// The first byte at or after `from` that ends the plain ASCII part of a
/// string: `"`, `\\`, a control character (< 0x20) or a byte >= 0x80,
/// and whether it is the closing `"` (told by the compare itself, so the
/// common case does not wait for a second load of the byte). Strings in
/// records are mostly short, so 16 bytes at a time inline beats a call to
/// a general search.
#[inline(always)]
fn find_special(b: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= b.len() {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86_64 baseline; the load reads
        // b[i..i + 16], in bounds by the loop condition; `loadu` needs no
        // alignment.
        let (mask, quotes) = unsafe {
            let v = _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned v <= 0x1F  <=>  min(v, 0x1F) == v.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
            // movemask also takes the high bit of v itself: non-ASCII.
            let any = _mm_or_si128(_mm_or_si128(quote, backslash), _mm_or_si128(control, v));
            (_mm_movemask_epi8(any) as u32, _mm_movemask_epi8(quote) as u32)
        };
        if mask != 0 {
            let at = mask.trailing_zeros();
            return Some((i + at as usize, quotes >> at & 1 == 1));
        }
        i += 16;
    }
    b[i.min(b.len())..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
        .map(|p| (i + p, b[i + p] == b'"'))
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    /// A byte >= 0x80 was seen in a string.
    non_ascii: bool,
}

impl Scanner<'_> {
    /// The current byte, or 0 at the end of the line. A NUL byte is
    /// valid nowhere outside strings (which are scanned apart), so every
    /// caller treats both alike, and one compare replaces an `Option`'s
    /// two.
    #[inline(always)]
    fn peek(&self) -> u8 {
        self.b.get(self.i).copied().unwrap_or(0)
    }

    fn err(&self, what: &'static str) -> ScanError {
        ScanError::Syntax { at: self.i, what }
    }

    #[inline(always)]
    fn ws(&mut self) {
        // Usually there is no whitespace, or one space: test the first
        // byte before looping.
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    /// A value of any kind. Strings and numbers, the usual member values,
    /// are handled inline; the rest out of line.
    #[inline(always)]
    fn value(&mut self, depth: usize) -> Result<Kind, ScanError> {
        match self.peek() {
            b'"' => {
                self.string()?;
                Ok(Kind::String)
            }
            b'-' | b'0'..=b'9' => {
                self.number()?;
                Ok(Kind::Number)
            }
            _ => self.other_value(depth),
        }
    }

    #[inline(never)]
    fn other_value(&mut self, depth: usize) -> Result<Kind, ScanError> {
        match self.peek() {
            b'{' => {
                self.container(depth, b'}', true)?;
                Ok(Kind::Object)
            }
            b'[' => {
                self.container(depth, b']', false)?;
                Ok(Kind::Array)
            }
            b't' => self.literal(b"true", Kind::Bool),
            b'f' => self.literal(b"false", Kind::Bool),
            b'n' => self.literal(b"null", Kind::Null),
            _ => Err(self.err("a JSON value")),
        }
    }

    fn literal(&mut self, word: &[u8], kind: Kind) -> Result<Kind, ScanError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(kind)
        } else {
            Err(self.err("true, false or null"))
        }
    }

    fn container(&mut self, depth: usize, close: u8, object: bool) -> Result<(), ScanError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nesting at most 128 deep"));
        }
        self.i += 1;
        self.ws();
        if self.peek() == close {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if object {
                if self.peek() != b'"' {
                    return Err(self.err("a string key"));
                }
                self.string()?;
                self.ws();
                if self.peek() != b':' {
                    return Err(self.err("':'"));
                }
                self.i += 1;
                self.ws();
            }
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("',' or a closing bracket")),
            }
        }
    }

    /// Scans a string starting at its opening quote; returns whether it
    /// contained escapes. Leaves `i` after the closing quote.
    #[inline(always)]
    fn string(&mut self) -> Result<bool, ScanError> {
        self.i += 1;
        let mut escaped = false;
        loop {
            let Some((at, closing)) = find_special(self.b, self.i) else {
                return Err(ScanError::Syntax { at: self.b.len(), what: "a closing quote" });
            };
            if closing {
                self.i = at + 1;
                return Ok(escaped);
            }
            match self.b[at] {
                b'\\' => {}
                c if c >= 0x80 => {
                    // Part of a UTF-8 sequence: the caller validates
                    // non-ASCII lines as a whole.
                    self.non_ascii = true;
                    self.i = at + 1;
                    continue;
                }
                _ => return Err(self.control_character(at)),
            }
            escaped = true;
            self.i = at + 1;
            match self.peek() {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                b'u' => {
                    let Some(unit) = hex4(self.b, self.i + 1) else {
                        return Err(self.err("four hex digits after \\u"));
                    };
                    self.i += 5;
                    self.surrogate(unit)?;
                }
                _ => return Err(self.err("a valid escape")),
            }
        }
    }

    /// After a `\\u` escape of `unit` (`i` just past it): a high surrogate
    /// must be followed by the escape of a low one, which is consumed; a
    /// low one alone is an error. Half a pair is not a character, and
    /// serde_json, like most strict readers, refuses it.
    fn surrogate(&mut self, unit: u16) -> Result<(), ScanError> {
        match unit {
            0xD800..=0xDBFF => {
                let low = match self.b.get(self.i..self.i + 2) {
                    Some(b"\\u") => hex4(self.b, self.i + 2),
                    _ => None,
                };
                if !low.is_some_and(|l| (0xDC00..=0xDFFF).contains(&l)) {
                    return Err(self.err(LOW_AFTER_HIGH));
                }
                self.i += 6;
                Ok(())
            }
            0xDC00..=0xDFFF => Err(ScanError::Syntax { at: self.i - 6, what: LONE_LOW }),
            _ => Ok(()),
        }
    }

    /// The error for a raw control character at `at` inside a string: if
    /// no quote or backslash follows, the string is reported unterminated
    /// instead (the first problem a left-to-right reader meets is the
    /// missing end).
    #[cold]
    fn control_character(&self, at: usize) -> ScanError {
        match memchr::memchr2(b'"', b'\\', &self.b[at..]) {
            Some(_) => ScanError::Syntax { at, what: "no raw control character in a string" },
            None => ScanError::Syntax { at: self.b.len(), what: "a closing quote" },
        }
    }

    /// Skips a run of ASCII digits, 8 at a time where 8 bytes remain;
    /// returns how many.
    #[inline(always)]
    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let x = u64::from_le_bytes(word);
            // High bit set in each byte that is not '0'..='9': high
            // nibble other than 3, or 3 with a low nibble above 9.
            let not_three = (x & 0xF0F0_F0F0_F0F0_F0F0) ^ 0x3030_3030_3030_3030;
            let above_nine =
                (x & 0x0F0F_0F0F_0F0F_0F0F).wrapping_add(0x0606_0606_0606_0606) & 0x1010_1010_1010_1010;
            let bad = (not_three | above_nine) & 0xF0F0_F0F0_F0F0_F0F0;
            if bad != 0 {
                self.i += bad.trailing_zeros() as usize / 8;
                return self.i - start;
            }
            self.i += 8;
        }
        while self.peek().is_ascii_digit() {
            self.i += 1;
        }
        self.i - start
    }

    #[inline(always)]
    fn number(&mut self) -> Result<(), ScanError> {
        if self.peek() == b'-' {
            self.i += 1;
        }
        match self.peek() {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return Err(self.err("a digit")),
        }
        if self.peek() == b'.' {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("a digit after '.'"));
            }
        }
        if matches!(self.peek(), b'e' | b'E') {
            self.i += 1;
            if matches!(self.peek(), b'+' | b'-') {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("a digit in the exponent"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_object(s: &str) -> bool {
        scan_object(s.as_bytes(), |_| {}).is_ok()
    }

    #[test]
    fn agrees_with_serde_json() {
        let cases = [
            r#"{}"#,
            r#"{"a":1}"#,
            r#" {"a" : -0.5e+3 , "b":[1,2,{"c":null}],"d":"x\"y\\z\u00e9"} "#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12G4"}"#,
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"a":"\ud83d"}"#,
            r#"{"a":"\ud83dx"}"#,
            r#"{"a":"\ud83d\u0041"}"#,
            r#"{"a":"\ud83d\ud83d"}"#,
            r#"{"a":"\udddd"}"#,
            r#"{"\udddd":1}"#,
            r#"{"a":"\uDBFF\uDFFF"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":[1,2}"#,
            r#"{"a":{"b":1}}}"#,
            r#"{a:1}"#,
            r#"{"a":1} x"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":[]}"#,
            r#"{"a":"é"}"#,
            r#"{"a":true,"b":false,"c":null}"#,
            // NUL bytes where the end of the line would also be an error.
            "{\"a\":1}\0",
            "{\"a\":\0}",
            "\0",
            "{\"a\":1,\0}",
            "{\"a\":1\0}",
            "{\"a\":-\0}",
            "{\"a\":1.\0}",
            "{\"a\":\"\\\0\"}",
            "",
        ];
        for c in cases {
            let serde_ok = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(c).is_ok();
            assert_eq!(valid_object(c), serde_ok, "{c}");
        }
    }

    /// The string scan before the 16-byte fast path (memchr2 for the end,
    /// then a search for control characters before it): same results and
    /// same error positions.
    fn reference_string(b: &[u8], start: usize) -> Result<(bool, usize), ScanError> {
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            let rest = &b[i..];
            let Some(q) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(ScanError::Syntax { at: b.len(), what: "a closing quote" });
            };
            if let Some(c) = rest[..q].iter().position(|&c| c < 0x20) {
                return Err(ScanError::Syntax { at: i + c, what: "no raw control character in a string" });
            }
            i += q;
            if b[i] == b'"' {
                return Ok((escaped, i + 1));
            }
            escaped = true;
            i += 1;
            match b.get(i) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 1,
                Some(b'u') => {
                    let Some(unit) = hex4(b, i + 1) else {
                        return Err(ScanError::Syntax { at: i, what: "four hex digits after \\u" });
                    };
                    i += 5;
                    if (0xDC00..=0xDFFF).contains(&unit) {
                        return Err(ScanError::Syntax { at: i - 6, what: LONE_LOW });
                    }
                    if (0xD800..=0xDBFF).contains(&unit) {
                        let low = if b.get(i..i + 2) == Some(b"\\u") { hex4(b, i + 2) } else { None };
                        if !low.is_some_and(|l| (0xDC00..=0xDFFF).contains(&l)) {
                            return Err(ScanError::Syntax { at: i, what: LOW_AFTER_HIGH });
                        }
                        i += 6;
                    }
                }
                _ => return Err(ScanError::Syntax { at: i, what: "a valid escape" }),
            }
        }
    }

    #[test]
    fn string_scan_matches_the_reference_around_16_byte_blocks() {
        let pieces: [&[u8]; 12] = [
            b"a",
            b"\"",
            b"\\\\",
            b"\\\"",
            b"\t",
            b"\\u00e9",
            b"\\x",
            b"\xc3\xa9",
            b"\\u12",
            b"\\ud83d",
            b"\\ude00",
            b"\\ud83d\\ude00",
        ];
        let mut x: u64 = 12345;
        for _ in 0..20_000 {
            let mut line = b"\"".to_vec();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                line.extend_from_slice(pieces[(x % 9) as usize]);
            }
            x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            if x.is_multiple_of(3) {
                line.extend_from_slice(b"\" tail");
            }
            let mut s = Scanner { b: &line, i: 0, non_ascii: false };
            let got = s.string().map(|e| (e, s.i));
            assert_eq!(got, reference_string(&line, 0), "{:?}", String::from_utf8_lossy(&line));
        }
    }

    #[test]
    fn digit_runs_of_every_length_and_ending() {
        for len in 0..20 {
            for end in [&b""[..], b"x", b"/", b":", b"\xb9", b"\x39\x3a", b"."] {
                let mut text = "7".repeat(len).into_bytes();
                text.extend_from_slice(end);
                let mut s = Scanner { b: &text, i: 0, non_ascii: false };
                let expect = len + usize::from(end.first() == Some(&b'9'));
                assert_eq!(s.digits(), expect, "{len} {end:?}");
                assert_eq!(s.i, expect);
            }
        }
    }

    #[test]
    fn reports_members_and_non_objects() {
        let line = br#"{"stars": 3.5, "n":{"x":[1]}, "review_count":36}"#;
        let mut seen = Vec::new();
        let shape = scan_object(line, |m| {
            seen.push((
                std::str::from_utf8(&line[m.key.0..m.key.1]).unwrap().to_string(),
                std::str::from_utf8(&line[m.value.0..m.value.1]).unwrap().to_string(),
                m.kind,
            ))
        })
        .unwrap();
        assert_eq!(shape.close, line.len() - 1);
        assert_eq!(seen[0], ("stars".into(), "3.5".into(), Kind::Number));
        assert_eq!(seen[1], ("n".into(), r#"{"x":[1]}"#.into(), Kind::Object));
        assert_eq!(seen[2], ("review_count".into(), "36".into(), Kind::Number));
        assert_eq!(scan_object(b"[1,2]", |_| {}), Err(ScanError::NotObject("array")));
        assert_eq!(scan_object(b"\"s\"", |_| {}), Err(ScanError::NotObject("string")));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(matches!(scan_object(deep.as_bytes(), |_| {}), Err(ScanError::Syntax { .. })));
    }
}
