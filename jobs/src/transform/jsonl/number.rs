//! JSON numbers in and out, each with a quick path for the common case
//! and the standard library / `ryu` for the rest (same results, tested):
//! reading a plain decimal such as `4.5` or `853`, and writing a value
//! with at most one decimal digit (star ratings times counts) with the
//! text `ryu`'s `format_finite` gives (shortest round-trip, `126.0` for
//! integers), which `ryu` spends several hundred instructions on.

/// The value of a JSON number (already validated by the scanner), as
/// `str::parse::<f64>` gives it.
#[inline]
pub fn parse_f64(text: &[u8]) -> f64 {
    if let Some(v) = plain_decimal(text) {
        return v;
    }
    std::str::from_utf8(text).ok().and_then(|t| t.parse().ok()).unwrap_or(f64::NAN)
}

/// `-?[0-9]+(\.[0-9]+)?` with at most 15 digits in all: the digits as
/// an integer m < 10^15 (exact in f64) divided by 10^k (exact for k <= 22)
/// is one correctly rounded operation, so it equals the correctly rounded
/// parse of the text.
#[inline]
fn plain_decimal(text: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] =
        [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut m: u64 = 0;
    let mut count = 0usize;
    let mut fraction: Option<usize> = None;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(c - b'0');
                count += 1;
                if count > 15 {
                    return None;
                }
            }
            b'.' if fraction.is_none() => fraction = Some(count),
            _ => return None,
        }
    }
    if count == 0 {
        return None;
    }
    let v = m as f64 / POW10[count - fraction.unwrap_or(count)];
    Some(if negative { -v } else { v })
}

/// Appends `v` (finite) to `out` as `ryu::Buffer::format_finite` would.
#[inline]
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if let Some(tenths) = one_decimal(v) {
        write_tenths(out, tenths);
        return;
    }
    out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
}

/// `v` as a whole number of tenths when that is exact, positive and small:
/// then "<tenths / 10>.<tenths % 10>" is `v`'s shortest round-trip text,
/// which is what `ryu` prints (in plain notation below 1e16; we stay far
/// below). Negative values and -0.0 go to `ryu`.
#[inline]
fn one_decimal(v: f64) -> Option<u64> {
    // 1e14 tenths keeps every integer involved exact in f64 (< 2^53).
    if !(0.0..1e13).contains(&v) || v.is_sign_negative() {
        return None;
    }
    let tenths = (v * 10.0).round();
    // Parsing "<n / 10>.<n % 10>" gives the double nearest to n / 10,
    // which is exactly what dividing the exact integer n by 10.0 gives.
    // So when that equals v, the text reads back as v. No shorter text
    // does: fewer digits would be a multiple of a larger power of ten, a
    // different number that the tenths digit rules out (or, for whole
    // numbers, the same digits, which ryu prints with ".0" as we do).
    if tenths / 10.0 == v { Some(tenths as u64) } else { None }
}

/// Appends "<tenths / 10>.<tenths % 10>" without allocating.
fn write_tenths(out: &mut Vec<u8>, tenths: u64) {
    let mut text = [0u8; 24];
    let mut at = text.len() - 2;
    text[at] = b'.';
    text[at + 1] = b'0' + (tenths % 10) as u8;
    let mut n = tenths / 10;
    loop {
        at -= 1;
        text[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&text[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ryu(v: f64) -> String {
        ryu::Buffer::new().format_finite(v).to_string()
    }

    fn ours(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn same_values_as_str_parse() {
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "4.5",
            "853",
            "0.1",
            "0.3",
            "2.675",
            "-31.5056700",
            "-106.3997900",
            "1e3",
            "1E-2",
            "123456789012345",
            "1234567890123456",
            "12345678901234567890",
            "0.000000000000001",
            "9007199254740993",
            "1.7976931348623157",
            "3.0000000000000004",
            "-",
            "",
            ".5",
            "5.",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let int = x % 1_000_000_000;
            let frac_digits = (x >> 40) % 9;
            let frac = (x >> 20) % 10u64.pow(frac_digits as u32);
            let sign = if x & 1 == 1 { "-" } else { "" };
            texts.push(if frac_digits == 0 {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac:0width$}", width = frac_digits as usize)
            });
        }
        for t in texts {
            let want: f64 = t.parse().unwrap_or(f64::NAN);
            let got = parse_f64(t.as_bytes());
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{t}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn same_text_as_ryu() {
        let mut values = vec![
            0.0,
            -0.0,
            0.1,
            0.2,
            0.3,
            0.5,
            0.05,
            1.0,
            1.5,
            126.0,
            3838.5,
            9999.5,
            1e12,
            1e13,
            1e13 - 0.5,
            1e15,
            1e16,
            1e17,
            123456789.1,
            0.30000000000000004,
            2.675,
            -1.5,
            -126.0,
            1e-7,
            5e-324,
            f64::MAX,
            7.0e22,
        ];
        // Star ratings (1.0..=5.0 in halves) times review counts, as the
        // benchmark computes, and their products with awkward factors.
        for half in 2..=10 {
            for count in (0..5000).step_by(7) {
                let stars = f64::from(half) / 2.0;
                values.push(stars * f64::from(count));
                values.push(stars * f64::from(count) * 1.1);
                values.push(stars / f64::from(count.max(1)));
            }
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x % 100_000_000) as f64 / 10.0);
            values.push(f64::from_bits(x >> 2));
        }
        for v in values {
            if v.is_finite() {
                assert_eq!(ours(v), ryu(v), "{v:e}");
            }
        }
    }
}
