//! The driver: quick-xml's events in, records out. It keeps the open
//! element names (to check end tags itself, so that a bad record can be
//! rejected and the parse go on at the next one), follows the record
//! path, builds the current record's tree and hands finished records to
//! the JSON writer or the rejects.

use std::io::{self, Read, Write};

use quick_xml::Reader;
use quick_xml::errors::{Error as XmlError, SyntaxError};
use quick_xml::events::{BytesStart, BytesText, Event};

use super::input::{Pos, READ_BYTES, Src, Window};
use super::json::JsonWriter;
use super::path::Matcher;
use super::spec::XmlTransform;
use super::stats::XmlStats;
use super::text::{check_name, is_blank, push_attr_value, push_cdata, push_reference, push_text};
use super::tree::Tree;
use crate::transform::output::OutputBlock;
use crate::transform::reject::write_reject;

/// Reject rules (the `rule` of a rejects line; counted in the stats).
pub mod rule {
    /// Not well-formed XML.
    pub const MALFORMED: &str = "malformedXml";
    /// A DOCTYPE that declares entities (never expanded).
    pub const ENTITY_DECLARATION: &str = "entityDeclaration";
    /// A reference to an entity that is not predefined.
    pub const UNDEFINED_ENTITY: &str = "undefinedEntity";
    /// Elements nested deeper than `max_depth`.
    pub const TOO_DEEP: &str = "tooDeep";
    /// A record longer than `max_record_bytes`.
    pub const RECORD_TOO_LONG: &str = crate::transform::records::TOO_LONG_RULE;
    /// A document larger than `max_document_bytes`.
    pub const DOCUMENT_TOO_LARGE: &str = "documentTooLarge";
    /// Not UTF-8 (or declared in another encoding).
    pub const ENCODING: &str = "encoding";
    /// The file ends inside a record or before the root is closed.
    pub const TRUNCATED: &str = "truncated";
}

/// Why a record (or the rest of the file) is rejected.
struct Problem {
    rule: &'static str,
    reason: String,
    at: Pos,
}

/// The record being read.
struct Record {
    /// Its depth (0: the root).
    depth: usize,
    /// Where its start tag begins.
    at: Pos,
    /// Set at its first problem; the rest of it is then only skipped.
    bad: Option<Problem>,
    /// Its first bytes that the window has dropped, up to [`SHOWN`] (what
    /// a reject shows of it).
    head: Vec<u8>,
}

/// How much of a record's XML its reject shows.
const SHOWN: usize = crate::transform::reject::MAX_REJECT_RECORD;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The state of one file's conversion.
pub struct Driver<'t, 'w> {
    t: &'t XmlTransform,
    json: JsonWriter<'t>,
    out: OutputBlock<'w>,
    rejects: &'w mut dyn Write,
    reject_buf: Vec<u8>,
    pub(super) stats: XmlStats,
    /// Names of the open elements, concatenated, and where each ends.
    names: Vec<u8>,
    name_ends: Vec<usize>,
    /// Levels open past `max_depth` inside a bad record (names not kept).
    excess: usize,
    matcher: Matcher,
    root_seen: bool,
    root_done: bool,
    record: Option<Record>,
    tree: Tree,
    /// Whole-document mode: the document's JSON, written only once the
    /// file has ended cleanly (junk after the root rejects it).
    pending: Option<Vec<u8>>,
    /// Offsets of the current event's start and end.
    mark: u64,
    end: u64,
}

/// What the loop does after an event.
enum Next {
    Go,
    Stop,
}

impl<'t, 'w> Driver<'t, 'w> {
    /// A driver writing to `out` (in blocks) and `rejects`.
    pub fn new(t: &'t XmlTransform, out: &'w mut dyn Write, rejects: &'w mut dyn Write) -> Self {
        Driver {
            t,
            json: JsonWriter::new(t.mapping, &t.force_list),
            out: OutputBlock::new(out),
            rejects,
            reject_buf: Vec::with_capacity(2048),
            stats: XmlStats { complete: true, ..XmlStats::default() },
            names: Vec::new(),
            name_ends: Vec::new(),
            excess: 0,
            matcher: Matcher::default(),
            root_seen: false,
            root_done: false,
            record: None,
            tree: Tree::default(),
            pending: None,
            mark: 0,
            end: 0,
        }
    }

    fn document_mode(&self) -> bool {
        self.t.record_path.is_none()
    }

    /// Converts all of `input`.
    pub fn run<R: Read>(&mut self, input: R) -> io::Result<()> {
        // The window holds at least one whole event: in record mode an
        // event longer than a record cannot be part of a good one; in
        // document mode it may be as long as the document.
        let cap = self.t.max_record_bytes;
        let mut window =
            Window::new(input, usize::try_from(cap).unwrap_or(usize::MAX).saturating_add(READ_BYTES));
        let mut file_start = true;
        'file: loop {
            if let Some(record) = &mut self.record {
                // Keep what the window is about to drop of the record's
                // first bytes.
                let from = record.at.offset + record.head.len() as u64;
                let dropped = usize::try_from(window.offset().saturating_sub(from)).unwrap_or(usize::MAX);
                let n = (SHOWN - record.head.len()).min(dropped);
                record.head.extend_from_slice(window.src().bytes_from(from, n));
            }
            if !window.fill()? {
                // What is left is one event larger than the window.
                self.mark = window.offset();
                let at = window.src().pos(self.mark);
                let next = self.over_limit(at, &mut window.src())?;
                debug_assert!(matches!(next, Next::Stop));
                break;
            }
            let eof = window.eof();
            let mut src = window.src();
            let data: &[u8] = src.data;
            let mut chunk = &data[src.start..];
            let mut chunk_base = src.base + src.start as u64;
            let mut consumed = 0usize;
            if file_start {
                if chunk.len() < BOM.len() && !eof {
                    continue;
                }
                file_start = false;
                if chunk.starts_with(BOM) {
                    consumed = BOM.len();
                }
            } else if chunk.starts_with(BOM) {
                // quick-xml drops a BOM at the start of its input; here it
                // is a U+FEFF in the text, not a BOM.
                self.mark = chunk_base;
                self.end = chunk_base + 3;
                let next = self.event(Event::Text(BytesText::from_escaped("\u{FEFF}")), &mut src)?;
                consumed = BOM.len();
                if let Next::Stop = next {
                    break 'file;
                }
            }
            chunk = &chunk[consumed..];
            chunk_base += consumed as u64;
            let mut reader = configured_reader(chunk);
            loop {
                let event_start = reader.buffer_position();
                self.mark = chunk_base + event_start;
                let result = reader.read_event();
                let at_end = reader.buffer_position() as usize >= chunk.len();
                self.end = chunk_base + reader.buffer_position();
                let next = match result {
                    // More may follow: parse the event again with it.
                    Ok(Event::Eof) if !eof => break,
                    Ok(Event::Text(_)) if at_end && !eof => break,
                    Err(ref e) if !eof && cut_short(e, event_start, chunk.len() as u64, at_end) => break,
                    Ok(event) => self.event(event, &mut src)?,
                    Err(e) => self.parse_error(e, event_start, reader.buffer_position(), &mut src)?,
                };
                consumed = usize::try_from(self.end - (src.base + src.start as u64)).unwrap_or(usize::MAX);
                if let Next::Stop = next {
                    break 'file;
                }
                if self.document_mode() {
                    if self.end > cap {
                        let at = src.pos(self.mark);
                        self.over_limit(at, &mut src)?;
                        break 'file;
                    }
                } else if let Some(rec) = &self.record
                    && rec.bad.is_none()
                    && self.end - rec.at.offset > cap
                {
                    let at = src.pos(self.mark);
                    self.spoil(rule::RECORD_TOO_LONG, format!("record longer than {cap} bytes"), at);
                }
            }
            window.consume(consumed);
        }
        self.stats.bytes_in = self.end;
        if let Some(doc) = self.pending.take() {
            self.out.block().extend_from_slice(&doc);
            self.out.block().push(b'\n');
            self.stats.records_out += 1;
        }
        self.out.finish()?;
        self.rejects.flush()
    }

    /// An event (or the document) over the limit: the file ends here.
    fn over_limit(&mut self, at: Pos, src: &mut Src<'_>) -> io::Result<Next> {
        let limit = self.t.max_record_bytes;
        let (rule, reason) = if self.document_mode() {
            (rule::DOCUMENT_TOO_LARGE, format!("document larger than {limit} bytes (max_document_bytes)"))
        } else if self.record.is_some() {
            (rule::RECORD_TOO_LONG, format!("record longer than {limit} bytes"))
        } else {
            (rule::RECORD_TOO_LONG, format!("markup or text longer than {limit} bytes outside any record"))
        };
        self.fatal(rule, reason, at, src)
    }

    // Inlined into the loop: a call per event (moving the event, saving
    // registers) was ~4% of all instructions on record-shaped XML.
    #[inline(always)]
    fn event(&mut self, event: Event<'_>, src: &mut Src<'_>) -> io::Result<Next> {
        match event {
            Event::Start(e) => return self.start(&e, false, src),
            Event::Empty(e) => return self.start(&e, true, src),
            Event::End(e) => return self.end(e.name().0, src),
            Event::Text(t) => {
                if self.building() {
                    // Whitespace before an element's first text is
                    // stripped anyway (the indentation between a record's
                    // children): not copied at all.
                    if !self.tree.has_text() && is_blank(t.as_bytes()) {
                        return Ok(Next::Go);
                    }
                    if let Err(e) = push_text(self.tree.text(), &t) {
                        let at = src.pos(self.mark + e.at as u64);
                        self.spoil(rule::MALFORMED, e.what, at);
                    }
                } else if self.name_ends.is_empty() && !is_blank(t.as_bytes()) {
                    let at = src.pos(self.mark);
                    return self.fatal(rule::MALFORMED, "text outside the root element".into(), at, src);
                }
            }
            Event::GeneralRef(r) => {
                if self.building() {
                    if let Err(what) = push_reference(self.tree.text(), r.as_bytes()) {
                        let rule = if r.starts_with('#') { rule::MALFORMED } else { rule::UNDEFINED_ENTITY };
                        let at = src.pos(self.mark);
                        self.spoil(rule, what, at);
                    }
                } else if self.name_ends.is_empty() {
                    let at = src.pos(self.mark);
                    return self.fatal(
                        rule::MALFORMED,
                        "a reference outside the root element".into(),
                        at,
                        src,
                    );
                }
            }
            Event::CData(c) => {
                if self.building() {
                    if let Err(e) = push_cdata(self.tree.text(), &c) {
                        let at = src.pos(self.mark);
                        self.spoil(rule::MALFORMED, e.what, at);
                    }
                } else if self.name_ends.is_empty() {
                    let at = src.pos(self.mark);
                    return self.fatal(rule::MALFORMED, "CDATA outside the root element".into(), at, src);
                }
            }
            Event::Decl(d) => {
                if let Some(Ok(encoding)) = d.encoding()
                    && !["utf-8", "utf8", "us-ascii", "ascii"]
                        .iter()
                        .any(|e| encoding.eq_ignore_ascii_case(e))
                {
                    let at = src.pos(self.mark);
                    let reason = format!("encoding {encoding:?} is not supported (only UTF-8)");
                    return self.fatal(rule::ENCODING, reason, at, src);
                }
            }
            Event::DocType(d) => {
                let at = src.pos(self.mark);
                if d.contains("<!ENTITY") {
                    let reason = "the DOCTYPE declares entities: refused, never expanded".into();
                    return self.fatal(rule::ENTITY_DECLARATION, reason, at, src);
                }
                if self.root_seen {
                    return self.fatal(rule::MALFORMED, "a DOCTYPE after the root element".into(), at, src);
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return self.eof(src),
        }
        Ok(Next::Go)
    }

    /// Whether the current record's tree is being built.
    #[inline]
    fn building(&self) -> bool {
        self.record.as_ref().is_some_and(|r| r.bad.is_none())
    }

    fn start(&mut self, e: &BytesStart<'_>, empty: bool, src: &mut Src<'_>) -> io::Result<Next> {
        let name = e.name().0;
        let depth = self.name_ends.len();
        if self.excess > 0 || depth >= self.t.max_depth as usize {
            let at = src.pos(self.mark);
            let reason = format!("elements nested deeper than {} (max_depth)", self.t.max_depth);
            if self.record.is_none() {
                return self.fatal(rule::TOO_DEEP, reason, at, src);
            }
            self.spoil(rule::TOO_DEEP, reason, at);
            if !empty {
                self.excess += 1;
            }
            return Ok(Next::Go);
        }
        if self.root_done && depth == 0 {
            let at = src.pos(self.mark);
            return self.fatal(rule::MALFORMED, format!("<{name}> after the root element"), at, src);
        }
        if let Err(what) = check_name(name.as_bytes()) {
            let at = src.pos(self.mark);
            let reason = format!("element name {name:?}: {what}");
            if self.record.is_none() {
                return self.fatal(rule::MALFORMED, reason, at, src);
            }
            self.spoil(rule::MALFORMED, reason, at);
        }
        self.root_seen = true;
        if self.matcher.open(self.t.record_path.as_ref(), depth, name.as_bytes()) {
            let at = src.pos(self.mark);
            self.stats.records_in += 1;
            self.record = Some(Record { depth, at, bad: None, head: Vec::new() });
            self.tree.clear();
        }
        if self.building() {
            self.tree.open(name.as_bytes());
            if let Err(reason) = self.attributes(e) {
                let at = src.pos(self.mark);
                self.spoil(rule::MALFORMED, reason, at);
            }
        }
        self.names.extend_from_slice(name.as_bytes());
        self.name_ends.push(self.names.len());
        if empty {
            self.close_top(src)?;
        }
        Ok(Next::Go)
    }

    /// Adds the element's attributes to the tree (names checked, values
    /// decoded, no name twice).
    fn attributes(&mut self, e: &BytesStart<'_>) -> Result<(), String> {
        let first = self.tree.attr_count();
        for attr in e.attributes().with_checks(false) {
            let attr = attr.map_err(|e| format!("attribute: {e}"))?;
            let key = attr.key.0;
            check_name(key.as_bytes()).map_err(|what| format!("attribute name {key:?}: {what}"))?;
            if self.tree.attr_names_since(first).any(|k| k == key.as_bytes()) {
                return Err(format!("attribute {key:?} given twice"));
            }
            self.tree
                .attr(key.as_bytes(), |out| push_attr_value(out, &attr.value))
                .map_err(|e| format!("attribute {key:?}: {}", e.what))?;
        }
        Ok(())
    }

    fn end(&mut self, name: &str, src: &mut Src<'_>) -> io::Result<Next> {
        if self.excess > 0 {
            self.excess -= 1;
            return Ok(Next::Go);
        }
        let depth = self.name_ends.len();
        if depth == 0 {
            let at = src.pos(self.mark);
            return self.fatal(rule::MALFORMED, format!("</{name}> without a start tag"), at, src);
        }
        let top_start = if depth > 1 { self.name_ends[depth - 2] } else { 0 };
        if &self.names[top_start..] == name.as_bytes() {
            return self.close_top(src);
        }
        let at = src.pos(self.mark);
        let reason = format!(
            "end tag </{name}> does not match the open <{}>",
            String::from_utf8_lossy(&self.names[top_start..])
        );
        let Some(record_depth) = self.record.as_ref().map(|r| r.depth) else {
            return self.fatal(rule::MALFORMED, reason, at, src);
        };
        self.spoil(rule::MALFORMED, reason, at);
        // Resynchronise: an end tag naming an element open inside the
        // record closes everything up to it (the record itself included);
        // any other is dropped.
        let open = (record_depth..depth).rev().find(|&level| {
            let start = if level > 0 { self.name_ends[level - 1] } else { 0 };
            &self.names[start..self.name_ends[level]] == name.as_bytes()
        });
        if let Some(level) = open {
            while self.name_ends.len() > level {
                self.close_top(src)?;
            }
        }
        Ok(Next::Go)
    }

    /// Closes the innermost open element.
    fn close_top(&mut self, src: &mut Src<'_>) -> io::Result<Next> {
        self.name_ends.pop();
        let level = self.name_ends.len();
        self.names.truncate(self.name_ends.last().copied().unwrap_or(0));
        self.matcher.close(level);
        if level == 0 {
            self.root_done = true;
        }
        if self.building() {
            self.tree.close();
        }
        if self.record.as_ref().is_some_and(|r| r.depth == level) {
            self.finish_record(src)?;
        }
        Ok(Next::Go)
    }

    fn finish_record(&mut self, src: &mut Src<'_>) -> io::Result<()> {
        let Some(record) = self.record.take() else { return Ok(()) };
        match record.bad {
            Some(ref problem) => {
                write_problem(&mut self.reject_buf, record.at, problem, &shown(&record, self.end, src));
                self.stats.rejects.add(None, problem.rule);
                self.rejects.write_all(&self.reject_buf)?;
            }
            None if self.document_mode() => {
                let mut doc = Vec::with_capacity(self.tree.held() + 64);
                self.json.record(&self.tree, &mut doc);
                self.pending = Some(doc);
            }
            None => {
                self.json.record(&self.tree, self.out.block());
                self.out.block().push(b'\n');
                self.out.hand_over_if_full()?;
                self.stats.records_out += 1;
            }
        }
        self.tree.clear();
        Ok(())
    }

    /// Marks the current record bad (its first problem is kept) and drops
    /// what was built of it.
    fn spoil(&mut self, rule: &'static str, reason: String, at: Pos) {
        if let Some(record) = &mut self.record
            && record.bad.is_none()
        {
            record.bad = Some(Problem { rule, reason, at });
            self.tree.clear();
        }
    }

    /// A problem the parse cannot go on after: the open record (or, in
    /// document mode, the document; or else the rest of the file, counted
    /// as one record) is rejected and the file ends here.
    fn fatal(&mut self, rule: &'static str, reason: String, at: Pos, src: &mut Src<'_>) -> io::Result<Next> {
        self.stats.complete = false;
        let problem = Problem { rule, reason, at };
        match self.record.take() {
            Some(record) => {
                let problem = record.bad.as_ref().unwrap_or(&problem);
                write_problem(&mut self.reject_buf, record.at, problem, &shown(&record, self.end, src));
                self.stats.rejects.add(None, problem.rule);
                self.rejects.write_all(&self.reject_buf)?;
                return Ok(Next::Stop);
            }
            None => {
                if self.pending.take().is_none() {
                    // Nothing of the file was counted yet for what is lost.
                    self.stats.records_in += 1;
                }
                write_problem(&mut self.reject_buf, at, &problem, b"");
            }
        }
        self.stats.rejects.add(None, rule);
        self.rejects.write_all(&self.reject_buf)?;
        Ok(Next::Stop)
    }

    fn eof(&mut self, src: &mut Src<'_>) -> io::Result<Next> {
        let at = src.pos(self.mark);
        if let Some(record) = &self.record {
            let reason = format!("the file ends inside the record started at line {}", record.at.line);
            return self.fatal(rule::TRUNCATED, reason, at, src);
        }
        if !self.root_seen {
            return self.fatal(rule::MALFORMED, "no root element".into(), at, src);
        }
        if !self.name_ends.is_empty() {
            let root = String::from_utf8_lossy(&self.names[..self.name_ends[0]]).into_owned();
            return self.fatal(rule::TRUNCATED, format!("the file ends before </{root}>"), at, src);
        }
        Ok(Next::Stop)
    }

    fn parse_error(&mut self, e: XmlError, started: u64, now: u64, src: &mut Src<'_>) -> io::Result<Next> {
        let at = src.pos(self.mark);
        let (rule, recoverable) = match &e {
            XmlError::Io(io) => return Err(io::Error::new(io.kind(), io.to_string())),
            XmlError::Syntax(_) => (rule::MALFORMED, false),
            // quick-xml stops at invalid UTF-8 (only Eof follows).
            XmlError::Encoding(_) => (rule::ENCODING, false),
            _ => (rule::MALFORMED, true),
        };
        let reason = format!("{e}");
        // Going on needs a record to blame it on and a parser that moved.
        if recoverable && self.record.is_some() && now > started {
            self.spoil(rule, reason, at);
            return Ok(Next::Go);
        }
        self.fatal(rule, reason, at, src)
    }
}

/// A rejects line: `line` is where the record (or the lost rest) starts;
/// the reason says where the problem is.
/// quick-xml's reader over `bytes`, set as the transform reads: end tags
/// are matched by the transform itself (its open-element stack names the
/// mismatch), comments are checked, empty elements stay as they are and
/// text is kept whole. The bench's `xml-scan` times this reader alone.
pub fn configured_reader(bytes: &[u8]) -> Reader<&[u8]> {
    let mut reader = Reader::from_reader(bytes);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.check_comments = true;
    config.expand_empty_elements = false;
    config.trim_text(false);
    reader
}

fn write_problem(out: &mut Vec<u8>, start: Pos, p: &Problem, record: &[u8]) {
    out.clear();
    let reason = format!("line {}, column {}: {}", p.at.line, p.at.column, p.reason);
    write_reject(out, start.line, None, p.rule, &reason, record);
}

/// What a reject shows of `record`: its first bytes, up to `end`.
fn shown(record: &Record, end: u64, src: &Src<'_>) -> Vec<u8> {
    let mut shown = record.head.clone();
    let from = record.at.offset + shown.len() as u64;
    let n = usize::try_from(end.saturating_sub(from)).unwrap_or(usize::MAX).min(SHOWN - shown.len());
    shown.extend_from_slice(src.bytes_from(from, n));
    shown
}

/// Whether the parse error at `start` may only be the data ending there
/// (more of the file may complete the event), not a mistake in it.
fn cut_short(e: &XmlError, start: u64, len: u64, at_end: bool) -> bool {
    match e {
        // `<!` and what follows (`<![CDATA[` is the longest) may be cut.
        XmlError::Syntax(SyntaxError::InvalidBangMarkup) => len - start < 9,
        // Every other syntax error is an "unclosed ..." at the end.
        XmlError::Syntax(_) => true,
        // A reference or a UTF-8 sequence cut at the end.
        _ => at_end,
    }
}
