//! Hand-rolled parsers for the Table Schema types on raw bytes: integers,
//! numbers, booleans, and fixed-width strptime-style dates and times. No
//! allocation; each returns a typed value that constraints compare against.

/// A parsed value, comparable within one field type.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub enum Typed {
    /// `integer` and `year`.
    Int(i64),
    /// `number`.
    Num(f64),
    /// `boolean`.
    Bool(bool),
    /// `date` (days since 1970-01-01), `time` (seconds since midnight),
    /// `datetime` (seconds since the epoch): all ordinal integers.
    Ordinal(i64),
    /// `string` and `any`: compared as raw bytes, never through this.
    Raw,
}

/// Parses `[+-]?[0-9]+` into an i64 (no spaces, no thousands separators).
#[inline]
pub fn parse_int(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    if neg {
        if v <= i64::MAX as u64 + 1 { Some((v as i64).wrapping_neg()) } else { None }
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses a Table Schema `number`: a decimal with optional fraction and
/// exponent, or `NaN`, `INF`, `-INF`.
pub fn parse_number(b: &[u8]) -> Option<f64> {
    match b {
        b"NaN" => return Some(f64::NAN),
        b"INF" | b"+INF" => return Some(f64::INFINITY),
        b"-INF" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if !is_decimal_syntax(b) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse::<f64>().ok()
}

/// `[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?`
pub fn is_decimal_syntax(b: &[u8]) -> bool {
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - s;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

/// One directive of a fixed-width date/time format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Literal(u8),
}

impl Token {
    fn width(self) -> usize {
        match self {
            Token::Year => 4,
            Token::Literal(_) => 1,
            _ => 2,
        }
    }
}

/// A compiled strptime-style format: `%Y` (4 digits), `%m %d %H %M %S`
/// (exactly 2 digits each), `%%`, and ASCII literals. Fixed width by design:
/// every accepted value has exactly one reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTimeFormat {
    tokens: Vec<Token>,
    width: usize,
    source: String,
    has_date: bool,
    has_time: bool,
    /// The same format as 16-byte masks, for the CSV fast path.
    layout: Option<SwarLayout>,
}

/// [`DateTimeFormat::is_valid_padded`] without the format: small and
/// `Copy`, so a loop over many values keeps it in registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemporalCheck {
    layout: SwarLayout,
    width: usize,
    /// Clears the load's bytes past the value.
    keep: u128,
    /// Whether the format has date parts.
    pub date: bool,
    /// Whether the format has time parts.
    pub time: bool,
}

impl TemporalCheck {
    /// Whether `padded[start..end]` is a valid value; reads 16 bytes from
    /// `start` (`padded` must have them). `DATE`/`TIME` must equal
    /// `self.date`/`self.time` (they let the compiler drop the parts the
    /// format lacks).
    #[inline(always)]
    pub fn is_valid<const DATE: bool, const TIME: bool>(
        &self,
        padded: &[u8],
        start: usize,
        end: usize,
    ) -> bool {
        let mut word = [0u8; 16];
        word.copy_from_slice(&padded[start..start + 16]);
        let x = u128::from_le_bytes(word) & self.keep;
        // No early return on the length: empty optional values are common
        // and would make that branch unpredictable.
        (end - start == self.width) & self.layout.is_valid::<DATE, TIME>(x)
    }

    /// The value's bytes as one word, when the format is at most 8 bytes
    /// wide (`None` otherwise): a key for remembering answers.
    #[inline(always)]
    pub fn word(&self, padded: &[u8], start: usize) -> Option<u64> {
        if self.width > 8 {
            return None;
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&padded[start..start + 8]);
        Some(u64::from_le_bytes(word) & self.keep as u64)
    }

    /// [`Self::is_valid`] of a value of the right length given by
    /// [`Self::word`].
    #[inline(always)]
    pub fn word_is_valid<const DATE: bool, const TIME: bool>(&self, word: u64) -> bool {
        self.layout.is_valid::<DATE, TIME>(u128::from(word))
    }

    /// The format's width in bytes.
    pub fn width(&self) -> usize {
        self.width
    }
}

/// A fixed-width format of at most 16 bytes as masks over one 16-byte
/// little-endian load: which bytes must be digits, which must equal a
/// literal, and where each component's digits are. It accepts exactly
/// what [`DateTimeFormat::parse`] accepts (differentially tested), and
/// decides without data-dependent branches: the CSV fast path calls it
/// for every row, and a mispredicted branch costs more than the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SwarLayout {
    /// 0xFF in every digit byte.
    digits: u128,
    /// 0xFF in every literal byte.
    literal_mask: u128,
    /// The literals in place.
    literals: u128,
    /// Two-digit components: century and year of century (from `%Y`),
    /// month, day, hour, minute, second.
    parts: [Part; 7],
}

/// Where a two-digit component is, or its default when the format has
/// none (the last occurrence counts when a directive repeats, as in
/// `parse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Part {
    /// Bit offset of its first digit in the load.
    shift: u32,
    /// All ones when the format has it, else zero.
    present: u32,
    /// The value when absent.
    default: u32,
}

const ASCII_ZEROS: u128 = 0x3030_3030_3030_3030_3030_3030_3030_3030;
const HIGH_NIBBLES: u128 = 0xF0F0_F0F0_F0F0_F0F0_F0F0_F0F0_F0F0_F0F0;
const SIXES: u128 = 0x0606_0606_0606_0606_0606_0606_0606_0606;
const CENTURY: usize = 0;
const YEAR: usize = 1;
const MONTH: usize = 2;
const DAY: usize = 3;
const HOUR: usize = 4;
const MINUTE: usize = 5;
const SECOND: usize = 6;

impl SwarLayout {
    fn compile(tokens: &[Token], width: usize) -> Option<Self> {
        if width > 16 {
            return None;
        }
        let absent = |default: u32| Part { shift: 0, present: 0, default };
        // 1970-01-01T00:00:00, as `parse` assumes for missing parts.
        let mut parts = [absent(19), absent(70), absent(1), absent(1), absent(0), absent(0), absent(0)];
        let (mut digits, mut literal_mask, mut literals) = (0u128, 0u128, 0u128);
        let mut at = 0u32;
        for &t in tokens {
            let bytes = |n: u32| -> u128 { ((1u128 << (8 * n)) - 1) << (8 * at) };
            let mut set =
                |i: usize, byte: u32| parts[i] = Part { shift: 8 * byte, present: u32::MAX, default: 0 };
            match t {
                Token::Literal(c) => {
                    literal_mask |= bytes(1);
                    literals |= u128::from(c) << (8 * at);
                }
                Token::Year => {
                    digits |= bytes(4);
                    set(CENTURY, at);
                    set(YEAR, at + 2);
                }
                _ => {
                    digits |= bytes(2);
                    let i = match t {
                        Token::Month => MONTH,
                        Token::Day => DAY,
                        Token::Hour => HOUR,
                        Token::Minute => MINUTE,
                        _ => SECOND,
                    };
                    set(i, at);
                }
            }
            at += t.width() as u32;
        }
        Some(SwarLayout { digits, literal_mask, literals, parts })
    }

    /// Whether the value held in the low `width` bytes of `x` is valid
    /// (the caller clears the bytes above and checks the length).
    /// `DATE`/`TIME` say whether the format has date/time parts; parts it
    /// lacks are not computed.
    #[inline(always)]
    fn is_valid<const DATE: bool, const TIME: bool>(&self, x: u128) -> bool {
        // Formats up to 8 bytes (all the usual dates and times) run on
        // u64, where shifts by a variable amount are one instruction.
        if self.digits >> 64 == 0 && self.literal_mask >> 64 == 0 {
            swar_check!(self, x as u64, u64, DATE, TIME)
        } else {
            swar_check!(self, x, u128, DATE, TIME)
        }
    }
}

/// The body of [`SwarLayout::is_valid`] for a word type.
macro_rules! swar_check {
    ($layout:expr, $x:expr, $t:ty, $date:expr, $time:expr) => {{
        let l = $layout;
        let x: $t = $x;
        let d = l.digits as $t;
        let zeros = ASCII_ZEROS as $t;
        let high = HIGH_NIBBLES as $t;
        // A byte is a digit when its high nibble is 3 and adding 6 keeps
        // it so (0x30..=0x39). A byte that fails the first test fails the
        // whole check, and one that passes cannot carry into its
        // neighbour, so the per-byte arithmetic is exact.
        let digits_ok =
            ((x & high & d) == (zeros & d)) & ((x.wrapping_add(SIXES as $t) & high & d) == (zeros & d));
        let literals_ok = (x & l.literal_mask as $t) == l.literals as $t;
        // Byte i of `pairs` is the two-digit number starting at byte i
        // (from the low nibbles: no borrows between bytes; at most
        // 15 * 10 + 15, so no carries either).
        let nibbles = x & (0x0F0F_0F0F_0F0F_0F0F_0F0F_0F0F_0F0F_0F0F_u128 as $t);
        let pairs = nibbles.wrapping_mul(10).wrapping_add(nibbles >> 8);
        // A part the format always has (a date has %Y, %m and %d; a time
        // has %H) needs no default.
        let present = |i: usize| -> u32 { (pairs >> l.parts[i].shift) as u32 & 0xFF };
        let value = |i: usize| -> u32 {
            let p = l.parts[i];
            (present(i) & p.present) | (p.default & !p.present)
        };
        let (month, day) = if $date { (present(MONTH), present(DAY)) } else { (1, 1) };
        let clock_ok = !$time | ((present(HOUR) <= 23) & (value(MINUTE) <= 59) & (value(SECOND) <= 59));
        // DAYS has 28 for February; 29 February needs a leap year
        // (divisible by 4, and by 400 when by 100), which is rare enough
        // to look at only then.
        const DAYS: [u32; 16] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0, 0, 0];
        let leap = || {
            let (century, year) = if $date { (present(CENTURY), present(YEAR)) } else { (19, 70) };
            ((year != 0) & (year % 4 == 0)) | ((year == 0) & (century % 4 == 0))
        };
        let day_ok =
            (day != 0) & ((day <= DAYS[(month & 15) as usize]) || ((month == 2) & (day == 29) && leap()));
        digits_ok & literals_ok & clock_ok & (month.wrapping_sub(1) < 12) & day_ok
    }};
}
use swar_check;

impl DateTimeFormat {
    /// Compiles `format`; unknown directives and non-ASCII literals are errors.
    pub fn compile(format: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c == '%' {
                let t = match chars.next() {
                    Some('Y') => Token::Year,
                    Some('m') => Token::Month,
                    Some('d') => Token::Day,
                    Some('H') => Token::Hour,
                    Some('M') => Token::Minute,
                    Some('S') => Token::Second,
                    Some('%') => Token::Literal(b'%'),
                    other => {
                        return Err(format!(
                            "format {format:?}: unsupported directive %{}",
                            other.map(String::from).unwrap_or_default()
                        ));
                    }
                };
                tokens.push(t);
            } else if c.is_ascii() {
                tokens.push(Token::Literal(c as u8));
            } else {
                return Err(format!("format {format:?}: non-ASCII literal {c:?}"));
            }
        }
        let has_date = tokens.iter().any(|t| matches!(t, Token::Year | Token::Month | Token::Day));
        let has_time = tokens.iter().any(|t| matches!(t, Token::Hour | Token::Minute | Token::Second));
        if has_date
            && !(tokens.contains(&Token::Year)
                && tokens.contains(&Token::Month)
                && tokens.contains(&Token::Day))
        {
            return Err(format!("format {format:?}: a date needs %Y, %m and %d"));
        }
        if has_time && !tokens.contains(&Token::Hour) {
            return Err(format!("format {format:?}: a time needs %H"));
        }
        let width = tokens.iter().map(|t| t.width()).sum();
        let layout = SwarLayout::compile(&tokens, width);
        Ok(DateTimeFormat { tokens, width, source: format.to_string(), has_date, has_time, layout })
    }

    /// The format text, for messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the format is at most 16 bytes wide, so that
    /// [`Self::fast_check`] exists.
    pub fn has_fast_check(&self) -> bool {
        self.layout.is_some()
    }

    /// The word-at-a-time check of formats up to 16 bytes wide.
    pub fn fast_check(&self) -> Option<TemporalCheck> {
        let layout = self.layout?;
        let keep = if self.width == 16 { u128::MAX } else { (1u128 << (8 * self.width)) - 1 };
        Some(TemporalCheck { layout, width: self.width, keep, date: self.has_date, time: self.has_time })
    }

    /// Whether `padded[start..end]` is a valid value, reading 16 bytes
    /// from `start` at once: `padded` must extend at least 16 bytes past
    /// `start` (bytes past `end` are ignored). Same answer as
    /// [`Self::is_valid`]; formats wider than 16 bytes use it.
    #[inline(always)]
    pub fn is_valid_padded(&self, padded: &[u8], start: usize, end: usize) -> bool {
        match self.fast_check() {
            Some(check) if padded.len() >= start + 16 => match (check.date, check.time) {
                (true, false) => check.is_valid::<true, false>(padded, start, end),
                (false, true) => check.is_valid::<false, true>(padded, start, end),
                (true, true) => check.is_valid::<true, true>(padded, start, end),
                (false, false) => check.is_valid::<false, false>(padded, start, end),
            },
            _ => self.is_valid(&padded[start..end]),
        }
    }

    /// Whether `b` is a valid value (same rules as [`Self::parse`]).
    #[inline]
    pub fn is_valid(&self, b: &[u8]) -> bool {
        self.fields(b).is_some()
    }

    /// Parses `b`; returns days since the epoch (date only), seconds since
    /// midnight (time only), or seconds since the epoch (both). `None` when
    /// the shape or the calendar is wrong (e.g. 2023-02-29, 24:00).
    #[inline]
    pub fn parse(&self, b: &[u8]) -> Option<i64> {
        let (y, mo, d, h, mi, s) = self.fields(b)?;
        let secs = i64::from(h * 3600 + mi * 60 + s);
        match (self.has_date, self.has_time) {
            (true, false) => Some(days_from_civil(y, mo, d)),
            (false, _) => Some(secs),
            (true, true) => Some(days_from_civil(y, mo, d) * 86_400 + secs),
        }
    }

    /// The checked components (year, month, day, hour, minute, second).
    #[inline]
    fn fields(&self, b: &[u8]) -> Option<(i64, u32, u32, u32, u32, u32)> {
        if b.len() != self.width {
            return None;
        }
        let (mut y, mut mo, mut d, mut h, mut mi, mut s) = (1970i64, 1u32, 1u32, 0u32, 0u32, 0u32);
        let mut at = 0;
        for &t in &self.tokens {
            match t {
                Token::Literal(c) => {
                    if b[at] != c {
                        return None;
                    }
                    at += 1;
                }
                Token::Year => {
                    y = i64::from(digits4(&b[at..at + 4])?);
                    at += 4;
                }
                _ => {
                    let v = digits2(&b[at..at + 2])?;
                    at += 2;
                    match t {
                        Token::Month => mo = v,
                        Token::Day => d = v,
                        Token::Hour => h = v,
                        Token::Minute => mi = v,
                        _ => s = v,
                    }
                }
            }
        }
        if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
            return None;
        }
        if h > 23 || mi > 59 || s > 59 {
            return None;
        }
        Some((y, mo, d, h, mi, s))
    }
}

#[inline]
fn digits2(b: &[u8]) -> Option<u32> {
    let a = b[0].wrapping_sub(b'0');
    let c = b[1].wrapping_sub(b'0');
    if a > 9 || c > 9 {
        return None;
    }
    Some(u32::from(a) * 10 + u32::from(c))
}

#[inline]
fn digits4(b: &[u8]) -> Option<u32> {
    Some(digits2(&b[0..2])? * 100 + digits2(&b[2..4])?)
}

/// True for Gregorian leap years.
pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in month `m` (1-12) of year `y`.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_int(b"42"), Some(42));
        assert_eq!(parse_int(b"-9999"), Some(-9999));
        assert_eq!(parse_int(b"+7"), Some(7));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"1.5", b" 1", b"1e3", b"9223372036854775808", b"12a"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"3.5"), Some(3.5));
        assert_eq!(parse_number(b"-1e3"), Some(-1000.0));
        assert_eq!(parse_number(b".5"), Some(0.5));
        assert!(parse_number(b"NaN").is_some_and(f64::is_nan));
        for bad in [&b""[..], b".", b"1e", b"inf", b"1,5", b"0x10"] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }

    /// The 16-byte fast check against `parse` on every boundary we can
    /// think of, for several formats.
    #[test]
    fn fast_check_agrees_with_parse() {
        let formats = [
            "%Y%m%d",
            "%Y-%m-%d",
            "%H%M",
            "%H:%M:%S",
            "%d/%m/%Y %H",
            "%Y%%%m%d",
            "%d%m%Y",
            "%Y%m%d%H%M%S",
            "%M%H",
        ];
        let mut values: Vec<String> = Vec::new();
        for y in ["0000", "1900", "2000", "2023", "2024", "2100", "9999", "20x4", "-202"] {
            for m in ["00", "01", "02", "04", "12", "13", "1a", "99", "/1"] {
                for d in ["00", "01", "28", "29", "30", "31", "32", "3:", " 1"] {
                    values.push(format!("{y}{m}{d}"));
                    values.push(format!("{y}-{m}-{d}"));
                    values.push(format!("{d}/{m}/{y} {m}"));
                    values.push(format!("{y}%{m}{d}"));
                    values.push(format!("{d}{m}{y}"));
                }
            }
        }
        for h in ["00", "09", "23", "24", "59", "60", "9:"] {
            for mi in ["00", "59", "60", "5/"] {
                values.push(format!("{h}{mi}"));
                values.push(format!("{h}:{mi}:{mi}"));
                values.push(format!("20240229{h}{mi}{mi}"));
                values.push(format!("20230229{h}{mi}{mi}"));
            }
        }
        values.extend(
            ["", "2024", "20240229", "20230229", "2024022", "202402290", "ÿÿ", "2024022\u{e9}"]
                .map(String::from),
        );
        for f in formats {
            let fmt = DateTimeFormat::compile(f).unwrap();
            assert!(fmt.has_fast_check(), "{f}");
            for v in &values {
                let mut padded = v.as_bytes().to_vec();
                // Junk after the value must not change the answer.
                padded.extend_from_slice(&[0xFF, b'9', b'-', 0xFA, 0, 0x39, 0xFF, b'1'].repeat(3));
                let fast = fmt.is_valid_padded(&padded, 0, v.len());
                assert_eq!(fast, fmt.parse(v.as_bytes()).is_some(), "{f} {v:?}");
                // And with the value in the middle of a buffer.
                let mut mid = b"xx,".to_vec();
                mid.extend_from_slice(&padded);
                assert_eq!(fmt.is_valid_padded(&mid, 3, 3 + v.len()), fast, "{f} {v:?} at 3");
            }
        }
        let wide = DateTimeFormat::compile("%Y-%m-%dT%H:%M:%SZ").unwrap();
        assert!(!wide.has_fast_check());
        assert!(wide.is_valid_padded(b"2024-02-29T23:59:59Z", 0, 20));
        assert!(!wide.is_valid_padded(b"2023-02-29T23:59:59Z", 0, 20));
    }

    #[test]
    fn dates_and_times() {
        let ymd = DateTimeFormat::compile("%Y%m%d").unwrap();
        assert_eq!(ymd.parse(b"19700101"), Some(0));
        assert_eq!(ymd.parse(b"20000229"), Some(11_016));
        assert_eq!(ymd.parse(b"19000229"), None);
        assert_eq!(ymd.parse(b"20230431"), None);
        assert_eq!(ymd.parse(b"20231301"), None);
        assert_eq!(ymd.parse(b"2023011"), None);
        assert_eq!(ymd.parse(b"2023-1-1"), None);
        let iso = DateTimeFormat::compile("%Y-%m-%d").unwrap();
        assert_eq!(iso.parse(b"2024-02-29"), Some(19_782));
        let hm = DateTimeFormat::compile("%H%M").unwrap();
        assert_eq!(hm.parse(b"0700"), Some(25_200));
        assert_eq!(hm.parse(b"2359"), Some(86_340));
        assert_eq!(hm.parse(b"2400"), None);
        assert_eq!(hm.parse(b"0760"), None);
        assert!(DateTimeFormat::compile("%Y%q").is_err());
        assert!(DateTimeFormat::compile("%Y%m").is_err());
    }
}
