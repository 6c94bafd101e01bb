//! One line of a rejects file, `{"line","field","rule","reason","record"}`,
//! written directly: a file with a few percent bad rows has hundreds of
//! thousands of them, and going through serde's machinery cost ~1 µs
//! each. The bytes are exactly what `serde_json::to_writer` gives for the
//! same struct (tested), so readers see no difference.

use std::collections::BTreeMap;

/// Longest record text kept in a reject line, in bytes.
pub const MAX_REJECT_RECORD: usize = 1024;

/// Appends the reject line (with its `\n`) for `record` (cut at
/// [`MAX_REJECT_RECORD`] bytes, invalid UTF-8 replaced) to `out`.
pub fn write_reject(
    out: &mut Vec<u8>,
    line: u64,
    field: Option<&str>,
    rule: &str,
    reason: &str,
    record: &[u8],
) {
    let shown = &record[..record.len().min(MAX_REJECT_RECORD)];
    // The strict check is much faster than the lossy one and almost
    // always succeeds.
    let record = match std::str::from_utf8(shown) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(shown),
    };
    out.extend_from_slice(b"{\"line\":");
    out.extend_from_slice(itoa(line, &mut [0u8; 20]));
    out.extend_from_slice(b",\"field\":");
    match field {
        Some(f) => json_string(out, f),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"rule\":");
    json_string(out, rule);
    out.extend_from_slice(b",\"reason\":");
    json_string(out, reason);
    out.extend_from_slice(b",\"record\":");
    json_string(out, &record);
    out.extend_from_slice(b"}\n");
}

/// The reject counts every transform's stats carry, flattened into them
/// (`#[serde(flatten)]`) so the stats files keep their keys and order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RejectCounts {
    /// Records written to the rejects output.
    pub records_rejected: u64,
    /// Rejects per rule name.
    pub rejects_by_rule: BTreeMap<String, u64>,
    /// Rejects per field name (record-level rejects are not listed).
    pub rejects_by_field: BTreeMap<String, u64>,
}

impl RejectCounts {
    /// Counts one rejected record, under its rule and (if any) its field.
    pub fn add(&mut self, field: Option<&str>, rule: &str) {
        self.records_rejected += 1;
        count(&mut self.rejects_by_rule, rule);
        if let Some(f) = field {
            count(&mut self.rejects_by_field, f);
        }
    }
}

/// Adds one to `key`'s count, allocating the key only the first time.
fn count(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// `s` as a JSON string the way serde_json writes it: `"` and `\` and
/// control characters escaped (`\b \t \n \f \r`, else `\u00XX` in lower
/// case), everything else, non-ASCII included, as is.
fn json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut plain = 0;
    while let Some(at) = next_to_escape(bytes, plain) {
        let b = bytes[at];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0C => b"\\f",
            b'\r' => b"\\r",
            _ => b"",
        };
        out.extend_from_slice(&bytes[plain..at]);
        if escape.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
        plain = at + 1;
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

/// The first byte at or after `from` that JSON needs escaped: `"`, `\\`
/// or a control character (< 0x20); 16 bytes at a time.
#[inline]
fn next_to_escape(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= b.len() {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86_64 baseline; the load reads
        // b[i..i + 16], in bounds by the loop condition; `loadu` needs no
        // alignment.
        let mask = unsafe {
            let v = _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned v <= 0x1F  <=>  min(v, 0x1F) == v.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        };
        if mask != 0 {
            return Some(i + mask.trailing_zeros() as usize);
        }
        i += 16;
    }
    b.get(i..)?.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct RejectOut<'a> {
        line: u64,
        field: Option<&'a str>,
        rule: &'a str,
        reason: &'a str,
        record: &'a str,
    }

    #[test]
    fn same_bytes_as_serde_json() {
        let all_bytes: Vec<u8> = (0u8..=127).collect();
        let all = String::from_utf8(all_bytes).unwrap();
        let records: [&[u8]; 6] = [
            b"USW00094728,20230230,TMAX,1,,,W,0700",
            b"quote \" backslash \\ tab \t nul \0 del \x7f",
            "caf\u{e9} \u{1F600} \u{2028}".as_bytes(),
            b"bad \xff\xfe utf8 \xc3",
            all.as_bytes(),
            &[b'x'; 2000],
        ];
        for (i, record) in records.iter().enumerate() {
            for field in [None, Some("S_FLAG"), Some("we\"ird\n")] {
                let reason = format!("\"{}\" is not one of the allowed values \u{1}", i);
                let mut ours = Vec::new();
                write_reject(&mut ours, i as u64 * 1_000_003, field, "enum", &reason, record);
                let shown = String::from_utf8_lossy(&record[..record.len().min(MAX_REJECT_RECORD)]);
                let mut theirs = serde_json::to_vec(&RejectOut {
                    line: i as u64 * 1_000_003,
                    field,
                    rule: "enum",
                    reason: &reason,
                    record: &shown,
                })
                .unwrap();
                theirs.push(b'\n');
                assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
            }
        }
    }
}
