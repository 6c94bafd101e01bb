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
    let record = String::from_utf8_lossy(&record[..record.len().min(MAX_REJECT_RECORD)]);
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

/// Adds one to `key`'s count, allocating the key only the first time.
pub fn count(map: &mut BTreeMap<String, u64>, key: &str) {
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
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0C => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain..i]);
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
        plain = i + 1;
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
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
