//! Character data as XML 1.0 defines it, decoded the way expat (and so
//! xmltodict) reports it: line ends normalised (`\r\n` and `\r` become
//! `\n`; in attribute values every `\t`, `\n`, `\r` becomes a space),
//! the five predefined entities and character references replaced, and
//! anything XML does not allow refused: invalid UTF-8, control characters,
//! references to entities that are not predefined (never looked up in a
//! DTD), `<` in an attribute value. The parser has already checked that
//! the input is UTF-8 (its events are `str`).

/// Why a piece of text is refused, and the byte offset in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    /// Offset of the offending byte in the raw text.
    pub at: usize,
    /// What is wrong.
    pub what: String,
}

fn err(at: usize, what: impl Into<String>) -> TextError {
    TextError { at, what: what.into() }
}

/// Whether `name` is a usable XML name (`Name` of XML 1.0, with the
/// ASCII part checked exactly and any non-ASCII character accepted; the
/// parser and serde have checked that it is UTF-8).
pub fn check_name(name: &[u8]) -> Result<(), String> {
    let Some(&first) = name.first() else { return Err("empty name".into()) };
    if first.is_ascii_digit() || first == b'-' || first == b'.' {
        return Err(format!("a name cannot start with {:?}", first as char));
    }
    if let Some(&bad) = name.iter().find(|&&b| !NAME_BYTE[usize::from(b)]) {
        return Err(format!("{:?} is not allowed in a name", bad as char));
    }
    Ok(())
}

/// Whether `raw` holds a byte below 0x20 other than tab and line feed
/// (a `\r` to normalise, or a control character to refuse); 16 bytes at
/// a time.
#[inline]
fn has_control(raw: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let mask = |chunk: &[u8]| {
            debug_assert_eq!(chunk.len(), 16);
            // SAFETY: SSE2 is part of the x86_64 baseline; `chunk` is 16
            // bytes (every call below) and `loadu` needs no alignment.
            unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
                let allowed =
                    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(9)), _mm_cmpeq_epi8(v, _mm_set1_epi8(10)));
                _mm_movemask_epi8(_mm_andnot_si128(allowed, control))
            }
        };
        let mut chunks = raw.chunks_exact(16);
        if chunks.by_ref().any(|c| mask(c) != 0) {
            return true;
        }
        let rest = chunks.remainder();
        if rest.is_empty() {
            return false;
        }
        if raw.len() >= 16 {
            // The rest: the last 16 bytes (some checked twice, no harm).
            return mask(&raw[raw.len() - 16..]) != 0;
        }
        // Short text: byte by byte is cheaper than a padded copy.
        rest.iter().any(|&b| b < 0x20 && b != b'\t' && b != b'\n')
    }
    #[cfg(not(target_arch = "x86_64"))]
    raw.iter().any(|&b| b < 0x20 && b != b'\t' && b != b'\n')
}

/// The bytes a name may hold: ASCII letters, digits, `_ : - .`, and any
/// byte of a non-ASCII character.
const NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c >= 0x80 || c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'-' | b'.');
        b += 1;
    }
    table
};

/// Whether the byte is a control character XML 1.0 does not allow
/// (everything below 0x20 but tab, line feed and carriage return).
#[inline]
fn forbidden_control(b: u8) -> bool {
    b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')
}

/// Appends character data (a text event: quick-xml hands references over
/// apart, so `&` does not occur) to `out`.
pub fn push_text(out: &mut Vec<u8>, raw: &str) -> Result<(), TextError> {
    let raw = raw.as_bytes();
    // Most text is plain: no `\r`, no control character.
    if !has_control(raw) {
        out.extend_from_slice(raw);
        return Ok(());
    }
    decode(out, raw, false, false)
}

/// Appends CDATA content to `out`: no references, line ends normalised.
pub fn push_cdata(out: &mut Vec<u8>, raw: &str) -> Result<(), TextError> {
    decode(out, raw.as_bytes(), false, false)
}

/// Appends an attribute value (as written between the quotes) to `out`.
pub fn push_attr_value(out: &mut Vec<u8>, raw: &str) -> Result<(), TextError> {
    decode(out, raw.as_bytes(), true, true)
}

/// Appends the text a reference `&name;` stands for (`name` without `&`
/// and `;`).
pub fn push_reference(out: &mut Vec<u8>, name: &[u8]) -> Result<(), String> {
    let ch = match name {
        b"lt" => '<',
        b"gt" => '>',
        b"amp" => '&',
        b"apos" => '\'',
        b"quot" => '"',
        [b'#', b'x', hex @ ..] => char_ref(hex, 16, name)?,
        [b'#', dec @ ..] => char_ref(dec, 10, name)?,
        _ => {
            return Err(format!(
                "reference to the undefined entity &{}; (only the five predefined entities and \
                 character references are expanded)",
                String::from_utf8_lossy(name)
            ));
        }
    };
    let mut utf8 = [0u8; 4];
    out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
    Ok(())
}

fn char_ref(digits: &[u8], radix: u32, name: &[u8]) -> Result<char, String> {
    let bad = || format!("invalid character reference &{};", String::from_utf8_lossy(name));
    if digits.is_empty() || digits.len() > 8 {
        return Err(bad());
    }
    let text = std::str::from_utf8(digits).map_err(|_| bad())?;
    let code = u32::from_str_radix(text, radix).map_err(|_| bad())?;
    let ch = char::from_u32(code).ok_or_else(bad)?;
    // XML 1.0 `Char`: no control characters but tab, LF, CR; no U+FFFE/F.
    if (code < 0x20 && !matches!(code, 0x9 | 0xA | 0xD)) || matches!(code, 0xFFFE | 0xFFFF) {
        return Err(format!("&{}; refers to a character XML does not allow", String::from_utf8_lossy(name)));
    }
    Ok(ch)
}

/// The general decoder: line ends, controls and (if `refs`)
/// references; `attr` also turns whitespace into spaces.
fn decode(out: &mut Vec<u8>, raw: &[u8], refs: bool, attr: bool) -> Result<(), TextError> {
    let mut i = 0;
    let mut plain = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'\r' => {
                out.extend_from_slice(&raw[plain..i]);
                out.push(if attr { b' ' } else { b'\n' });
                i += if raw.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                plain = i;
            }
            b'\n' | b'\t' if attr => {
                out.extend_from_slice(&raw[plain..i]);
                out.push(b' ');
                i += 1;
                plain = i;
            }
            b'<' if attr => return Err(err(i, "'<' is not allowed in an attribute value")),
            b'&' if refs => {
                out.extend_from_slice(&raw[plain..i]);
                let end =
                    memchr::memchr(b';', &raw[i..]).ok_or_else(|| err(i, "'&' without a closing ';'"))?;
                push_reference(out, &raw[i + 1..i + end]).map_err(|what| err(i, what))?;
                i += end + 1;
                plain = i;
            }
            _ if forbidden_control(b) => {
                return Err(err(i, format!("control character U+{b:04X} is not allowed in XML")));
            }
            _ => i += 1,
        }
    }
    out.extend_from_slice(&raw[plain..]);
    Ok(())
}

/// Whether `raw` is only XML whitespace (space, tab, LF, CR).
pub fn is_blank(raw: &[u8]) -> bool {
    raw.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(raw: &str) -> Result<String, TextError> {
        let mut out = Vec::new();
        push_text(&mut out, raw)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn attr(raw: &str) -> Result<String, TextError> {
        let mut out = Vec::new();
        push_attr_value(&mut out, raw)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn line_ends_and_attribute_whitespace() {
        assert_eq!(text("a\r\nb\rc\nd\te").unwrap(), "a\nb\nc\nd\te");
        assert_eq!(attr("a\r\nb\rc\nd\te").unwrap(), "a b c d e");
        let mut out = Vec::new();
        push_cdata(&mut out, "x\r\n<&>]]").unwrap();
        assert_eq!(out, b"x\n<&>]]");
    }

    #[test]
    fn references_are_expanded_and_only_the_predefined_ones() {
        assert_eq!(attr("&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1F600;").unwrap(), "<>&'\"AB\u{1F600}");
        assert_eq!(attr("&#10;&#13;&#9;").unwrap(), "\n\r\t", "references escape the normalisation");
        let e = attr("a &ext; b").unwrap_err();
        assert_eq!(e.at, 2);
        assert!(e.what.contains("undefined entity &ext;"), "{}", e.what);
        assert!(attr("&#0;").unwrap_err().what.contains("not allow"));
        assert!(attr("&#xD800;").is_err());
        assert!(attr("&#xFFFE;").is_err());
        assert!(attr("&#12a;").is_err());
        assert!(attr("& b").unwrap_err().what.contains("without a closing"));
        assert!(attr("a<b").unwrap_err().what.contains("'<'"));
    }

    #[test]
    fn invalid_characters_are_refused_with_their_offset() {
        assert_eq!(text("ab\u{1}").unwrap_err().at, 2);
        assert_eq!(text("caf\u{e9} \u{1F600}").unwrap(), "caf\u{e9} \u{1F600}");
    }

    #[test]
    fn control_characters_are_found_at_any_offset() {
        for len in [0, 1, 15, 16, 17, 40] {
            let plain = "a\tb\n".repeat(len).into_bytes();
            assert!(!has_control(&plain), "{len}");
            for at in 0..plain.len() {
                for bad in [b'\r', 0u8, 0x1F] {
                    let mut with = plain.clone();
                    with[at] = bad;
                    assert!(has_control(&with), "{len} {at} {bad}");
                }
            }
        }
    }

    #[test]
    fn names() {
        for ok in ["a", "a:b", "_x", "x-1.2", "caf\u{e9}"] {
            assert!(check_name(ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "-a", ".a", "a b", "a/b", "#text", "a>"] {
            assert!(check_name(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
