//! `pattern` constraints. Table Schema patterns are XML-Schema-style regular
//! expressions that must match the whole value, so each pattern compiles to
//! `^(?:pattern)$` with the `regex` crate. Patterns that are a fixed-length
//! sequence of ASCII character classes (e.g. GHCN's station id
//! `[A-Z]{2}[A-Z0-9]{9}`) also get a table matcher that gives the same
//! answer for ASCII values in a few nanoseconds; non-ASCII values always go
//! to the regex, so the semantics are the regex crate's in every case.

use regex::bytes::Regex;

/// A compiled pattern constraint.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
    fixed: Option<Vec<u128>>,
}

impl Pattern {
    /// Compiles `pattern` (anchored at both ends).
    pub fn compile(pattern: &str) -> Result<Self, String> {
        let regex =
            Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("pattern {pattern:?}: {e}"))?;
        Ok(Pattern { source: pattern.to_string(), regex, fixed: compile_fixed(pattern) })
    }

    /// The pattern text, for messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the table matcher is in use (for tests and docs).
    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }

    /// The table matcher's classes, one 128-bit ASCII set per position.
    pub fn fixed_classes(&self) -> Option<&[u128]> {
        self.fixed.as_deref()
    }

    /// Whether the whole `value` matches. `ascii` says the caller already
    /// knows `value` is ASCII.
    #[inline]
    pub fn matches(&self, value: &[u8], ascii: bool) -> bool {
        match &self.fixed {
            Some(classes) if ascii => {
                value.len() == classes.len()
                    && value.iter().zip(classes).all(|(&b, &class)| b < 128 && class & (1u128 << b) != 0)
            }
            _ => self.regex.is_match(value),
        }
    }
}

/// Compiles a pattern made only of ASCII literals, `.`, `\d`, escaped
/// punctuation and `[...]` classes, each optionally repeated `{n}` times, to
/// one 128-bit set per position. Anything else returns `None` (regex only).
fn compile_fixed(pattern: &str) -> Option<Vec<u128>> {
    const DIGITS: u128 = ((1u128 << 10) - 1) << b'0';
    let bytes = pattern.as_bytes();
    if !pattern.is_ascii() {
        return None;
    }
    let mut out: Vec<u128> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let class: u128 = match bytes[i] {
            b'[' => {
                let (class, next) = parse_class(bytes, i + 1)?;
                i = next;
                class
            }
            b'\\' => {
                let c = *bytes.get(i + 1)?;
                i += 2;
                match c {
                    b'd' => DIGITS,
                    c if c.is_ascii_punctuation() => 1u128 << c,
                    _ => return None,
                }
            }
            b'.' => {
                i += 1;
                !(1u128 << b'\n')
            }
            b'(' | b')' | b'|' | b'*' | b'+' | b'?' | b'{' | b'}' | b'^' | b'$' | b']' => {
                return None;
            }
            c if c.is_ascii_graphic() || c == b' ' => {
                i += 1;
                1u128 << c
            }
            _ => return None,
        };
        let mut repeat = 1usize;
        if bytes.get(i) == Some(&b'{') {
            let close = i + bytes[i..].iter().position(|&b| b == b'}')?;
            let n: usize = std::str::from_utf8(&bytes[i + 1..close]).ok()?.parse().ok()?;
            if n == 0 || n > 256 {
                return None;
            }
            repeat = n;
            i = close + 1;
        }
        if matches!(bytes.get(i), Some(b'*' | b'+' | b'?' | b'{')) {
            return None;
        }
        out.extend(std::iter::repeat_n(class, repeat));
    }
    if out.is_empty() { None } else { Some(out) }
}

/// Parses a class body starting after `[`; returns the set and the index
/// after `]`. Supports ranges, single characters, `\d`, escaped punctuation
/// and a leading `^` (complement within ASCII).
fn parse_class(bytes: &[u8], mut i: usize) -> Option<(u128, usize)> {
    let negate = bytes.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut set: u128 = 0;
    let mut first = true;
    loop {
        let c = *bytes.get(i)?;
        if c == b']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = match c {
            b'\\' => {
                let e = *bytes.get(i + 1)?;
                i += 2;
                if e == b'd' {
                    set |= ((1u128 << 10) - 1) << b'0';
                    continue;
                }
                if !e.is_ascii_punctuation() {
                    return None;
                }
                e
            }
            b'[' | b'&' | b'~' => return None, // nested classes, set operations
            _ => {
                i += 1;
                c
            }
        };
        if bytes.get(i) == Some(&b'-') && bytes.get(i + 1).is_some_and(|&n| n != b']') {
            let hi = bytes[i + 1];
            if hi == b'\\' || hi < lo {
                return None;
            }
            for b in lo..=hi {
                set |= 1u128 << b;
            }
            i += 2;
        } else {
            set |= 1u128 << lo;
        }
    }
    if negate {
        set = !set;
    }
    Some((set, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_matcher_agrees_with_regex() {
        let patterns =
            ["[A-Z]{2}[A-Z0-9]{9}", "\\d{4}", "[0-2][0-9][0-5][0-9]", "a.c", "[^x]{2}", "[-a]b", "x\\.y"];
        let values: Vec<Vec<u8>> = [
            "USW00094728",
            "usw00094728",
            "US",
            "USW000947289",
            "1234",
            "12a4",
            "0759",
            "2960",
            "abc",
            "a\nc",
            "ab",
            "xx",
            "-b",
            "ab",
            "x.y",
            "xzy",
            "",
            "AB1234567890",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        for p in patterns {
            let pat = Pattern::compile(p).unwrap();
            assert!(pat.is_fixed(), "{p} should use the table matcher");
            let re = Regex::new(&format!("^(?:{p})$")).unwrap();
            for v in &values {
                assert_eq!(pat.matches(v, v.is_ascii()), re.is_match(v), "{p} vs {v:?}");
            }
        }
        // Generated values around the GHCN id shape.
        let pat = Pattern::compile("[A-Z]{2}[A-Z0-9]{9}").unwrap();
        let re = Regex::new("^(?:[A-Z]{2}[A-Z0-9]{9})$").unwrap();
        let alphabet = b"AZaz09_-";
        for seed in 0u64..5000 {
            let len = (seed % 13) as usize;
            let v: Vec<u8> =
                (0..len).map(|i| alphabet[((seed >> (i % 8)) as usize + i * 7) % alphabet.len()]).collect();
            assert_eq!(pat.matches(&v, true), re.is_match(&v), "{v:?}");
        }
    }

    #[test]
    fn complex_patterns_use_regex() {
        for p in ["a|b", "a+", "(ab){2}", "[a-z]{1,3}", "\\w+"] {
            let pat = Pattern::compile(p).unwrap();
            assert!(!pat.is_fixed(), "{p}");
        }
        let p = Pattern::compile("PRCP|SNOW").unwrap();
        assert!(p.matches(b"SNOW", true));
        assert!(!p.matches(b"SNOWX", true));
        assert!(Pattern::compile("(").is_err());
    }
}
