//! Array indices in compact range form: `0-99,1203` (ascending,
//! comma-separated, a run of consecutive indices as `first-last`, the
//! empty list as the empty string).
//!
//! The watcher's verdict carries failed indices this way because Step
//! Functions limits a state's data to 256 KiB: 10,000 failed indices as
//! JSON arrays (per stage and their union) are about 196 KB, as ranges a
//! few bytes; and even the worst case, every other index of a
//! 10,000-array failing, is at most about 24.5 KB per list. The run
//! directory's `failed_indices.json` and the runner's summary use the same
//! form, and `--rerun-failed` reads it.

use std::fmt::Write;

use contract::run_config::MAX_ARRAY_SIZE;

/// The compact form of `indices` (any order, duplicates allowed).
pub fn encode(indices: &[u32]) -> String {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let first = sorted[i];
        let mut last = first;
        while i + 1 < sorted.len() && sorted[i + 1] == last + 1 {
            i += 1;
            last = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = if first == last { write!(out, "{first}") } else { write!(out, "{first}-{last}") };
        i += 1;
    }
    out
}

/// The indices of a compact form, ascending and without duplicates.
/// Parts may come in any order and overlap (a person may write them);
/// whitespace around parts is ignored. Every index is an array index,
/// below [`MAX_ARRAY_SIZE`]: memory is one flag per possible index,
/// however many parts the text repeats.
pub fn decode(text: &str) -> Result<Vec<u32>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut listed = vec![false; MAX_ARRAY_SIZE as usize];
    let within = |i: u32| {
        if i < MAX_ARRAY_SIZE {
            Ok(i as usize)
        } else {
            Err(format!("index {i} in {text:?} is beyond the largest array index {}", MAX_ARRAY_SIZE - 1))
        }
    };
    for part in text.split(',') {
        let part = part.trim();
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("{part:?} in {text:?} is not an index or a range first-last"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(format!("range {part:?} in {text:?} runs backwards"));
                }
                listed[within(a)?..=within(b)?].fill(true);
            }
            None => listed[within(number(part)?)?] = true,
        }
    }
    Ok((0..MAX_ARRAY_SIZE).filter(|&i| listed[i as usize]).collect())
}

/// The compact form cut to at most `max_chars` characters at a part
/// boundary, ending in `,...` when cut: for a cause or a log line that
/// must stay short. The full form is kept elsewhere.
pub fn abbreviate(compact: &str, max_chars: usize) -> String {
    if compact.len() <= max_chars {
        return compact.to_string();
    }
    let budget = max_chars.saturating_sub(4);
    let mut cut = 0;
    for (i, _) in compact.match_indices(',') {
        if i > budget {
            break;
        }
        cut = i;
    }
    format!("{},...", &compact[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_runs_as_ranges() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[5]), "5");
        assert_eq!(encode(&[3, 1, 2, 2, 7, 9, 10, 11]), "1-3,7,9-11");
        let all: Vec<u32> = (0..10_000).collect();
        assert_eq!(encode(&all), "0-9999");
        assert_eq!(encode(&[0, 1, 12003]), "0-1,12003");
        assert_eq!(encode(&[u32::MAX - 1, u32::MAX]), format!("{}-{}", u32::MAX - 1, u32::MAX));
    }

    #[test]
    fn decodes_and_refuses_what_is_not_a_list() {
        assert_eq!(decode("").unwrap(), Vec::<u32>::new());
        assert_eq!(decode("0-2, 7,5").unwrap(), [0, 1, 2, 5, 7]);
        assert_eq!(decode("3,1-4").unwrap(), [1, 2, 3, 4]);
        assert_eq!(decode("0-9999").unwrap().len(), 10_000);
        for bad in ["a", "1,,2", "5-3", "1-", "-1", "1-2-3", "0-4294967295", "10000"] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    /// Round trips over many pseudo-random sets (a fixed-seed generator:
    /// the same cases on every run, proptest-style without the crate).
    #[test]
    fn round_trips_random_sets() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..500 {
            let len = (next() % 300) as usize;
            let spread = 1 + next() % if case % 2 == 0 { 400 } else { 10_000 };
            let set: Vec<u32> = (0..len).map(|_| (next() % spread) as u32).collect();
            let text = encode(&set);
            let mut want = set.clone();
            want.sort_unstable();
            want.dedup();
            assert_eq!(decode(&text).unwrap(), want, "{text}");
            assert_eq!(encode(&decode(&text).unwrap()), text, "canonical");
            assert!(!text.contains(",,") && !text.starts_with(','));
        }
    }

    /// Indices are array indices: one beyond the largest array is refused,
    /// and however many parts a text repeats, decoding holds one bit per
    /// possible index (fuzzing found "0-9999999" parts costing 40 MB
    /// each, with no bound on their number).
    #[test]
    fn indices_beyond_the_largest_array_are_refused_and_memory_is_bounded() {
        assert_eq!(decode("9999").unwrap(), [9999]);
        for bad in ["10000", "5,0-10000", "0-9999999"] {
            let e = decode(bad).unwrap_err();
            assert!(e.contains("beyond the largest array index 9999"), "{bad:?}: {e}");
        }
        let repeated = vec!["0-9999"; 10_000].join(",");
        assert_eq!(decode(&repeated).unwrap().len(), 10_000);
    }

    #[test]
    fn worst_case_of_a_10000_array_stays_small() {
        let every_other: Vec<u32> = (0..10_000).step_by(2).collect();
        let text = encode(&every_other);
        assert!(text.len() < 25_000, "{}", text.len());
    }

    #[test]
    fn abbreviation_cuts_at_a_part_and_says_so() {
        assert_eq!(abbreviate("0-9999", 10), "0-9999");
        let long = encode(&(0..1000).step_by(2).collect::<Vec<u32>>());
        let short = abbreviate(&long, 40);
        assert!(short.len() <= 40 && short.ends_with(",..."), "{short}");
        assert!(long.starts_with(short.trim_end_matches(",...")), "{short}");
        assert!(decode(short.trim_end_matches(",...")).is_ok());
    }
}
