//! The body of an S3 event notification as SQS delivers it: `{"Records":
//! [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name"}, "object":
//! {"key", "size", "eTag"}}}]}`, or S3's `s3:TestEvent` sent when a
//! notification is configured. Keys arrive URL-encoded (form encoding: a
//! space is `+`).

use serde::Deserialize;

/// What a message body says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// S3's check that the queue is reachable: nothing to do.
    TestEvent,
    /// Event records (S3 sends one per message; the format allows more).
    Records(Vec<EventRecord>),
}

/// One event record, its key decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// `ObjectCreated:Put`, `ObjectRemoved:Delete`, ...
    pub event_name: String,
    /// The bucket.
    pub bucket: String,
    /// The object key, decoded.
    pub key: String,
    /// The object's ETag when the event was sent.
    pub etag: Option<String>,
}

impl EventRecord {
    /// Whether the record announces a new object (any `ObjectCreated:*`).
    pub fn is_object_created(&self) -> bool {
        self.event_name.starts_with("ObjectCreated:")
    }
}

#[derive(Deserialize)]
struct RawBody {
    #[serde(rename = "Event")]
    event: Option<String>,
    #[serde(rename = "Records")]
    records: Option<Vec<RawRecord>>,
}

#[derive(Deserialize)]
struct RawRecord {
    #[serde(rename = "eventName")]
    event_name: String,
    s3: RawS3,
}

#[derive(Deserialize)]
struct RawS3 {
    bucket: RawBucket,
    object: RawObject,
}

#[derive(Deserialize)]
struct RawBucket {
    name: String,
}

#[derive(Deserialize)]
struct RawObject {
    key: String,
    #[serde(rename = "eTag")]
    etag: Option<String>,
}

/// Reads a message body; the error says what is wrong (with line and
/// column for JSON that does not parse).
pub fn parse_body(body: &str) -> Result<Body, String> {
    let raw: RawBody = serde_json::from_str(body).map_err(|e| {
        format!("not an S3 event notification: line {}, column {}: {e}", e.line(), e.column())
    })?;
    if raw.event.as_deref() == Some("s3:TestEvent") {
        return Ok(Body::TestEvent);
    }
    let records = raw.records.ok_or("not an S3 event notification: no \"Records\"")?;
    if records.is_empty() {
        return Err("not an S3 event notification: \"Records\" is empty".into());
    }
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let key = decode_key(&r.s3.object.key).map_err(|e| format!("Records[{i}].s3.object.key: {e}"))?;
            Ok(EventRecord {
                event_name: r.event_name,
                bucket: r.s3.bucket.name,
                key,
                etag: r.s3.object.etag,
            })
        })
        .collect::<Result<_, String>>()
        .map(Body::Records)
}

/// Decodes an event's key: `+` is a space, `%XX` a byte; the result must
/// be UTF-8 (S3 keys are).
pub fn decode_key(encoded: &str) -> Result<String, String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("{encoded:?}: bad %-escape at byte {i}"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("{encoded:?}: does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_as_s3_encodes_them() {
        assert_eq!(decode_key("in/a+b%2Bc%C3%A9.csv").unwrap(), "in/a b+cé.csv");
        assert_eq!(decode_key("plain/key.jpg").unwrap(), "plain/key.jpg");
        assert!(decode_key("bad%2").unwrap_err().contains("bad %-escape at byte 3"));
        assert!(decode_key("bad%zz").is_err());
        assert!(decode_key("%FF").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn bodies_read_as_test_events_records_or_errors() {
        assert_eq!(
            parse_body(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#),
            Ok(Body::TestEvent)
        );
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
            "s3":{"bucket":{"name":"src"},"object":{"key":"in/x+y.csv","size":5,"eTag":"abc"}}}]}"#;
        let Ok(Body::Records(records)) = parse_body(body) else { panic!("{:?}", parse_body(body)) };
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].key, "in/x y.csv");
        assert_eq!(records[0].bucket, "src");
        assert_eq!(records[0].etag.as_deref(), Some("abc"));
        assert!(records[0].is_object_created());
        let err = parse_body("{\n  \"Records\": [1]").unwrap_err();
        assert!(err.starts_with("not an S3 event notification: line 2"), "{err}");
        assert!(parse_body(r#"{"Records":[]}"#).unwrap_err().contains("empty"));
        assert!(parse_body(r#"{"hello":1}"#).unwrap_err().contains("no \"Records\""));
    }
}
