//! The watcher Lambda's event on arbitrary bytes. For an event it
//! accepts: one to MAX_STAGES stages named in [a-z0-9_-], each with a job
//! id of 1..=512 characters without spaces, and a deadline exactly when
//! both `started` and `timeout_seconds` are given (and then after
//! `started`). A refusal names a field of the event.
#![no_main]

use batch_lambdas::watcher::request::{MAX_STAGES, WatchRequest};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const FIELDS: &[&str] = &["event", "jobs", "run_id", "started", "timeout_seconds"];

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Value>(data) else { return };
    let given = |key: &str| event.get(key).is_some_and(|v| !v.is_null());
    let (started, timeout) = (given("started"), given("timeout_seconds"));
    let request = match WatchRequest::from_event(event.clone()) {
        Ok(request) => request,
        Err(e) => {
            let field = e.message.split([':', '.', '[']).next().unwrap_or("");
            assert!(FIELDS.contains(&field), "refusal names no field of the event: {:?}", e.message);
            return;
        }
    };
    assert!((1..=MAX_STAGES).contains(&request.jobs.len()));
    for (stage, id) in &request.jobs {
        assert!(!stage.is_empty() && stage.len() <= 64);
        assert!(
            stage.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        );
        assert!(!id.is_empty() && id.len() <= 512 && !id.chars().any(char::is_whitespace));
    }
    assert_eq!(
        request.deadline.is_some(),
        started && timeout,
        "deadline without both started and timeout_seconds"
    );
    if let Some(deadline) = request.deadline {
        assert_eq!(Some(deadline.timeout_seconds), event.get("timeout_seconds").and_then(Value::as_u64));
    }
});
