//! Row shapes: the fast path's check of a whole short row at once.
//!
//! In a file like GHCN-Daily most rows look alike: the same field widths,
//! so the same delimiter positions. A row's *shape* is its delimiter
//! bitmask and its length (rows under 64 bytes). Per shape, everything the
//! rule set says about single bytes — a fixed-class pattern
//! (`[A-Z]{2}[A-Z0-9]{9}`), a one-byte enum (the flags), the sign and
//! digits of an integer, the lengths, the field count — is compiled once
//! into an allowed set of byte classes per position, and a row is checked
//! against it with a few AVX2 operations instead of field by field.
//!
//! Fields whose check is not about single bytes (dates, multi-byte enums,
//! anything the general check decides) are *residual*: the shape gives
//! their offsets and the column kernels of fast.rs check them.
//!
//! Byte classes are up to 16 "rectangles" of ASCII, each a set of high
//! nibbles times a set of low nibbles, so the classes of a byte are
//! `LO[b & 15] & HI[b >> 4]`: two table lookups, which `pshufb` does for
//! 32 bytes at a time. Any ASCII set is a union of rectangles (one per
//! distinct low-nibble set among its high nibbles), and a position allows
//! a union of rectangle bits; a byte is in the position's set exactly when
//! it is in one of the set's own rectangles.

use std::collections::HashMap;

use super::checks::{Check, ClassTable, FastField, TextSet, low_bytes};

/// Rows of up to this many bytes (terminator excluded) have a shape.
pub(super) const MAX_SHAPE_LEN: usize = 63;

/// Residual fields a shape can place; rule sets with more take the
/// column path.
const MAX_RESIDUAL: usize = 8;

/// Rectangles (class bits) available: two `pshufb` table pairs.
const CLASS_BITS: usize = 16;

/// Longest integer checked by classes alone: 18 digits always fit an i64.
const MAX_INTEGER_DIGITS: usize = 18;

/// The byte classes of a rule set.
#[derive(Debug, Clone, Default)]
struct ByteClasses {
    /// (high nibbles, low nibbles) of each class bit.
    rects: Vec<(u8, u16)>,
    /// Per low nibble: the class bits containing it, low and high byte.
    lo: [[u8; 16]; 2],
    /// Per high nibble (8..16 are not ASCII: no class).
    hi: [[u8; 16]; 2],
}

impl ByteClasses {
    /// The rectangles whose union is the ASCII set `set` (bit b = byte b).
    fn rects_of(set: u128) -> Vec<(u8, u16)> {
        let mut rects: Vec<(u8, u16)> = Vec::new();
        for h in 0..8 {
            let lows = (set >> (16 * h)) as u16;
            if lows == 0 {
                continue;
            }
            match rects.iter_mut().find(|r| r.1 == lows) {
                Some(r) => r.0 |= 1 << h,
                None => rects.push((1 << h, lows)),
            }
        }
        rects
    }

    /// The class masks of `sets`, adding the rectangles they need; `None`
    /// (and nothing added) when they do not fit in [`CLASS_BITS`].
    fn intern(&mut self, sets: &[u128]) -> Option<Vec<u16>> {
        let mut next = self.clone();
        let mut masks = Vec::with_capacity(sets.len());
        for &set in sets {
            let mut mask = 0u16;
            for rect in Self::rects_of(set) {
                let k = match next.rects.iter().position(|&r| r == rect) {
                    Some(k) => k,
                    None if next.rects.len() == CLASS_BITS => return None,
                    None => {
                        let k = next.rects.len();
                        next.rects.push(rect);
                        let (byte, bit) = (k / 8, 1u8 << (k % 8));
                        for l in 0..16 {
                            if rect.1 >> l & 1 == 1 {
                                next.lo[byte][l] |= bit;
                            }
                        }
                        for h in 0..8 {
                            if rect.0 >> h & 1 == 1 {
                                next.hi[byte][h] |= bit;
                            }
                        }
                        k
                    }
                };
                mask |= 1 << k;
            }
            masks.push(mask);
        }
        *self = next;
        Some(masks)
    }

    /// The class bits of byte `b` (none for bytes >= 0x80).
    #[inline(always)]
    fn of(&self, b: u8) -> u16 {
        let (l, h) = (usize::from(b & 15), usize::from(b >> 4));
        u16::from(self.lo[0][l] & self.hi[0][h]) | u16::from(self.lo[1][l] & self.hi[1][h]) << 8
    }
}

/// What a field checked by byte classes allows (a present value; an
/// empty one is allowed unless the field is required).
#[derive(Debug, Clone)]
enum ByteRule {
    /// Any bytes, length in `min..=max`.
    Any { min: usize, max: usize },
    /// Exactly `masks.len()` bytes, byte i in `masks[i]`.
    Fixed { masks: Vec<u16> },
    /// `[+-]?[0-9]{1,18}`.
    Integer { digit: u16, sign_or_digit: u16 },
    /// No present value passes (the field's lengths exclude its pattern).
    EmptyOnly,
}

#[derive(Debug, Clone)]
enum ShapeField {
    Bytes {
        required: bool,
        rule: ByteRule,
    },
    /// Not about single bytes: looked up in the shape pass or checked by
    /// its column kernel; the shape places it.
    Residual {
        slot: usize,
        required: bool,
        lookup: Lookup,
    },
}

/// How the shape pass checks a residual field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    /// A date/time of exactly `width` (at most 8) bytes: its answer is
    /// looked up by the value's bytes.
    Fixed { width: usize },
    /// A packed string enum: 1..=7 bytes, length in `min..=max`, looked up
    /// by its packed key (bytes, and the length + 1 in the top byte).
    Packed { min: usize, max: usize },
    /// Left to the field's column kernel.
    Column,
}

impl Lookup {
    /// The lookup for a residual field's check.
    pub(super) fn of(check: &Check) -> Self {
        match check {
            Check::Temporal(format) => match format.fast_check() {
                Some(tc) if tc.width() <= 8 => Lookup::Fixed { width: tc.width() },
                _ => Lookup::Column,
            },
            Check::Text { min, max, classes: None, set: Some(TextSet::Packed { .. }) } => {
                Lookup::Packed { min: *min, max: *max }
            }
            _ => Lookup::Column,
        }
    }
}

/// A residual field of one shape: where it is and, for a lookup, the key
/// of a row's value: `(load8(value) & mask) | tag`, always passing when
/// `skip` is 1 (an allowed empty value).
#[derive(Debug, Clone, Copy)]
pub(super) struct ResidualOp {
    pub(super) start: u8,
    pub(super) end: u8,
    pub(super) skip: u8,
    pub(super) mask: u64,
    pub(super) tag: u64,
}

/// A rule set compiled for shapes.
#[derive(Debug, Clone)]
pub(super) struct ShapeRules {
    classes: ByteClasses,
    fields: Vec<ShapeField>,
    /// The residual fields, in order: their column kernels run.
    pub(super) residual: Vec<usize>,
    avx2: bool,
}

impl ShapeRules {
    /// Shapes for the fast checks `checks` of a rule set, or `None` when
    /// too many fields would be residual.
    pub(super) fn compile(checks: &[FastField]) -> Option<Self> {
        let mut classes = ByteClasses::default();
        let mut fields = Vec::with_capacity(checks.len());
        let mut residual = Vec::new();
        for (f, field) in checks.iter().enumerate() {
            match byte_rule(&field.check, &mut classes) {
                Some(rule) => fields.push(ShapeField::Bytes { required: field.required, rule }),
                None => {
                    let lookup = Lookup::of(&field.check);
                    fields.push(ShapeField::Residual {
                        slot: residual.len(),
                        required: field.required,
                        lookup,
                    });
                    residual.push(f);
                }
            }
        }
        if residual.len() > MAX_RESIDUAL {
            return None;
        }
        Some(ShapeRules { classes, fields, residual, avx2: has_avx2() })
    }

    /// The shape of rows with delimiter bits `key` below bit `len` and bit
    /// `len` set (see [`shape_key`]).
    fn compile_shape(&self, key: u64) -> Shape {
        let len = 63 - key.leading_zeros() as usize;
        let mut rest = key & !(1 << len);
        let mut shape = Shape {
            never: true,
            checked: 0,
            allow: [[0; 64]; 2],
            ops: std::array::from_fn(|k| {
                // A row that is never clean still gets places its residual
                // checks may read: empty fields one byte apart.
                let f = self.residual.get(k).copied().unwrap_or(0) as u8;
                ResidualOp { start: f, end: f, skip: 1, mask: 0, tag: 0 }
            }),
        };
        if len == 0 || rest.count_ones() as usize + 1 != self.fields.len() {
            return shape;
        }
        let mut ops = shape.ops;
        let mut allow = [0u16; 64];
        let mut checked = 0u64;
        let mut start = 0usize;
        for field in &self.fields {
            let end = if rest == 0 { len } else { rest.trailing_zeros() as usize };
            rest &= rest.wrapping_sub(1);
            let n = end - start;
            match field {
                ShapeField::Residual { slot, required, lookup } => {
                    let op = &mut ops[*slot];
                    (op.start, op.end, op.skip, op.mask, op.tag) = (start as u8, end as u8, 0, 0, 0);
                    match *lookup {
                        _ if n == 0 && *required => return shape,
                        Lookup::Fixed { .. } | Lookup::Packed { .. } if n == 0 => op.skip = 1,
                        Lookup::Fixed { width } if n == width => op.mask = low_bytes(n),
                        Lookup::Packed { min, max } if n <= 7 && (min..=max).contains(&n) => {
                            op.mask = low_bytes(n);
                            op.tag = (n as u64 + 1) << 56;
                        }
                        Lookup::Column => {}
                        _ => return shape,
                    }
                }
                ShapeField::Bytes { required, .. } if n == 0 => {
                    if *required {
                        return shape;
                    }
                }
                ShapeField::Bytes { rule, .. } => {
                    let masks: &mut [u16] = &mut allow[start..end];
                    match rule {
                        ByteRule::Any { min, max } if (*min..=*max).contains(&n) => {}
                        ByteRule::Fixed { masks: m } if m.len() == n => masks.copy_from_slice(m),
                        ByteRule::Integer { digit, sign_or_digit } if n <= MAX_INTEGER_DIGITS => {
                            masks.fill(*digit);
                            if n > 1 {
                                masks[0] = *sign_or_digit;
                            }
                        }
                        _ => return shape,
                    }
                    if !matches!(rule, ByteRule::Any { .. }) {
                        checked |= ((1u64 << n) - 1) << start;
                    }
                }
            }
            start = end + 1;
        }
        shape.never = false;
        shape.checked = checked;
        shape.ops = ops;
        for (p, &a) in allow.iter().enumerate() {
            shape.allow[0][p] = a as u8;
            shape.allow[1][p] = (a >> 8) as u8;
        }
        shape
    }

    /// Bits of the checked positions of the row at `padded[start..]`
    /// whose byte is not allowed; `padded` must have 64 bytes from
    /// `start`. `AVX2` must only be true when the CPU has AVX2 (see
    /// [`Self::avx2`]); the caller is then compiled for AVX2 too, so the
    /// class tables stay in registers across rows.
    #[inline(always)]
    pub(super) fn failures<const AVX2: bool>(&self, padded: &[u8], start: usize, shape: &Shape) -> u64 {
        let row: &[u8; 64] = match padded.get(start..start + 64).and_then(|r| r.try_into().ok()) {
            Some(row) => row,
            None => return u64::MAX,
        };
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: AVX2 is true only when the CPU has AVX2.
            return unsafe { failures_avx2(&self.classes, row, shape) };
        }
        self.failures_portable(row, shape)
    }

    /// Whether the CPU has AVX2 (checked once, at compile time of the
    /// rules).
    pub(super) fn avx2(&self) -> bool {
        self.avx2
    }

    /// [`Self::failures`] byte by byte.
    fn failures_portable(&self, row: &[u8; 64], shape: &Shape) -> u64 {
        let mut fails = 0u64;
        let mut bits = shape.checked;
        while bits != 0 {
            let p = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let allow = u16::from(shape.allow[0][p]) | u16::from(shape.allow[1][p]) << 8;
            if self.classes.of(row[p]) & allow == 0 {
                fails |= 1 << p;
            }
        }
        fails
    }
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The byte rule for a field's fast check, or `None` when it is residual
/// (its check is not about single bytes, or its classes do not fit).
fn byte_rule(check: &Check, classes: &mut ByteClasses) -> Option<ByteRule> {
    const DIGITS: u128 = 0x3FF << b'0';
    const SIGNS: u128 = 1 << b'+' | 1 << b'-';
    match check {
        Check::Text { min, max, classes: None, set: None } => Some(ByteRule::Any { min: *min, max: *max }),
        Check::Text { min, max, classes: Some(ClassTable { sets, .. }), set: None } => {
            if !(*min..=*max).contains(&sets.len()) {
                return Some(ByteRule::EmptyOnly);
            }
            Some(ByteRule::Fixed { masks: classes.intern(sets)? })
        }
        Check::Text { min, max, classes: None, set: Some(TextSet::Bytes(bits)) } => {
            if !(*min..=*max).contains(&1) {
                return Some(ByteRule::EmptyOnly);
            }
            let ascii = u128::from(bits[0]) | u128::from(bits[1]) << 64;
            Some(ByteRule::Fixed { masks: classes.intern(&[ascii])? })
        }
        Check::Integer => {
            let masks = classes.intern(&[DIGITS, DIGITS | SIGNS])?;
            Some(ByteRule::Integer { digit: masks[0], sign_or_digit: masks[1] })
        }
        _ => None,
    }
}

/// The shape key of a row of `len` (at most [`MAX_SHAPE_LEN`]) bytes with
/// delimiter bits `bits`: the bits with bit `len` set above them, so
/// (bits, len) pairs have distinct keys and no key is 0.
#[inline(always)]
pub(super) fn shape_key(bits: u64, len: usize) -> u64 {
    bits | 1 << len
}

/// The compiled checks of one row shape.
#[derive(Debug, Clone)]
pub(super) struct Shape {
    /// Rows of this shape are never clean (wrong field count, a length
    /// no value of a field can have, ...): the general path decides.
    pub(super) never: bool,
    /// Positions whose byte is checked.
    checked: u64,
    /// Per position: the allowed class bits, low byte and high byte.
    allow: [[u8; 64]; 2],
    /// Per residual field: its place (relative to the row start) and how
    /// its lookup key is made.
    pub(super) ops: [ResidualOp; MAX_RESIDUAL],
}

/// Rows' shapes by key: a direct-mapped table in front of every shape
/// compiled so far.
#[derive(Debug)]
pub(super) struct ShapeCache {
    keys: Box<[u64; SLOTS]>,
    ids: Box<[u16; SLOTS]>,
    shapes: Vec<Shape>,
    known: HashMap<u64, u16>,
}

const SLOT_BITS: u32 = 10;
const SLOTS: usize = 1 << SLOT_BITS;

/// Shapes kept before starting over (input with ever new shapes, such as
/// random text, must not grow memory).
const MAX_SHAPES: usize = 4096;

impl ShapeCache {
    pub(super) fn new() -> Self {
        ShapeCache {
            keys: Box::new([0; SLOTS]),
            ids: Box::new([0; SLOTS]),
            shapes: Vec::new(),
            known: HashMap::new(),
        }
    }

    /// The shape of `key`, compiled on first sight.
    #[inline(always)]
    pub(super) fn get(&mut self, rules: &ShapeRules, key: u64) -> &Shape {
        let slot = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOT_BITS)) as usize;
        if self.keys[slot] != key {
            self.fill(rules, key, slot);
        }
        &self.shapes[usize::from(self.ids[slot])]
    }

    #[cold]
    #[inline(never)]
    fn fill(&mut self, rules: &ShapeRules, key: u64, slot: usize) {
        let id = match self.known.get(&key) {
            Some(&id) => id,
            None => {
                if self.shapes.len() == MAX_SHAPES {
                    self.shapes.clear();
                    self.known.clear();
                    self.keys.fill(0);
                }
                self.shapes.push(rules.compile_shape(key));
                let id = (self.shapes.len() - 1) as u16;
                self.known.insert(key, id);
                id
            }
        };
        self.keys[slot] = key;
        self.ids[slot] = id;
    }
}

/// [`ShapeRules::failures`] with AVX2: the classes of 32 bytes at a time
/// by `pshufb`, compared with the shape's allowed bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn failures_avx2(classes: &ByteClasses, row: &[u8; 64], shape: &Shape) -> u64 {
    use std::arch::x86_64::*;
    // SAFETY (loads): every pointer is to a 16-, 32- or 64-byte array
    // read within its bounds; `loadu` needs no alignment.
    unsafe {
        let table = |t: &[u8; 16]| _mm256_broadcastsi128_si256(_mm_loadu_si128(t.as_ptr().cast()));
        let (lo0, lo1, hi0, hi1) =
            (table(&classes.lo[0]), table(&classes.lo[1]), table(&classes.hi[0]), table(&classes.hi[1]));
        let nibble = _mm256_set1_epi8(0x0F);
        let mut fails = 0u64;
        for half in 0..2 {
            let at = 32 * half;
            let x = _mm256_loadu_si256(row.as_ptr().add(at).cast());
            let low = _mm256_and_si256(x, nibble);
            let high = _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble);
            let c0 = _mm256_and_si256(_mm256_shuffle_epi8(lo0, low), _mm256_shuffle_epi8(hi0, high));
            let c1 = _mm256_and_si256(_mm256_shuffle_epi8(lo1, low), _mm256_shuffle_epi8(hi1, high));
            let a0 = _mm256_loadu_si256(shape.allow[0].as_ptr().add(at).cast());
            let a1 = _mm256_loadu_si256(shape.allow[1].as_ptr().add(at).cast());
            let hits = _mm256_or_si256(_mm256_and_si256(c0, a0), _mm256_and_si256(c1, a1));
            let misses = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hits, _mm256_setzero_si256())) as u32;
            fails |= u64::from(misses) << at;
        }
        fails & shape.checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_exact_for_every_ascii_set_tried() {
        let sets: [u128; 6] = [
            0x3FF << b'0',
            ((1 << 26) - 1) << b'A',
            [b'B', b'D', b'H', b'K', b'L', b'O', b'P', b'T', b'W'].iter().fold(0, |s, &b| s | 1 << b),
            b"067AaBbCEFGHIKMmNQRrSsTUuWXZz".iter().fold(0, |s, &b| s | 1 << b),
            1 << 0 | 1 << 127 | 1 << b' ',
            0,
        ];
        let mut classes = ByteClasses::default();
        let masks = classes.intern(&sets).expect("fits");
        for (set, mask) in sets.iter().zip(masks) {
            for b in 0..=255u8 {
                let member = b < 128 && set >> b & 1 == 1;
                assert_eq!(classes.of(b) & mask != 0, member, "byte {b} set {set:x}");
            }
        }
    }

    #[test]
    fn classes_past_the_budget_add_nothing() {
        let mut classes = ByteClasses::default();
        // Every other byte of 0x20..0x7F: one rectangle per high nibble
        // with odd low nibbles... all the same low set, so one rectangle.
        let one = (0x20..0x80).step_by(2).fold(0u128, |s, b| s | 1 << b);
        assert_eq!(ByteClasses::rects_of(one).len(), 1);
        // Sixteen distinct single-byte sets fill the budget.
        let singles: Vec<u128> = (0..16).map(|i| 1u128 << (b'a' + i)).collect();
        assert!(classes.intern(&singles).is_some());
        let before = classes.rects.len();
        assert!(classes.intern(&[1 << b'z']).is_none());
        assert_eq!(classes.rects.len(), before);
        assert!(classes.intern(&[1 << b'a']).is_some(), "known rectangles are free");
    }

    #[test]
    fn keys_are_distinct_and_never_zero() {
        let mut seen = std::collections::HashSet::new();
        for len in 0..=MAX_SHAPE_LEN {
            for bits in [0u64, 1, 0b101, (1 << len) >> 1] {
                let bits = bits & ((1u64 << len) - 1);
                let key = shape_key(bits, len);
                assert_ne!(key, 0);
                seen.insert((key, bits, len));
            }
        }
        let keys: std::collections::HashSet<u64> = seen.iter().map(|k| k.0).collect();
        let pairs: std::collections::HashSet<(u64, usize)> = seen.iter().map(|k| (k.1, k.2)).collect();
        assert_eq!(keys.len(), pairs.len());
    }
}
