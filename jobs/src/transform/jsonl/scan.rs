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
}

/// Scans `line` as one JSON object, calling `member` for each top-level
/// member in order.
pub fn scan_object(line: &[u8], mut member: impl FnMut(Member)) -> Result<ObjectShape, ScanError> {
    let mut s = Scanner { b: line, i: 0 };
    s.ws();
    match s.peek() {
        Some(b'{') => {}
        Some(_) => {
            // Valid JSON of another type is reported as such.
            let kind = s.value(0)?;
            s.ws();
            if s.i != line.len() {
                return Err(s.err("end of line after the value"));
            }
            return Err(ScanError::NotObject(kind.name()));
        }
        None => return Err(s.err("a JSON value")),
    }
    s.i += 1;
    s.ws();
    let mut empty = true;
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            s.ws();
            if s.peek() != Some(b'"') {
                return Err(s.err("a string key"));
            }
            let key_start = s.i + 1;
            let key_escaped = s.string()?;
            let key = (key_start, s.i - 1);
            s.ws();
            if s.peek() != Some(b':') {
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
                Some(b',') => s.i += 1,
                Some(b'}') => {
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
    Ok(ObjectShape { close, empty })
}

/// Decodes a JSON string's content (between quotes, already validated).
pub fn unescape(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let quoted = format!("\"{text}\"");
    serde_json::from_str::<String>(&quoted).unwrap_or_else(|_| text.into_owned())
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn err(&self, what: &'static str) -> ScanError {
        ScanError::Syntax { at: self.i, what }
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Kind, ScanError> {
        match self.peek() {
            Some(b'"') => {
                self.string()?;
                Ok(Kind::String)
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Ok(Kind::Number)
            }
            Some(b'{') => {
                self.container(depth, b'}', true)?;
                Ok(Kind::Object)
            }
            Some(b'[') => {
                self.container(depth, b']', false)?;
                Ok(Kind::Array)
            }
            Some(b't') => self.literal(b"true", Kind::Bool),
            Some(b'f') => self.literal(b"false", Kind::Bool),
            Some(b'n') => self.literal(b"null", Kind::Null),
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
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if object {
                if self.peek() != Some(b'"') {
                    return Err(self.err("a string key"));
                }
                self.string()?;
                self.ws();
                if self.peek() != Some(b':') {
                    return Err(self.err("':'"));
                }
                self.i += 1;
                self.ws();
            }
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("',' or a closing bracket")),
            }
        }
    }

    /// Scans a string starting at its opening quote; returns whether it
    /// contained escapes. Leaves `i` after the closing quote.
    #[inline]
    fn string(&mut self) -> Result<bool, ScanError> {
        self.i += 1;
        let mut escaped = false;
        loop {
            let rest = &self.b[self.i..];
            let Some(q) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(ScanError::Syntax { at: self.b.len(), what: "a closing quote" });
            };
            // Control characters must be escaped inside strings. A
            // branch-free OR over the run vectorises.
            let controls = rest[..q].iter().fold(0u8, |acc, &c| acc | u8::from(c < 0x20));
            if controls != 0 {
                let at = self.i + rest[..q].iter().position(|&c| c < 0x20).unwrap_or(0);
                return Err(ScanError::Syntax { at, what: "no raw control character in a string" });
            }
            self.i += q;
            if self.b[self.i] == b'"' {
                self.i += 1;
                return Ok(escaped);
            }
            escaped = true;
            self.i += 1;
            match self.peek() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                Some(b'u') => {
                    let hex = self.b.get(self.i + 1..self.i + 5);
                    if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                        return Err(self.err("four hex digits after \\u"));
                    }
                    self.i += 5;
                }
                _ => return Err(self.err("a valid escape")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<(), ScanError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
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
        ];
        for c in cases {
            let serde_ok = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(c).is_ok();
            assert_eq!(valid_object(c), serde_ok, "{c}");
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
