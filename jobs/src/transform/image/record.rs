//! What happened to one input image, as data (the seed's `.success` and
//! `.failed` log files): the stats file `<name>.stats.json` lists the
//! outputs written (size, path, bytes) or the error, and a rejected image
//! is one line of `<name>.rejects.jsonl` in the shape every transform's
//! rejects have.

use serde::{Deserialize, Serialize};

use crate::transform::reject::{RejectCounts, write_reject};

/// Why an input image was not resized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// `empty`, `inputTooLarge`, `unsupportedFormat`, `tooManyPixels`,
    /// `corrupt` or `processingFailed`.
    pub rule: &'static str,
    /// What was wrong, for a person.
    pub reason: String,
}

impl Reject {
    /// A reject under `rule`.
    pub fn new(rule: &'static str, reason: impl Into<String>) -> Self {
        Reject { rule, reason: reason.into() }
    }

    /// Appends its rejects-file line: line 1 (the image is one record),
    /// no field, the input's name as the record.
    pub fn write_line(&self, out: &mut Vec<u8>, input: &str) {
        write_reject(out, 1, None, self.rule, &self.reason, input.as_bytes());
    }
}

/// One output file of an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// `WIDTHxHEIGHT` as in the spec.
    pub size: String,
    /// Where it was written.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The stats of one input image (one record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageStats {
    /// Bytes read (0 when refused unread).
    pub bytes_in: u64,
    /// Always 1: the image.
    pub records_in: u64,
    /// 1 when its outputs were written.
    pub records_out: u64,
    /// 1 reject when not.
    #[serde(flatten)]
    pub rejects: RejectCounts,
    /// `jpeg`, `png`, `webp` or `gif`, from the content.
    pub format: Option<String>,
    /// Width in the header (stored orientation).
    pub width: Option<u32>,
    /// Height in the header.
    pub height: Option<u32>,
    /// The EXIF orientation applied (1 = none).
    pub exif_orientation: Option<u8>,
    /// `none`, `converted to sRGB` or `ignored: <why>`.
    pub icc: Option<String>,
    /// The JPEG DCT scale decoded at, e.g. `1/8`.
    pub jpeg_dct_scale: Option<String>,
    /// The outputs written.
    pub outputs: Vec<OutputRecord>,
    /// `rule: reason` of a rejected input.
    pub error: Option<String>,
}
