//! Byte classification for the CSV scanner: for a whole range of input,
//! one bitmask word per 64 bytes each for delimiters, newlines and
//! "special" bytes (a quote or a byte >= 0x80). Rows are then found and
//! split by walking set bits instead of bytes.
//!
//! x86_64 uses AVX2 when the CPU has it (checked at run time, so one
//! binary runs everywhere) and SSE2 (part of the x86_64 baseline)
//! otherwise; other targets use a portable loop.

/// Bit `i` of word `w` describes byte `64 * w + i` of the classified range.
#[derive(Debug, Default, Clone)]
pub struct MaskArrays {
    /// The delimiter.
    pub delimiters: Vec<u64>,
    /// `\n`.
    pub newlines: Vec<u64>,
    /// `"` or a byte >= 0x80.
    pub special: Vec<u64>,
}

impl MaskArrays {
    /// Classifies `data` (any length). The arrays get one zero word past
    /// the end, so [`window`] may always read the word after the last one.
    pub fn classify(&mut self, data: &[u8], delimiter: u8) {
        let words = data.len().div_ceil(64) + 1;
        for v in [&mut self.delimiters, &mut self.newlines, &mut self.special] {
            // Every word is written below: no need to clear first (that
            // would be a third more memory traffic per block).
            v.resize(words, 0);
            v.truncate(words);
            v[words - 1] = 0;
        }
        let full = data.len() / 64;
        classify_full_blocks(&data[..full * 64], delimiter, self);
        if full * 64 < data.len() {
            let mut block = [0u8; 64];
            let tail = &data[full * 64..];
            block[..tail.len()].copy_from_slice(tail);
            let (d, n, s) = classify_portable(&block, delimiter);
            self.delimiters[full] = d;
            self.newlines[full] = n;
            self.special[full] = s;
        }
    }
}

/// The `len` (1..=64) bits of `words` starting at bit `at`, in the low
/// bits of the result. `words` must have a word after the one holding
/// bit `at + len - 1` (see [`MaskArrays::classify`]).
#[inline(always)]
pub fn window(words: &[u64], at: usize, len: usize) -> u64 {
    let (w, shift) = (at / 64, at % 64);
    let lo = words[w] >> shift;
    // Two shifts so that shift == 0 does not shift by 64.
    let hi = (words[w + 1] << 1) << (63 - shift);
    let bits = lo | hi;
    if len >= 64 { bits } else { bits & ((1u64 << len) - 1) }
}

/// The positions in `[start, end)` whose bit is set in `words`, where bit
/// `i` stands for position `base + i`; in increasing order. The one walk
/// over delimiter bits that the fast and the general CSV paths share.
pub fn set_bits(words: &[u64], base: usize, start: usize, end: usize) -> SetBits<'_> {
    SetBits { words, base, next: start, end, bits: 0, bits_at: start }
}

/// Iterator of [`set_bits`].
pub struct SetBits<'a> {
    words: &'a [u64],
    base: usize,
    /// First position not yet loaded into `bits`.
    next: usize,
    end: usize,
    /// Unvisited set bits of the current window, which starts at `bits_at`.
    bits: u64,
    bits_at: usize,
}

impl Iterator for SetBits<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            if self.next >= self.end {
                return None;
            }
            let n = (self.end - self.next).min(64);
            self.bits = window(self.words, self.next - self.base, n);
            self.bits_at = self.next;
            self.next += n;
        }
        let pos = self.bits_at + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(pos)
    }
}

fn classify_full_blocks(data: &[u8], delimiter: u8, out: &mut MaskArrays) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { x86::classify_avx2(data, delimiter, out) };
        } else {
            x86::classify_sse2(data, delimiter, out);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for (i, block) in data.chunks_exact(64).enumerate() {
        let block: &[u8; 64] = block.try_into().unwrap_or(&[0; 64]);
        let (d, n, s) = classify_portable(block, delimiter);
        out.delimiters[i] = d;
        out.newlines[i] = n;
        out.special[i] = s;
    }
}

/// (delimiters, newlines, special) of one block, byte by byte.
fn classify_portable(block: &[u8; 64], delimiter: u8) -> (u64, u64, u64) {
    let (mut d, mut n, mut s) = (0u64, 0u64, 0u64);
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        if b == b'\n' {
            n |= bit;
        }
        if b == delimiter {
            d |= bit;
        }
        if b == b'"' || b >= 0x80 {
            s |= bit;
        }
    }
    (d, n, s)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::MaskArrays;

    /// `data.len()` is a multiple of 64.
    pub fn classify_sse2(data: &[u8], delimiter: u8, out: &mut MaskArrays) {
        // SAFETY: SSE2 is part of the x86_64 baseline; every load reads
        // 16 bytes inside the current 64-byte block of `data`, and `loadu`
        // has no alignment requirement.
        unsafe {
            let delim = _mm_set1_epi8(delimiter as i8);
            let newline = _mm_set1_epi8(b'\n' as i8);
            let quote = _mm_set1_epi8(b'"' as i8);
            for (i, block) in data.chunks_exact(64).enumerate() {
                let (mut d, mut n, mut s) = (0u64, 0u64, 0u64);
                for lane in 0..4 {
                    let v = _mm_loadu_si128(block.as_ptr().add(16 * lane).cast::<__m128i>());
                    let shift = 16 * lane;
                    d |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, delim)) as u16) << shift;
                    n |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, newline)) as u16) << shift;
                    // movemask of the raw bytes is their high bits: non-ASCII.
                    let q = _mm_or_si128(_mm_cmpeq_epi8(v, quote), v);
                    s |= u64::from(_mm_movemask_epi8(q) as u16) << shift;
                }
                out.delimiters[i] = d;
                out.newlines[i] = n;
                out.special[i] = s;
            }
        }
    }

    /// `data.len()` is a multiple of 64.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn classify_avx2(data: &[u8], delimiter: u8, out: &mut MaskArrays) {
        let delim = _mm256_set1_epi8(delimiter as i8);
        let newline = _mm256_set1_epi8(b'\n' as i8);
        let quote = _mm256_set1_epi8(b'"' as i8);
        let masks = |v: __m256i| -> (u64, u64, u64) {
            let d = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, delim)) as u32;
            let n = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, newline)) as u32;
            let s = _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, quote), v)) as u32;
            (u64::from(d), u64::from(n), u64::from(s))
        };
        for (i, block) in data.chunks_exact(64).enumerate() {
            // SAFETY: both 32-byte loads are inside this 64-byte block;
            // `loadu` has no alignment requirement.
            let (a, b) = unsafe {
                (
                    _mm256_loadu_si256(block.as_ptr().cast::<__m256i>()),
                    _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>()),
                )
            };
            let (d0, n0, s0) = masks(a);
            let (d1, n1, s1) = masks(b);
            out.delimiters[i] = d0 | d1 << 32;
            out.newlines[i] = n0 | n1 << 32;
            out.special[i] = s0 | s1 << 32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..300u32 {
            data.push(match i % 7 {
                0 => b',',
                1 => b'\n',
                2 => b'"',
                3 => 0xC3,
                _ => b'a' + (i % 26) as u8,
            });
        }
        data
    }

    #[test]
    fn masks_match_bytes() {
        let data = sample();
        for len in [0usize, 1, 63, 64, 65, 200, 300] {
            let data = &data[..len];
            let mut m = MaskArrays::default();
            m.classify(data, b',');
            assert_eq!(m.newlines.len(), len.div_ceil(64) + 1);
            for (i, &b) in data.iter().enumerate() {
                let bit = |v: &[u64]| v[i / 64] >> (i % 64) & 1 == 1;
                assert_eq!(bit(&m.delimiters), b == b',', "{len} {i}");
                assert_eq!(bit(&m.newlines), b == b'\n');
                assert_eq!(bit(&m.special), b == b'"' || b >= 0x80);
            }
            for words in [&m.delimiters, &m.newlines, &m.special] {
                for i in len..words.len() * 64 {
                    assert_eq!(words[i / 64] >> (i % 64) & 1, 0, "padding bit {i}");
                }
            }
        }
    }

    #[test]
    fn sse2_agrees_with_portable() {
        let data = sample();
        let full = &data[..256];
        let mut m = MaskArrays::default();
        m.classify(full, b',');
        #[cfg(target_arch = "x86_64")]
        {
            let mut sse = m.clone();
            sse.delimiters.iter_mut().for_each(|w| *w = 0);
            x86::classify_sse2(full, b',', &mut sse);
            assert_eq!(sse.delimiters, m.delimiters);
            assert_eq!(sse.special, m.special);
        }
        for (i, block) in full.chunks_exact(64).enumerate() {
            let (d, n, s) = classify_portable(block.try_into().unwrap(), b',');
            assert_eq!((d, n, s), (m.delimiters[i], m.newlines[i], m.special[i]));
        }
    }

    #[test]
    fn set_bits_walks_every_set_bit_in_range() {
        let words = [0xF0F0_F0F0_F0F0_F0F0u64, 0x0123_4567_89AB_CDEF, 0x8000_0000_0000_0001, 0];
        for base in [0, 7] {
            for start in (base..base + 150).step_by(13) {
                for end in (start..base + 192).step_by(17) {
                    let want: Vec<usize> = (start..end)
                        .filter(|p| {
                            let b = p - base;
                            words[b / 64] >> (b % 64) & 1 == 1
                        })
                        .collect();
                    assert_eq!(
                        set_bits(&words, base, start, end).collect::<Vec<_>>(),
                        want,
                        "{base} {start} {end}"
                    );
                }
            }
        }
    }

    #[test]
    fn windows() {
        let words = [0xF0F0_F0F0_F0F0_F0F0u64, 0x0123_4567_89AB_CDEF, 0];
        for at in 0..128 {
            for len in 1..=64 {
                let want = (0..len).fold(0u64, |acc, i| {
                    let b = at + i;
                    acc | ((words[b / 64] >> (b % 64) & 1) << i)
                });
                assert_eq!(window(&words, at, len), want, "{at} {len}");
            }
        }
    }
}
