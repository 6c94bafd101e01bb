//! The input file of a transform, its read errors naming it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::atomic::naming_file;

/// The input file, its read errors naming it (the outputs' write errors
/// name theirs, see `AtomicFile`), so a transform's I/O error says which
/// of the files failed.
pub struct NamedInput<'a> {
    /// The open file.
    pub file: File,
    /// Its path, for errors.
    pub path: &'a Path,
}

impl Read for NamedInput<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf).map_err(|e| naming_file(e, "reading", self.path))
    }
}
