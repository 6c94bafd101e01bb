//! Record paths (`/catalog/book`) and the matcher that follows the open
//! elements as the parser goes: one compare per start tag, no allocation.

use super::text::check_name;

/// An absolute path of element names, as written in the document
/// (prefixes included: `/feed/atom:entry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPath {
    steps: Vec<Vec<u8>>,
}

impl RecordPath {
    /// Parses `/a/b/c`.
    pub fn parse(path: &str) -> Result<Self, String> {
        let rest = path.strip_prefix('/').ok_or_else(|| format!("{path:?} must start with '/'"))?;
        let mut steps = Vec::new();
        for step in rest.split('/') {
            check_name(step.as_bytes()).map_err(|e| format!("{path:?}: step {step:?}: {e}"))?;
            steps.push(step.as_bytes().to_vec());
        }
        Ok(RecordPath { steps })
    }

    /// Number of steps: the depth of the records (the root is 1).
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Always false: a path has at least one step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Follows how much of the open element stack matches the path.
#[derive(Debug, Default)]
pub struct Matcher {
    /// The open elements `[..matched]` are the path's first steps.
    matched: usize,
}

impl Matcher {
    /// An element `name` opens at `depth` (0 for the root); returns whether
    /// it is a record. `path` `None` makes the root the one record.
    #[inline]
    pub fn open(&mut self, path: Option<&RecordPath>, depth: usize, name: &[u8]) -> bool {
        let Some(path) = path else { return depth == 0 };
        if self.matched == depth && path.steps.get(depth).is_some_and(|s| s.as_slice() == name) {
            self.matched = depth + 1;
            return self.matched == path.steps.len();
        }
        false
    }

    /// The element at `depth` closed.
    #[inline]
    pub fn close(&mut self, depth: usize) {
        self.matched = self.matched.min(depth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_elements_at_the_path_are_records() {
        let path = RecordPath::parse("/catalog/book").unwrap();
        let mut m = Matcher::default();
        let p = Some(&path);
        assert!(!m.open(p, 0, b"catalog"));
        assert!(m.open(p, 1, b"book"));
        assert!(!m.open(p, 2, b"book"), "a book inside a book is not a record");
        m.close(2);
        m.close(1);
        assert!(!m.open(p, 1, b"magazine"));
        assert!(!m.open(p, 2, b"book"), "a book inside a magazine is not a record");
        m.close(2);
        m.close(1);
        assert!(m.open(p, 1, b"book"));
        m.close(1);
        m.close(0);
        assert!(!m.open(p, 0, b"other"));
        assert!(!m.open(p, 1, b"book"), "not under /catalog");
        let mut m = Matcher::default();
        assert!(m.open(None, 0, b"anything"), "without a path the root is the record");
        assert!(!m.open(None, 1, b"anything"));
    }

    #[test]
    fn paths_are_checked() {
        assert_eq!(RecordPath::parse("/a:b/c.d").unwrap().len(), 2);
        for bad in ["", "a", "/", "/a/", "//a", "/a/*", "/a/1b", "/a b"] {
            assert!(RecordPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
