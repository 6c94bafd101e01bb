//! Cross-check of the `xmltodict` mapping against the seed's own tool:
//! for a generated corpus of varied XML files (and the seed's two sample
//! shapes), our output must be byte for byte what
//! `json.dumps(xmltodict.parse(...))` gives (jobs/tests/xml/
//! xmltodict_oracle.py, run with the pinned xmltodict in .tools/venv),
//! whole documents and records alike; the `compact` mapping must give the
//! same values. Needs .tools/venv (`bash scripts/setup-tools.sh`, which
//! `make test` runs): fails, not skips, without it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use batch_jobs::synthetic::Rng;
use batch_jobs::transform::xml::{XmlSpec, xml_to_json};
use serde_json::Value;

/// The seed's sample files (labs/batch-processing/data), as shapes.
const SEED_SAMPLES: [(&str, &str); 2] = [
    (
        "customer.xml",
        "<customer>\n      <name>bob</name>\n      <phone>\n          <number type=\"mobile\">1234</number>\n          <number type=\"home\">4567</number>\n      </phone>\n  </customer>\n",
    ),
    (
        "plane.xml",
        "<plane>\n      <name>Eagle</name>\n      <designation>F15</designation>\n      <variants>\n          <variant type=\"fighter\">C</variant>\n          <variant type=\"fighter/attack\">E</variant>\n      </variants>\n  </plane>\n",
    ),
];

const NAMES: [&str; 9] = ["item", "name", "p:tag", "x", "value", "y-z", "a.b", "_u", "caf\u{e9}"];
const WORDS: [&str; 14] = [
    "plain",
    "two words",
    " padded ",
    "\n  indented\n  ",
    "&amp;",
    "&lt;tag&gt;",
    "&quot;q&apos;",
    "&#65;&#x263A;",
    "&#x1F600;",
    "caf\u{e9} \u{4e2d}\u{6587}",
    "tab\there",
    "cr\r\nlf",
    "del\u{7f}",
    "back\\slash \"quote\"",
];

/// Generates one random element (and its subtree) into `out`.
fn element(rng: &mut Rng, out: &mut String, depth: u32, name: &str) {
    write!(out, "<{name}").unwrap();
    let attrs = rng.below(4);
    for i in 0..attrs {
        let key = ["id", "type", "xmlns:p", "p:at", "lang"][(i as usize + rng.below(2) as usize) % 5];
        if out[out.rfind('<').unwrap_or(0)..].contains(&format!(" {key}=")) {
            continue;
        }
        let value = ["1", "a b", "x&amp;y", "tab\tnl\nend", "&#10;kept", "\u{e9}", "&lt;&gt;", ""]
            [rng.below(8) as usize];
        let quote = if rng.below(2) == 0 { '"' } else { '\'' };
        write!(out, " {key}={quote}{value}{quote}").unwrap();
    }
    if rng.below(6) == 0 {
        out.push_str("/>");
        return;
    }
    out.push('>');
    let parts = if depth >= 5 { rng.below(2) } else { rng.below(6) };
    for _ in 0..parts {
        match rng.below(10) {
            0..=4 if depth < 5 => {
                let child = NAMES[rng.below(NAMES.len() as u64) as usize];
                element(rng, out, depth + 1, child);
            }
            5 => {
                write!(out, "<![CDATA[{}]]>", ["<raw> & stuff", " spaced ", "x\r\ny"][rng.below(3) as usize])
                    .unwrap()
            }
            6 => out.push_str("<!-- a comment -->"),
            7 => out.push_str("<?pi data?>"),
            _ => out.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]),
        }
        if rng.below(3) == 0 {
            out.push_str("\n  ");
        }
    }
    write!(out, "</{name}>").unwrap();
}

/// A file of records `/catalog/book` with some other elements between.
fn corpus_file(rng: &mut Rng) -> String {
    let mut out = String::new();
    if rng.below(2) == 0 {
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    if rng.below(4) == 0 {
        out.push_str("<!DOCTYPE catalog>\n<!-- header -->\n");
    }
    out.push_str("<catalog xmlns:p=\"urn:p\">\n");
    for _ in 0..rng.below(12) {
        match rng.below(5) {
            0 => element(rng, &mut out, 2, "magazine"),
            _ => element(rng, &mut out, 1, "book"),
        }
        out.push_str(["\n", "\r\n", "", "  \n\t"][rng.below(4) as usize]);
    }
    out.push_str("</catalog>\n");
    out
}

/// The pinned tools venv's python (fails if setup-tools has not run).
fn python() -> PathBuf {
    let python = testkit::paths::tools_venv().join("bin").join("python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/setup-tools.sh` (make test does) to install the pinned xmltodict",
        python.display()
    );
    python
}

fn oracle(dir: &Path, record_path: Option<&str>, force_list: &[&str], files: &[PathBuf]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xml/xmltodict_oracle.py");
    let force = if force_list.is_empty() { "-".to_string() } else { force_list.join(",") };
    let status = Command::new(python())
        .arg(script)
        .arg(record_path.unwrap_or("-"))
        .arg(force)
        .arg(dir)
        .args(files)
        .status()
        .expect("run the xmltodict oracle");
    assert!(status.success(), "the xmltodict oracle failed: {status}");
}

fn ours(spec: &XmlSpec, file: &Path) -> String {
    let t = spec.compile().expect("test spec");
    let (mut out, mut rejects) = (Vec::new(), Vec::new());
    let input = std::fs::File::open(file).expect("corpus file");
    let stats = xml_to_json(&t, input, &mut out, &mut rejects).expect("local I/O");
    assert!(rejects.is_empty(), "{}: rejected: {}", file.display(), String::from_utf8_lossy(&rejects));
    assert_eq!(stats.records_in, stats.records_out);
    String::from_utf8(out).expect("UTF-8 output")
}

fn check(dir: &Path, files: &[PathBuf], record_path: Option<&str>, force_list: &[&str]) -> usize {
    oracle(dir, record_path, force_list, files);
    let spec = |mapping: &str| -> XmlSpec {
        serde_json::from_value(serde_json::json!({
            "record_path": record_path,
            "mapping": mapping,
            "force_list": force_list,
        }))
        .expect("test spec")
    };
    let mut records = 0;
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).expect("file name");
        let expected = std::fs::read_to_string(dir.join(format!("{name}.expected"))).expect("oracle output");
        let got = ours(&spec("xmltodict"), file);
        if got != expected {
            let source = std::fs::read_to_string(file).unwrap_or_default();
            for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
                assert_eq!(
                    g, e,
                    "{name} ({record_path:?}, {force_list:?}) record {i} differs; source:\n{source}"
                );
            }
            panic!("{name}: {} lines, xmltodict {}", got.lines().count(), expected.lines().count());
        }
        // The compact mapping: the same values.
        let compact = ours(&spec("compact"), file);
        let values =
            |text: &str| text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect::<Vec<Value>>();
        assert_eq!(values(&compact), values(&expected), "{name}: compact values differ");
        records += expected.lines().count();
    }
    records
}

#[test]
fn the_xmltodict_mapping_is_byte_for_byte_xmltodict() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for (name, text) in SEED_SAMPLES {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write sample");
        files.push(path);
    }
    let mut rng = Rng::from_bytes(b"xml-crosscheck");
    for i in 0..150 {
        let path = dir.path().join(format!("gen-{i:03}.xml"));
        std::fs::write(&path, corpus_file(&mut rng)).expect("write corpus file");
        files.push(path);
    }
    let documents = check(dir.path(), &files, None, &[]);
    assert_eq!(documents, files.len());
    let generated = &files[SEED_SAMPLES.len()..];
    let records = check(dir.path(), generated, Some("/catalog/book"), &[]);
    assert!(records > 500, "the corpus has {records} records");
    check(dir.path(), generated, Some("/catalog/book"), &["name", "item", "book"]);
    check(dir.path(), &files[..SEED_SAMPLES.len()], None, &["number", "variant"]);
    check(dir.path(), &files[..1], Some("/customer/phone/number"), &[]);
}
