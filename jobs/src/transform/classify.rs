//! 64-byte block classification: bitmasks of delimiter, newline and
//! "special" bytes (quote or non-ASCII) for a block, 16 bytes per SSE2
//! compare on x86_64 (SSE2 is part of the x86_64 baseline) and a portable
//! loop elsewhere. The CSV scanner walks the set bits instead of every byte.

/// Bit `i` describes byte `at + i` of the classified block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masks {
    /// Delimiter or newline.
    pub separators: u64,
    /// Newline only.
    pub newlines: u64,
    /// `"` or a byte >= 0x80.
    pub special: u64,
}

/// Classifies `data[at..at + 64]` (bytes past the end count as plain).
#[inline]
pub fn classify(data: &[u8], at: usize, delimiter: u8) -> Masks {
    if let Some(block) = data.get(at..at + 64) {
        let block: &[u8; 64] = match block.try_into() {
            Ok(b) => b,
            Err(_) => return classify_padded(&data[at..], delimiter),
        };
        classify_block(block, delimiter)
    } else {
        classify_padded(data.get(at..).unwrap_or(&[]), delimiter)
    }
}

fn classify_padded(tail: &[u8], delimiter: u8) -> Masks {
    let mut block = [0u8; 64];
    block[..tail.len()].copy_from_slice(tail);
    classify_block(&block, delimiter)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify_block(block: &[u8; 64], delimiter: u8) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are
    // always available; `block` is 64 bytes, so each 16-byte load at
    // 16*lane is in bounds, and `loadu` has no alignment requirement.
    let (separators, newlines, special) = unsafe {
        let delim = _mm_set1_epi8(delimiter as i8);
        let newline = _mm_set1_epi8(b'\n' as i8);
        let quote = _mm_set1_epi8(b'"' as i8);
        let mut separators = 0u64;
        let mut newlines = 0u64;
        let mut special = 0u64;
        for lane in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * lane).cast::<__m128i>());
            let nl = _mm_cmpeq_epi8(v, newline);
            let sep = _mm_or_si128(_mm_cmpeq_epi8(v, delim), nl);
            let q = _mm_cmpeq_epi8(v, quote);
            let shift = 16 * lane;
            separators |= u64::from(_mm_movemask_epi8(sep) as u16) << shift;
            newlines |= u64::from(_mm_movemask_epi8(nl) as u16) << shift;
            // movemask of the raw bytes is their high bits: non-ASCII.
            special |= u64::from((_mm_movemask_epi8(q) | _mm_movemask_epi8(v)) as u16) << shift;
        }
        (separators, newlines, special)
    };
    Masks { separators, newlines, special }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn classify_block(block: &[u8; 64], delimiter: u8) -> Masks {
    let mut m = Masks { separators: 0, newlines: 0, special: 0 };
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        if b == b'\n' {
            m.newlines |= bit;
            m.separators |= bit;
        } else if b == delimiter {
            m.separators |= bit;
        }
        if b == b'"' || b >= 0x80 {
            m.special |= bit;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_bytes() {
        let mut data = Vec::new();
        for i in 0..200u32 {
            data.push(match i % 7 {
                0 => b',',
                1 => b'\n',
                2 => b'"',
                3 => 0xC3,
                _ => b'a' + (i % 26) as u8,
            });
        }
        for at in [0usize, 5, 64, 150, 190, 200] {
            let m = classify(&data, at, b',');
            for i in 0..64 {
                let b = data.get(at + i).copied().unwrap_or(0);
                assert_eq!(m.separators >> i & 1 == 1, b == b',' || b == b'\n', "sep {at}+{i}");
                assert_eq!(m.newlines >> i & 1 == 1, b == b'\n');
                assert_eq!(m.special >> i & 1 == 1, b == b'"' || b >= 0x80);
            }
        }
    }
}
