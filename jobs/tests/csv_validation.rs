//! CSV validation against the shipped GHCN-Daily rule set and small custom
//! rule sets: every malformed-data case asserts the exact reject (line,
//! field, rule, reason) and that the counts add up.

use batch_jobs::transform::csv::{
    CompiledRules, CsvError, CsvStats, RejectRecord, RuleSet, ValidateOptions, builtin_rule_set, validate_csv,
};

struct Outcome {
    clean: Vec<u8>,
    rejects: Vec<RejectRecord>,
    stats: CsvStats,
}

fn ghcn() -> CompiledRules {
    CompiledRules::compile(&builtin_rule_set("ghcn-daily").unwrap()).unwrap()
}

fn run_with(rules: &CompiledRules, input: &[u8], options: ValidateOptions) -> Outcome {
    let mut clean = Vec::new();
    let mut rejects = Vec::new();
    let stats = validate_csv(rules, options, input, &mut clean, &mut rejects).unwrap();
    let rejects: Vec<RejectRecord> = rejects
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(stats.records_in, stats.records_clean + stats.rejects.records_rejected, "counts must add up");
    assert_eq!(rejects.len() as u64, stats.rejects.records_rejected);
    assert_eq!(
        clean.iter().filter(|&&b| b == b'\n').count() as u64 - quoted_newlines(&clean),
        stats.records_clean,
        "one clean line per clean record"
    );
    assert_eq!(stats.bytes_in, input.len() as u64);
    Outcome { clean, rejects, stats }
}

/// Newlines inside quotes in the clean output (they do not end records).
fn quoted_newlines(clean: &[u8]) -> u64 {
    let mut inside = false;
    let mut n = 0;
    for &b in clean {
        if b == b'"' {
            inside = !inside;
        } else if b == b'\n' && inside {
            n += 1;
        }
    }
    n
}

fn run(input: &[u8]) -> Outcome {
    run_with(&ghcn(), input, ValidateOptions::default())
}

const GOOD: &str = "USW00094728,20230101,TMAX,-12,,,W,0700\n";

/// Asserts one rejected record among `good + bad + good` and returns it.
fn single_reject(bad: &[u8]) -> RejectRecord {
    let mut input = GOOD.as_bytes().to_vec();
    input.extend_from_slice(bad);
    input.extend_from_slice(GOOD.as_bytes());
    let out = run(&input);
    assert_eq!(out.stats.records_in, 3, "{:?}", String::from_utf8_lossy(bad));
    assert_eq!(out.stats.records_clean, 2);
    assert_eq!(out.clean, format!("{GOOD}{GOOD}").into_bytes());
    assert_eq!(out.rejects.len(), 1);
    let r = out.rejects.into_iter().next().unwrap();
    assert_eq!(r.line, 2);
    r
}

fn assert_reject(bad: &str, field: Option<&str>, rule: &str, reason: &str) {
    let r = single_reject(bad.as_bytes());
    assert_eq!(r.field.as_deref(), field, "{bad:?}");
    assert_eq!(r.rule, rule, "{bad:?}");
    assert_eq!(r.reason, reason, "{bad:?}");
}

#[test]
fn clean_rows_pass_verbatim() {
    let input = "AE000041196,20230101,TMAX,252,,,S,\n\
                 ASN00008039,20240229,PRCP,0,T,,a,2359\n\
                 USC00045721,17630101,SN32,-9999,B,X,z,0000\n";
    let out = run(input.as_bytes());
    assert_eq!(out.stats.records_in, 3);
    assert_eq!(out.stats.records_clean, 3);
    assert_eq!(out.clean, input.as_bytes());
    assert!(out.rejects.is_empty());
}

/// Rows as the by_year files (ID,YYYYMMDD,ELEMENT,DATA_VALUE,M-FLAG,Q-FLAG,
/// S-FLAG,OBS-TIME) hold them, with every flag the GHCN-Daily readme
/// (version 3.3x) lists: the source flags it added after the rule set was
/// first written (`D`, `d`, `f`, `1`, `2`) and the observation time `2400`
/// that by_year files carry for midnight observers were rejected.
#[test]
fn every_flag_and_time_of_the_current_readme_passes() {
    let mut input = String::new();
    let sflags = [
        "", "0", "1", "2", "6", "7", "A", "a", "B", "b", "C", "D", "d", "E", "F", "f", "G", "H", "I", "K",
        "M", "m", "N", "Q", "R", "r", "S", "s", "T", "U", "u", "W", "X", "Z", "z",
    ];
    for s in sflags {
        input.push_str(&format!("USW00094728,20200101,TMAX,72,,,{s},2400\n"));
    }
    for m in ["", "B", "D", "H", "K", "L", "O", "P", "T", "W"] {
        input.push_str(&format!("US1AZMR0156,20230615,PRCP,3,{m},,N,0700\n"));
    }
    for q in ["", "D", "G", "I", "K", "L", "M", "N", "O", "R", "S", "T", "W", "X", "Z"] {
        input.push_str(&format!("CA001010066,19991231,TMIN,-123,,{q},C,\n"));
    }
    for t in ["", "0000", "0001", "0700", "1259", "2359", "2400"] {
        input.push_str(&format!("USC00011084,20240229,TOBS,-9999,,,7,{t}\n"));
    }
    for e in [
        "PRCP", "SNOW", "SNWD", "TMAX", "TMIN", "ADPT", "ASLP", "ASTP", "AWBT", "RHAV", "RHMN", "RHMX",
        "TAVG", "WSF5", "SN02", "SX87", "WT22", "WV20",
    ] {
        input.push_str(&format!("ASN00001000,18320501,{e},0,,,a,\n"));
    }
    let out = run(input.as_bytes());
    let shown: Vec<String> =
        out.rejects.iter().map(|r| format!("{} {}: {}", r.record, r.rule, r.reason)).collect();
    assert!(out.rejects.is_empty(), "valid rows rejected:\n{}", shown.join("\n"));
    assert_eq!(out.stats.records_clean, input.lines().count() as u64);
    assert_eq!(out.clean, input.as_bytes());
}

#[test]
fn ragged_row_too_few_fields() {
    assert_reject("USW00094728,20230101,TMAX,10,,,W\n", None, "fieldCount", "expected 8 fields, found 7");
}

#[test]
fn ragged_row_too_many_fields() {
    assert_reject(
        "USW00094728,20230101,TMAX,10,,,W,0700,extra\n",
        None,
        "fieldCount",
        "expected 8 fields, found 9",
    );
}

#[test]
fn bad_utf8() {
    let r = single_reject(b"USW00094728,20230101,TMAX,10,,,\xff,0700\n");
    assert_eq!(r.rule, "encoding");
    assert_eq!(r.reason, "invalid UTF-8 at byte 31 of the record");
    assert_eq!(r.field, None);
}

#[test]
fn valid_non_ascii_is_checked_by_characters() {
    // "é" is valid UTF-8 but not in the S_FLAG enum.
    assert_reject(
        "USW00094728,20230101,TMAX,10,,,é,0700\n",
        Some("S_FLAG"),
        "enum",
        "\"é\" is not one of the allowed values",
    );
}

#[test]
fn quoted_field_with_newline() {
    let input = format!("{GOOD}USW00094728,20230101,TMAX,10,,,\"W\nX\",0700\n{GOOD}");
    let out = run(input.as_bytes());
    assert_eq!(out.stats.records_in, 3);
    assert_eq!(out.rejects.len(), 1);
    let r = &out.rejects[0];
    assert_eq!((r.line, r.rule.as_str()), (2, "enum"));
    assert_eq!(r.field.as_deref(), Some("S_FLAG"));
    assert_eq!(r.reason, "\"W\\nX\" is not one of the allowed values");
    // The record spanned lines 2-3; a reject after it is on line 5.
    let input = format!("{input}bad\n");
    let out = run(input.as_bytes());
    assert_eq!(out.rejects[1].line, 5);
}

#[test]
fn quoted_fields_that_are_valid_stay_verbatim() {
    let input = "\"USW00094728\",20230101,\"TMAX\",10,,,\"\",0700\n";
    let out = run(input.as_bytes());
    assert_eq!(out.stats.records_clean, 1, "{:?}", out.rejects);
    assert_eq!(out.clean, input.as_bytes());
}

#[test]
fn empty_file() {
    let out = run(b"");
    assert_eq!(out.stats, CsvStats::default());
    assert!(out.clean.is_empty());
}

/// That the line is not held in memory meanwhile is measured in
/// tests/huge_line_memory.rs; this checks the reject and the counts.
#[test]
fn huge_line_is_rejected_with_its_record_cut() {
    let options =
        ValidateOptions { max_record_bytes: 4096, buffer_bytes: 8192, max_unique_keys: 10, fast_path: true };
    let mut input = GOOD.as_bytes().to_vec();
    input.extend(std::iter::repeat_n(b'A', 100_000));
    input.push(b'\n');
    input.extend_from_slice(GOOD.as_bytes());
    let out = run_with(&ghcn(), &input, options);
    assert_eq!(out.stats.records_in, 3);
    assert_eq!(out.stats.records_clean, 2);
    assert_eq!(out.rejects[0].rule, "recordTooLong");
    assert_eq!(out.rejects[0].reason, "record longer than 4096 bytes");
    assert_eq!(out.rejects[0].line, 2);
    assert_eq!(out.rejects[0].record.len(), 1024, "reject record is cut");
}

#[test]
fn bom_is_stripped() {
    let input = format!("\u{feff}{GOOD}");
    let out = run(input.as_bytes());
    assert_eq!(out.stats.records_clean, 1, "{:?}", out.rejects);
    assert_eq!(out.clean, GOOD.as_bytes());
}

#[test]
fn bom_in_the_middle_is_data() {
    assert_reject(
        "\u{feff}USW00094728,20230101,TMAX,10,,,W,0700\n",
        Some("ID"),
        "maxLength",
        "length 12 exceeds maxLength 11",
    );
}

#[test]
fn wrong_type_integer() {
    assert_reject(
        "USW00094728,20230101,TMAX,12.5,,,W,0700\n",
        Some("DATA_VALUE"),
        "type",
        "\"12.5\" is not a valid integer",
    );
}

#[test]
fn integer_overflow() {
    assert_reject(
        "USW00094728,20230101,TMAX,99999999999999999999,,,W,0700\n",
        Some("DATA_VALUE"),
        "type",
        "\"99999999999999999999\" is not a valid integer",
    );
}

#[test]
fn impossible_date() {
    assert_reject(
        "USW00094728,20230230,TMAX,1,,,W,0700\n",
        Some("DATE"),
        "type",
        "\"20230230\" is not a valid date in format %Y%m%d",
    );
    assert_reject(
        "USW00094728,19000229,TMAX,1,,,W,0700\n",
        Some("DATE"),
        "type",
        "\"19000229\" is not a valid date in format %Y%m%d",
    );
    assert_reject(
        "USW00094728,2023-01-01,TMAX,1,,,W,0700\n",
        Some("DATE"),
        "type",
        "\"2023-01-01\" is not a valid date in format %Y%m%d",
    );
}

#[test]
fn unknown_element() {
    assert_reject(
        "USW00094728,20230101,TMAXX,1,,,W,0700\n",
        Some("ELEMENT"),
        "enum",
        "\"TMAXX\" is not one of the allowed values",
    );
    assert_reject(
        "USW00094728,20230101,SN99,1,,,W,0700\n",
        Some("ELEMENT"),
        "enum",
        "\"SN99\" is not one of the allowed values",
    );
}

#[test]
fn short_and_malformed_station_ids() {
    assert_reject(
        "USW0009472,20230101,TMAX,1,,,W,0700\n",
        Some("ID"),
        "minLength",
        "length 10 is below minLength 11",
    );
    assert_reject(
        "usw00094728,20230101,TMAX,1,,,W,0700\n",
        Some("ID"),
        "pattern",
        "\"usw00094728\" does not match pattern [A-Z]{2}[A-Z0-9]{9}",
    );
}

#[test]
fn missing_required_value() {
    assert_reject(
        "USW00094728,20230101,TMAX,,,,W,0700\n",
        Some("DATA_VALUE"),
        "required",
        "value is required",
    );
    assert_reject(",,,,,,,\n", Some("ID"), "required", "value is required");
}

#[test]
fn blank_line_in_the_middle() {
    assert_reject("\n", None, "blankRow", "blank row");
    assert_reject("\r\n", None, "blankRow", "blank row");
}

#[test]
fn crlf_line_endings_are_kept() {
    let input = "USW00094728,20230101,TMAX,1,,,W,0700\r\nUSW00094728,20230102,TMAX,1,,,W,\r\n";
    let out = run(input.as_bytes());
    assert_eq!(out.stats.records_clean, 2, "{:?}", out.rejects);
    assert_eq!(out.clean, input.as_bytes());
}

#[test]
fn last_line_without_newline() {
    let input = "USW00094728,20230101,TMAX,1,,,W,0700";
    let out = run(input.as_bytes());
    assert_eq!(out.stats.records_clean, 1);
    assert_eq!(out.clean, format!("{input}\n").into_bytes());
    let bad = "USW00094728,20230101,TMAX,x,,,W,0700";
    let out = run(format!("{GOOD}{bad}").as_bytes());
    assert_eq!(out.rejects[0].line, 2);
    assert_eq!(out.rejects[0].record, bad);
    assert_eq!(out.clean, GOOD.as_bytes());
}

#[test]
fn bad_observation_time() {
    // 0000-2359 and 2400 pass (every_flag_and_time_of_the_current_readme_passes).
    for t in ["2401", "2500", "2360", "0060", "700", "07000", "+700", "-100", "07:0"] {
        assert_reject(
            &format!("USW00094728,20230101,TMAX,1,,,W,{t}\n"),
            Some("OBS_TIME"),
            "enum",
            &format!("{t:?} is not one of the allowed values"),
        );
    }
}

#[test]
fn multi_character_flag() {
    assert_reject(
        "USW00094728,20230101,TMAX,1,BB,,W,0700\n",
        Some("M_FLAG"),
        "enum",
        "\"BB\" is not one of the allowed values",
    );
}

#[test]
fn nul_byte_in_a_field() {
    assert_reject(
        "USW00094728,20230101,TMAX,1,,\0,W,0700\n",
        Some("Q_FLAG"),
        "enum",
        "\"\\0\" is not one of the allowed values",
    );
}

#[test]
fn unterminated_quote_at_eof() {
    let input = format!("{GOOD}USW00094728,20230101,TMAX,1,,,\"W,0700\n{GOOD}");
    let out = run(input.as_bytes());
    assert_eq!(out.stats.records_in, 2, "the open quote swallows the rest");
    assert_eq!(out.rejects[0].rule, "quoting");
    assert_eq!(out.rejects[0].reason, "unterminated quoted field");
    assert_eq!(out.rejects[0].line, 2);
}

#[test]
fn text_after_closing_quote() {
    assert_reject(
        "\"USW00094728\"x,20230101,TMAX,1,,,W,0700\n",
        None,
        "quoting",
        "text after a closing quote",
    );
}

#[test]
fn quote_inside_unquoted_field() {
    assert_reject(
        "USW0009\"4728,20230101,TMAX,1,,,W,0700\n",
        None,
        "quoting",
        "quote character inside an unquoted field",
    );
}

#[test]
fn first_failing_field_wins() {
    assert_reject(
        "bad,20231301,NOPE,x,,,W,0700\n",
        Some("ID"),
        "minLength",
        "length 3 is below minLength 11",
    );
}

fn custom(json: &str) -> CompiledRules {
    let rules: RuleSet = serde_json::from_str(json).unwrap();
    CompiledRules::compile(&rules).unwrap()
}

#[test]
fn duplicate_primary_key_and_unique_values() {
    let rules = custom(
        r#"{"dialect":{"header":true},"schema":{"primaryKey":["id","day"],"fields":[
            {"name":"id","type":"integer","constraints":{"required":true}},
            {"name":"day","type":"date"},
            {"name":"code","constraints":{"unique":true}}]}}"#,
    );
    let input = "id,day,code\n1,2024-01-01,a\n1,2024-01-02,b\n1,2024-01-01,c\n2,2024-01-01,b\n3,2024-01-01,\n4,2024-01-01,\n";
    let out = run_with(&rules, input.as_bytes(), ValidateOptions::default());
    assert_eq!(out.stats.records_in, 6, "the header is not a record");
    assert_eq!(out.stats.records_clean, 4);
    assert_eq!(out.rejects[0].line, 4);
    assert_eq!(out.rejects[0].rule, "primaryKey");
    assert_eq!(out.rejects[0].reason, r#"duplicate primary key ["1", "2024-01-01"]"#);
    assert_eq!(out.rejects[1].line, 5);
    assert_eq!(out.rejects[1].rule, "unique");
    assert_eq!(out.rejects[1].field.as_deref(), Some("code"));
    assert_eq!(out.rejects[1].reason, "duplicate value \"b\"");
    assert_eq!(out.clean, b"1,2024-01-01,a\n1,2024-01-02,b\n3,2024-01-01,\n4,2024-01-01,\n");
    assert_eq!(out.stats.rejects.rejects_by_rule.get("unique"), Some(&1));
    assert_eq!(out.stats.rejects.rejects_by_rule.get("primaryKey"), Some(&1));
}

/// A `year` is four digits (as frictionless reads Table Schema's gYear),
/// not any integer; bounds compare as numbers.
#[test]
fn years_are_four_digits() {
    let rules = custom(
        r#"{"dialect":{"header":false},"schema":{"fields":[
            {"name":"y","type":"year","constraints":{"minimum":1900}}]}}"#,
    );
    let input = "2023\n0999\n123\n20231\n-123\n+202\n1899\n1900\n";
    let out = run_with(&rules, input.as_bytes(), ValidateOptions::default());
    let rejected: Vec<_> = out.rejects.iter().map(|r| (r.line, r.rule.as_str())).collect();
    assert_eq!(
        rejected,
        [(2, "minimum"), (3, "type"), (4, "type"), (5, "type"), (6, "type"), (7, "minimum")]
    );
    assert_eq!(out.clean, b"2023\n1900\n");
}

/// Primary key fields are required even when their constraints do not
/// say so: a row missing part of its key is rejected as such.
#[test]
fn primary_key_fields_are_required() {
    let rules = custom(
        r#"{"schema":{"primaryKey":["id","day"],"fields":[
            {"name":"id","type":"integer"},
            {"name":"day","type":"date"},
            {"name":"code"}]}}"#,
    );
    let input = "id,day,code\n1,2024-01-01,a\n2,,b\n,2024-01-01,c\n3,2024-01-01,\n";
    let out = run_with(&rules, input.as_bytes(), ValidateOptions::default());
    assert_eq!(out.stats.records_in, 4);
    assert_eq!(out.stats.records_clean, 2);
    let fields: Vec<_> = out.rejects.iter().map(|r| (r.line, r.rule.as_str(), r.field.as_deref())).collect();
    assert_eq!(fields, [(3, "required", Some("day")), (4, "required", Some("id"))]);
    assert_eq!(out.clean, b"1,2024-01-01,a\n3,2024-01-01,\n");
}

#[test]
fn unique_key_limit_is_enforced() {
    let rules = custom(
        r#"{"dialect":{"header":false},"schema":{"fields":[{"name":"k","constraints":{"unique":true}}]}}"#,
    );
    let options = ValidateOptions { max_unique_keys: 2, ..ValidateOptions::default() };
    let mut clean = Vec::new();
    let mut rejects = Vec::new();
    let err = validate_csv(&rules, options, &b"a\nb\nc\n"[..], &mut clean, &mut rejects).unwrap_err();
    assert!(matches!(err, CsvError::TooManyUniqueKeys(2)), "{err}");
}

#[test]
fn header_mismatch_fails_the_file() {
    let rules = custom(r#"{"schema":{"fields":[{"name":"a"},{"name":"b"}]}}"#);
    let mut clean = Vec::new();
    let mut rejects = Vec::new();
    let err = validate_csv(&rules, ValidateOptions::default(), &b"a,c\n1,2\n"[..], &mut clean, &mut rejects)
        .unwrap_err();
    assert_eq!(err.to_string(), r#"header ["a", "c"] does not match schema fields ["a", "b"]"#);
}

#[test]
fn numeric_bounds_booleans_and_missing_values() {
    let rules = custom(
        r#"{"dialect":{"header":false,"delimiter":";"},"schema":{"missingValues":["","NA"],"fields":[
            {"name":"n","type":"number","constraints":{"minimum":0,"maximum":"10.5"}},
            {"name":"b","type":"boolean","constraints":{"required":true}},
            {"name":"d","type":"date","constraints":{"minimum":"2000-01-01"}},
            {"name":"s","constraints":{"maxLength":3,"enum":["ab","abcd","é"]}}]}}"#,
    );
    let input = "1.5;true;2000-01-01;ab\nNA;0;NA;é\n-1;true;2001-01-01;ab\n11;true;2001-01-01;ab\n1;yes;2001-01-01;ab\n1;1;1999-12-31;ab\n1;1;2001-01-01;abcd\n1;NA;2001-01-01;ab\n";
    let out = run_with(&rules, input.as_bytes(), ValidateOptions::default());
    let got: Vec<(u64, &str, &str)> =
        out.rejects.iter().map(|r| (r.line, r.rule.as_str(), r.reason.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (3, "minimum", "\"-1\" is below minimum 0"),
            (4, "maximum", "\"11\" exceeds maximum 10.5"),
            (5, "type", "\"yes\" is not a valid boolean"),
            (6, "minimum", "\"1999-12-31\" is below minimum 2000-01-01"),
            (7, "maxLength", "length 4 exceeds maxLength 3"),
            (8, "required", "value is required"),
        ]
    );
    assert_eq!(out.stats.records_clean, 2);
}

#[test]
fn bad_rule_sets_are_refused_with_the_field_named() {
    for (json, msg) in [
        (
            r#"{"schema":{"fields":[{"name":"a","type":"geopoint"}]}}"#,
            "field \"a\": type \"geopoint\" is not supported",
        ),
        (
            r#"{"schema":{"fields":[{"name":"a","constraints":{"pattern":"("}}]}}"#,
            "field \"a\": pattern \"(\"",
        ),
        (
            r#"{"schema":{"fields":[{"name":"a","type":"integer","constraints":{"minimum":"x"}}]}}"#,
            "field \"a\": minimum \"x\" is not a valid integer",
        ),
        (r#"{"schema":{"primaryKey":"z","fields":[{"name":"a"}]}}"#, "primaryKey names unknown field \"z\""),
        (r#"{"dialect":{"delimiter":"ab"},"schema":{"fields":[{"name":"a"}]}}"#, "dialect.delimiter \"ab\""),
    ] {
        let rules: RuleSet = serde_json::from_str(json).unwrap();
        let err = CompiledRules::compile(&rules).unwrap_err();
        assert!(err.starts_with(msg), "{err} should start with {msg}");
    }
    // Properties the validator does not know, misspelt or unimplemented,
    // are refused by name rather than skipped (the column would accept
    // anything); documentation-only ones are accepted.
    for (json, name) in [
        (r#"{"schema":{"fields":[{"name":"a","contraints":{"required":true}}]}}"#, "contraints"),
        (r#"{"schema":{"fields":[{"name":"a","type":"number","groupChar":","}]}}"#, "groupChar"),
        (r#"{"schema":{"fields":[{"name":"a","constraints":{"exclusiveMinimum":1}}]}}"#, "exclusiveMinimum"),
    ] {
        let err = serde_json::from_str::<RuleSet>(json).unwrap_err().to_string();
        assert!(err.contains(&format!("unknown field `{name}`")), "{err}");
    }
    let documented = r#"{"schema":{"fields":[{"name":"a","title":"A","description":"d","example":"x","rdfType":"https://schema.org/Text"}]}}"#;
    let rules: RuleSet = serde_json::from_str(documented).unwrap();
    assert!(CompiledRules::compile(&rules).is_ok());
}

/// A deterministic mix of good and bad rows, quoted fields and CRLFs.
fn mixed_input(rows: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut x: u64 = 0x1234_5678;
    for i in 0..rows {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let row = match x % 11 {
            0 => format!("USW000{:05},20230230,TMAX,{},,,W,0700\n", i % 99999, i),
            1 => "USW00094728,20230101,TMAX,1,,,\"W\",0700\r\n".to_string(),
            2 => "USW00094728,20230101,TMAX,1,,,\"W\nX\",0700\n".to_string(),
            3 => "short,row\n".to_string(),
            4 => "\n".to_string(),
            5 => "USW00094728,20230101,TMAX,1,,,W,0700,\n".to_string(),
            _ => format!("USW000{:05},2023{:02}{:02},PRCP,{},,,W,\n", i % 99999, x % 12 + 1, x % 28 + 1, i),
        };
        out.extend_from_slice(row.as_bytes());
    }
    out
}

#[test]
fn tiny_buffers_give_identical_results() {
    let input = mixed_input(5000);
    let big = run_with(&ghcn(), &input, ValidateOptions::default());
    let small = run_with(
        &ghcn(),
        &input,
        ValidateOptions { max_record_bytes: 64, buffer_bytes: 128, max_unique_keys: 10, fast_path: true },
    );
    assert_eq!(big.stats, small.stats);
    assert_eq!(big.clean, small.clean);
    assert_eq!(big.rejects, small.rejects);
    assert!(big.stats.rejects.records_rejected > 1000 && big.stats.records_clean > 2000);
    assert_eq!(big.stats.records_in, 5000);
}

/// Runs `input` through the fast path and through the general path only:
/// identical clean output, rejects and stats.
fn assert_fast_matches_general(rules: &CompiledRules, input: &[u8]) {
    let fast = run_with(rules, input, ValidateOptions::default());
    let general = run_with(rules, input, ValidateOptions { fast_path: false, ..ValidateOptions::default() });
    assert_eq!(fast.clean, general.clean, "{:?}", String::from_utf8_lossy(input));
    assert_eq!(fast.rejects, general.rejects);
    assert_eq!(fast.stats, general.stats);
}

/// Tricky values in every GHCN field, one per row among good rows, and
/// the same rows with CRLF, quotes, a BOM and a missing final newline:
/// the fast path must agree with the general validator on every one.
#[test]
fn fast_path_agrees_with_general_path_on_tricky_values() {
    let fields: [&[&str]; 8] = [
        &[
            "USW00094728",
            "USW0009472",
            "USW000947288",
            "usW00094728",
            "U1W00094728",
            "US_00094728",
            "",
            "ÜSW00094728",
        ],
        &[
            "20240229",
            "20230229",
            "19000229",
            "20000229",
            "21000229",
            "20231231",
            "20231232",
            "20230431",
            "20231301",
            "20230001",
            "20230100",
            "2023011",
            "202301011",
            "2023-1-1",
            "0000229",
            "00000229",
            "",
        ],
        &[
            "TMAX", "TMXX", "TMA", "TMAXX", "tmax", "SN32", "SN38", "SN08", "WT22", "WT23", "WV20", "WV02",
            "T", "", "TMA\0",
        ],
        &[
            "0",
            "-0",
            "+7",
            "-9999",
            "12345678",
            "-12345678",
            "123456789",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "1.5",
            "1e3",
            " 1",
            "-",
            "+",
            "",
            "12a",
        ],
        &["", "B", "T", "BB", "b", "Z", "é"],
        &["", "X", "I", "x", "XX"],
        &["W", "7", "a", "z", "", "1", "2", "d", "f", "D", "3", "WW"],
        &["", "0000", "2359", "2400", "2401", "2360", "0060", "0759", "700", "07000", "07:0", "-100", "+700"],
    ];
    let good = ["USW00094728", "20230101", "TMAX", "-12", "", "", "W", "0700"];
    let mut input = String::new();
    for (f, values) in fields.iter().enumerate() {
        for v in values.iter() {
            let mut row = good;
            row[f] = v;
            input.push_str(&row.join(","));
            input.push('\n');
            input.push_str(&good.join(","));
            input.push('\n');
        }
    }
    let rules = ghcn();
    assert_fast_matches_general(&rules, input.as_bytes());
    assert_fast_matches_general(&rules, input.replace('\n', "\r\n").as_bytes());
    assert_fast_matches_general(&rules, format!("\u{feff}{}", input.trim_end()).as_bytes());
    let quoted = input.replace(",W,", ",\"W\",").replace(",TMXX,", ",\"TM\nXX\",");
    assert_fast_matches_general(&rules, quoted.as_bytes());
    assert_fast_matches_general(&rules, &mixed_input(3000));
    // Tiny buffers: records cross every read boundary.
    let small = ValidateOptions { max_record_bytes: 64, buffer_bytes: 128, ..ValidateOptions::default() };
    let general_small = ValidateOptions { fast_path: false, ..small };
    let a = run_with(&rules, input.as_bytes(), small);
    let b = run_with(&rules, input.as_bytes(), general_small);
    assert_eq!((a.clean, a.rejects, a.stats), (b.clean, b.rejects, b.stats));
}

/// A custom rule set with a header, another delimiter, other types and a
/// wide row: every field kind the fast path compiles, and some it leaves
/// to the general check.
#[test]
fn fast_path_agrees_with_general_path_on_other_rule_sets() {
    let rules = custom(
        r#"{"dialect":{"header":true,"delimiter":";"},"schema":{"fields":[
            {"name":"code","constraints":{"required":true,"pattern":"[A-F0-9]{4}-[xyz]"}},
            {"name":"when","type":"datetime","format":"%Y-%m-%d %H:%M"},
            {"name":"day","type":"date"},
            {"name":"n","type":"integer","constraints":{"minimum":-5,"maximum":5}},
            {"name":"word","constraints":{"enum":["alpha","beta","a-very-long-enum-value"],"maxLength":5}},
            {"name":"x","type":"number"},
            {"name":"flag","type":"boolean"},
            {"name":"free","constraints":{"minLength":2}},
            {"name":"re","constraints":{"pattern":"a+b"}}]}}"#,
    );
    let mut input = String::from("code;when;day;n;word;x;flag;free;re\n");
    let codes = ["AB12-x", "ab12-x", "AB12-w", "AB1-x", ""];
    let whens = ["2024-02-29 23:59", "2023-02-29 00:00", "2024-02-29 24:00", "", "2024-02-29T23:59"];
    let days = ["2024-02-29", "2023-02-29", "2024-2-29", ""];
    let ns = ["0", "5", "6", "-5", "-6", "x", ""];
    let words = ["alpha", "beta", "gamma", "a-very-long-enum-value", "", "alph"];
    let xs = ["1.5", "NaN", "x", ""];
    let flags = ["true", "0", "yes", ""];
    let frees = ["ab", "a", "", "abc"];
    let res = ["ab", "aab", "b", ""];
    let mut i = 0usize;
    for code in codes {
        for when in whens {
            for day in days {
                i += 7;
                let pick = |v: &[&str]| v[i % v.len()].to_string();
                let row = [
                    code.to_string(),
                    when.to_string(),
                    day.to_string(),
                    pick(&ns),
                    pick(&words),
                    pick(&xs),
                    pick(&flags),
                    pick(&frees),
                    pick(&res),
                ];
                input.push_str(&row.join(";"));
                input.push('\n');
            }
        }
    }
    assert_fast_matches_general(&rules, input.as_bytes());
    let wide = custom(&format!(
        r#"{{"dialect":{{"header":false}},"schema":{{"fields":[{}]}}}}"#,
        (0..70).map(|i| format!(r#"{{"name":"f{i}","type":"integer"}}"#)).collect::<Vec<_>>().join(",")
    ));
    let row: Vec<String> = (0..70).map(|i| i.to_string()).collect();
    let mut short = row.clone();
    short.pop();
    let wide_input =
        format!("{}\n{}\n{}\n", row.join(","), short.join(","), row.join(",").replace(",7,", ",x,"));
    assert_fast_matches_general(&wide, wide_input.as_bytes());
}

/// The shape path (rows under 64 bytes checked per shape) against the
/// general path: random rows over a rule set with every byte-class field
/// kind (pattern, one-byte enums past the 16 class bits, integers at the
/// 18/19-digit edge, length-bounded text) and residual fields (a date, an
/// enum whose maxLength excludes one of its values), short and
/// long rows mixed in runs so that batches switch between shape mode and
/// column mode.
#[test]
fn shape_path_agrees_with_general_path_on_random_rows() {
    let flags: Vec<String> = (0..12)
        .map(|i| {
            let set: Vec<String> =
                (0..3).map(|k| ((b'A' + ((i * 5 + k * 7) % 26) as u8) as char).to_string()).collect();
            format!(r#"{{"name":"flag{i}","constraints":{{"enum":{}}}}}"#, serde_json::json!(set))
        })
        .collect();
    let rules = custom(&format!(
        r#"{{"dialect":{{"header":false}},"schema":{{"fields":[
            {{"name":"id","constraints":{{"required":true,"pattern":"[A-Z]{{2}}[0-9]{{3}}"}}}},
            {{"name":"n","type":"integer"}},
            {{"name":"day","type":"date","format":"%Y%m%d"}},
            {{"name":"word","constraints":{{"minLength":2,"maxLength":5}}}},
            {{"name":"kind","constraints":{{"enum":["AB","CDE"],"maxLength":2}}}},
            {{"name":"note"}},
            {}]}}}}"#,
        flags.join(",")
    ));
    let pieces: [&[&str]; 6] = [
        &["AB123", "ab123", "AB12", "A1123", "ZZ999", ""],
        &[
            "0",
            "-5",
            "+7",
            "123456789012345678",
            "1234567890123456789",
            "-",
            "1x",
            "",
            "99999999999999999999",
        ],
        &["20240229", "20230229", "2024022", "", "2024-2-2"],
        &["ab", "a", "abcde", "abcdef", "", "x y"],
        &["AB", "CDE", "CD", "", "ABC"],
        &["", "x"],
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut input = String::new();
    for run in 0..40 {
        // Runs of mostly long or mostly short rows switch the mode.
        let long_run = run % 3 == 1;
        for _ in 0..600 {
            let mut row: Vec<String> = pieces.iter().map(|p| p[next(p.len())].to_string()).collect();
            for i in 0..12 {
                let letter = (b'A' + ((i * 5 + next(4) * 7) % 26) as u8) as char;
                row.push(if next(3) == 0 { String::new() } else { letter.to_string() });
            }
            if next(50) == 0 {
                row.pop();
            }
            if long_run || next(40) == 0 {
                // Past 63 bytes, with the free-text field or with an
                // integer of leading zeros (over 19 digits: not clean).
                let at = if next(2) == 0 { 5 } else { 1 };
                row[at] = format!("{}{}", "0".repeat(60), row[at]);
            }
            let line = row.join(",");
            input.push_str(&line);
            input.push_str(if next(10) == 0 { "\r\n" } else { "\n" });
        }
    }
    assert_fast_matches_general(&rules, input.as_bytes());
    let small = ValidateOptions { max_record_bytes: 256, buffer_bytes: 1024, ..ValidateOptions::default() };
    let a = run_with(&rules, input.as_bytes(), small);
    let b = run_with(&rules, input.as_bytes(), ValidateOptions { fast_path: false, ..small });
    assert_eq!((a.clean, a.rejects, a.stats), (b.clean, b.rejects, b.stats));
}

#[test]
fn stats_files_keep_their_keys_and_order() {
    // The reject counts are a struct shared with the JSON-lines calculator,
    // flattened into the stats: the file must read exactly as before.
    let mut stats = CsvStats { bytes_in: 10, records_in: 3, records_clean: 1, ..Default::default() };
    stats.rejects.add(Some("id"), "required");
    stats.rejects.add(None, "fieldCount");
    assert_eq!(
        serde_json::to_string(&stats).unwrap(),
        r#"{"bytes_in":10,"records_in":3,"records_clean":1,"records_rejected":2,"rejects_by_rule":{"fieldCount":1,"required":1},"rejects_by_field":{"id":1}}"#
    );
    assert_eq!(serde_json::from_str::<CsvStats>(&serde_json::to_string(&stats).unwrap()).unwrap(), stats);
}

/// Hands over its data at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.data.len().min(self.step).min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// An over-long record whose quoted field spans lines is one record,
/// ending where its quotes end, however the reads fall and whether or not
/// it fits the buffer: the records after it are the same and keep their
/// line numbers. (Fuzzing found that a record cut by the limit before the
/// reader had seen its end was skipped only to its first newline, inside
/// the quotes, so the rest of the field came out as more records.)
#[test]
fn an_over_long_quoted_record_ends_where_its_quotes_end_however_the_reads_fall() {
    let options =
        ValidateOptions { max_record_bytes: 256, buffer_bytes: 1024, max_unique_keys: 10, fast_path: true };
    // (quoted lines, their length): within the buffer, beyond it, and a
    // first line alone over the limit.
    for (lines, width) in [(5, 100), (30, 100), (3, 400)] {
        let mut input = GOOD.as_bytes().to_vec();
        input.extend_from_slice(b"USW00094728,20230101,TMAX,\"");
        for _ in 0..lines {
            input.extend(std::iter::repeat_n(b'x', width));
            input.extend_from_slice(b"\"\"\n");
        }
        input.extend_from_slice(b"\",,,W,0700\nbad\n");
        input.extend_from_slice(GOOD.as_bytes());
        let whole = run_with(&ghcn(), &input, options);
        let case = format!("{lines} lines of {width}");
        assert_eq!(whole.stats.records_in, 4, "{case}: {:?}", whole.rejects);
        assert_eq!(whole.stats.records_clean, 2, "{case}");
        let rules: Vec<(&str, u64)> = whole.rejects.iter().map(|r| (r.rule.as_str(), r.line)).collect();
        assert_eq!(rules, [("recordTooLong", 2), ("fieldCount", 3 + lines as u64)], "{case}");
        let mut whole_rejects = Vec::new();
        validate_csv(&ghcn(), options, &input[..], &mut Vec::new(), &mut whole_rejects).unwrap();
        for step in 1..=7 {
            let (mut clean, mut rejects) = (Vec::new(), Vec::new());
            let stats =
                validate_csv(&ghcn(), options, Trickle { data: &input, step }, &mut clean, &mut rejects)
                    .unwrap();
            assert_eq!(stats, whole.stats, "{case}, reads of {step}");
            assert_eq!(clean, whole.clean, "{case}, reads of {step}");
            assert_eq!(
                String::from_utf8_lossy(&rejects),
                String::from_utf8_lossy(&whole_rejects),
                "{case}, reads of {step}"
            );
        }
    }
}

/// A plain row over the limit is too long on the fast path as on the
/// general one, whether or not its fields pass (fuzzing found that the
/// fast path passed a valid row of any length as clean when all of it was
/// in the buffer).
#[test]
fn a_valid_plain_row_over_the_limit_is_too_long_on_the_fast_path_too() {
    let rules = custom(
        r#"{"dialect":{"header":false},"schema":{"fields":[
            {"name":"a","type":"string"},{"name":"b","type":"integer"}]}}"#,
    );
    let long = format!("{},2\n", "x".repeat(300));
    let input = format!("a,1\n{long}b,2\n");
    for fast_path in [true, false] {
        let options =
            ValidateOptions { max_record_bytes: 256, buffer_bytes: 1024, max_unique_keys: 10, fast_path };
        let out = run_with(&rules, input.as_bytes(), options);
        assert_eq!(out.clean, b"a,1\nb,2\n", "fast path {fast_path}");
        let rejects: Vec<(&str, u64)> = out.rejects.iter().map(|r| (r.rule.as_str(), r.line)).collect();
        assert_eq!(rejects, [("recordTooLong", 2)], "fast path {fast_path}");
    }
}
