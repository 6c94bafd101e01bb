//! One record as a small tree in flat arrays (no allocation per element
//! once the arrays have grown): elements in document order, each with its
//! name, attributes, children and text. Text is gathered per element the
//! way xmltodict does: all of an element's own character data joined
//! (children's text between its pieces is theirs), then stripped of
//! surrounding whitespace (Python's `str.strip`, which on XML characters
//! is Rust's `str::trim`).
//!
//! Most elements have one piece of text and no child before it, so their
//! text is appended straight to the shared byte buffer ("direct"); only
//! when a child opens after some text does that text move to the
//! element's own gathering buffer, so each byte is copied once.

/// A byte range in [`Tree::bytes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// Whether the range is empty.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// No node (end of a child list).
pub const NONE: u32 = u32::MAX;

/// One element.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    /// Its name as written (`ns:tag`).
    pub name: Span,
    /// Its attributes: `Tree::attrs[attrs.0..attrs.1]`.
    pub attrs: (u32, u32),
    /// Its text, stripped; empty if none.
    pub text: Span,
    /// First child, [`NONE`] if none.
    pub first_child: u32,
    last_child: u32,
    /// Next sibling, [`NONE`] for the last.
    pub next_sibling: u32,
    /// Number of children.
    pub children: u32,
    /// A cheap digest of the name (length, first and last byte): names
    /// with different keys differ, so most comparisons stop at it.
    pub key: u32,
}

/// Where the text of an open element is being gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextAt {
    /// No text yet.
    None,
    /// At the end of [`Tree::bytes`], from this offset (nothing else has
    /// been appended since it started).
    Direct(usize),
    /// In the element's buffer in [`Tree::texts`].
    Gathered,
}

/// An open element.
#[derive(Debug, Clone, Copy)]
struct Open {
    node: u32,
    text: TextAt,
}

/// An attribute: name and decoded value.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    /// Its name as written.
    pub name: Span,
    /// Its value, decoded.
    pub value: Span,
}

/// The record being built.
#[derive(Debug, Default)]
pub struct Tree {
    nodes: Vec<Node>,
    attrs: Vec<Attr>,
    bytes: Vec<u8>,
    /// The open elements, innermost last.
    open: Vec<Open>,
    /// Text gathered per open element (by depth; kept for reuse).
    texts: Vec<Vec<u8>>,
}

impl Tree {
    /// Empties the tree, keeping its allocations.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.attrs.clear();
        self.bytes.clear();
        self.open.clear();
    }

    /// The bytes of a span.
    #[inline]
    pub fn get(&self, span: Span) -> &[u8] {
        &self.bytes[span.start..span.end]
    }

    /// The element `i` (0 is the record's element).
    #[inline]
    pub fn node(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }

    /// The attributes of an element.
    #[inline]
    pub fn attrs_of(&self, node: &Node) -> &[Attr] {
        &self.attrs[node.attrs.0 as usize..node.attrs.1 as usize]
    }

    /// Bytes held (a measure of the record's memory).
    pub fn held(&self) -> usize {
        self.bytes.len() + self.nodes.len() * size_of::<Node>() + self.attrs.len() * size_of::<Attr>()
    }

    fn push_bytes(&mut self, b: &[u8]) -> Span {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        Span { start, end: self.bytes.len() }
    }

    /// Opens an element inside the innermost open one.
    pub fn open(&mut self, name: &[u8]) {
        let index = self.nodes.len() as u32;
        if let Some(parent) = self.open.last_mut()
            && let TextAt::Direct(start) = parent.text
        {
            // The child's name goes after it: the parent's text moves to
            // its own buffer (mixed content; rare in record data).
            parent.text = TextAt::Gathered;
            let depth = self.open.len() - 1;
            self.texts[depth].clear();
            self.texts[depth].extend_from_slice(&self.bytes[start..]);
            self.bytes.truncate(start);
        }
        let key = name_key(name);
        let name = self.push_bytes(name);
        let attrs = self.attrs.len() as u32;
        self.nodes.push(Node {
            name,
            attrs: (attrs, attrs),
            text: Span::default(),
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            children: 0,
            key,
        });
        if let Some(&Open { node: parent, .. }) = self.open.last() {
            let last = self.nodes[parent as usize].last_child;
            if last == NONE {
                self.nodes[parent as usize].first_child = index;
            } else {
                self.nodes[last as usize].next_sibling = index;
            }
            let p = &mut self.nodes[parent as usize];
            p.last_child = index;
            p.children += 1;
        }
        let depth = self.open.len();
        if self.texts.len() <= depth {
            self.texts.push(Vec::new());
        }
        self.open.push(Open { node: index, text: TextAt::None });
    }

    /// Adds an attribute to the element just opened: `value` appends the
    /// decoded value to the buffer it is given.
    pub fn attr<E>(
        &mut self,
        name: &[u8],
        value: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let name = self.push_bytes(name);
        let start = self.bytes.len();
        value(&mut self.bytes)?;
        let value = Span { start, end: self.bytes.len() };
        self.attrs.push(Attr { name, value });
        if let Some(&Open { node, .. }) = self.open.last() {
            self.nodes[node as usize].attrs.1 = self.attrs.len() as u32;
        }
        Ok(())
    }

    /// Number of attributes so far (to pass to [`Self::attr_names_since`]).
    pub fn attr_count(&self) -> usize {
        self.attrs.len()
    }

    /// The names of the attributes added since `first`.
    pub fn attr_names_since(&self, first: usize) -> impl Iterator<Item = &[u8]> {
        self.attrs[first..].iter().map(|a| self.get(a.name))
    }

    /// Whether the innermost open element has any text so far.
    #[inline]
    pub fn has_text(&self) -> bool {
        match self.open.last() {
            Some(o) => match o.text {
                TextAt::None => false,
                TextAt::Direct(start) => self.bytes.len() > start,
                TextAt::Gathered => true,
            },
            None => false,
        }
    }

    /// The buffer to append the innermost open element's text to.
    #[inline]
    pub fn text(&mut self) -> &mut Vec<u8> {
        let Some(open) = self.open.last_mut() else {
            // Not reached: text is only gathered inside a record.
            if self.texts.is_empty() {
                self.texts.push(Vec::new());
            }
            return &mut self.texts[0];
        };
        match open.text {
            TextAt::None => {
                open.text = TextAt::Direct(self.bytes.len());
                &mut self.bytes
            }
            TextAt::Direct(_) => &mut self.bytes,
            TextAt::Gathered => {
                let depth = self.open.len() - 1;
                &mut self.texts[depth]
            }
        }
    }

    /// Closes the innermost open element; returns whether it was the
    /// record's element (the tree is complete).
    pub fn close(&mut self) -> bool {
        let Some(open) = self.open.pop() else { return true };
        let span = match open.text {
            TextAt::None => Span::default(),
            TextAt::Direct(start) => {
                let text = &self.bytes[start..];
                let stripped = trim(text);
                // `stripped` is a part of `text`: its offset inside it.
                let from = start + (stripped.as_ptr() as usize - text.as_ptr() as usize);
                let end = from + stripped.len();
                self.bytes.truncate(end);
                Span { start: from, end }
            }
            TextAt::Gathered => {
                let depth = self.open.len();
                let text = std::mem::take(&mut self.texts[depth]);
                let span = self.push_bytes(trim(&text));
                self.texts[depth] = text;
                span
            }
        };
        self.nodes[open.node as usize].text = span;
        self.open.is_empty()
    }
}

/// The digest of a name kept in [`Node::key`].
#[inline]
fn name_key(name: &[u8]) -> u32 {
    match (name.first(), name.last()) {
        (Some(&a), Some(&b)) => (name.len() as u32) << 16 | u32::from(a) << 8 | u32::from(b),
        _ => 0,
    }
}

/// `text` without the whitespace Python's `str.strip` removes: ASCII
/// whitespace bytes, and Unicode whitespace (U+00A0, U+3000, ...) through
/// `str::trim` when a non-ASCII byte is at either end.
fn trim(text: &[u8]) -> &[u8] {
    let ascii = text.trim_ascii();
    match (ascii.first(), ascii.last()) {
        (Some(&a), Some(&b)) if a >= 0x80 || b >= 0x80 => {
            // Valid UTF-8: the parser and the decoders checked every piece.
            std::str::from_utf8(ascii).map_or(ascii, |s| s.trim().as_bytes())
        }
        _ => ascii,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_is_pythons_strip() {
        assert_eq!(trim(b" \t\r\n x y \n"), b"x y");
        assert_eq!(trim("\u{a0}\u{3000} x\u{2003}".as_bytes()), b"x");
        assert_eq!(trim("\u{e9} ".as_bytes()), "\u{e9}".as_bytes());
        assert_eq!(trim(b"  "), b"");
    }

    #[test]
    fn text_is_joined_per_element_and_stripped() {
        let mut t = Tree::default();
        t.open(b"a");
        t.attr::<()>(b"id", |v| {
            v.extend_from_slice(b"1");
            Ok(())
        })
        .unwrap();
        t.text().extend_from_slice(b"  hello ");
        t.open(b"b");
        t.text().extend_from_slice(b" x ");
        assert!(!t.close());
        t.text().extend_from_slice(b" world\n");
        t.open(b"b");
        assert!(!t.close());
        assert!(t.close());
        let a = *t.node(0);
        assert_eq!(t.get(a.name), b"a");
        assert_eq!(t.get(a.text), b"hello  world");
        assert_eq!(a.children, 2);
        assert_eq!(t.attrs_of(&a).len(), 1);
        let b = *t.node(a.first_child);
        assert_eq!(t.get(b.text), b"x");
        let b2 = *t.node(b.next_sibling);
        assert!(b2.text.is_empty() && b2.next_sibling == NONE);
    }

    #[test]
    fn text_written_in_place_keeps_every_span() {
        // Text after a child goes in place too; a later child moves it to
        // the element's own buffer; the spans of earlier nodes stay valid.
        let mut t = Tree::default();
        t.open(b"a");
        assert!(!t.has_text());
        t.open(b"b");
        t.text().extend_from_slice(b" x \n");
        assert!(t.has_text());
        t.close();
        t.text().extend_from_slice(b" y ");
        t.open(b"c");
        t.text().extend_from_slice("\u{a0}z\u{a0}".as_bytes());
        t.close();
        t.text().extend_from_slice(b" w");
        t.open(b"d");
        t.close();
        assert!(t.close());
        let a = *t.node(0);
        let b = *t.node(a.first_child);
        let c = *t.node(b.next_sibling);
        let d = *t.node(c.next_sibling);
        assert_eq!(t.get(b.name), b"b");
        assert_eq!(t.get(b.text), b"x");
        assert_eq!(t.get(c.name), b"c");
        assert_eq!(t.get(c.text), b"z");
        assert_eq!(t.get(d.name), b"d");
        assert!(d.text.is_empty());
        assert_eq!(t.get(a.text), b"y  w");
        assert_ne!(b.key, c.key);
    }
}
