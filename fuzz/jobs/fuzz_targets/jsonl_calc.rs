//! The JSON-lines calculator on `<calculations, one per line>\n===\n<JSON
//! lines>`. Calculations come from run.json, records from the user's
//! files; the calculator promises:
//! - every line goes to exactly one output: `records_in == records_out +
//!   records_rejected`, one well-formed reject per rejected line;
//! - each output line is a JSON object (as serde_json reads it) holding
//!   every target as a finite number;
//! - the same output however the reads fall.
#![no_main]

use std::io::Read;

use batch_jobs::transform::jsonl::{CalcOptions, CalcStats, Calculations, calculate_jsonl};
use jobs_fuzz::{Trickle, check_rejects, split_settings, step_for};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fn run(calc: &Calculations, input: impl Read) -> (CalcStats, Vec<u8>, Vec<u8>) {
    let (mut out, mut rejects) = (Vec::new(), Vec::new());
    // Small buffers: lines cross block boundaries and the over-long path
    // is reached with small inputs.
    let options = CalcOptions { max_record_bytes: 256, buffer_bytes: 1024 };
    let stats = calculate_jsonl(calc, options, input, &mut out, &mut rejects)
        .expect("in-memory input and outputs cannot fail");
    (stats, out, rejects)
}

/// serde_json's reading of one line as an object; `None` only for a number
/// beyond f64 (serde_json refuses it, JSON allows it).
fn object(line: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Map<String, Value>>(line) {
        Ok(map) => Some(map),
        Err(e) if e.to_string().starts_with("number out of range") => None,
        Err(e) => panic!("output line is not a JSON object ({e}): {:?}", String::from_utf8_lossy(line)),
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((settings, data)) = split_settings(input) else { return };
    let Ok(settings) = std::str::from_utf8(settings) else { return };
    let lines: Vec<String> = settings.lines().map(str::to_string).collect();
    let Ok(calc) = Calculations::parse(&lines) else { return };

    let (stats, out, rejects) = run(&calc, data);
    assert_eq!(stats.bytes_in, data.len() as u64, "bytes_in counts every byte read");
    assert_eq!(
        stats.records_in,
        stats.records_out + stats.rejects.records_rejected,
        "records_in == records_out + records_rejected"
    );
    check_rejects(&rejects, &stats.rejects);
    assert!(out.is_empty() || out.ends_with(b"\n"), "output ends with a newline");
    let out_lines: Vec<&[u8]> = out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(out_lines.len() as u64, stats.records_out, "output lines vs records_out");
    for line in &out_lines {
        let Some(record) = object(line) else { continue };
        for a in &calc.assignments {
            let value = record.get(&a.target).and_then(Value::as_f64);
            assert!(
                value.is_some_and(f64::is_finite),
                "output line lacks target {:?} as a finite number: {:?}",
                a.target,
                String::from_utf8_lossy(line)
            );
        }
    }

    let trickled = run(&calc, Trickle::new(data, step_for(data)));
    assert_eq!((stats, out, rejects), trickled, "the output depends on how the reads fell");
});
