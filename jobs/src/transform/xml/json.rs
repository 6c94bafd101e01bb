//! The mapping: a record's tree written as xmltodict's value, in one of
//! two JSON styles.
//!
//! xmltodict (`parse` with its defaults) gives an element:
//! - no attributes and no children: its text, or `null` when it has none;
//! - else an object: `"@name": "value"` per attribute in document order,
//!   then one member per child name in order of first appearance (a name
//!   seen more than once, or listed in `force_list`, has an array of the
//!   values in document order), then `"#text"` if the element has text.
//!
//! The record is `{"<name>": <value>}`, as `xmltodict.parse` gives for the
//! element alone (an array when its name is in `force_list`).

use std::collections::HashMap;

use super::spec::Mapping;
use super::tree::{NONE, Node, Tree};

/// Siblings beyond this many are grouped by name through a hash map
/// (fewer are compared pairwise, which is faster for small counts).
const PAIRWISE: u32 = 16;

/// Writes trees as JSON.
pub struct JsonWriter<'f> {
    style: Mapping,
    force_list: &'f [Vec<u8>],
}

impl<'f> JsonWriter<'f> {
    /// A writer in `style`, with `force_list`'s names always arrays.
    pub fn new(style: Mapping, force_list: &'f [Vec<u8>]) -> Self {
        JsonWriter { style, force_list }
    }

    fn forced(&self, name: &[u8]) -> bool {
        !self.force_list.is_empty() && self.force_list.iter().any(|n| n.as_slice() == name)
    }

    #[inline]
    fn comma(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.style == Mapping::Xmltodict { b", " } else { b"," });
    }

    #[inline]
    fn colon(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.style == Mapping::Xmltodict { b": " } else { b":" });
    }

    #[inline]
    fn string(&self, out: &mut Vec<u8>, s: &[u8]) {
        self.string_after(out, b"", s);
    }

    /// The JSON string of an element or attribute name (after `prefix`,
    /// plain ASCII). Names were checked (`text::check_name`): ASCII
    /// letters, digits, `_ : - .` and non-ASCII characters, so only the
    /// non-ASCII ones may need escaping, and only in xmltodict's style.
    #[inline]
    fn name_after(&self, out: &mut Vec<u8>, prefix: &[u8], name: &[u8]) {
        if self.style == Mapping::Compact || name.is_ascii() {
            out.push(b'"');
            out.extend_from_slice(prefix);
            out.extend_from_slice(name);
            out.push(b'"');
        } else {
            self.string_after(out, prefix, name);
        }
    }

    /// The JSON string of `prefix` (plain ASCII, nothing to escape) and `s`.
    #[inline]
    fn string_after(&self, out: &mut Vec<u8>, prefix: &[u8], s: &[u8]) {
        out.push(b'"');
        out.extend_from_slice(prefix);
        match self.style {
            Mapping::Xmltodict => ascii_body(out, s),
            Mapping::Compact => utf8_body(out, s),
        }
        out.push(b'"');
    }

    /// Appends `{"<name>": <value>}` for the tree's root element.
    pub fn record(&self, tree: &Tree, out: &mut Vec<u8>) {
        let root = tree.node(0);
        let name = tree.get(root.name);
        out.push(b'{');
        self.name_after(out, b"", name);
        self.colon(out);
        let forced = self.forced(name);
        if forced {
            out.push(b'[');
        }
        self.value(tree, root, out);
        if forced {
            out.push(b']');
        }
        out.push(b'}');
    }

    fn value(&self, tree: &Tree, node: &Node, out: &mut Vec<u8>) {
        let attrs = tree.attrs_of(node);
        if attrs.is_empty() && node.children == 0 {
            if node.text.is_empty() {
                out.extend_from_slice(b"null");
            } else {
                self.string(out, tree.get(node.text));
            }
            return;
        }
        out.push(b'{');
        let mut first = true;
        for a in attrs {
            if !first {
                self.comma(out);
            }
            first = false;
            // "@" + name as one JSON string ('@' needs no escaping).
            self.name_after(out, b"@", tree.get(a.name));
            self.colon(out);
            self.string(out, tree.get(a.value));
        }
        if node.children > 0 {
            if node.children <= PAIRWISE {
                self.children_pairwise(tree, node, out, &mut first);
            } else {
                self.children_hashed(tree, node, out, &mut first);
            }
        }
        if !node.text.is_empty() {
            if !first {
                self.comma(out);
            }
            out.extend_from_slice(b"\"#text\"");
            self.colon(out);
            self.string(out, tree.get(node.text));
        }
        out.push(b'}');
    }

    /// One member per child name, in order of first appearance.
    fn children_pairwise(&self, tree: &Tree, node: &Node, out: &mut Vec<u8>, first: &mut bool) {
        let mut c = node.first_child;
        while c != NONE {
            let child = tree.node(c);
            let name = tree.get(child.name);
            // Already written with an earlier sibling of the same name?
            let mut earlier = node.first_child;
            let mut seen = false;
            while earlier != c {
                let e = tree.node(earlier);
                if e.key == child.key && tree.get(e.name) == name {
                    seen = true;
                    break;
                }
                earlier = e.next_sibling;
            }
            if !seen {
                if !*first {
                    self.comma(out);
                }
                *first = false;
                self.name_after(out, b"", name);
                self.colon(out);
                let key = child.key;
                let same_later = |from: u32| {
                    let mut later = from;
                    while later != NONE && {
                        let l = tree.node(later);
                        l.key != key || tree.get(l.name) != name
                    } {
                        later = tree.node(later).next_sibling;
                    }
                    later
                };
                let mut next = same_later(child.next_sibling);
                let array = next != NONE || self.forced(name);
                if array {
                    out.push(b'[');
                }
                self.value(tree, child, out);
                while next != NONE {
                    self.comma(out);
                    let n = tree.node(next);
                    self.value(tree, n, out);
                    next = same_later(n.next_sibling);
                }
                if array {
                    out.push(b']');
                }
            }
            c = child.next_sibling;
        }
    }

    fn children_hashed(&self, tree: &Tree, node: &Node, out: &mut Vec<u8>, first: &mut bool) {
        let mut groups: Vec<(u32, Vec<u32>)> = Vec::new();
        let mut by_name: HashMap<&[u8], usize> = HashMap::new();
        let mut c = node.first_child;
        while c != NONE {
            let child = tree.node(c);
            match by_name.get(tree.get(child.name)) {
                Some(&g) => groups[g].1.push(c),
                None => {
                    by_name.insert(tree.get(child.name), groups.len());
                    groups.push((c, Vec::new()));
                }
            }
            c = child.next_sibling;
        }
        for (head, rest) in &groups {
            self.member(tree, tree.get(tree.node(*head).name), *head, rest, out, first);
        }
    }

    fn member(&self, tree: &Tree, name: &[u8], head: u32, rest: &[u32], out: &mut Vec<u8>, first: &mut bool) {
        if !*first {
            self.comma(out);
        }
        *first = false;
        self.name_after(out, b"", name);
        self.colon(out);
        let array = !rest.is_empty() || self.forced(name);
        if array {
            out.push(b'[');
        }
        self.value(tree, tree.node(head), out);
        for &r in rest {
            self.comma(out);
            self.value(tree, tree.node(r), out);
        }
        if array {
            out.push(b']');
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn short_escape(b: u8) -> Option<&'static [u8]> {
    Some(match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0C => b"\\f",
        _ => return None,
    })
}

fn unicode_escape(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(unit >> 12 & 15) as usize],
        HEX[(unit >> 8 & 15) as usize],
        HEX[(unit >> 4 & 15) as usize],
        HEX[(unit & 15) as usize],
    ]);
}

/// The first byte at or after `from` that a JSON string needs escaped:
/// `"`, `\\`, a control character (< 0x20), and with `ascii` also DEL and
/// any byte >= 0x80; 16 bytes at a time.
#[inline]
fn next_to_escape(b: &[u8], from: usize, ascii: bool) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut i = from;
        while i + 16 <= b.len() {
            let mask = escape_mask(&b[i..i + 16], ascii);
            if mask != 0 {
                return Some(i + mask.trailing_zeros() as usize);
            }
            i += 16;
        }
        if i >= b.len() {
            return None;
        }
        if b.len() >= 16 {
            // The rest: the last 16 bytes, less those already scanned.
            let last = b.len() - 16;
            let mask = escape_mask(&b[last..], ascii) >> (i - last);
            return (mask != 0).then(|| i + mask.trailing_zeros() as usize);
        }
        // A short string (most names and values): byte by byte is cheaper
        // than copying it into a padded block.
        b[i..].iter().position(|&c| needs_escape(c, ascii)).map(|p| i + p)
    }
    #[cfg(not(target_arch = "x86_64"))]
    b.get(from..)?.iter().position(|&c| needs_escape(c, ascii)).map(|p| from + p)
}

/// Whether a JSON string needs `c` escaped (see `next_to_escape`).
#[inline(always)]
fn needs_escape(c: u8, ascii: bool) -> bool {
    c == b'"' || c == b'\\' || c < 0x20 || (ascii && c >= 0x7F)
}

/// Bit i set when byte i of the 16 needs escaping (see `next_to_escape`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn escape_mask(chunk: &[u8], ascii: bool) -> u32 {
    use std::arch::x86_64::*;
    debug_assert_eq!(chunk.len(), 16);
    // SAFETY: SSE2 is part of the x86_64 baseline; `chunk` is 16 bytes
    // (every caller passes exactly 16) and `loadu` needs no alignment.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned v <= 0x1F  <=>  min(v, 0x1F) == v.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
        let mut any = _mm_or_si128(_mm_or_si128(quote, backslash), control);
        if ascii {
            // v >= 0x7F (unsigned)  <=>  max(v, 0x7F) == v.
            any = _mm_or_si128(any, _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x7F)), v));
        }
        _mm_movemask_epi8(any) as u32
    }
}

/// `s` quoted by the body writer `body` (for the tests).
#[cfg(test)]
fn quoted(out: &mut Vec<u8>, s: &[u8], body: fn(&mut Vec<u8>, &[u8])) {
    out.push(b'"');
    body(out, s);
    out.push(b'"');
}

#[cfg(test)]
fn utf8_string(out: &mut Vec<u8>, s: &[u8]) {
    quoted(out, s, utf8_body);
}

#[cfg(test)]
fn ascii_string(out: &mut Vec<u8>, s: &[u8]) {
    quoted(out, s, ascii_body);
}

/// The inside of a JSON string as serde_json writes it: `"`, `\` and
/// control characters escaped, the rest (valid UTF-8) as is.
fn utf8_body(out: &mut Vec<u8>, s: &[u8]) {
    let mut plain = 0;
    while let Some(i) = next_to_escape(s, plain, false) {
        out.extend_from_slice(&s[plain..i]);
        let b = s[i];
        match short_escape(b) {
            Some(e) => out.extend_from_slice(e),
            None => unicode_escape(out, u32::from(b)),
        }
        plain = i + 1;
    }
    out.extend_from_slice(&s[plain..]);
}

/// The inside of a JSON string as Python's `json.dumps` writes it
/// (`ensure_ascii`): printable ASCII but `"` and `\` as is, everything else
/// escaped, non-ASCII as `\uXXXX` (UTF-16 surrogate pairs above U+FFFF).
fn ascii_body(out: &mut Vec<u8>, s: &[u8]) {
    let mut plain = 0;
    while let Some(i) = next_to_escape(s, plain, true) {
        out.extend_from_slice(&s[plain..i]);
        let b = s[i];
        if b < 0x80 {
            match short_escape(b) {
                Some(e) => out.extend_from_slice(e),
                None => unicode_escape(out, u32::from(b)),
            }
            plain = i + 1;
        } else {
            // The text is valid UTF-8 (checked when parsed).
            let len = match b {
                0xF0.. => 4,
                0xE0.. => 3,
                _ => 2,
            };
            let end = (i + len).min(s.len());
            let ch =
                std::str::from_utf8(&s[i..end]).ok().and_then(|c| c.chars().next()).unwrap_or('\u{FFFD}');
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                unicode_escape(out, u32::from(*unit));
            }
            plain = end;
        }
    }
    out.extend_from_slice(&s[plain..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_needing_an_escape_is_found_at_any_offset() {
        for len in [0, 1, 15, 16, 17, 40] {
            let plain = vec![b'a'; len];
            assert_eq!(next_to_escape(&plain, 0, true), None);
            for at in 0..len {
                for bad in [b'"', b'\\', 0u8, 0x1F, 0x7F, 0x80, 0xFF] {
                    let mut with = plain.clone();
                    with[at] = bad;
                    let ascii_only = bad >= 0x7F;
                    assert_eq!(next_to_escape(&with, 0, true), Some(at), "{len} {at} {bad}");
                    assert_eq!(
                        next_to_escape(&with, 0, false),
                        (!ascii_only).then_some(at),
                        "{len} {at} {bad}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_scan_agrees_with_a_byte_loop_from_any_offset() {
        // Strings of every length around the 16-byte blocks, with bytes
        // to escape at several places, scanned from every offset.
        for len in 0..40 {
            let s: Vec<u8> = (0..len)
                .map(|i| match i % 7 {
                    3 if i % 2 == 0 => b'"',
                    5 => 0xC3,
                    6 if i > 20 => 0x01,
                    _ => b'a' + (i % 26) as u8,
                })
                .collect();
            for from in 0..=len {
                for ascii in [true, false] {
                    let naive = s[from..].iter().position(|&c| needs_escape(c, ascii)).map(|p| from + p);
                    assert_eq!(next_to_escape(&s, from, ascii), naive, "{len} {from} {ascii}");
                }
            }
        }
    }

    #[test]
    fn strings_in_both_styles() {
        let s = "q\" b\\ n\n t\t c\u{1} del\u{7f} caf\u{e9} \u{1F600} \u{2028}";
        let mut ours = Vec::new();
        utf8_string(&mut ours, s.as_bytes());
        assert_eq!(ours, serde_json::to_vec(s).unwrap());
        let mut ascii = Vec::new();
        ascii_string(&mut ascii, s.as_bytes());
        assert_eq!(
            String::from_utf8(ascii).unwrap(),
            r#""q\" b\\ n\n t\t c\u0001 del\u007f caf\u00e9 \ud83d\ude00 \u2028""#
        );
        // Long strings go through the 16-byte scan.
        let long = format!("{}{s}{}", "a".repeat(37), "b".repeat(21));
        let mut ours = Vec::new();
        utf8_string(&mut ours, long.as_bytes());
        assert_eq!(ours, serde_json::to_vec(&long).unwrap());
        let mut ascii = Vec::new();
        ascii_string(&mut ascii, long.as_bytes());
        assert!(ascii.is_ascii() && ascii.ends_with(br#"\u2028bbbbbbbbbbbbbbbbbbbbb""#));
    }
}
