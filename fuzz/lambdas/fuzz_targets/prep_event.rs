//! The prep Lambda's event on arbitrary bytes (the state machine passes
//! it, but an operator can start an execution with any input). Prep
//! promises to check everything before any AWS call or file write (the
//! event, then the run.json it would write with a one-node stand-in for
//! the array size), and to name the field it refuses; so for an event it
//! accepts:
//! - the settings are in range (items per node, max nodes, the EFS path,
//!   the execution name) and the fingerprint is a SHA-256;
//! - the run id resolves, and the run.json prep will write validates for
//!   any array size it can pick;
//! - a synthetic source's id range splits into node slices that cover it
//!   exactly once, in order.
//!
//! And a refusal names a field of the event.
#![no_main]

use std::time::{Duration, SystemTime};

use batch_lambdas::prep::handler::run_config;
use batch_lambdas::prep::plan::{node_count, range_slices};
use batch_lambdas::prep::request::{MAX_ITEMS_PER_NODE, MIN_ARRAY_SIZE, PrepRequest, WorkSource};
use batch_lambdas::prep::run_id;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const FIELDS: &[&str] = &["event", "config", "overrides", "execution"];

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Value>(data) else { return };
    let request = match PrepRequest::from_event(event) {
        Ok(request) => request,
        Err(e) => return assert_names_a_field(&e.message),
    };
    assert!((1..=MAX_ITEMS_PER_NODE).contains(&request.items_per_node));
    let config = &request.config;
    assert!(config.efs_mount_path.starts_with('/') && config.efs_mount_path != "/");
    assert!((MIN_ARRAY_SIZE..=batch_jobs::layout::MAX_ARRAY_SIZE).contains(&config.max_nodes));
    assert!(request.execution.as_ref().is_none_or(|e| (1..=2048).contains(&e.len())));
    assert!(
        request.fingerprint.len() == 64 && request.fingerprint.bytes().all(|b| b.is_ascii_hexdigit()),
        "fingerprint {:?} is not a SHA-256",
        request.fingerprint
    );

    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let Ok((run_id, _)) =
        run_id::resolve(request.overrides.run_id.as_deref(), request.execution.as_deref(), now)
    else {
        return;
    };
    // The handler's check before any listing.
    if let Err(e) = run_config(&request, &run_id, 1) {
        return assert_names_a_field(&e.message);
    }
    // Passed, the run.json must validate whatever array size the listing
    // leads to (a refusal now would come after AWS calls).
    for array_size in [MIN_ARRAY_SIZE, config.max_nodes] {
        if let Err(e) = run_config(&request, &run_id, array_size) {
            panic!(
                "an accepted event gives a run.json that does not validate (array size {array_size}): {e:?}"
            );
        }
    }

    if let WorkSource::Synthetic { start, count, .. } = request.source {
        if count == 0 {
            return;
        }
        let nodes = node_count(count, request.items_per_node, config.max_nodes);
        assert!((1..=config.max_nodes).contains(&nodes), "node_count {nodes} out of range");
        let slices = range_slices(start, count, nodes);
        assert_eq!(slices.len(), nodes as usize);
        let mut at = start;
        for (i, slice) in slices.iter().enumerate() {
            assert_eq!(slice.index as usize, i);
            let range = slice.id_range.expect("a synthetic slice is a range");
            assert_eq!(range.start, at, "slices leave a gap or overlap");
            assert!(range.end >= range.start);
            at = range.end;
        }
        assert_eq!(at - start, count, "slices do not cover the ids");
    }
});

/// A refusal starts with the field of the event it is about.
fn assert_names_a_field(message: &str) {
    let field = message.split([':', '.', '[']).next().unwrap_or("");
    assert!(FIELDS.contains(&field), "refusal names no field of the event: {message:?}");
}
