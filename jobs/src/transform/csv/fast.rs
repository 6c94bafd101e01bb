//! The fast path of CSV validation: a yes/no check of plain ASCII rows
//! (no quote, no byte >= 0x80), compiled per field from the rule set into
//! the cheapest test that gives the same answer as the field's general
//! check ([`super::rules::FieldRule::check`]); the per-field checks
//! themselves are compiled in checks.rs.
//!
//! It only ever answers "clean": a row it does not pass (a failing value,
//! a wrong field count, a blank row) goes to the general validator, which
//! decides again and names the reason. So the fast path may be
//! conservative, but it must never pass a value the general check
//! rejects; the tests below and in tests/csv_validation.rs compare the
//! two on boundary values.
//!
//! Rows are gathered in a [`Batch`], split into fields with the delimiter
//! bitmasks, then checked one field (column) at a time: each field type
//! has its own small loop ("kernel") with its parameters in registers and
//! no dispatch or data-dependent branch inside. Checks read whole words
//! from the row buffer, past the end of short values: the buffer must
//! have [`PAD`] readable bytes past the data, and the extra bytes are
//! masked off.

use super::checks::{
    Check, ClassTable, FastField, Ranges, TextSet, compile_field, load8, packed_key, short_integer,
};
use super::rules::{EnumSet, FieldRule, slot};
use super::shape::{Lookup, MAX_SHAPE_LEN, ShapeCache, ShapeRules, shape_key};
use super::values::{TemporalCheck, parse_int};
use crate::transform::classify::{set_bits, window};

/// Readable bytes needed past the end of the data: a 16-byte load at
/// the start of any field of a row that failed to split (whose fields are
/// placed one byte apart from its start, see [`Batch::push`]).
pub(super) const PAD: usize = 64;

/// Rows with more fields than this take the general path only (see
/// [`PAD`]).
const MAX_FAST_WIDTH: usize = PAD - 16;

/// The compiled fast checks of a rule set.
#[derive(Debug, Clone)]
pub(super) struct FastRules {
    pub(super) fields: Vec<FastField>,
    /// The checks per row shape, for rows under 64 bytes.
    shape: Option<ShapeRules>,
    /// The residual fields of `shape` by how shape mode checks them
    /// ([`Lookup`]), each with its residual slot: one loop per kind, so
    /// no dispatch per field and row. Dates/times and packed enums are
    /// looked up in the shape pass; the placed fields are left to their
    /// column kernels.
    shape_temporal: Vec<(usize, usize, TemporalCheck)>,
    shape_packed: Vec<(usize, Vec<u64>, u32)>,
    shape_placed: Vec<(usize, usize)>,
    /// The other fields: checked one by one for a long row in shape mode.
    shape_by_row: Vec<usize>,
}

impl FastRules {
    /// The fast checks for a rule set's `fields`, or `None` when it needs
    /// per-record state (unique, primaryKey), which only the general path
    /// keeps.
    pub(super) fn compile(fields: &[FieldRule], needs_uniqueness: bool) -> Option<Self> {
        if needs_uniqueness || fields.len() > MAX_FAST_WIDTH {
            return None;
        }
        let mut fast = FastRules {
            fields: fields.iter().map(compile_field).collect(),
            shape: None,
            shape_temporal: Vec::new(),
            shape_packed: Vec::new(),
            shape_placed: Vec::new(),
            shape_by_row: Vec::new(),
        };
        fast.shape = ShapeRules::compile(&fast.fields);
        if let Some(shape) = &fast.shape {
            for (k, &f) in shape.residual.iter().enumerate() {
                let check = &fast.fields[f].check;
                match (Lookup::of(check), check) {
                    (Lookup::Fixed { .. }, Check::Temporal(format)) => match format.fast_check() {
                        Some(tc) => fast.shape_temporal.push((k, f, tc)),
                        None => fast.shape_placed.push((k, f)),
                    },
                    (
                        Lookup::Packed { .. },
                        Check::Text { set: Some(TextSet::Packed { table, shift }), .. },
                    ) => {
                        fast.shape_packed.push((k, table.clone(), *shift));
                    }
                    _ => fast.shape_placed.push((k, f)),
                }
            }
            let placed = |f: &usize| fast.shape_placed.iter().any(|&(_, p)| p == *f);
            fast.shape_by_row = (0..fast.fields.len()).filter(|f| !placed(f)).collect();
        }
        Some(fast)
    }

    /// Number of fields per row.
    pub(super) fn width(&self) -> usize {
        self.fields.len()
    }
}

/// Rows per [`Batch`]: the boundaries of a full batch (~18 KB for eight
/// fields) stay in L1 between splitting and checking.
pub(super) const BATCH_ROWS: usize = 512;

/// Plain ASCII rows gathered for checking column by column.
///
/// Checking row by row dispatches on the field type for every field of
/// every row; checking one field of all rows in a loop decides the type
/// once per batch, and the loop runs on independent rows, which the CPU
/// overlaps.
///
/// A batch is in one of two modes, which give the same answers:
/// - shape mode (the rule set has [`ShapeRules`] and rows are short): a
///   row's shape gives its field count and checks every field that is
///   about single bytes at once; only the residual fields are placed and
///   checked by column. Rows of 64 bytes or more are split and every
///   field without a column pass checked one by one.
/// - column mode: every row is split into fields ([`Batch::push`]) and
///   every field checked by column.
///
/// The mode follows the input: mostly long rows switch to column mode,
/// mostly short ones back to shape mode, at batch boundaries.
#[derive(Debug)]
pub(super) struct Batch {
    width: usize,
    /// The record limit: measured as the general path measures it (to the
    /// `\n`, a `\r` before it included).
    max_record: usize,
    rows: usize,
    /// Column-major field boundaries, absolute positions in the buffer:
    /// `bounds[f][r]` is the start of field `f` of row `r`, and
    /// `bounds[width][r]` is one past the end of its last field. Field `f`
    /// is `[bounds[f][r], bounds[f + 1][r] - 1)`. In shape mode only the
    /// residual fields' entries are set for short rows.
    bounds: Vec<[u32; BATCH_ROWS]>,
    /// Per row: its start and the position of its `\n`.
    pub(super) starts: Vec<usize>,
    pub(super) newlines: Vec<usize>,
    /// Per row: 1 while it may be clean.
    pub(super) ok: Vec<u8>,
    /// Per row in shape mode: its shape key, or 0 for a long row (split
    /// and checked in [`Self::push`]).
    keys: Vec<u64>,
    /// Per field: remembered answers of a date/time field, made on first
    /// use (~36 KB each: making one per field for every file was most of
    /// the cost of validating a small file).
    caches: Vec<Option<AnswerCache>>,
    /// Shapes seen so far (`None` when the rule set has no shapes).
    shapes: Option<ShapeCache>,
    shape_mode: bool,
    /// Rows of this batch too long for a shape.
    long_rows: usize,
}

impl Batch {
    /// A batch for `rules`' rows; a row longer than `max_record` (at
    /// least 64) never passes, so the general path rejects it as too long.
    pub(super) fn new(rules: &FastRules, max_record: usize) -> Self {
        let width = rules.width();
        let shapes = rules.shape.as_ref().map(|_| ShapeCache::new());
        Batch {
            width,
            max_record,
            rows: 0,
            bounds: vec![[0; BATCH_ROWS]; width + 1],
            starts: vec![0; BATCH_ROWS],
            newlines: vec![0; BATCH_ROWS],
            ok: vec![0; BATCH_ROWS],
            keys: vec![0; BATCH_ROWS],
            caches: (0..width).map(|_| None).collect(),
            shape_mode: shapes.is_some(),
            shapes,
            long_rows: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.rows
    }

    /// The batch with shape mode on or off (tests check both modes).
    #[cfg(test)]
    fn in_mode(mut self, shape_mode: bool) -> Self {
        self.shape_mode = shape_mode && self.shapes.is_some();
        self
    }

    pub(super) fn is_full(&self) -> bool {
        self.rows == BATCH_ROWS
    }

    /// Empties the batch and picks the next one's mode: column mode when
    /// over 1/8 of the rows were long, shape mode again under 1/16.
    pub(super) fn clear(&mut self) {
        if self.shapes.is_some() && self.rows > 0 {
            if self.shape_mode && self.long_rows * 8 > self.rows {
                self.shape_mode = false;
            } else if !self.shape_mode && self.long_rows * 16 < self.rows {
                self.shape_mode = true;
            }
        }
        self.rows = 0;
        self.long_rows = 0;
    }

    /// Adds the plain ASCII row `[start, newline)` of `padded` (a `\r`
    /// before the newline belongs to the terminator) and splits it on
    /// the delimiter bits (`delimiters` holds the bits of the buffer from
    /// `base` on). The caller makes sure the batch is not full and that
    /// positions fit in u32; `padded` extends [`PAD`] bytes past the row.
    #[inline(always)]
    pub(super) fn push(
        &mut self,
        rules: &FastRules,
        padded: &[u8],
        delimiters: &[u64],
        base: usize,
        start: usize,
        newline: usize,
    ) {
        let r = self.rows % BATCH_ROWS;
        self.rows += 1;
        self.starts[r] = start;
        self.newlines[r] = newline;
        let cr = (padded[newline.saturating_sub(1)] == b'\r') & (newline > start);
        let end = newline - usize::from(cr);
        let len = end - start;
        if self.shape_mode {
            if len <= MAX_SHAPE_LEN {
                // Looked up and checked with the whole batch
                // ([`Self::place_shapes`]).
                self.keys[r] = shape_key(window(delimiters, start - base, len), len);
                return;
            }
            self.keys[r] = 0;
        }
        let w = self.width;
        let split_ok = if len != 0 && len < 64 {
            // The common case: one word of delimiter bits, and exactly
            // width - 1 of them. Bit 63 stands in for an exhausted word
            // (so `trailing_zeros` needs no zero check): position 63 is
            // past any row this short.
            let mut bits = window(delimiters, start - base, len);
            let mut last = 0u32;
            let at = start as u32 + 1;
            for column in &mut self.bounds[1..w] {
                last = (bits | 1 << 63).trailing_zeros();
                bits &= bits.wrapping_sub(1);
                column[r] = at + last;
            }
            (bits == 0) & ((last as usize) < len)
        } else {
            // Rows under 64 bytes are within any limit (at least 64).
            len != 0 && newline - start <= self.max_record && self.split_long(delimiters, base, start, end)
        };
        self.bounds[0][r] = start as u32;
        self.bounds[w][r] = end as u32 + 1;
        if !split_ok {
            // Boundaries from a failed split could point anywhere: make
            // every field empty, one byte apart from the row start (within
            // PAD of the data). The row goes to the general path anyway.
            for (f, column) in self.bounds.iter_mut().enumerate() {
                column[r] = (start + f) as u32;
            }
        }
        self.ok[r] = u8::from(split_ok);
        if len > MAX_SHAPE_LEN {
            self.long_rows += 1;
        }
        if self.shape_mode && split_ok {
            // Only some residual fields have a column pass in shape mode.
            for &f in &rules.shape_by_row {
                let col = Column { starts: &self.bounds[f][r..=r], ends: &self.bounds[f + 1][r..=r] };
                let (s, e) = col.get(0);
                self.ok[r] &= u8::from(rules.fields[f].check(padded, s, e));
            }
        }
    }

    /// [`Self::push`]'s split for rows of 64 bytes or more.
    #[cold]
    fn split_long(&mut self, delimiters: &[u64], base: usize, start: usize, end: usize) -> bool {
        let r = self.rows - 1;
        let mut field = 1;
        for pos in set_bits(delimiters, base, start, end) {
            if field == self.width {
                return false;
            }
            self.bounds[field][r] = pos as u32 + 1;
            field += 1;
        }
        field == self.width
    }

    /// Clears `ok` for every row with a field that fails its fast check,
    /// one field (column) at a time: in shape mode the residual fields
    /// only. `padded` must extend [`PAD`] bytes past every row.
    pub(super) fn check(&mut self, rules: &FastRules, padded: &[u8]) {
        match rules.shape.as_ref() {
            Some(shape_rules) if self.shape_mode => {
                self.place_shapes(rules, shape_rules, padded);
                for &(_, f) in &rules.shape_placed {
                    self.check_field(rules, f, padded);
                }
            }
            _ => {
                for f in 0..self.width {
                    self.check_field(rules, f, padded);
                }
            }
        }
    }

    /// Shape mode: looks up the shape of every short row, checks its
    /// byte-class fields and its lookup fields (dates, enums), and places
    /// the residual fields left to column kernels.
    fn place_shapes(&mut self, fast: &FastRules, rules: &ShapeRules, padded: &[u8]) {
        #[cfg(target_arch = "x86_64")]
        if rules.avx2() {
            // SAFETY: the CPU has AVX2.
            unsafe { self.place_shapes_avx2(fast, rules, padded) };
            return;
        }
        self.place_shapes_with::<false>(fast, rules, padded);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn place_shapes_avx2(&mut self, fast: &FastRules, rules: &ShapeRules, padded: &[u8]) {
        self.place_shapes_with::<true>(fast, rules, padded);
    }

    #[inline(always)]
    fn place_shapes_with<const AVX2: bool>(&mut self, fast: &FastRules, rules: &ShapeRules, padded: &[u8]) {
        let Some(shapes) = self.shapes.as_mut() else { return };
        let rows = self.rows;
        let (keys, starts, oks) = (&self.keys[..rows], &self.starts[..rows], &mut self.ok[..rows]);
        let (bounds, caches) = (&mut self.bounds, &mut self.caches);
        for (r, ((&key, &start), ok_out)) in keys.iter().zip(starts).zip(oks.iter_mut()).enumerate() {
            if key == 0 {
                continue;
            }
            let shape = shapes.get(rules, key);
            let fails = rules.failures::<AVX2>(padded, start, shape);
            let mut ok = u8::from(!shape.never & (fails == 0));
            for &(k, f, ref tc) in &fast.shape_temporal {
                let op = &shape.ops[k];
                let word = load8(padded, start + usize::from(op.start)) & op.mask;
                ok &= caches[f].get_or_insert_with(AnswerCache::new).answer(tc, word) | op.skip;
            }
            for (k, table, shift) in &fast.shape_packed {
                let op = &shape.ops[*k];
                let key = (load8(padded, start + usize::from(op.start)) & op.mask) | op.tag;
                ok &= u8::from(packed_hit(table, *shift, key)) | op.skip;
            }
            for &(k, f) in &fast.shape_placed {
                let op = &shape.ops[k];
                bounds[f][r] = (start + usize::from(op.start)) as u32;
                bounds[f + 1][r] = (start + usize::from(op.end)) as u32 + 1;
            }
            *ok_out = ok;
        }
    }

    fn check_field(&mut self, rules: &FastRules, f: usize, padded: &[u8]) {
        let rows = self.rows;
        let column = Column { starts: &self.bounds[f][..rows], ends: &self.bounds[f + 1][..rows] };
        rules.fields[f].check_column(padded, column, &mut self.ok[..rows], &mut self.caches[f]);
    }
}

/// One field's boundaries over the rows of a batch.
#[derive(Clone, Copy)]
struct Column<'a> {
    starts: &'a [u32],
    ends: &'a [u32],
}

impl Column<'_> {
    /// Field `i`: `(start, end)`. Field f of a row ends one before field
    /// f + 1 starts.
    #[inline(always)]
    fn get(&self, i: usize) -> (usize, usize) {
        (self.starts[i] as usize, self.ends[i] as usize - 1)
    }
}

/// Runs `check` on every value of a column and clears `ok` where it fails.
/// Each caller is its own loop, so the parameters `check` captures stay in
/// registers.
#[inline(always)]
fn each(col: Column<'_>, ok: &mut [u8], check: impl Fn(usize, usize) -> u8) {
    let n = ok.len();
    assert!(col.starts.len() == n && col.ends.len() == n);
    for (i, ok) in ok.iter_mut().enumerate() {
        let (s, e) = col.get(i);
        *ok &= check(s, e);
    }
}

impl FastField {
    /// [`Self::check`] for this field of every row of a batch: the kind
    /// of check is decided once, then a loop made for it runs.
    fn check_column(&self, padded: &[u8], col: Column<'_>, ok: &mut [u8], cache: &mut Option<AnswerCache>) {
        let missing_ok = u8::from(!self.required);
        match &self.check {
            Check::Integer => integer_column(padded, col, ok, missing_ok),
            Check::Temporal(format) => match format.fast_check() {
                Some(tc) => {
                    let cache = cache.get_or_insert_with(AnswerCache::new);
                    match (tc.date, tc.time) {
                        (true, false) => {
                            temporal_column::<true, false>(padded, col, ok, tc, missing_ok, cache)
                        }
                        (false, true) => {
                            temporal_column::<false, true>(padded, col, ok, tc, missing_ok, cache)
                        }
                        (true, true) => temporal_column::<true, true>(padded, col, ok, tc, missing_ok, cache),
                        (false, false) => {
                            temporal_column::<false, false>(padded, col, ok, tc, missing_ok, cache)
                        }
                    }
                }
                None => each(col, ok, |s, e| u8::from(self.check(padded, s, e))),
            },
            Check::Text { min, max, classes: None, set: Some(TextSet::Bytes(bits)) } => {
                // A one-byte value must be allowed by the length bounds.
                let bits = if *min <= 1 && *max >= 1 { *bits } else { [0; 4] };
                byte_set_column(padded, col, ok, bits, missing_ok);
            }
            Check::Text { min, max, classes: None, set: Some(TextSet::Packed { table, shift }) } => {
                packed_set_column(padded, col, ok, table, *shift, (*min, *max), missing_ok);
            }
            #[cfg(target_arch = "x86_64")]
            Check::Text { min, max, classes: Some(ClassTable { len, ranges: Some(r), .. }), set: None } => {
                let (min, max) = (*min.max(len), *max.min(len));
                ranges_column(padded, col, ok, r, (min, max), missing_ok);
            }
            _ => each(col, ok, |s, e| u8::from(self.check(padded, s, e))),
        }
    }
}

#[inline(never)]
fn integer_column(padded: &[u8], col: Column<'_>, ok: &mut [u8], missing_ok: u8) {
    each(col, ok, |s, e| {
        // Values over 8 bytes are rare; the general parse decides them
        // (a branch that is almost never taken costs nothing).
        let valid = if e - s > 8 {
            u8::from(parse_int(&padded[s..e]).is_some())
        } else {
            short_integer(padded, s, e)
        };
        valid | (u8::from(s == e) & missing_ok)
    });
}

#[inline(never)]
fn temporal_column<const DATE: bool, const TIME: bool>(
    padded: &[u8],
    col: Column<'_>,
    ok: &mut [u8],
    tc: TemporalCheck,
    missing_ok: u8,
    cache: &mut AnswerCache,
) {
    if tc.width() > 8 {
        each(col, ok, |s, e| {
            u8::from(tc.is_valid::<DATE, TIME>(padded, s, e)) | (u8::from(s == e) & missing_ok)
        });
        return;
    }
    let n = ok.len();
    assert!(col.starts.len() == n && col.ends.len() == n);
    for (i, ok) in ok.iter_mut().enumerate() {
        let (s, e) = col.get(i);
        // A column holds few distinct dates or times (a year has 365
        // days): most values were answered before.
        let valid = cache.answer(&tc, tc.word(padded, s).unwrap_or(0));
        *ok &= (valid & u8::from(e - s == tc.width())) | (u8::from(s == e) & missing_ok);
    }
}

const CACHE_BITS: u32 = 12;

/// Remembered answers of a date/time check, by the value's bytes
/// (direct-mapped, 4096 entries, ~36 KB: a day of minutes fits).
#[derive(Debug)]
pub(super) struct AnswerCache {
    words: Box<[u64; 1 << CACHE_BITS]>,
    valid: Box<[u8; 1 << CACHE_BITS]>,
}

impl AnswerCache {
    /// The remembered answer for the value `word` of `tc`'s format (1
    /// valid, 0 not), worked out on first sight.
    #[inline(always)]
    fn answer(&mut self, tc: &TemporalCheck, word: u64) -> u8 {
        let slot = (word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - CACHE_BITS)) as usize;
        if self.words[slot] == word {
            return self.valid[slot];
        }
        self.learn(tc, word, slot)
    }

    #[cold]
    #[inline(never)]
    fn learn(&mut self, tc: &TemporalCheck, word: u64, slot: usize) -> u8 {
        let valid = u8::from(match (tc.date, tc.time) {
            (true, false) => tc.word_is_valid::<true, false>(word),
            (false, true) => tc.word_is_valid::<false, true>(word),
            (true, true) => tc.word_is_valid::<true, true>(word),
            (false, false) => tc.word_is_valid::<false, false>(word),
        });
        self.words[slot] = word;
        self.valid[slot] = valid;
        valid
    }

    fn new() -> Self {
        // All-ones bytes are never a value here (fast-path rows are
        // ASCII), so an empty slot never matches.
        AnswerCache { words: Box::new([u64::MAX; 1 << CACHE_BITS]), valid: Box::new([0; 1 << CACHE_BITS]) }
    }
}

#[inline(never)]
fn byte_set_column(padded: &[u8], col: Column<'_>, ok: &mut [u8], bits: [u64; 4], missing_ok: u8) {
    each(col, ok, |s, e| {
        let b = padded[s];
        let hit = (bits[usize::from(b >> 6)] >> (b & 63)) as u8 & 1;
        (hit & u8::from(e - s == 1)) | (u8::from(s == e) & missing_ok)
    });
}

#[inline(never)]
fn packed_set_column(
    padded: &[u8],
    col: Column<'_>,
    ok: &mut [u8],
    table: &[u64],
    shift: u32,
    (min, max): (usize, usize),
    missing_ok: u8,
) {
    each(col, ok, |s, e| packed_member(padded, s, e, table, shift, (min, max), missing_ok));
}

/// 1 when `padded[s..e]` is in the packed set `table` and its length in
/// `min..=max`, or empty and `missing_ok` is 1.
#[inline(always)]
fn packed_member(
    padded: &[u8],
    s: usize,
    e: usize,
    table: &[u64],
    shift: u32,
    (min, max): (usize, usize),
    missing_ok: u8,
) -> u8 {
    let len = e - s;
    let hit = packed_hit(table, shift, packed_key(padded, s, len.min(7)));
    let present = u8::from(hit) & u8::from((len != 0) & (len <= 7) & (len >= min) & (len <= max));
    present | (u8::from(len == 0) & missing_ok)
}

/// Whether the packed `key` is in `table`.
#[inline(always)]
fn packed_hit(table: &[u64], shift: u32, key: u64) -> bool {
    let home = table[slot(key, shift) & (table.len() - 1)];
    // Usually the key is in its home slot or the slot is empty; only a
    // collision needs the probe loop.
    home == key || (home != 0 && EnumSet::contains_packed(table, shift, key))
}

#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn ranges_column(
    padded: &[u8],
    col: Column<'_>,
    ok: &mut [u8],
    r: &Ranges,
    (min, max): (usize, usize),
    missing_ok: u8,
) {
    let r = *r;
    each(col, ok, |s, e| {
        let len = e - s;
        let fits = u8::from((len >= min) & (len <= max) & (len != 0));
        (u8::from(r.matches(&padded[s..s + 16], len.min(16))) & fits) | (u8::from(len == 0) & missing_ok)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::classify::MaskArrays;
    use crate::transform::csv::{CompiledRules, RuleSet, builtin_rule_set};

    /// The fast checks of `rules`, as the rule set compiles them.
    fn fast_of(rules: &CompiledRules) -> Option<FastRules> {
        rules.fast().cloned()
    }

    /// The fast answer for one value of field `i`, with junk after it.
    fn fast(rules: &FastRules, i: usize, v: &[u8]) -> bool {
        let mut padded = b"x,".to_vec();
        padded.extend_from_slice(v);
        padded.extend_from_slice(&[0xFF, b'9', b'-', 0xFA, 0, b'0', b',', b'A'].repeat(3));
        rules.fields[i].check(&padded, 2, 2 + v.len())
    }

    fn compile(json: &str) -> (CompiledRules, FastRules) {
        let set: RuleSet = serde_json::from_str(json).unwrap();
        let rules = CompiledRules::compile(&set).unwrap();
        let fast = fast_of(&rules).unwrap();
        (rules, fast)
    }

    /// Every value: the fast check passes exactly when the general one does.
    fn agree(rules: &CompiledRules, fast_rules: &FastRules, i: usize, values: &[&[u8]]) {
        for v in values {
            let general = rules.fields[i].check(v, true).is_ok();
            assert_eq!(fast(fast_rules, i, v), general, "field {} value {:?}", rules.fields[i].name, show(v));
        }
    }

    fn show(v: &[u8]) -> String {
        String::from_utf8_lossy(v).into_owned()
    }

    #[test]
    fn ghcn_fields_agree_with_the_general_checks() {
        let rules = CompiledRules::compile(&builtin_rule_set("ghcn-daily").unwrap()).unwrap();
        let fast = fast_of(&rules).unwrap();
        assert!(fast.fields.iter().all(|f| !matches!(f.check, Check::General(_))), "{:?}", fast.fields);
        let ids: &[&[u8]] = &[
            b"USW00094728",
            b"USW0009472",
            b"USW000947288",
            b"usW00094728",
            b"U1W00094728",
            b"USw00094728",
            b"US_00094728",
            b"AE000041196",
            b"ZZZZZZZZZZZ",
            b"99999999999",
            b"US@00094728",
            b"US[00094728",
            b"",
        ];
        agree(&rules, &fast, 0, ids);
        let dates: &[&[u8]] = &[
            b"20240229",
            b"20230229",
            b"21000229",
            b"20000229",
            b"19000229",
            b"00000229",
            b"20230230",
            b"20231231",
            b"20231232",
            b"20230431",
            b"20230430",
            b"20231301",
            b"20230001",
            b"20230100",
            b"2023011",
            b"202301011",
            b"2023-1-1",
            b"2023010a",
            b"2023 101",
            b"17630101",
            b"99991231",
            b"",
        ];
        agree(&rules, &fast, 1, dates);
        let elements: &[&[u8]] = &[
            b"TMAX", b"TMIN", b"TMXX", b"TMA", b"TMAXX", b"tmax", b"PRCP", b"SN32", b"SN38", b"SX57",
            b"SN08", b"WT01", b"WT22", b"WT23", b"WV01", b"WV02", b"WT00", b"ACMC", b"WSFM", b"T", b"",
            b"TMAX\0",
        ];
        agree(&rules, &fast, 2, elements);
        let ints: &[&[u8]] = &[
            b"0",
            b"-0",
            b"+0",
            b"-9999",
            b"12345678",
            b"123456789",
            b"-12345678",
            b"9223372036854775807",
            b"9223372036854775808",
            b"-9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
            b"1.5",
            b"1e3",
            b" 1",
            b"1 ",
            b"-",
            b"+",
            b"--1",
            b"+-1",
            b"12a",
            b"a",
            b"/",
            b":",
            b"",
        ];
        agree(&rules, &fast, 3, ints);
        for i in 4..7 {
            let flags: &[&[u8]] = &[
                b"", b"B", b"D", b"T", b"W", b"BB", b"b", b"d", b"f", b"0", b"1", b"2", b"3", b"6", b"7",
                b"a", b"z", b"\0",
            ];
            agree(&rules, &fast, i, flags);
        }
        let times: &[&[u8]] = &[
            b"", b"0000", b"2359", b"2400", b"2401", b"2360", b"0060", b"0759", b"700", b"07000", b"07:0",
            b"-100", b"2a00",
        ];
        agree(&rules, &fast, 7, times);
    }

    #[test]
    fn other_types_and_constraints_agree() {
        let (rules, fast) = compile(
            r#"{"schema":{"fields":[
            {"name":"s","constraints":{"minLength":2,"maxLength":4}},
            {"name":"e","constraints":{"required":true,"enum":["a","bc","defghijk"]}},
            {"name":"p","constraints":{"pattern":"[0-9]{2}-[a-f]"}},
            {"name":"r","constraints":{"pattern":"a+b"}},
            {"name":"n","type":"number"},
            {"name":"i","type":"integer","constraints":{"minimum":-5,"maximum":5}},
            {"name":"t","type":"datetime"},
            {"name":"b","type":"boolean"},
            {"name":"y","type":"year","constraints":{"required":true}}]}}"#,
        );
        assert!(matches!(fast.fields[0].check, Check::Text { .. }));
        assert!(matches!(fast.fields[1].check, Check::Text { set: Some(TextSet::Hashed(_)), .. }));
        assert!(matches!(fast.fields[3].check, Check::General(_)));
        // A year (four digits) is checked by the general rule.
        assert!(matches!(fast.fields[8].check, Check::General(_)));
        let values: &[&[u8]] = &[
            b"",
            b"a",
            b"ab",
            b"abcd",
            b"abcde",
            b"bc",
            b"defghijk",
            b"defghij",
            b"12-a",
            b"12-g",
            b"1x-a",
            b"aab",
            b"b",
            b"1.5",
            b"NaN",
            b"-6",
            b"5",
            b"2024-02-29T00:00:00Z",
            b"2023-02-29T00:00:00Z",
            b"2023",
            b"023",
            b"20231",
            b"true",
            b"1",
            b"2024",
            b"-2024",
            b"x",
        ];
        for i in 0..rules.fields.len() {
            agree(&rules, &fast, i, values);
        }
    }

    #[test]
    fn other_missing_values_use_the_general_check() {
        let (rules, fast) =
            compile(r#"{"schema":{"missingValues":["","NA"],"fields":[{"name":"i","type":"integer"}]}}"#);
        assert!(matches!(fast.fields[0].check, Check::General(_)));
        agree(&rules, &fast, 0, &[b"", b"NA", b"1", b"x"]);
    }

    #[test]
    fn uniqueness_disables_the_fast_path() {
        let set: RuleSet =
            serde_json::from_str(r#"{"schema":{"fields":[{"name":"k","constraints":{"unique":true}}]}}"#)
                .unwrap();
        assert!(fast_of(&CompiledRules::compile(&set).unwrap()).is_none());
    }

    #[test]
    fn rows_split_on_delimiter_bits() {
        let (_, fast) = compile(
            r#"{"schema":{"fields":[{"name":"a","constraints":{"required":true}},
            {"name":"b","type":"integer"}]}}"#,
        );
        let long = "x".repeat(150);
        for (row, clean) in [
            ("a,1\n", true),
            ("a,1\r\n", true),
            ("a,\n", true),
            (",1\n", false),
            ("a\n", false),
            ("a,1,\n", false),
            ("\n", false),
            ("\r\n", false),
            ("a,1\r\r\n", false),
            (&format!("{long},12\n"), true),
            (&format!("{long},1{long}\n"), false),
        ] {
            let mut padded = b"zz\n".to_vec();
            padded.extend_from_slice(row.as_bytes());
            let end = padded.len() - 1;
            padded.extend_from_slice(&[0; PAD]);
            let mut masks = MaskArrays::default();
            masks.classify(&padded[1..end + 1], b',');
            for shape_mode in [true, false] {
                let mut batch = Batch::new(&fast, usize::MAX).in_mode(shape_mode);
                // The row twice, after a row that fails to split, to see
                // that rows do not leak into each other.
                for start in [1, 3, 3] {
                    batch.push(&fast, &padded, &masks.delimiters, 1, start, if start == 1 { 2 } else { end });
                }
                batch.check(&fast, &padded);
                let ok = &batch.ok[..batch.len()];
                assert_eq!(ok, [0, u8::from(clean), u8::from(clean)], "{row:?} shape mode {shape_mode}");
            }
        }
    }

    #[test]
    fn a_full_batch_of_mixed_rows() {
        let rules = CompiledRules::compile(&builtin_rule_set("ghcn-daily").unwrap()).unwrap();
        let fast = fast_of(&rules).unwrap();
        let rows = [
            ("USW00094728,20230101,TMAX,-12,,,W,0700\n", true),
            ("USW00094728,20230229,TMAX,-12,,,W,0700\n", false),
            ("USW00094728,20240229,TMAX,-12,,,W,0700\r\n", true),
            ("USW00094728,20240229,TMAX,-12,,,W,\n", true),
            ("USW00094728,20240229,TMAX,-12,,,W\n", false),
            ("USW0009472,20240229,TMAX,-12,,,W,\n", false),
            ("USW00094728,20240229,TMAX,-12,,,w,\n", false),
            ("USW00094728,20240229,TMAX,,,,W,\n", false),
            ("\n", false),
        ];
        let mut data = Vec::new();
        let mut spans = Vec::new();
        for i in 0..BATCH_ROWS {
            let (row, _) = rows[i % rows.len()];
            spans.push((data.len(), data.len() + row.len() - 1));
            data.extend_from_slice(row.as_bytes());
        }
        let len = data.len();
        data.extend_from_slice(&[0; PAD]);
        let mut masks = MaskArrays::default();
        masks.classify(&data[..len], b',');
        for shape_mode in [true, false] {
            let mut batch = Batch::new(&fast, usize::MAX).in_mode(shape_mode);
            for &(s, nl) in &spans {
                batch.push(&fast, &data, &masks.delimiters, 0, s, nl);
            }
            assert!(batch.is_full());
            batch.check(&fast, &data);
            for (i, ok) in batch.ok[..batch.len()].iter().enumerate() {
                let (row, clean) = rows[i % rows.len()];
                assert_eq!(*ok, u8::from(clean), "{row:?} shape mode {shape_mode}");
            }
        }
        for (row, clean) in rows {
            let general = rules
                .fields
                .iter()
                .zip(row.trim_end().split(','))
                .all(|(f, v)| f.check(v.as_bytes(), true).is_ok())
                && row.trim_end().split(',').count() == 8;
            assert_eq!(clean, general, "{row:?}");
        }
    }
}
