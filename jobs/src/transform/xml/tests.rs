//! The transform end to end on small documents: the mapping, the two
//! styles, and every reject with its line and column.

use serde_json::Value;

use super::*;

struct Run {
    out: String,
    rejects: Vec<Value>,
    stats: XmlStats,
}

/// Hands out its input a few bytes at a time, as a pipe may.
struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.1.min(out.len()).min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn run_with(spec: &str, xml: &[u8], step: usize) -> Run {
    let spec: XmlSpec = serde_json::from_str(spec).expect("test spec");
    let t = spec.compile().expect("test spec compiles");
    let (mut out, mut rejects) = (Vec::new(), Vec::new());
    let stats = xml_to_json(&t, Trickle(xml, step), &mut out, &mut rejects).expect("in-memory I/O");
    let rejects = String::from_utf8(rejects)
        .expect("rejects are UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a reject line is JSON"))
        .collect();
    let run = Run { out: String::from_utf8(out).expect("output is UTF-8"), rejects, stats };
    assert_eq!(
        run.stats.records_in,
        run.stats.records_out + run.stats.rejects.records_rejected,
        "records in = out + rejected: {:?}",
        run.stats
    );
    assert_eq!(run.rejects.len() as u64, run.stats.rejects.records_rejected);
    assert_eq!(run.out.lines().count() as u64, run.stats.records_out);
    run
}

/// Runs with reads of several sizes; all must give the same result.
fn run(spec: &str, xml: &str) -> Run {
    let first = run_with(spec, xml.as_bytes(), 1 << 20);
    for step in [1, 3, 7] {
        let other = run_with(spec, xml.as_bytes(), step);
        assert_eq!(
            (&other.out, &other.rejects, &other.stats),
            (&first.out, &first.rejects, &first.stats),
            "step {step}"
        );
    }
    first
}

fn doc(xml: &str) -> String {
    let r = run(r##"{"mapping":"xmltodict"}"##, xml);
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
    r.out.trim_end_matches('\n').to_string()
}

#[test]
fn mapping_follows_xmltodict() {
    // Attributes, then children by first appearance, then #text.
    assert_eq!(
        doc(r##"<a id="1" x='y'><b>1</b><c/><b>2</b>tail</a>"##),
        r##"{"a": {"@id": "1", "@x": "y", "b": ["1", "2"], "c": null, "#text": "tail"}}"##
    );
    // Empty elements: null, or their attributes.
    assert_eq!(doc("<a><e/><f></f><g k=\"\"/></a>"), r##"{"a": {"e": null, "f": null, "g": {"@k": ""}}}"##);
    // Mixed text: the element's pieces joined, then stripped.
    assert_eq!(
        doc("<p>\n  Hello <b>big</b> world\n</p>"),
        r##"{"p": {"b": "big", "#text": "Hello  world"}}"##
    );
    // Whitespace-only text is no text.
    assert_eq!(doc("<a>\n  <b>  x  </b>\n  <c>   </c>\n</a>"), r##"{"a": {"b": "x", "c": null}}"##);
    // Namespaces: prefixed names kept, declarations are attributes.
    assert_eq!(
        doc(r##"<r xmlns="urn:d" xmlns:p="urn:p"><p:x p:y="1">v</p:x></r>"##),
        r##"{"r": {"@xmlns": "urn:d", "@xmlns:p": "urn:p", "p:x": {"@p:y": "1", "#text": "v"}}}"##
    );
    // CDATA is text; entities and character references are decoded.
    assert_eq!(
        doc("<a>x<![CDATA[<b>&amp;</b>]]>y &lt;&#65;&#x263A;&gt;</a>"),
        r##"{"a": "x<b>&amp;</b>y <A\u263a>"}"##
    );
    // Attribute values: whitespace normalised, references decoded.
    assert_eq!(doc("<a t=\"1\n2\t3&#10;&quot;\"/>"), r##"{"a": {"@t": "1 2 3\n\""}}"##);
    // Line ends normalised; non-ASCII escaped as Python does.
    assert_eq!(doc("<a>1\r\n2\r3 caf\u{e9} \u{1F600}</a>"), r##"{"a": "1\n2\n3 caf\u00e9 \ud83d\ude00"}"##);
    // Comments, processing instructions, the declaration and a DOCTYPE
    // without entities are not part of the value.
    assert_eq!(
        doc(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE a>\n<!-- c --><a>x<!-- c -->y<?pi z?></a>\n"
        ),
        r##"{"a": "xy"}"##
    );
    // A U+FEFF in the text is text, wherever the reads fall (only a
    // leading one is a BOM, dropped).
    assert_eq!(doc("\u{FEFF}<a><b/>\u{FEFF}y</a>"), r##"{"a": {"b": null, "#text": "\ufeffy"}}"##);
    // Many children of one name (grouped through a map past 16).
    let many: String = (0..40).map(|i| format!("<i>{i}</i><j/>")).collect();
    let out = doc(&format!("<a>{many}</a>"));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["a"]["i"].as_array().map(Vec::len), Some(40));
    assert_eq!(v["a"]["j"].as_array().map(Vec::len), Some(40));
    assert!(out.starts_with(r##"{"a": {"i": ["0", "1""##), "{out}");
}

#[test]
fn compact_style_and_force_list() {
    let r = run(
        r##"{"record_path":"/c/b","force_list":["author"]}"##,
        "<c><b id=\"1\"><author>A\u{e9}</author><t>x</t></b><b id=\"2\"/></c>",
    );
    assert_eq!(
        r.out,
        "{\"b\":{\"@id\":\"1\",\"author\":[\"A\u{e9}\"],\"t\":\"x\"}}\n{\"b\":{\"@id\":\"2\"}}\n"
    );
    let r = run(r##"{"record_path":"/c/b","force_list":["b"],"mapping":"xmltodict"}"##, "<c><b>x</b></c>");
    assert_eq!(r.out, "{\"b\": [\"x\"]}\n");
}

#[test]
fn records_are_the_elements_at_the_path() {
    let xml = "<catalog>\n <book id=\"1\"><t>A</t></book>\n <magazine><book>no</book></magazine>\n <book id=\"2\"/>\n</catalog>\n";
    let r = run(r##"{"record_path":"/catalog/book"}"##, xml);
    assert_eq!(r.out, "{\"book\":{\"@id\":\"1\",\"t\":\"A\"}}\n{\"book\":{\"@id\":\"2\"}}\n");
    assert_eq!((r.stats.records_in, r.stats.bytes_in, r.stats.complete), (2, xml.len() as u64, true));
    let r = run(r##"{"record_path":"/other/book"}"##, xml);
    assert_eq!((r.out.as_str(), r.stats.records_in), ("", 0), "no record at the path is no record");
}

fn reject(r: &Run, i: usize) -> (u64, String, String) {
    let v = &r.rejects[i];
    (
        v["line"].as_u64().unwrap(),
        v["rule"].as_str().unwrap().to_string(),
        v["reason"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_bad_record_is_rejected_and_the_next_one_read() {
    let xml = "<c>\n<b><t>1</t></b>\n<b><t>2</x></b>\n<b>&nope;</b>\n<b a=\"1\" a=\"2\"/>\n<b>&#1;</b>\n<b>ok</b>\n<b>\u{1}</b>\n</c>";
    let r = run(r##"{"record_path":"/c/b"}"##, xml);
    assert_eq!(r.out, "{\"b\":{\"t\":\"1\"}}\n{\"b\":\"ok\"}\n");
    let rejects: Vec<_> = (0..r.rejects.len()).map(|i| reject(&r, i)).collect();
    assert_eq!(rejects.len(), 5, "{rejects:?}");
    assert_eq!(rejects[0].0, 3);
    assert_eq!(rejects[0].1, "malformedXml");
    assert!(
        rejects[0].2.starts_with("line 3, column 8: end tag </x> does not match the open <t>"),
        "{}",
        rejects[0].2
    );
    assert_eq!(r.rejects[0]["record"], "<b><t>2</x></b>", "a reject shows its record");
    assert_eq!((rejects[1].0, rejects[1].1.as_str()), (4, "undefinedEntity"));
    assert!(
        rejects[1].2.starts_with("line 4, column 4: reference to the undefined entity &nope;"),
        "{}",
        rejects[1].2
    );
    assert_eq!((rejects[2].0, rejects[2].1.as_str()), (5, "malformedXml"));
    assert!(rejects[2].2.contains("attribute \"a\" given twice"), "{}", rejects[2].2);
    assert!(
        rejects[3].2.starts_with("line 6, column 4: &#1; refers to a character XML does not allow"),
        "{}",
        rejects[3].2
    );
    assert!(rejects[4].2.starts_with("line 8, column 4: control character U+0001"), "{}", rejects[4].2);
    assert_eq!(r.stats.rejects.rejects_by_rule.get("malformedXml"), Some(&4));
    assert!(r.stats.complete);
}

#[test]
fn an_end_tag_of_the_record_resynchronises() {
    let r = run(r##"{"record_path":"/c/b"}"##, "<c><b><t>1</b><b>2</b></c>");
    assert_eq!(r.out, "{\"b\":\"2\"}\n");
    assert_eq!(reject(&r, 0).1, "malformedXml");
    assert!(r.stats.complete);
}

#[test]
fn entity_declarations_are_refused_never_expanded() {
    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n]>\n<lolz><b>&lol2;</b></lolz>";
    for spec in [r##"{"record_path":"/lolz/b"}"##, "{}"] {
        let r = run(spec, laughs);
        assert_eq!((r.out.as_str(), r.stats.records_in, r.stats.complete), ("", 1, false), "{spec}");
        let (line, rule, reason) = reject(&r, 0);
        assert_eq!((line, rule.as_str()), (2, "entityDeclaration"));
        assert!(reason.starts_with("line 2, column 1: the DOCTYPE declares entities"), "{reason}");
    }
    // An external entity is never fetched: without a declaration it is an
    // undefined entity, and an external DTD is never read.
    let external = "<!DOCTYPE c SYSTEM \"http://127.0.0.1:9/never.dtd\">\n<c><b>&ext;</b><b>x</b></c>";
    let r = run(r##"{"record_path":"/c/b"}"##, external);
    assert_eq!(r.out, "{\"b\":\"x\"}\n");
    assert_eq!(reject(&r, 0).1, "undefinedEntity");
    let declared = "<!DOCTYPE c [<!ENTITY ext SYSTEM \"file:///etc/passwd\">]><c>&ext;</c>";
    let r = run("{}", declared);
    assert_eq!((r.out.as_str(), reject(&r, 0).1.as_str()), ("", "entityDeclaration"));
}

#[test]
fn nesting_deeper_than_the_limit_is_rejected() {
    let deep = format!("<c><b>{}{}</b><b>ok</b></c>", "<d>".repeat(20), "</d>".repeat(20));
    let r = run(r##"{"record_path":"/c/b","max_depth":10}"##, &deep);
    assert_eq!(r.out, "{\"b\":\"ok\"}\n");
    let (line, rule, reason) = reject(&r, 0);
    assert_eq!((line, rule.as_str()), (1, "tooDeep"));
    assert!(reason.starts_with("line 1, column 31: elements nested deeper than 10"), "{reason}");
    let r = run(r##"{"max_depth":10}"##, &deep);
    assert_eq!((r.stats.records_in, reject(&r, 0).1.as_str()), (1, "tooDeep"));
    // Outside any record the file cannot go on.
    let r = run(r##"{"record_path":"/c/b","max_depth":3}"##, "<c><x><y><z><w/></z></y></x><b>1</b></c>");
    assert_eq!((r.stats.records_in, r.stats.complete, reject(&r, 0).1.as_str()), (1, false, "tooDeep"));
}

#[test]
fn records_and_documents_over_their_limit() {
    let big = "x".repeat(300);
    let xml = format!("<c><b>{big}</b><b><i>{big}</i><i>{big}</i></b><b>ok</b></c>");
    let r = run(r##"{"record_path":"/c/b","max_record_bytes":400}"##, &xml);
    assert_eq!(r.out, format!("{{\"b\":\"{big}\"}}\n{{\"b\":\"ok\"}}\n"), "{:?}", r.rejects);
    assert_eq!(reject(&r, 0).1, "recordTooLong");
    assert!(reject(&r, 0).2.contains("record longer than 400 bytes"));
    // One text node longer than the record limit: the parser's window
    // (the limit plus 128 KiB) still holds it, so the file goes on (the
    // heap test in jobs/tests/xml_memory.rs has one larger than that).
    let xml = format!("<c><b>{big}{big}</b><b>ok</b></c>");
    let r = run(r##"{"record_path":"/c/b","max_record_bytes":400}"##, &xml);
    assert_eq!((r.out.as_str(), r.stats.records_in, r.stats.complete), ("{\"b\":\"ok\"}\n", 2, true));
    assert_eq!(reject(&r, 0).1, "recordTooLong");
    let r = run(r##"{"max_document_bytes":400}"##, &xml);
    assert_eq!((r.out.as_str(), r.stats.records_in), ("", 1));
    let (_, rule, reason) = reject(&r, 0);
    assert_eq!(rule, "documentTooLarge");
    assert!(reason.contains("document larger than 400 bytes (max_document_bytes)"), "{reason}");
}

#[test]
fn broken_files_count_the_lost_rest_as_one_record() {
    // Truncated inside a record: that record is rejected.
    let r = run(r##"{"record_path":"/c/b"}"##, "<c><b>1</b>\n<b>2");
    assert_eq!((r.stats.records_in, r.stats.records_out), (2, 1));
    let (line, rule, reason) = reject(&r, 0);
    assert_eq!((line, rule.as_str()), (2, "truncated"));
    assert!(reason.contains("the file ends inside the record started at line 2"), "{reason}");
    // Truncated between records: the missing end counts as one.
    let r = run(r##"{"record_path":"/c/b"}"##, "<c><b>1</b>");
    assert_eq!((r.stats.records_in, r.stats.records_out), (2, 1));
    assert!(reject(&r, 0).2.contains("the file ends before </c>"));
    // Junk after the root.
    let r = run(r##"{"record_path":"/c/b"}"##, "<c><b>1</b></c><c/>");
    assert_eq!((r.stats.records_in, r.stats.records_out, r.stats.complete), (2, 1, false));
    // An unclosed tag: a syntax error the parser cannot go on after.
    let r = run(r##"{"record_path":"/c/b"}"##, "<c><b>1</b>\n<b>2</b><b a=\"1");
    assert_eq!((r.stats.records_in, r.stats.records_out), (3, 2));
    let (line, rule, reason) = reject(&r, 0);
    assert_eq!((line, rule.as_str()), (2, "malformedXml"));
    assert!(reason.starts_with("line 2, column 9: "), "{reason}");
    // Empty file, text only, not UTF-8, another encoding.
    for (xml, rule) in [
        (&b""[..], "malformedXml"),
        (b"just text", "malformedXml"),
        (b"<c>\xff</c>", "encoding"),
        (b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><c/>", "encoding"),
    ] {
        for spec in [r##"{"record_path":"/c/b"}"##, "{}"] {
            let r = run_with(spec, xml, 1 << 20);
            assert_eq!((r.stats.records_in, r.out.as_str()), (1, ""), "{spec} {xml:?}");
            assert_eq!(reject(&r, 0).1, rule, "{spec} {xml:?}: {:?}", r.rejects);
        }
    }
    // In document mode junk after the root rejects the document.
    let r = run("{}", "<c>1</c>\n<d/>");
    assert_eq!((r.stats.records_in, r.out.as_str(), reject(&r, 0).1.as_str()), (1, "", "malformedXml"));
}

#[test]
fn invalid_utf8_rejects_the_record_and_ends_the_file() {
    // quick-xml cannot go on after invalid UTF-8: the file ends there.
    let r = run_with(r##"{"record_path":"/c/b"}"##, b"<c><b>1</b>\n<b>\xff</b><b>ok</b></c>", 1 << 20);
    assert_eq!((r.out.as_str(), r.stats.records_in, r.stats.complete), ("{\"b\":\"1\"}\n", 2, false));
    let (line, rule, reason) = reject(&r, 0);
    assert_eq!((line, rule.as_str()), (2, "encoding"));
    assert!(reason.starts_with("line 2, column 4: "), "{reason}");
}

#[test]
fn ill_formed_comments_and_bare_ampersands_reject_their_record_only() {
    let r = run(r##"{"record_path":"/c/b"}"##, "<c><b>a & b</b><b><!-- a -- b --></b><b>ok</b></c>");
    assert_eq!(r.out, "{\"b\":\"ok\"}\n");
    assert_eq!(r.stats.rejects.records_rejected, 2);
    assert!(r.stats.complete);
}
