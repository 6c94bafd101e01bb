//! XML to JSON on `<spec JSON>\n===\n<XML>`. The spec comes from run.json,
//! the XML from the user's files; the converter promises (docs/jobs.md):
//! - every record is written or rejected: `records_in == records_out +
//!   records_rejected`, one well-formed reject per rejected record;
//! - in record mode every output line is one JSON value, as many lines as
//!   `records_out`; in document mode at most one document;
//! - the same output however the reads fall;
//! - both mappings give the same values (they differ only in how the JSON
//!   is written), and the same counts.
#![no_main]

use std::io::Read;

use batch_jobs::transform::xml::{Mapping, XmlSpec, XmlStats, XmlTransform, xml_to_json};
use jobs_fuzz::{Trickle, check_rejects_lines, split_settings, step_for};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn run(t: &XmlTransform, input: impl Read) -> (XmlStats, Vec<u8>, Vec<u8>) {
    let (mut out, mut rejects) = (Vec::new(), Vec::new());
    let stats =
        xml_to_json(t, input, &mut out, &mut rejects).expect("in-memory input and outputs cannot fail");
    (stats, out, rejects)
}

/// The JSON values of an output, one per line (record mode) or the one
/// document.
fn values(out: &[u8], records: bool) -> Vec<Value> {
    let parse = |text: &[u8]| -> Value {
        serde_json::from_slice(text)
            .unwrap_or_else(|e| panic!("output is not JSON ({e}): {:?}", String::from_utf8_lossy(text)))
    };
    if records {
        out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(parse).collect()
    } else if out.iter().all(u8::is_ascii_whitespace) {
        Vec::new()
    } else {
        vec![parse(out)]
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((spec, data)) = split_settings(input) else { return };
    let Ok(spec) = serde_json::from_slice::<XmlSpec>(spec) else { return };
    let Ok(t) = spec.compile() else { return };
    let records = t.record_path.is_some();

    let (stats, out, rejects) = run(&t, data);
    assert!(stats.bytes_in <= data.len() as u64, "bytes_in {} past the input", stats.bytes_in);
    assert_eq!(
        stats.records_in,
        stats.records_out + stats.rejects.records_rejected,
        "records_in == records_out + records_rejected"
    );
    check_rejects_lines(&rejects, &stats.rejects, true);
    let ours = values(&out, records);
    if records {
        assert!(out.is_empty() || out.ends_with(b"\n"), "output ends with a newline");
        assert_eq!(ours.len() as u64, stats.records_out, "output lines vs records_out");
    } else {
        assert!(stats.records_out <= 1, "document mode wrote {} documents", stats.records_out);
        assert_eq!(ours.len() as u64, stats.records_out, "documents vs records_out");
    }

    let trickled = run(&t, Trickle::new(data, step_for(data)));
    assert_eq!(
        (&stats, &out, &rejects),
        (&trickled.0, &trickled.1, &trickled.2),
        "the output depends on how the reads fell"
    );

    let other = XmlTransform {
        mapping: match t.mapping {
            Mapping::Compact => Mapping::Xmltodict,
            Mapping::Xmltodict => Mapping::Compact,
        },
        ..t.clone()
    };
    let (other_stats, other_out, other_rejects) = run(&other, data);
    assert_eq!(other_stats, stats, "the mappings count differently");
    assert_eq!(other_rejects, rejects, "the mappings reject differently");
    assert_eq!(values(&other_out, records), ours, "the mappings give different values");
});
