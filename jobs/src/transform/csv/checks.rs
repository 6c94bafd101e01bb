//! The compiled per-field checks of the fast path: what a present value
//! of each field must be (compiled from its [`FieldRule`] into the
//! cheapest test that gives the same answer), and the test of one value.
//! The fast path (fast.rs) runs them by column over a batch, the row
//! shapes (shape.rs) compile the single-byte ones into byte classes; both
//! read them from here, so neither depends on the other for them.

use std::collections::HashSet;

use super::rules::{EnumSet, FieldRule, FieldType};
use super::values::{DateTimeFormat, parse_int};

#[derive(Debug, Clone)]
pub(super) struct FastField {
    /// An empty value is missing (the only missing value): allowed unless
    /// required.
    pub(super) required: bool,
    pub(super) check: Check,
}

/// The test a present (non-empty) value must pass.
#[derive(Debug, Clone)]
pub(super) enum Check {
    /// `string`/`any` with any of length bounds, a fixed-length class
    /// pattern, and a string enum.
    Text { min: usize, max: usize, classes: Option<ClassTable>, set: Option<TextSet> },
    /// `integer` without further constraints.
    Integer,
    /// A date/time format, without further constraints.
    Temporal(DateTimeFormat),
    /// Anything else: the field's own general check.
    General(Box<FieldRule>),
}

/// A fixed-length class pattern, position by position.
#[derive(Debug, Clone)]
pub(super) struct ClassTable {
    pub(super) len: usize,
    /// The class of each position (bit b: byte b).
    pub(super) sets: Vec<u128>,
    /// One 256-entry acceptance row per position (the portable check).
    accept: Vec<u8>,
    /// The same classes as up to [`MAX_RANGES`] byte ranges per position,
    /// when the pattern is at most 16 long and every class fits: checked
    /// with a few SSE2 operations for all positions at once.
    pub(super) ranges: Option<Ranges>,
}

const MAX_RANGES: usize = 4;

/// Per range index k and position i: byte b is in range k of position i
/// when `b - low[k][i]` (wrapping) is at most `span[k][i]`. Positions
/// with fewer ranges repeat their first; positions past the pattern
/// accept everything (the length is checked apart).
#[derive(Debug, Clone, Copy)]
pub(super) struct Ranges {
    count: usize,
    low: [[u8; 16]; MAX_RANGES],
    span: [[u8; 16]; MAX_RANGES],
}

/// A string enum.
#[derive(Debug, Clone)]
pub(super) enum TextSet {
    /// Every value is one byte: a 256-bit set.
    Bytes([u64; 4]),
    /// Values of at most 7 bytes packed into u64 keys (see rules.rs).
    Packed { table: Vec<u64>, shift: u32 },
    /// Longer values.
    Hashed(HashSet<Vec<u8>>),
}

/// Loads 8 bytes from `padded[s..]` (little-endian).
#[inline(always)]
pub(super) fn load8(padded: &[u8], s: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&padded[s..s + 8]);
    u64::from_le_bytes(word)
}

/// All ones in the low `n` bytes (`n` in 0..=8; more counts as 8).
#[inline(always)]
pub(super) fn low_bytes(n: usize) -> u64 {
    const KEEP: [u64; 9] = [
        0,
        0xFF,
        0xFFFF,
        0xFF_FFFF,
        0xFFFF_FFFF,
        0xFF_FFFF_FFFF,
        0xFFFF_FFFF_FFFF,
        0xFF_FFFF_FFFF_FFFF,
        u64::MAX,
    ];
    KEEP[n.min(8)]
}

/// 1 when every byte of `x` selected by `keep` is an ASCII digit: high
/// nibble 3, and still 3 after adding 6. A byte that fails the first
/// test fails the whole check, and one that passes cannot carry into its
/// neighbour, so the per-byte arithmetic is exact.
#[inline(always)]
fn digits(x: u64, keep: u64) -> u8 {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const SIXES: u64 = 0x0606_0606_0606_0606;
    u8::from((x & HIGH & keep) == (ZEROS & keep))
        & u8::from((x.wrapping_add(SIXES) & HIGH & keep) == (ZEROS & keep))
}

/// `[+-]?[0-9]{1,8}` (always in the i64 range); 0 otherwise, including
/// for longer digit strings, which [`is_integer`] handles.
#[inline(always)]
pub(super) fn short_integer(padded: &[u8], s: usize, e: usize) -> u8 {
    // The sign is a 0/1 offset rather than a branch: about a third of
    // GHCN values are negative, at random.
    let c = padded[s];
    let digits_at = s + usize::from((c == b'+') | (c == b'-'));
    let n = e.saturating_sub(digits_at);
    let keep = low_bytes(n);
    digits(load8(padded, digits_at), keep) & u8::from((n != 0) & (n <= 8))
}

/// Same answer as [`parse_int`]`(..).is_some()`: `[+-]?[0-9]{1,19}` in
/// the i64 range.
#[inline(always)]
fn is_integer(padded: &[u8], s: usize, e: usize) -> bool {
    if e - s > 8 { parse_int(&padded[s..e]).is_some() } else { short_integer(padded, s, e) == 1 }
}

impl FastField {
    /// Whether the ASCII value `padded[s..e]` passes the field's checks
    /// (one value; [`Self::check_column`] is the batch form).
    pub(super) fn check(&self, padded: &[u8], s: usize, e: usize) -> bool {
        let len = e - s;
        let missing_ok = (len == 0) & !self.required;
        match &self.check {
            Check::Text { min, max, classes, set } => {
                let mut ok = (len >= *min) & (len <= *max);
                if let Some(t) = classes {
                    ok &= t.matches(padded, s, len);
                }
                ok &= match set {
                    None => true,
                    Some(TextSet::Bytes(bits)) => {
                        let b = padded[s];
                        (len == 1) & (bits[usize::from(b >> 6)] >> (b & 63) & 1 == 1)
                    }
                    Some(TextSet::Packed { table, shift }) => {
                        (len <= 7) && EnumSet::contains_packed(table, *shift, packed_key(padded, s, len))
                    }
                    Some(TextSet::Hashed(set)) => set.contains(&padded[s..e]),
                };
                missing_ok | ((len != 0) & ok)
            }
            Check::Integer => missing_ok | is_integer(padded, s, e),
            Check::Temporal(format) => missing_ok | format.is_valid_padded(padded, s, e),
            Check::General(rule) => rule.check(&padded[s..e], true).is_ok(),
        }
    }
}

impl ClassTable {
    fn new(classes: &[u128]) -> Self {
        let mut accept = vec![0u8; classes.len() * 256];
        for (i, class) in classes.iter().enumerate() {
            for b in 0..128usize {
                if class >> b & 1 == 1 {
                    accept[i * 256 + b] = 1;
                }
            }
        }
        ClassTable { len: classes.len(), sets: classes.to_vec(), accept, ranges: Ranges::new(classes) }
    }

    /// Whether `padded[s..s + len]` matches (false when `len` is not the
    /// pattern's length).
    fn matches(&self, padded: &[u8], s: usize, len: usize) -> bool {
        #[cfg(target_arch = "x86_64")]
        if let Some(r) = &self.ranges
            && let Some(bytes) = padded.get(s..s + 16)
        {
            return (len == self.len) & r.matches(bytes, self.len);
        }
        let v = &padded[s..s + len.min(self.len)];
        // One load and one AND per position, no branch per byte.
        let hits = v.iter().enumerate().fold(1u8, |ok, (i, &b)| ok & self.accept[i * 256 + usize::from(b)]);
        (len == self.len) & (hits == 1)
    }
}

impl Ranges {
    /// From 128-bit ASCII sets, or `None` when a set needs more than
    /// [`MAX_RANGES`] ranges or there are more than 16 positions.
    fn new(classes: &[u128]) -> Option<Self> {
        if classes.len() > 16 {
            return None;
        }
        let mut per_position: Vec<Vec<(u8, u8)>> = Vec::new();
        for &class in classes {
            let mut ranges: Vec<(u8, u8)> = Vec::new();
            let mut b = 0u8;
            while b < 128 {
                if class >> b & 1 == 1 {
                    let lo = b;
                    while b < 128 && class >> b & 1 == 1 {
                        b += 1;
                    }
                    ranges.push((lo, b - 1));
                } else {
                    b += 1;
                }
            }
            if ranges.is_empty() || ranges.len() > MAX_RANGES {
                return None;
            }
            per_position.push(ranges);
        }
        let count = per_position.iter().map(Vec::len).max().unwrap_or(1);
        let mut r = Ranges { count, low: [[0; 16]; MAX_RANGES], span: [[255; 16]; MAX_RANGES] };
        for (i, ranges) in per_position.iter().enumerate() {
            for k in 0..count {
                let (lo, hi) = ranges.get(k).copied().unwrap_or(ranges[0]);
                r.low[k][i] = lo;
                r.span[k][i] = hi - lo;
            }
        }
        Some(r)
    }

    /// Whether each of the first `len` (at most 16) bytes of `bytes` (16
    /// of them) is in its position's ranges.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) fn matches(&self, bytes: &[u8], len: usize) -> bool {
        use std::arch::x86_64::*;
        assert!(bytes.len() >= 16);
        // SAFETY: SSE2 is part of the x86_64 baseline; `bytes` (checked
        // above) and every table row have 16 bytes, and `loadu` needs no
        // alignment.
        let hits = unsafe {
            let x = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
            let mut ok = _mm_setzero_si128();
            for k in 0..self.count {
                let t = _mm_sub_epi8(x, _mm_loadu_si128(self.low[k].as_ptr().cast::<__m128i>()));
                let span = _mm_loadu_si128(self.span[k].as_ptr().cast::<__m128i>());
                // Unsigned t <= span  <=>  min(t, span) == t.
                ok = _mm_or_si128(ok, _mm_cmpeq_epi8(_mm_min_epu8(t, span), t));
            }
            _mm_movemask_epi8(ok) as u32
        };
        let want = (1u32 << len) - 1;
        hits & want == want
    }
}

/// The [`super::rules::pack`] key of `padded[s..s + len]` (0..=7 bytes)
/// from one 8-byte load instead of a byte loop.
#[inline(always)]
pub(super) fn packed_key(padded: &[u8], s: usize, len: usize) -> u64 {
    (load8(padded, s) & low_bytes(len)) | ((len as u64 + 1) << 56)
}

/// The fast check of `rule`: its own general check when nothing cheaper
/// gives the same answer.
pub(super) fn compile_field(rule: &FieldRule) -> FastField {
    let general = || FastField { required: rule.required, check: Check::General(Box::new(rule.clone())) };
    if !rule.missing_is_empty_only {
        return general();
    }
    let no_bounds = rule.minimum.is_none() && rule.maximum.is_none();
    let no_text_constraints =
        rule.min_length.is_none() && rule.max_length.is_none() && rule.pattern.is_none();
    let check = match &rule.field_type {
        FieldType::String | FieldType::Any if no_bounds => {
            let classes = match &rule.pattern {
                None => None,
                Some(p) => match p.fixed_classes() {
                    Some(classes) => Some(ClassTable::new(classes)),
                    None => return general(),
                },
            };
            let set = match &rule.enum_set {
                None => None,
                Some(EnumSet::Packed { table, shift }) => Some(text_set(table, *shift)),
                Some(EnumSet::Bytes(set)) => Some(TextSet::Hashed(set.clone())),
                Some(EnumSet::Typed(_)) => return general(),
            };
            let bound = |v: Option<u64>, default: usize| {
                v.map_or(default, |v| usize::try_from(v).unwrap_or(usize::MAX))
            };
            Check::Text {
                min: bound(rule.min_length, 0),
                max: bound(rule.max_length, usize::MAX),
                classes,
                set,
            }
        }
        FieldType::Integer if no_bounds && no_text_constraints && rule.enum_set.is_none() => Check::Integer,
        FieldType::Temporal { format, .. } if no_bounds && no_text_constraints && rule.enum_set.is_none() => {
            Check::Temporal(format.clone())
        }
        _ => return general(),
    };
    FastField { required: rule.required, check }
}

/// A one-byte set when every packed key is one byte long, else the packed
/// table itself.
fn text_set(table: &[u64], shift: u32) -> TextSet {
    let keys: Vec<u64> = table.iter().copied().filter(|&k| k != 0).collect();
    let one_byte = !keys.is_empty() && keys.iter().all(|&k| k >> 56 == 2);
    if one_byte {
        let mut bits = [0u64; 4];
        for k in keys {
            let b = (k & 0xFF) as usize;
            bits[b >> 6] |= 1 << (b & 63);
        }
        TextSet::Bytes(bits)
    } else {
        TextSet::Packed { table: table.to_vec(), shift }
    }
}
