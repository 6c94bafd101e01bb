//! The protocol layer's generic plan and validation work, through the gRPC
//! service with a minimal resource: declared defaults planned where the
//! configuration leaves a setting out (not the prior value Terraform
//! proposes), computed values unknown on create, replacement worked out
//! from force_new less what the resource says is no change, and a declared
//! validator's refusal reported once on the attribute's path even when the
//! resource's own checks repeat it.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use provider::proto::tfplugin6 as pb;
use provider::proto::tfplugin6::provider_server::Provider as _;
use provider::tfplugin::server::ProtocolServer;
use provider::tfplugin::validate::check_values;
use provider::tfplugin::{
    ApplyRequest, ApplyResponse, Attribute, AttributePath, Block, DataSource, Diagnostics, PlanRequest,
    PlanResponse, Provider, ReadResponse, Resource, Schema, Type, Validator, Value, msgpack,
};
use tonic::Request;

/// What the resource saw in its last plan.
type Seen = Arc<Mutex<Option<Value>>>;

struct Thing {
    seen: Seen,
}

fn thing_schema() -> Schema {
    Schema::new(
        0,
        Block::new("")
            .attr(Attribute::required("name", Type::String, "").force_new())
            .attr(Attribute::optional("zone", Type::String, "").force_new())
            .attr(
                Attribute::optional("size", Type::Number, "Size.")
                    .validate(Validator::whole_number(1, 10))
                    .default(Value::int(3)),
            )
            .attr(Attribute::computed("arn", Type::String, "")),
    )
}

#[async_trait]
impl Resource for Thing {
    fn type_name(&self) -> &'static str {
        "test_thing"
    }
    fn schema(&self) -> Schema {
        thing_schema()
    }
    /// Repeats the declared checks, as a typed reader used at plan does.
    fn validate(&self, config: &Value) -> Diagnostics {
        check_values(&thing_schema().block, config, &AttributePath::root())
    }
    async fn plan(&self, request: PlanRequest) -> PlanResponse {
        *self.seen.lock().unwrap() = Some(request.proposed.clone());
        // A zone left out is the one AWS chose: no replacement.
        let keeps_in_place =
            if request.config.get("zone").is_null() { vec![AttributePath::attr("zone")] } else { vec![] };
        PlanResponse { planned: request.proposed, keeps_in_place, ..Default::default() }
    }
    async fn apply(&self, _request: ApplyRequest) -> ApplyResponse {
        ApplyResponse::default()
    }
    async fn read(&self, state: Value, private: Vec<u8>) -> ReadResponse {
        ReadResponse { new_state: state, private, ..Default::default() }
    }
    async fn import(&self, _id: &str) -> Result<Value, Diagnostics> {
        Ok(Value::Null)
    }
}

struct TestProvider {
    seen: Seen,
}

#[async_trait]
impl Provider for TestProvider {
    fn schema(&self) -> Schema {
        Schema::new(0, Block::new(""))
    }
    async fn configure(&self, _config: &Value, _terraform_version: &str) -> Diagnostics {
        Diagnostics::new()
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Thing { seen: self.seen.clone() })]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![]
    }
}

fn thing(name: &str, zone: Value, size: Value, arn: Value) -> Value {
    Value::object([("name", Value::string(name)), ("zone", zone), ("size", size), ("arn", arn)])
}

fn dv(value: &Value) -> Option<pb::DynamicValue> {
    let bytes = msgpack::encode(value, &thing_schema().value_type()).expect("encodes");
    Some(pb::DynamicValue { msgpack: bytes, json: vec![] })
}

fn decoded(value: Option<pb::DynamicValue>) -> Value {
    msgpack::decode(&value.expect("a value").msgpack, &thing_schema().value_type()).expect("decodes")
}

fn attribute_names(paths: &[pb::AttributePath]) -> Vec<String> {
    paths
        .iter()
        .flat_map(|p| &p.steps)
        .filter_map(|s| match &s.selector {
            Some(pb::attribute_path::step::Selector::AttributeName(n)) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

async fn plan(prior: &Value, config: &Value, proposed: &Value) -> (Value, Vec<String>, Value) {
    let seen = Seen::default();
    let server = ProtocolServer::new(Arc::new(TestProvider { seen: seen.clone() }));
    let response = server
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: "test_thing".into(),
            prior_state: dv(prior),
            proposed_new_state: dv(proposed),
            config: dv(config),
            ..Default::default()
        }))
        .await
        .expect("a response")
        .into_inner();
    assert!(response.diagnostics.is_empty(), "{:?}", response.diagnostics);
    let seen = seen.lock().unwrap().clone().expect("the resource planned");
    (decoded(response.planned_state), attribute_names(&response.requires_replace), seen)
}

#[tokio::test]
async fn create_plans_the_declared_default_and_computed_values_unknown() {
    let config = thing("a", Value::Null, Value::Null, Value::Null);
    let (planned, replace, seen) = plan(&Value::Null, &config, &config).await;
    assert_eq!(seen.get("size"), &Value::int(3), "the resource sees the default");
    assert!(seen.get("arn").is_unknown());
    assert_eq!(planned.get("size"), &Value::int(3));
    assert!(replace.is_empty(), "nothing to replace on create");
}

#[tokio::test]
async fn update_plans_the_default_over_the_prior_value_and_replaces_on_force_new() {
    let prior = thing("a", Value::string("z1"), Value::int(7), Value::string("arn:1"));
    // Terraform proposes the prior value for an optional + computed
    // setting the configuration no longer has.
    let config = thing("b", Value::Null, Value::Null, Value::Null);
    let proposed = thing("b", Value::string("z1"), Value::int(7), Value::string("arn:1"));
    let (planned, replace, _) = plan(&prior, &config, &proposed).await;
    assert_eq!(planned.get("size"), &Value::int(3), "removed from the configuration: back to its default");
    assert_eq!(replace, vec!["name".to_string()]);

    // A zone changed in the configuration replaces; left out, it does not.
    let moved = thing("a", Value::string("z2"), Value::Null, Value::Null);
    let proposed = thing("a", Value::string("z2"), Value::int(7), Value::string("arn:1"));
    let (_, replace, _) = plan(&prior, &moved, &proposed).await;
    assert_eq!(replace, vec!["zone".to_string()]);
    let unset_zone = thing("a", Value::Null, Value::Null, Value::Null);
    let proposed = thing("a", Value::Null, Value::int(7), Value::string("arn:1"));
    let (_, replace, _) = plan(&prior, &unset_zone, &proposed).await;
    assert!(replace.is_empty(), "{replace:?}");
}

#[tokio::test]
async fn a_declared_validator_refuses_once_on_its_attribute() {
    let server = ProtocolServer::new(Arc::new(TestProvider { seen: Seen::default() }));
    let response = server
        .validate_resource_config(Request::new(pb::validate_resource_config::Request {
            type_name: "test_thing".into(),
            config: dv(&thing("a", Value::Null, Value::int(11), Value::Null)),
            client_capabilities: None,
        }))
        .await
        .expect("a response")
        .into_inner();
    let found: Vec<(String, Vec<String>)> = response
        .diagnostics
        .iter()
        .map(|d| (d.summary.clone(), attribute_names(d.attribute.as_slice())))
        .collect();
    assert_eq!(found, vec![("Invalid size".to_string(), vec!["size".to_string()])]);
    assert_eq!(response.diagnostics[0].detail, "size must be a whole number from 1 to 10; got 11.");
}
