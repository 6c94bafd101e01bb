//! `batch-transform` against the processing stage: the same input and
//! transform give the same three files, byte for byte, and the same exit
//! codes; bad arguments are refused before anything is written.
#![cfg(feature = "aws")]

mod processing_node;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use batch_jobs::transform::{RuleSetRef, TransformSpec};

const GHCN: &str = "USW00094728,20230101,TMAX,-12,,,W,0700\nbad,row\nUSW00094728,20230231,TMAX,1,,,W,\n";
const YELP: &str =
    "{\"stars\":4,\"review_count\":10}\n{\"stars\":\"x\"}\nnot json\n{\"stars\":2,\"review_count\":3}\n";

fn ghcn() -> TransformSpec {
    TransformSpec::CsvValidate { rules: RuleSetRef::Builtin { builtin: "ghcn-daily".into() } }
}

fn calc() -> TransformSpec {
    TransformSpec::JsonlCalc { calculations: vec!["review_score = stars * review_count".into()] }
}

fn batch_transform(transform: &str, out: &Path, inputs: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_batch-transform"))
        .arg("--transform")
        .arg(transform)
        .arg("--out")
        .arg(out)
        .args(inputs)
        .stdin(Stdio::null())
        .output()
        .expect("batch-transform runs")
}

/// Runs the processing binary on one node holding `name` with `body` in
/// data/ (as procurement leaves it); returns the node's results dir.
fn processing_stage(efs: &Path, spec: TransformSpec, name: &str, body: &str) -> (Output, PathBuf) {
    let (out, node) = processing_node::run_processing(efs, "run-bt", spec, &[(name, body.as_bytes())]);
    (out, node.results_dir())
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn same_outputs_as_the_stage(spec: TransformSpec, name: &str, body: &str, expect: (u64, u64, u64)) {
    same_named_outputs_as_the_stage(spec, name, name, body, expect);
}

/// As above, the main output named `main` (XML's `<name>.jsonl`).
fn same_named_outputs_as_the_stage(
    spec: TransformSpec,
    name: &str,
    main: &str,
    body: &str,
    expect: (u64, u64, u64),
) {
    let efs = tempfile::tempdir().unwrap();
    let (stage, results) = processing_stage(efs.path(), spec.clone(), name, body);
    assert_eq!(stage.status.code(), Some(0), "{}", String::from_utf8_lossy(&stage.stderr));

    let local = tempfile::tempdir().unwrap();
    let input = local.path().join(name);
    std::fs::write(&input, body).unwrap();
    let out = local.path().join("out");
    let cli = batch_transform(&serde_json::to_string(&spec).unwrap(), &out, &[&input]);
    assert_eq!(cli.status.code(), Some(0), "{}", String::from_utf8_lossy(&cli.stderr));

    let expected = vec![main.to_string(), format!("{name}.rejects.jsonl"), format!("{name}.stats.json")];
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(files_in(&out), sorted);
    assert_eq!(files_in(&results), sorted);
    for file in &expected {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(results.join(file)).unwrap(),
            "{file} differs between batch-transform and the stage"
        );
    }
    let (records_in, out_, rejected) = expect;
    let stdout = String::from_utf8(cli.stdout).unwrap();
    assert_eq!(
        stdout,
        format!("{name}: records_in={records_in} records_out={out_} records_rejected={rejected}\n")
    );
}

#[test]
fn csv_outputs_are_the_stages_byte_for_byte() {
    same_outputs_as_the_stage(ghcn(), "1763.csv", GHCN, (3, 1, 2));
}

#[test]
fn jsonl_outputs_are_the_stages_byte_for_byte() {
    same_outputs_as_the_stage(calc(), "reviews.jsonl", YELP, (4, 2, 2));
}

const BOOKS: &str = "<catalog>\n  <book id=\"1\"><title>A</title></book>\n  <book id=\"2\"><title>B</titel></book>\n  <book id=\"3\"/>\n</catalog>\n";
const CUSTOMER: &str = "<customer>\n  <name>bob</name>\n  <phone>\n    <number type=\"mobile\">1234</number>\n    <number type=\"home\">4567</number>\n  </phone>\n</customer>\n";

fn xml(spec: &str) -> TransformSpec {
    serde_json::from_str(spec).unwrap()
}

#[test]
fn xml_records_are_the_stages_byte_for_byte() {
    let spec = xml(r#"{"kind":"xml_to_json","record_path":"/catalog/book"}"#);
    same_named_outputs_as_the_stage(spec, "books.xml", "books.xml.jsonl", BOOKS, (3, 2, 1));
}

#[test]
fn an_xml_document_is_the_stages_byte_for_byte_and_the_seeds_json() {
    let spec = xml(r#"{"kind":"xml_to_json","mapping":"xmltodict"}"#);
    same_named_outputs_as_the_stage(spec, "customer.xml", "customer.xml.json", CUSTOMER, (1, 1, 0));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("customer.xml");
    std::fs::write(&input, CUSTOMER).unwrap();
    let out = dir.path().join("out");
    let cli = batch_transform(r#"{"kind":"xml_to_json","mapping":"xmltodict"}"#, &out, &[&input]);
    assert_eq!(cli.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(out.join("customer.xml.json")).unwrap(),
        "{\"customer\": {\"name\": \"bob\", \"phone\": {\"number\": [{\"@type\": \"mobile\", \"#text\": \"1234\"}, {\"@type\": \"home\", \"#text\": \"4567\"}]}}}\n"
    );
}

#[test]
fn an_xml_input_whose_output_would_be_another_inputs_rejects_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("books.rejects");
    std::fs::write(&input, BOOKS).unwrap();
    let out = dir.path().join("out");
    let cli = batch_transform(r#"{"kind":"xml_to_json","record_path":"/catalog/book"}"#, &out, &[&input]);
    let stderr = String::from_utf8_lossy(&cli.stderr);
    assert_eq!(cli.status.code(), Some(65), "{stderr}");
    assert!(stderr.contains("would be the rejects file of input books"), "{stderr}");
}

#[test]
fn several_inputs_print_a_total_and_a_spec_file_works() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    std::fs::write(&a, YELP).unwrap();
    std::fs::write(&b, "{\"stars\":1,\"review_count\":1}\n").unwrap();
    let spec = dir.path().join("spec.json");
    std::fs::write(&spec, serde_json::to_string(&calc()).unwrap()).unwrap();
    let out = dir.path().join("out");
    let cli = batch_transform(&format!("@{}", spec.display()), &out, &[&a, &b]);
    assert_eq!(cli.status.code(), Some(0), "{}", String::from_utf8_lossy(&cli.stderr));
    let stdout = String::from_utf8(cli.stdout).unwrap();
    assert!(stdout.ends_with("total: records_in=5 records_out=3 records_rejected=2\n"), "{stdout}");
    assert_eq!(
        std::fs::read(out.join("b.jsonl")).unwrap(),
        b"{\"stars\":1,\"review_count\":1,\"review_score\":1.0}\n"
    );
}

#[test]
fn bad_arguments_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    std::fs::write(&a, GHCN).unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let same_name = sub.join("a.csv");
    std::fs::write(&same_name, GHCN).unwrap();
    let out = dir.path().join("out");
    let spec = serde_json::to_string(&ghcn()).unwrap();

    let cases: [(String, Vec<&Path>, i32, &str); 7] = [
        (
            r#"{"kind":"xml_to_json","record_path":"book"}"#.into(),
            vec![&a],
            78,
            "transform.record_path: \"book\" must start with '/'",
        ),
        (r#"{"kind":"xml_to_json","max_depht":3}"#.into(), vec![&a], 78, "unknown field `max_depht`"),
        (r#"{"kind":"nope"}"#.into(), vec![&a], 78, "--transform: unknown variant `nope`"),
        (r#"{"kind":"jsonl_calc","calculations":["= 1"]}"#.into(), vec![&a], 78, "transform.calculations"),
        (spec.clone(), vec![&a, &same_name], 64, "two inputs are named \"a.csv\""),
        (spec.clone(), vec![dir.path()], 64, "not a file"),
        (spec.clone(), vec![Path::new("/nonexistent/x.csv")], 66, "/nonexistent/x.csv"),
    ];
    for (transform, inputs, code, says) in cases {
        let cli = batch_transform(&transform, &out, &inputs);
        let stderr = String::from_utf8_lossy(&cli.stderr);
        assert_eq!(cli.status.code(), Some(code), "{transform} {inputs:?}: {stderr}");
        assert!(stderr.contains(says), "{transform} {inputs:?}: expected {says:?} in {stderr}");
        assert!(!out.exists(), "{transform} {inputs:?}: wrote {}", out.display());
    }
}

#[test]
fn a_file_the_stage_refuses_exits_as_the_stage_does_and_leaves_no_output() {
    // A CSV whose header is required but wrong: the stage exits 65.
    let rules = r#"{"kind":"csv_validate","rules":{"dialect":{"header":true},"schema":{"fields":[{"name":"id","type":"integer"}]}}}"#;
    let spec: TransformSpec = serde_json::from_str(rules).unwrap();
    let efs = tempfile::tempdir().unwrap();
    let (stage, results) = processing_stage(efs.path(), spec, "h.csv", "wrong\n1\n");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("h.csv");
    std::fs::write(&input, "wrong\n1\n").unwrap();
    let out = dir.path().join("out");
    let cli = batch_transform(rules, &out, &[&input]);
    assert_eq!(cli.status.code(), stage.status.code(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert_eq!(cli.status.code(), Some(65));
    assert!(files_in(&out).is_empty(), "{:?}", files_in(&out));
    assert!(files_in(&results).is_empty(), "{:?}", files_in(&results));
}
