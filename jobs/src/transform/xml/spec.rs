//! The `xml_to_json` spec as run.json carries it, and its compiled form.

use serde::{Deserialize, Serialize};

use super::path::RecordPath;
use super::text::check_name;

/// Nesting deeper than this is refused unless `max_depth` says otherwise.
pub const DEFAULT_MAX_DEPTH: u32 = 256;
/// A record (one element at `record_path`) longer than this is rejected.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 4 << 20;
/// Without `record_path` the whole file is one document, kept in memory:
/// a larger file is rejected.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 64 << 20;

/// How elements become JSON. Both give the same values; they differ only
/// in how the JSON is written (see docs/jobs.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mapping {
    /// The values of `xmltodict.parse`, written without spaces and with
    /// UTF-8 as it is, as serde_json writes (the other transforms' style).
    #[default]
    Compact,
    /// Byte for byte what Python's `json.dumps(xmltodict.parse(xml))`
    /// writes: `", "` and `": "` separators, non-ASCII as `\uXXXX`.
    Xmltodict,
}

/// `{"kind": "xml_to_json", ...}` in run.json.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmlSpec {
    /// `/catalog/book`: every element at this path is one record, one
    /// JSON line. Unset: the whole file is one JSON document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_path: Option<String>,
    /// How elements become JSON (default `compact`).
    #[serde(default)]
    pub mapping: Mapping,
    /// Element names whose values are always arrays, even when the element
    /// appears once (xmltodict's `force_list`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub force_list: Vec<String>,
    /// Deepest element nesting accepted (default 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
    /// Longest record in bytes of XML (default 4 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_record_bytes: Option<u64>,
    /// Largest file converted as one document when `record_path` is unset
    /// (default 64 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_document_bytes: Option<u64>,
}

/// A checked spec, ready to run.
#[derive(Debug, Clone)]
pub struct XmlTransform {
    /// Where the records are; `None`: the whole document is one.
    pub record_path: Option<RecordPath>,
    /// How the JSON is written.
    pub mapping: Mapping,
    /// Names whose values are always arrays.
    pub force_list: Vec<Vec<u8>>,
    /// Deepest nesting accepted.
    pub max_depth: u32,
    /// Longest record (or document) in bytes.
    pub max_record_bytes: u64,
}

impl XmlSpec {
    /// Checks the spec; errors name the field (`transform.<field>: ...`).
    pub fn compile(&self) -> Result<XmlTransform, String> {
        let record_path = match &self.record_path {
            Some(p) => Some(RecordPath::parse(p).map_err(|e| format!("transform.record_path: {e}"))?),
            None => None,
        };
        let max_depth = self.max_depth.unwrap_or(DEFAULT_MAX_DEPTH);
        if !(1..=4096).contains(&max_depth) {
            return Err(format!("transform.max_depth: {max_depth} is not between 1 and 4096"));
        }
        if let Some(path) = &record_path
            && path.len() > max_depth as usize
        {
            return Err(format!(
                "transform.record_path: {} steps deep, deeper than max_depth {max_depth}",
                path.len()
            ));
        }
        let limit = |field: &str, value: Option<u64>, default: u64| match value.unwrap_or(default) {
            n @ 64..=0x1_0000_0000 => Ok(n),
            n => Err(format!("transform.{field}: {n} is not between 64 and 4294967296")),
        };
        let max_record_bytes = if record_path.is_some() {
            if self.max_document_bytes.is_some() {
                return Err("transform.max_document_bytes: only applies without record_path \
                            (records are limited by max_record_bytes)"
                    .into());
            }
            limit("max_record_bytes", self.max_record_bytes, DEFAULT_MAX_RECORD_BYTES)?
        } else {
            if self.max_record_bytes.is_some() {
                return Err("transform.max_record_bytes: only applies with record_path \
                            (a whole document is limited by max_document_bytes)"
                    .into());
            }
            limit("max_document_bytes", self.max_document_bytes, DEFAULT_MAX_DOCUMENT_BYTES)?
        };
        let mut force_list = Vec::with_capacity(self.force_list.len());
        for (i, name) in self.force_list.iter().enumerate() {
            check_name(name.as_bytes()).map_err(|e| format!("transform.force_list[{i}]: {name:?}: {e}"))?;
            force_list.push(name.as_bytes().to_vec());
        }
        Ok(XmlTransform { record_path, mapping: self.mapping, force_list, max_depth, max_record_bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<XmlSpec, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_a_full_spec() {
        let t = spec("{}").unwrap().compile().unwrap();
        assert!(t.record_path.is_none());
        assert_eq!((t.mapping, t.max_depth, t.max_record_bytes), (Mapping::Compact, 256, 64 << 20));
        let t = spec(
            r##"{"record_path":"/catalog/book","mapping":"xmltodict","force_list":["author"],
                "max_depth":10,"max_record_bytes":1000}"##,
        )
        .unwrap()
        .compile()
        .unwrap();
        assert_eq!(t.record_path.as_ref().map(RecordPath::len), Some(2));
        assert_eq!((t.mapping, t.max_depth, t.max_record_bytes), (Mapping::Xmltodict, 10, 1000));
        assert_eq!(t.force_list, [b"author".to_vec()]);
    }

    #[test]
    fn bad_specs_name_the_field() {
        let err = |json: &str| spec(json).and_then(|s| s.compile().map(|_| ())).unwrap_err();
        assert!(err(r##"{"record_path":"catalog/book"}"##).starts_with("transform.record_path: "));
        assert!(err(r##"{"record_path":"/catalog//book"}"##).starts_with("transform.record_path: "));
        assert!(err(r##"{"record_path":"/a/b c"}"##).starts_with("transform.record_path: "));
        assert!(err(r##"{"record_path":"/a/b","max_depth":1}"##).contains("deeper than max_depth 1"));
        assert!(err(r##"{"max_depth":0}"##).starts_with("transform.max_depth: "));
        assert!(err(r##"{"max_document_bytes":10}"##).starts_with("transform.max_document_bytes: "));
        assert!(
            err(r##"{"max_record_bytes":1000}"##).starts_with("transform.max_record_bytes: only applies")
        );
        assert!(
            err(r##"{"record_path":"/a","max_document_bytes":1000}"##)
                .starts_with("transform.max_document_bytes")
        );
        assert!(err(r##"{"force_list":["ok","#text"]}"##).starts_with("transform.force_list[1]: "));
        assert!(
            err(r##"{"mapping":"typed"}"##).contains("unknown variant `typed`"),
            "{}",
            err(r##"{"mapping":"typed"}"##)
        );
        assert!(err(r##"{"recordpath":"/a"}"##).contains("unknown field `recordpath`"));
    }
}
