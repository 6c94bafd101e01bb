//! Deterministic synthetic records: the reference design's generated-id
//! source (procurement) and the benchmark inputs. The same id always
//! yields the same bytes, so a retried node writes identical data.

use std::io::{self, Write};

/// A small, fast, deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from any bytes (FNV-1a), never zero.
    pub fn from_bytes(seed: &[u8]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in seed {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h | 1)
    }

    /// The next value.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n`.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const CITIES: &[(&str, &str)] = &[
    ("Cornelius", "NC"),
    ("Scottsdale", "AZ"),
    ("Montreal", "QC"),
    ("Las Vegas", "NV"),
    ("Pittsburgh", "PA"),
    ("Toronto", "ON"),
];
const CATEGORIES: &[&str] = &[
    "Active Life, Gun/Rifle Ranges, Guns & Ammo, Shopping",
    "Health & Medical, Fitness & Instruction, Yoga, Active Life, Pilates",
    "Restaurants, Pizza",
    "Food, Coffee & Tea, Bakeries",
    "Home Services, Plumbing",
];

/// Writes one Yelp-business-like JSON line for (`id`, `n`).
pub fn yelp_line(out: &mut impl Write, id: &str, n: u32) -> io::Result<()> {
    let mut rng = Rng::from_bytes(id.as_bytes());
    for _ in 0..=n {
        rng.next_u64();
    }
    let (city, state) = CITIES[rng.below(CITIES.len() as u64) as usize];
    let stars = 1.0 + rng.below(9) as f64 / 2.0;
    let reviews = rng.below(2000);
    let lat = 25.0 + rng.below(2_000_000) as f64 / 100_000.0;
    let lon = -125.0 + rng.below(5_000_000) as f64 / 100_000.0;
    let category = CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize];
    writeln!(
        out,
        "{{\"business_id\": \"{id}-{n}\", \"name\": \"Business {id} #{n}\", \"address\": \"{} Main St\", \"city\": \"{city}\", \"state\": \"{state}\", \"postal_code\": \"{:05}\", \"latitude\": {lat:.7}, \"longitude\": {lon:.7}, \"stars\": {stars:.1}, \"review_count\": {reviews}, \"is_open\": {}, \"categories\": \"{category}\"}}",
        rng.below(20000),
        rng.below(100_000),
        rng.below(2),
    )
}

const ELEMENTS: &[&str] = &["TMAX", "TMIN", "PRCP", "SNOW", "SNWD", "TAVG", "WT01", "AWND"];
const M_FLAGS: &[&str] = &["", "", "", "", "B", "T", "H"];
const Q_FLAGS: &[&str] = &["", "", "", "", "", "", "", "I", "X"];
const S_FLAGS: &[&str] = &["W", "7", "a", "E", "S", "0", "N", "Z"];

/// Writes one GHCN-Daily-by-year-like CSV row for (`id`, `n`).
pub fn ghcn_row(out: &mut impl Write, id: &str, n: u32) -> io::Result<()> {
    let mut rng = Rng::from_bytes(id.as_bytes());
    for _ in 0..=n {
        rng.next_u64();
    }
    let station = rng.below(100_000_000);
    let network = ['W', 'C', '1', 'N'][rng.below(4) as usize];
    let month = 1 + rng.below(12) as u32;
    let day = 1 + rng.below(28) as u32;
    let element = ELEMENTS[rng.below(ELEMENTS.len() as u64) as usize];
    let value = rng.below(800) as i64 - 300;
    let obs =
        if rng.below(3) == 0 { String::new() } else { format!("{:02}{:02}", rng.below(24), rng.below(60)) };
    writeln!(
        out,
        "US{network}{station:08},2023{month:02}{day:02},{element},{value},{},{},{},{obs}",
        M_FLAGS[rng.below(M_FLAGS.len() as u64) as usize],
        Q_FLAGS[rng.below(Q_FLAGS.len() as u64) as usize],
        S_FLAGS[rng.below(S_FLAGS.len() as u64) as usize],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        yelp_line(&mut a, "42", 0).unwrap();
        yelp_line(&mut b, "42", 0).unwrap();
        assert_eq!(a, b);
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert!(v["stars"].is_number() && v["review_count"].is_number());
        let mut c = Vec::new();
        ghcn_row(&mut c, "42", 3).unwrap();
        assert_eq!(String::from_utf8(c).unwrap().split(',').count(), 8);
    }

    /// What `synthetic_format = "ghcn-csv"` is for: every generated row
    /// passes csv_validate with the shipped ghcn-daily rule set.
    #[test]
    fn ghcn_rows_pass_the_ghcn_daily_rule_set() {
        use crate::transform::csv::{CompiledRules, ValidateOptions, builtin_rule_set, validate_csv};
        let mut input = Vec::new();
        for id in 0..200 {
            for n in 0..20 {
                ghcn_row(&mut input, &id.to_string(), n).unwrap();
            }
        }
        let rules = CompiledRules::compile(&builtin_rule_set("ghcn-daily").unwrap()).unwrap();
        let (mut clean, mut rejects) = (Vec::new(), Vec::new());
        let stats =
            validate_csv(&rules, ValidateOptions::default(), &input[..], &mut clean, &mut rejects).unwrap();
        assert_eq!(stats.records_in, 4000);
        assert_eq!(stats.rejects.records_rejected, 0, "{}", String::from_utf8_lossy(&rejects));
        assert_eq!(clean, input);
    }
}
