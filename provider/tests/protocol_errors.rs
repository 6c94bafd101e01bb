//! Malformed requests straight into the protocol service (no Terraform in
//! between to clean them up): each must come back as an error diagnostic
//! that says what is wrong and where, never as a crash or a gRPC failure.
#![cfg(feature = "test-resources")]

use std::sync::Arc;

use provider::aws::provider::BatchProvider;
use provider::proto::tfplugin6 as pb;
use provider::proto::tfplugin6::provider_server::Provider as _;
use provider::tfplugin::msgpack;
use provider::tfplugin::server::ProtocolServer;
use provider::tfplugin::{Type, Value};
use tonic::Request;

fn server() -> ProtocolServer<BatchProvider> {
    ProtocolServer::new(Arc::new(BatchProvider::new()))
}

fn bucket_type() -> Type {
    let schemas = server().schema_response();
    let block = schemas.resource_schemas["batch_test_bucket"].block.clone().unwrap();
    let attrs = block
        .attributes
        .iter()
        .map(|a| (a.name.clone(), Type::from_json_bytes(&a.r#type).unwrap()))
        .collect::<Vec<_>>();
    Type::object(attrs)
}

fn dv(bytes: Vec<u8>) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue { msgpack: bytes, json: vec![] })
}

fn error_summaries(diags: &[pb::Diagnostic]) -> Vec<(String, String)> {
    diags
        .iter()
        .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
        .map(|d| {
            let path = d
                .attribute
                .as_ref()
                .map(|p| {
                    p.steps
                        .iter()
                        .filter_map(|s| match &s.selector {
                            Some(pb::attribute_path::step::Selector::AttributeName(n)) => Some(n.clone()),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .unwrap_or_default();
            (d.summary.clone(), path)
        })
        .collect()
}

async fn validate(type_name: &str, config: Option<pb::DynamicValue>) -> Vec<(String, String)> {
    error_summaries(&validate_diagnostics(type_name, config).await)
}

async fn validate_diagnostics(type_name: &str, config: Option<pb::DynamicValue>) -> Vec<pb::Diagnostic> {
    server()
        .validate_resource_config(Request::new(pb::validate_resource_config::Request {
            type_name: type_name.into(),
            config,
            client_capabilities: None,
        }))
        .await
        .expect("a diagnostic, not a gRPC error")
        .into_inner()
        .diagnostics
}

#[tokio::test]
async fn bad_msgpack_is_a_diagnostic() {
    let errors = validate("batch_test_bucket", dv(vec![0xc1, 0xff, 0x00])).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "Invalid resource configuration");
}

#[tokio::test]
async fn truncated_msgpack_is_a_diagnostic() {
    let good = msgpack::encode(&Value::object([("name", Value::string("abc"))]), &bucket_type()).unwrap();
    let diagnostics = validate_diagnostics("batch_test_bucket", dv(good[..good.len() - 2].to_vec())).await;
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let d = &diagnostics[0];
    assert_eq!(d.severity, pb::diagnostic::Severity::Error as i32, "{d:?}");
    assert_eq!(d.summary, "Invalid resource configuration", "{d:?}");
    // It says the data ended early, not just that something failed.
    assert!(d.detail.contains("unexpected end of msgpack data"), "{d:?}");
}

#[tokio::test]
async fn wrong_type_points_at_the_attribute() {
    // `name` is a string; send a number.
    let bytes = vec![0x81, 0xa4, b'n', b'a', b'm', b'e', 0x05];
    let errors = validate("batch_test_bucket", dv(bytes)).await;
    assert_eq!(errors, vec![("Invalid resource configuration".to_string(), "name".to_string())]);
}

#[tokio::test]
async fn missing_required_attribute_points_at_it() {
    let config = msgpack::encode(&Value::null_object(&bucket_type()), &bucket_type()).unwrap();
    let errors = validate("batch_test_bucket", dv(config)).await;
    assert_eq!(errors, vec![("Missing required argument".to_string(), "name".to_string())]);
}

#[tokio::test]
async fn unknown_type_is_a_diagnostic() {
    let errors = validate("batch_nope", None).await;
    assert_eq!(errors[0].0, "Unknown resource type");
}

#[tokio::test]
async fn plan_with_a_corrupt_prior_state_is_a_diagnostic() {
    let response = server()
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "batch_test_bucket".into(),
            prior_state: dv(vec![0x92, 0x01]),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(error_summaries(&response.diagnostics)[0].0, "Invalid prior state");
    assert!(response.planned_state.is_none());
}

#[tokio::test]
async fn state_upgrades_reject_garbage_and_unknown_versions() {
    let upgrade = |version: i64, json: &[u8]| {
        let json = json.to_vec();
        async move {
            server()
                .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                    type_name: "batch_test_bucket".into(),
                    version,
                    raw_state: Some(pb::RawState { json, flatmap: Default::default() }),
                }))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let r = upgrade(1, b"{not json").await;
    assert_eq!(error_summaries(&r.diagnostics)[0].0, "Invalid stored state");
    let r = upgrade(7, b"{}").await;
    assert_eq!(error_summaries(&r.diagnostics)[0].0, "Unsupported state version");
    let r = upgrade(1, br#"{"name": 12, "surprise": true}"#).await;
    assert_eq!(error_summaries(&r.diagnostics)[0].0, "Invalid stored state");
    // A good version-0 state comes back as version-1 msgpack with `name`.
    let r =
        upgrade(0, br#"{"id":"b","bucket":"b","arn":null,"region":null,"tags":null,"tags_all":null}"#).await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let state = msgpack::decode(&r.upgraded_state.unwrap().msgpack, &bucket_type()).unwrap();
    assert_eq!(state.get("name"), &Value::string("b"));
}

#[tokio::test]
async fn provider_config_of_the_wrong_shape_is_a_diagnostic() {
    let response = server()
        .configure_provider(Request::new(pb::configure_provider::Request {
            terraform_version: "1.15.5".into(),
            config: Some(pb::DynamicValue {
                msgpack: vec![],
                json: br#"{"region": ["not", "a", "string"]}"#.to_vec(),
            }),
            client_capabilities: None,
        }))
        .await
        .unwrap()
        .into_inner();
    let errors = error_summaries(&response.diagnostics);
    assert_eq!(errors, vec![("Invalid provider configuration".to_string(), "region".to_string())]);
}
