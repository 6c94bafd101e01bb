//! Turning a raw event (JSON) into a typed request with errors that name
//! the offending field, instead of the runtime's generic deserialisation
//! failure.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::LambdaError;

/// Deserialises `value` as `T`; on failure the message names the JSON path
/// (`config.source.bucket: invalid type: integer `3`, expected a string`).
pub fn parse<T: DeserializeOwned>(value: Value) -> Result<T, LambdaError> {
    parse_at("event", value)
}

/// Like [`parse`] for the part of the event at `field` (`config`), so paths
/// in messages start from the event's top level.
pub fn parse_at<T: DeserializeOwned>(field: &str, value: Value) -> Result<T, LambdaError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = match (path.as_str(), field) {
            (".", _) => format!("{field}: {inner}"),
            (_, "event") => format!("{path}: {inner}"),
            _ => format!("{field}.{path}: {inner}"),
        };
        LambdaError::invalid_event(message)
    })
}

/// Keys of `value` (an object) that are not in `known`, sorted. Used to
/// warn, not to refuse: a newer provider may add optional fields an older
/// function can ignore, but a typo should still be visible in the logs.
pub fn unknown_keys(value: &Value, known: &[&str]) -> Vec<String> {
    match value {
        Value::Object(map) => map.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Outer {
        #[allow(dead_code)]
        inner: Inner,
    }
    #[derive(Debug, Deserialize)]
    struct Inner {
        #[allow(dead_code)]
        n: u32,
    }

    #[test]
    fn errors_name_the_path() {
        let err = parse::<Outer>(json!({"inner": {"n": "x"}})).unwrap_err();
        assert!(err.message.starts_with("inner.n: invalid type"), "{}", err.message);
        let err = parse::<Outer>(json!({})).unwrap_err();
        assert!(err.message.contains("missing field `inner`"), "{}", err.message);
        let err = parse::<Outer>(json!("x")).unwrap_err();
        assert!(err.message.starts_with("event: invalid type"), "{}", err.message);
    }

    #[test]
    fn unknown_keys_are_listed() {
        assert_eq!(unknown_keys(&json!({"a": 1, "zz": 2, "b": 3}), &["a", "b"]), ["zz"]);
    }
}
