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
}

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
        Ok(DateTimeFormat { tokens, width, source: format.to_string(), has_date, has_time })
    }

    /// The format text, for messages.
    pub fn source(&self) -> &str {
        &self.source
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
