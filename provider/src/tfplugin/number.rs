//! cty numbers: arbitrary-precision decimals. Terraform sends integers and
//! exactly-representable floats as msgpack numbers and everything else as a
//! decimal string; keeping the canonical decimal text loses nothing.

use std::fmt;

/// A decimal number held as canonical text: no leading `+`, no superfluous
/// zeros, no exponent, `0` rather than `-0`. Two equal numbers have equal text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(String);

#[derive(Debug, thiserror::Error)]
#[error("not a number: {0:?}")]
pub struct NumberError(pub String);

impl Number {
    pub fn from_i64(n: i64) -> Number {
        Number(n.to_string())
    }

    pub fn from_u64(n: u64) -> Number {
        Number(n.to_string())
    }

    /// NaN and infinities are not cty numbers.
    pub fn from_f64(f: f64) -> Result<Number, NumberError> {
        if !f.is_finite() {
            return Err(NumberError(f.to_string()));
        }
        // Rust prints the shortest text that reads back as the same f64,
        // without an exponent.
        Number::parse(&format!("{f}"))
    }

    /// Parses decimal text, with an optional exponent (`1.5e3`), as JSON
    /// and HCL write numbers.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        let err = || NumberError(text.to_string());
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => {
                let exp: i64 = rest[at + 1..].parse().map_err(|_| err())?;
                (&rest[..at], exp)
            }
            None => (rest, 0),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
            None => (mantissa, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err());
        }
        if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        // Guard against absurd exponents that would build enormous strings.
        if exponent.unsigned_abs() > 10_000 {
            return Err(err());
        }
        let digits: String = format!("{int_part}{frac_part}");
        let point = int_part.len() as i64 + exponent; // digits before the point
        Ok(Number::from_parts(negative, &digits, point))
    }

    /// Builds canonical text from a sign, a digit string and the position of
    /// the decimal point within it (may be outside the string).
    fn from_parts(negative: bool, digits: &str, point: i64) -> Number {
        let (int_digits, frac_digits) = if point <= 0 {
            (String::new(), format!("{}{}", "0".repeat((-point) as usize), digits))
        } else if point as usize >= digits.len() {
            (format!("{}{}", digits, "0".repeat(point as usize - digits.len())), String::new())
        } else {
            (digits[..point as usize].to_string(), digits[point as usize..].to_string())
        };
        let int_trimmed = int_digits.trim_start_matches('0');
        let frac_trimmed = frac_digits.trim_end_matches('0');
        let int_text = if int_trimmed.is_empty() { "0" } else { int_trimmed };
        let mut text = String::new();
        let zero = int_text == "0" && frac_trimmed.is_empty();
        if negative && !zero {
            text.push('-');
        }
        text.push_str(int_text);
        if !frac_trimmed.is_empty() {
            text.push('.');
            text.push_str(frac_trimmed);
        }
        Number(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_integer(&self) -> bool {
        !self.0.contains('.')
    }

    pub fn to_i64(&self) -> Option<i64> {
        if self.is_integer() { self.0.parse().ok() } else { None }
    }

    pub fn to_u64(&self) -> Option<u64> {
        if self.is_integer() { self.0.parse().ok() } else { None }
    }

    /// The f64 only when it represents this number exactly.
    pub fn to_f64_exact(&self) -> Option<f64> {
        let f: f64 = self.0.parse().ok()?;
        let back = Number::from_f64(f).ok()?;
        (back == *self).then_some(f)
    }

    /// The nearest f64 (may round).
    pub fn to_f64_lossy(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text() {
        for (input, want) in [
            ("0", "0"),
            ("-0", "0"),
            ("-0.000", "0"),
            ("007", "7"),
            ("1.50", "1.5"),
            ("+2", "2"),
            ("1e3", "1000"),
            ("1.25E-2", "0.0125"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-12345678901234567890123456789.000100", "-12345678901234567890123456789.0001"),
        ] {
            assert_eq!(Number::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in ["", "-", ".", "1.2.3", "abc", "1e", "0x10", "1e99999", "NaN", " 1"] {
            assert!(Number::parse(bad).is_err(), "{bad}");
        }
        assert!(Number::from_f64(f64::NAN).is_err());
        assert!(Number::from_f64(f64::INFINITY).is_err());
    }

    #[test]
    fn exact_conversions() {
        assert_eq!(Number::parse("9007199254740993").unwrap().to_i64(), Some(9007199254740993));
        assert_eq!(Number::parse("0.1").unwrap().to_f64_exact(), Some(0.1));
        assert_eq!(Number::parse("18446744073709551615").unwrap().to_u64(), Some(u64::MAX));
        // Not representable exactly as f64: must not claim it is.
        assert_eq!(Number::parse("0.1000000000000000000001").unwrap().to_f64_exact(), None);
        assert_eq!(Number::from_f64(1e21).unwrap().as_str(), "1000000000000000000000");
    }
}
