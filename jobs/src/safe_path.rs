//! Validation of every name that becomes part of a path under the run
//! directory: run ids, and names derived from data (S3 keys, file names).
//!
//! Nothing read from a run config, a node slice or an object listing is
//! joined onto a path before it passes through here, so a key such as
//! `../../etc/passwd` or `/abs` can never make a stage read or write outside
//! `runs/<run_id>/`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::exit::{ExitCode, JobError};

/// The longest run id accepted (it is a single directory name).
pub const MAX_RUN_ID_LEN: usize = 128;
/// The longest single path component (Linux NAME_MAX).
pub const MAX_COMPONENT_LEN: usize = 255;

/// Why a name was refused, naming the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsafe {field} {value:?}: {reason}")]
pub struct UnsafePath {
    /// Which input field held the value (e.g. `run_id`, `prep slice item 3`).
    pub field: String,
    /// The offending value (lossy, for the message).
    pub value: String,
    /// What rule it broke.
    pub reason: &'static str,
}

impl From<UnsafePath> for JobError {
    fn from(err: UnsafePath) -> Self {
        JobError::new(ExitCode::DataError, err.to_string())
    }
}

fn refuse(field: &str, value: &str, reason: &'static str) -> UnsafePath {
    UnsafePath { field: field.to_string(), value: value.to_string(), reason }
}

/// Checks a run id: 1..=128 characters of `[A-Za-z0-9._-]`, starting with
/// a letter or digit (so never `.`, `..` or a hidden name).
pub fn check_run_id(run_id: &str) -> Result<(), UnsafePath> {
    const FIELD: &str = "run_id";
    if run_id.is_empty() {
        return Err(refuse(FIELD, run_id, "is empty"));
    }
    if run_id.len() > MAX_RUN_ID_LEN {
        return Err(refuse(FIELD, run_id, "is longer than 128 characters"));
    }
    if !run_id.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(refuse(FIELD, run_id, "must start with a letter or digit"));
    }
    if !run_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return Err(refuse(FIELD, run_id, "may contain only letters, digits, '.', '_' and '-'"));
    }
    Ok(())
}

/// A relative path made of plain components, safe to join under a directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SafeRelPath(String);

impl SafeRelPath {
    /// Validates `value` (from the input field `field`) as a relative path:
    /// `/`-separated components, none empty, `.` or `..`, no NUL or other
    /// control characters, no backslash, not absolute, each component at most
    /// 255 bytes.
    pub fn new(field: &str, value: &str) -> Result<Self, UnsafePath> {
        if value.is_empty() {
            return Err(refuse(field, value, "is empty"));
        }
        if value.starts_with('/') {
            return Err(refuse(field, value, "is an absolute path"));
        }
        if value.contains('\0') {
            return Err(refuse(field, value, "contains a NUL byte"));
        }
        if value.chars().any(|c| c.is_control()) {
            return Err(refuse(field, value, "contains a control character"));
        }
        if value.contains('\\') {
            return Err(refuse(field, value, "contains a backslash"));
        }
        for component in value.split('/') {
            match component {
                "" => return Err(refuse(field, value, "has an empty path component")),
                "." | ".." => {
                    return Err(refuse(field, value, "has a '.' or '..' path component"));
                }
                c if c.len() > MAX_COMPONENT_LEN => {
                    return Err(refuse(field, value, "has a path component longer than 255 bytes"));
                }
                _ => {}
            }
        }
        Ok(SafeRelPath(value.to_string()))
    }

    /// The path as text (always `/`-separated).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `base` joined with this path; never leaves `base`.
    pub fn join_onto(&self, base: &Path) -> PathBuf {
        let mut out = base.to_path_buf();
        for component in self.0.split('/') {
            out.push(component);
        }
        out
    }
}

impl fmt::Display for SafeRelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids() {
        for ok in ["r1", "2024-01-01T00-00-00Z.abc", "A_b-c.d"] {
            assert_eq!(check_run_id(ok), Ok(()), "{ok}");
        }
        for (bad, reason) in [
            ("", "is empty"),
            ("..", "must start with a letter or digit"),
            (".hidden", "must start with a letter or digit"),
            ("a/b", "may contain only letters, digits, '.', '_' and '-'"),
            ("a\0b", "may contain only letters, digits, '.', '_' and '-'"),
        ] {
            let err = check_run_id(bad).unwrap_err();
            assert_eq!(err.reason, reason, "{bad:?}");
            assert_eq!(err.field, "run_id");
        }
        assert!(check_run_id(&"a".repeat(129)).is_err());
    }

    #[test]
    fn relative_paths() {
        let ok = SafeRelPath::new("key", "incoming/1763.csv").unwrap();
        assert_eq!(ok.join_onto(Path::new("/efs/data")), PathBuf::from("/efs/data/incoming/1763.csv"));
        for (bad, reason) in [
            ("", "is empty"),
            ("/etc/passwd", "is an absolute path"),
            ("../../x", "has a '.' or '..' path component"),
            ("a/../../x", "has a '.' or '..' path component"),
            ("a/./b", "has a '.' or '..' path component"),
            ("a//b", "has an empty path component"),
            ("a/", "has an empty path component"),
            ("a\0b", "contains a NUL byte"),
            ("a\nb", "contains a control character"),
            ("a\\..\\b", "contains a backslash"),
        ] {
            let err = SafeRelPath::new("s3 key", bad).unwrap_err();
            assert_eq!(err.reason, reason, "{bad:?}");
            assert!(err.to_string().starts_with("unsafe s3 key"), "{err}");
        }
        let long = "x".repeat(256);
        assert!(SafeRelPath::new("k", &long).is_err());
    }
}
