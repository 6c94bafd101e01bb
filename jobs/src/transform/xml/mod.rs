//! XML to JSON (`xml_to_json`): the elements at a record path become JSON
//! lines, or the whole file one JSON document, in xmltodict's mapping.
//! Streaming over quick-xml with bounded memory: the parser sees a window
//! of the file (at least one whole event), the driver holds the open
//! element names and the current record.
//!
//! - `spec`: the run.json fields and their checks;
//! - `path`: record paths and the matcher;
//! - `input`: the window the parser reads (bounded, lines and columns
//!   counted lazily);
//! - `text`: character data, references, names as XML 1.0 has them;
//! - `tree`: one record in flat arrays;
//! - `json`: the mapping and the two JSON styles;
//! - `parse`: the driver (events, record boundaries, rejects).
//!
//! Counting: `records_in` is the number of record elements started, plus
//! one when the file cannot be read to its end (malformed beyond
//! recovery, a DOCTYPE declaring entities, no root, junk after it, the
//! root not closed) outside any record: that lost rest is rejected as one
//! record, so a broken file never looks clean. In document mode
//! `records_in` is always 1. Every record is either written or rejected.

mod input;
mod json;
mod parse;
mod path;
mod spec;
mod stats;
mod text;
mod tree;

use std::io::{self, Read, Write};

pub use parse::{configured_reader, rule};
pub use path::RecordPath;
pub use spec::{
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_MAX_RECORD_BYTES, Mapping, XmlSpec, XmlTransform,
};
pub use stats::XmlStats;

/// Converts `input`: records to `out` (handed over in large blocks, so
/// `out` needs no buffer), rejects to `rejects` (small writes: buffer it).
pub fn xml_to_json<R: Read>(
    t: &XmlTransform,
    input: R,
    out: &mut dyn Write,
    rejects: &mut dyn Write,
) -> io::Result<XmlStats> {
    let mut driver = parse::Driver::new(t, out, rejects);
    driver.run(input)?;
    Ok(driver.stats)
}

#[cfg(test)]
mod tests;
