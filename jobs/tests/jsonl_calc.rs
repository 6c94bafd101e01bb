//! JSON-lines calculation: results spliced into each record, and every
//! malformed line rejected with the exact reason; counts add up.

use batch_jobs::transform::jsonl::{CalcOptions, CalcStats, Calculations, calculate_jsonl};
use serde_json::Value;

struct Outcome {
    out: String,
    rejects: Vec<Value>,
    stats: CalcStats,
}

fn run_with(calcs: &[&str], input: &[u8], options: CalcOptions) -> Outcome {
    let calc = Calculations::parse(&calcs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let mut out = Vec::new();
    let mut rejects = Vec::new();
    let stats = calculate_jsonl(&calc, options, input, &mut out, &mut rejects).unwrap();
    assert_eq!(stats.records_in, stats.records_out + stats.rejects.records_rejected);
    let rejects: Vec<Value> =
        String::from_utf8(rejects).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rejects.len() as u64, stats.rejects.records_rejected);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.lines().count() as u64, stats.records_out);
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(v.is_object());
    }
    Outcome { out, rejects, stats }
}

fn run(input: &str) -> Outcome {
    run_with(&["review_score = stars * review_count"], input.as_bytes(), CalcOptions::default())
}

fn reject_of(line: &str) -> (String, Option<String>, String) {
    let out = run(&format!("{{\"stars\":1,\"review_count\":2}}\n{line}\n"));
    assert_eq!(out.stats.records_in, 2, "{line:?}");
    assert_eq!(out.rejects.len(), 1, "{line:?}: {}", out.out);
    let r = &out.rejects[0];
    assert_eq!(r["line"], 2);
    (
        r["rule"].as_str().unwrap().to_string(),
        r["field"].as_str().map(String::from),
        r["reason"].as_str().unwrap().to_string(),
    )
}

#[test]
fn yelp_sample_gets_review_score() {
    let input = r#"{"business_id": "f9NumwFMBDn751xgFiRbNA", "name": "The Range At Lake Norman", "stars": 3.5, "review_count": 36, "categories": "Active Life"}
{"business_id": "Yzvjg0SayhoZgCljUJRF9Q", "name": "Carlos Santo, NMD", "stars": 5.0, "review_count": 4}
"#;
    let out = run(input);
    assert_eq!(out.stats.records_out, 2);
    let lines: Vec<&str> = out.out.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"business_id": "f9NumwFMBDn751xgFiRbNA", "name": "The Range At Lake Norman", "stars": 3.5, "review_count": 36, "categories": "Active Life","review_score":126.0}"#
    );
    let second: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["review_score"], 20.0);
    assert_eq!(second["name"], "Carlos Santo, NMD");
}

#[test]
fn existing_target_is_replaced_in_place() {
    let out = run(r#"{"review_score": "old", "stars": 2, "review_count": 3}"#);
    assert_eq!(out.out, "{\"review_score\": 6.0, \"stars\": 2, \"review_count\": 3}\n");
}

#[test]
fn chained_calculations_and_empty_object_targets() {
    let out = run_with(&["a = x * 2", "b = a + 1", "x = x - 1"], b"{\"x\": 5}\n", CalcOptions::default());
    assert_eq!(out.out, "{\"x\": 4.0,\"a\":10.0,\"b\":11.0}\n");
    let out = run_with(&["k = 7"], b"{}\n", CalcOptions::default());
    assert_eq!(out.out, "{\"k\":7.0}\n");
}

#[test]
fn every_existing_target_is_replaced_however_many() {
    // Nine targets the record already has: each is replaced in place and
    // none is appended a second time (an earlier fixed-size table held
    // eight and appended the ninth as a duplicate member).
    let calcs: Vec<String> = (0..9).map(|i| format!("t{i} = x + {i}")).collect();
    let calcs: Vec<&str> = calcs.iter().map(String::as_str).collect();
    let members: Vec<String> = (0..9).rev().map(|i| format!("\"t{i}\": null")).collect();
    let line = format!("{{\"x\": 1, {}}}\n", members.join(", "));
    let out = run_with(&calcs, line.as_bytes(), CalcOptions::default());
    let expected: Vec<String> = (0..9).rev().map(|i| format!("\"t{i}\": {}.0", 1 + i)).collect();
    assert_eq!(out.out, format!("{{\"x\": 1, {}}}\n", expected.join(", ")));
}

#[test]
fn not_json() {
    assert_eq!(
        reject_of("hello"),
        ("invalidJson".into(), None, "invalid JSON at byte 0: expected a JSON value".into())
    );
}

#[test]
fn truncated_object() {
    assert_eq!(
        reject_of(r#"{"stars": 3.5,"#),
        ("invalidJson".into(), None, "invalid JSON at byte 14: expected a string key".into())
    );
}

#[test]
fn trailing_garbage() {
    assert_eq!(
        reject_of(r#"{"stars": 1, "review_count": 2} x"#),
        ("invalidJson".into(), None, "invalid JSON at byte 32: expected end of line after the object".into())
    );
}

#[test]
fn array_is_not_an_object() {
    assert_eq!(reject_of("[1, 2]"), ("notObject".into(), None, "line is a JSON array, not an object".into()));
    assert_eq!(reject_of("42"), ("notObject".into(), None, "line is a JSON number, not an object".into()));
}

#[test]
fn missing_field() {
    assert_eq!(
        reject_of(r#"{"stars": 3.5}"#),
        ("missingField".into(), Some("review_count".into()), "field \"review_count\" is missing".into())
    );
    assert_eq!(
        reject_of("{}"),
        ("missingField".into(), Some("stars".into()), "field \"stars\" is missing".into())
    );
}

#[test]
fn nested_field_does_not_count_as_top_level() {
    assert_eq!(
        reject_of(r#"{"inner": {"stars": 1}, "review_count": 2}"#),
        ("missingField".into(), Some("stars".into()), "field \"stars\" is missing".into())
    );
}

#[test]
fn wrong_types() {
    assert_eq!(
        reject_of(r#"{"stars": "3.5", "review_count": 2}"#),
        ("notNumber".into(), Some("stars".into()), "field \"stars\" is a string, not a number".into())
    );
    assert_eq!(
        reject_of(r#"{"stars": null, "review_count": 2}"#),
        ("notNumber".into(), Some("stars".into()), "field \"stars\" is a null, not a number".into())
    );
    assert_eq!(
        reject_of(r#"{"stars": 1, "review_count": [2]}"#),
        (
            "notNumber".into(),
            Some("review_count".into()),
            "field \"review_count\" is a array, not a number".into()
        )
    );
}

#[test]
fn division_by_zero() {
    let out = run_with(&["r = a / b"], b"{\"a\":1,\"b\":0}\n", CalcOptions::default());
    assert_eq!(out.rejects[0]["rule"], "nonFinite");
    assert_eq!(out.rejects[0]["reason"], "r evaluates to inf");
    assert_eq!(out.rejects[0]["field"], "r");
}

#[test]
fn blank_lines() {
    assert_eq!(reject_of(""), ("blankLine".into(), None, "blank line".into()));
    assert_eq!(reject_of("   \t"), ("blankLine".into(), None, "blank line".into()));
}

#[test]
fn bad_utf8() {
    let input = b"{\"stars\":1,\"review_count\":2}\n{\"stars\":1,\"review_count\":2,\"n\":\"\xff\"}\n";
    let out = run_with(&["review_score = stars * review_count"], input, CalcOptions::default());
    assert_eq!(out.rejects[0]["rule"], "encoding");
    assert_eq!(out.rejects[0]["reason"], "invalid UTF-8 at byte 33");
}

#[test]
fn encoding_is_reported_before_syntax_and_valid_utf8_passes() {
    // Invalid UTF-8 outside a string, inside a long string, and on a line
    // that is also broken JSON: the encoding is what is reported.
    let lines: [&[u8]; 4] = [
        b"{\"stars\":1,\"review_count\":2,\xc3}",
        b"{\"stars\":1,\"review_count\":2,\"n\":\"a long string value past sixteen \xe2\x82 bytes\"}",
        b"{\"stars\":1,\xff,",
        b"[\"\xc3\xa9\", \xc0\xaf]",
    ];
    for line in lines {
        let mut input = line.to_vec();
        input.push(b'\n');
        let out = run_with(&["review_score = stars * review_count"], &input, CalcOptions::default());
        assert_eq!(out.rejects[0]["rule"], "encoding", "{:?}", String::from_utf8_lossy(line));
    }
    let good =
        "{\"stars\":1,\"review_count\":2,\"n\":\"caf\u{e9} \u{1F600} and a string longer than 16 bytes\"}";
    let out = run(good);
    assert_eq!(out.stats.records_out, 1, "{:?}", out.rejects);
    assert!(out.out.contains("\u{1F600}"));
}

#[test]
fn raw_control_character_in_string() {
    assert_eq!(
        reject_of("{\"stars\":1,\"review_count\":2,\"n\":\"a\tb\"}"),
        (
            "invalidJson".into(),
            None,
            "invalid JSON at byte 34: expected no raw control character in a string".into()
        )
    );
}

#[test]
fn bom_crlf_and_missing_final_newline() {
    let input = "\u{feff}{\"stars\":1,\"review_count\":2}\r\n{\"stars\":2,\"review_count\":2}";
    let out = run(input);
    assert_eq!(out.stats.records_out, 2, "{:?}", out.rejects);
    assert_eq!(
        out.out,
        "{\"stars\":1,\"review_count\":2,\"review_score\":2.0}\n{\"stars\":2,\"review_count\":2,\"review_score\":4.0}\n"
    );
}

#[test]
fn duplicate_keys_last_wins() {
    let out = run(r#"{"stars": 1, "stars": 4, "review_count": 2}"#);
    let v: Value = serde_json::from_str(out.out.trim()).unwrap();
    assert_eq!(v["review_score"], 8.0);
}

#[test]
fn huge_line_is_rejected_and_the_next_line_survives() {
    let mut input = b"{\"stars\":1,\"review_count\":2}\n{\"x\":\"".to_vec();
    input.extend(std::iter::repeat_n(b'a', 50_000));
    input.extend_from_slice(b"\"}\n{\"stars\":1,\"review_count\":3}\n");
    let out = run_with(
        &["review_score = stars * review_count"],
        &input,
        CalcOptions { max_record_bytes: 1000, buffer_bytes: 2048 },
    );
    assert_eq!(out.stats.records_in, 3);
    assert_eq!(out.stats.records_out, 2);
    assert_eq!(out.rejects[0]["rule"], "recordTooLong");
    assert_eq!(out.rejects[0]["line"], 2);
    assert!(out.out.ends_with("\"review_score\":3.0}\n"));
}

#[test]
fn tiny_buffers_give_identical_results() {
    let mut input = String::new();
    for i in 0..3000 {
        match i % 5 {
            0 => input.push_str("not json\n"),
            1 => input.push_str(&format!(
                "{{\"stars\": {}.5, \"review_count\": {i}, \"tags\": [\"a\", {{\"b\": null}}]}}\n",
                i % 5
            )),
            2 => input.push_str("{\"stars\": 1}\n"),
            _ => input.push_str(&format!("{{\"review_count\":{i},\"stars\":{}}}\n", i % 7)),
        }
    }
    let big = run(&input);
    let small = run_with(
        &["review_score = stars * review_count"],
        input.as_bytes(),
        CalcOptions { max_record_bytes: 100, buffer_bytes: 200 },
    );
    assert_eq!(big.stats, small.stats);
    assert_eq!(big.out, small.out);
    assert_eq!(big.rejects, small.rejects);
    assert_eq!(big.stats.records_in, 3000);
    assert_eq!(big.stats.rejects.records_rejected, 1200);
}

#[test]
fn stats_files_keep_their_keys_and_order() {
    // The reject counts are a struct shared with the CSV validator,
    // flattened into the stats: the file must read exactly as before.
    let mut stats = CalcStats { bytes_in: 10, records_in: 3, records_out: 1, ..Default::default() };
    stats.rejects.add(Some("a"), "calc");
    stats.rejects.add(None, "json");
    assert_eq!(
        serde_json::to_string(&stats).unwrap(),
        r#"{"bytes_in":10,"records_in":3,"records_out":1,"records_rejected":2,"rejects_by_rule":{"calc":1,"json":1},"rejects_by_field":{"a":1}}"#
    );
    assert_eq!(serde_json::from_str::<CalcStats>(&serde_json::to_string(&stats).unwrap()).unwrap(), stats);
}

/// A `\u` escape of half a surrogate pair is not valid JSON (serde_json,
/// and with it most strict readers, refuses it): the line is rejected
/// rather than passed on for a reader downstream to choke on. Fuzzing
/// found the calculator copying a key `"\udddd..."` to its output.
#[test]
fn lone_surrogate_escapes_are_invalid_json() {
    let low = "a low surrogate escape (\\uDC00-\\uDFFF) after a high one";
    let lone = "no lone low surrogate escape (\\uDC00-\\uDFFF)";
    assert_eq!(
        reject_of(r#"{"\udddd":1,"stars":1,"review_count":2}"#),
        ("invalidJson".into(), None, format!("invalid JSON at byte 2: expected {lone}"))
    );
    assert_eq!(
        reject_of(r#"{"stars":1,"review_count":2,"t":"\ud83dx"}"#),
        ("invalidJson".into(), None, format!("invalid JSON at byte 39: expected {low}"))
    );
    assert_eq!(
        reject_of(r#"{"stars":1,"review_count":2,"t":"\ud83d\u0041"}"#),
        ("invalidJson".into(), None, format!("invalid JSON at byte 39: expected {low}"))
    );
    let out = run(r#"{"stars":1,"review_count":2,"t":"\ud83d\ude00 \u00e9"}"#);
    assert_eq!(out.stats.records_out, 1, "a whole pair is valid: {:?}", out.rejects);
}
