//! `batch_pipeline`'s UpgradeResourceState, straight into the protocol
//! service: the state the previous release wrote (tests/upgrade/
//! pipeline_state_v0.json, its attributes as Terraform stored them) comes
//! back whole at this build's schema version; a state from a newer
//! provider, or one that does not fit the schema, is refused with a
//! diagnostic rather than read wrongly.

use std::sync::Arc;

use provider::aws::pipeline::schema;
use provider::aws::provider::BatchProvider;
use provider::proto::tfplugin6 as pb;
use provider::proto::tfplugin6::provider_server::Provider as _;
use provider::tfplugin::server::ProtocolServer;
use provider::tfplugin::{json, msgpack};
use tonic::Request;

/// The schema version the previous release wrote (tests/upgrade/PREVIOUS_RELEASE).
const PREVIOUS_VERSION: i64 = 0;

fn previous_release_state() -> serde_json::Value {
    let path = testkit::paths::repo_root().join("tests").join("upgrade").join("pipeline_state_v0.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

async fn upgrade(version: i64, state: &serde_json::Value) -> pb::upgrade_resource_state::Response {
    let server = ProtocolServer::new(Arc::new(BatchProvider::new()));
    server
        .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
            type_name: "batch_pipeline".into(),
            version,
            raw_state: Some(pb::RawState {
                json: state.to_string().into_bytes(),
                flatmap: Default::default(),
            }),
        }))
        .await
        .expect("a response, never a gRPC error")
        .into_inner()
}

fn error_summaries(response: &pb::upgrade_resource_state::Response) -> Vec<String> {
    response
        .diagnostics
        .iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
        .map(|d| d.summary.clone())
        .collect()
}

#[tokio::test]
async fn the_previous_releases_state_comes_back_whole() {
    let stored = previous_release_state();
    assert!(stored["job_queue_arn"].is_string(), "the fixture is a created pipeline's state");
    let response = upgrade(PREVIOUS_VERSION, &stored).await;
    assert!(response.diagnostics.is_empty(), "{:?}", response.diagnostics);
    let upgraded = response.upgraded_state.expect("an upgraded state");
    let value = msgpack::decode(&upgraded.msgpack, &schema::schema().value_type())
        .expect("msgpack of the schema's type");
    let back = json::encode(&value).expect("a known value");
    // Every attribute the previous release stored is there with its value;
    // what this schema adds, at the top or in a block (the source block's
    // sqs_* settings), is null.
    let stored_attrs = stored.as_object().expect("an object");
    for (name, old) in stored_attrs {
        assert!(
            kept_with_nulls_added(old, &back[name]),
            "{name} changed in the upgrade: {old} -> {}",
            back[name]
        );
    }
    let added: Vec<&String> =
        back.as_object().expect("an object").keys().filter(|k| !stored_attrs.contains_key(*k)).collect();
    assert!(added.iter().all(|k| back[k.as_str()].is_null()), "new attributes must start null: {added:?}");
}

/// `new` is `old` with, in its objects at any depth, only null-valued
/// attributes added.
fn kept_with_nulls_added(old: &serde_json::Value, new: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (old, new) {
        (J::Object(o), J::Object(n)) => {
            o.iter().all(|(k, v)| n.get(k).is_some_and(|nv| kept_with_nulls_added(v, nv)))
                && n.iter().all(|(k, v)| o.contains_key(k) || v.is_null())
        }
        (J::Array(o), J::Array(n)) => {
            o.len() == n.len() && o.iter().zip(n).all(|(a, b)| kept_with_nulls_added(a, b))
        }
        _ => old == new,
    }
}

#[test]
fn only_null_attributes_count_as_added() {
    use serde_json::json;
    assert!(kept_with_nulls_added(&json!([{"a": 1}]), &json!([{"a": 1, "b": null}])));
    assert!(!kept_with_nulls_added(&json!([{"a": 1}]), &json!([{"a": 1, "b": 2}])));
    assert!(!kept_with_nulls_added(&json!([{"a": 1}]), &json!([{"a": 2, "b": null}])));
    assert!(!kept_with_nulls_added(&json!([{"a": 1}]), &json!([{"b": null}])));
}

#[tokio::test]
async fn a_state_from_a_newer_provider_is_refused() {
    let newer = schema::schema().version + 1;
    let response = upgrade(newer, &previous_release_state()).await;
    assert_eq!(error_summaries(&response), ["Unsupported state version"]);
    assert!(response.upgraded_state.is_none());
}

#[tokio::test]
async fn a_state_that_does_not_fit_the_schema_is_refused() {
    let mut stored = previous_release_state();
    stored["no_such_setting"] = serde_json::json!(true);
    let response = upgrade(PREVIOUS_VERSION, &stored).await;
    assert_eq!(error_summaries(&response), ["Invalid stored state"]);
    let mut stored = previous_release_state();
    stored["max_nodes"] = serde_json::json!(["not", "a", "number"]);
    let response = upgrade(PREVIOUS_VERSION, &stored).await;
    assert_eq!(error_summaries(&response), ["Invalid stored state"]);
}
