//! The tfplugin6 `Provider` gRPC service: decodes each request against the
//! right schema, calls the provider's traits, and encodes the answer. Every
//! malformed request becomes an error diagnostic, never a crash.

use std::collections::HashMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::proto::tfplugin6 as pb;
use crate::proto::tfplugin6::provider_server;

use super::diagnostics::{AttributePath, Diagnostic, Diagnostics};
use super::json;
use super::msgpack;
use super::plan_rules;
use super::provider::{
    ApplyRequest, ApplyResponse, DataSource, PlanRequest, PlanResponse, Provider, ReadResponse, Resource,
};
use super::schema::Schema;
use super::types::Type;
use super::validate::{check_config, check_values};
use super::value::Value;

/// Validate*Config: the schema's presence rules; when they hold, each
/// attribute's declared validators and then the handler's own checks. A
/// handler whose typed reader re-runs the declared validators (so plan and
/// apply never act on a value they refuse) repeats their refusals: each is
/// reported once.
fn validated(schema: &Schema, config: &Value, handler: impl FnOnce(&Value) -> Diagnostics) -> Diagnostics {
    let mut diags = check_config(&schema.block, config, &AttributePath::root());
    if !diags.has_errors() {
        diags.extend(check_values(&schema.block, config, &AttributePath::root()));
        diags.merge(handler(config));
    }
    diags
}

struct Registered<T: ?Sized> {
    handler: Arc<T>,
    schema: Schema,
    ty: Type,
}

pub struct ProtocolServer<P: Provider> {
    provider: Arc<P>,
    provider_schema: Schema,
    provider_type: Type,
    resources: HashMap<String, Registered<dyn Resource>>,
    data_sources: HashMap<String, Registered<dyn DataSource>>,
}

impl<P: Provider> ProtocolServer<P> {
    pub fn new(provider: Arc<P>) -> Self {
        let provider_schema = provider.schema();
        let provider_type = provider_schema.value_type();
        let resources = provider
            .resources()
            .into_iter()
            .map(|r| {
                let schema = r.schema();
                let ty = schema.value_type();
                (r.type_name().to_string(), Registered { handler: r, schema, ty })
            })
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|d| {
                let schema = d.schema();
                let ty = schema.value_type();
                (d.type_name().to_string(), Registered { handler: d, schema, ty })
            })
            .collect();
        ProtocolServer { provider, provider_schema, provider_type, resources, data_sources }
    }

    /// The GetProviderSchema answer, also used by tests and `--print-schema`.
    pub fn schema_response(&self) -> pb::get_provider_schema::Response {
        pb::get_provider_schema::Response {
            provider: Some(self.provider_schema.to_proto()),
            resource_schemas: self.resources.iter().map(|(k, r)| (k.clone(), r.schema.to_proto())).collect(),
            data_source_schemas: self
                .data_sources
                .iter()
                .map(|(k, d)| (k.clone(), d.schema.to_proto()))
                .collect(),
            diagnostics: vec![],
            provider_meta: None,
            server_capabilities: Some(capabilities()),
            functions: HashMap::new(),
        }
    }

    fn resource(&self, type_name: &str) -> Result<&Registered<dyn Resource>, Diagnostics> {
        self.resources.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown resource type",
                format!("This provider has no resource type {type_name:?}."),
            )
            .into()
        })
    }

    fn data_source(&self, type_name: &str) -> Result<&Registered<dyn DataSource>, Diagnostics> {
        self.data_sources.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown data source",
                format!("This provider has no data source {type_name:?}."),
            )
            .into()
        })
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        // Destroy needs no plan from us: deleting has no planned values.
        plan_destroy: false,
        // The schema is static, so Terraform may use a cached copy.
        get_provider_schema_optional: true,
        move_resource_state: false,
        generate_resource_config: false,
    }
}

/// Decodes a DynamicValue: msgpack normally, JSON as a fallback; an empty
/// value is null.
pub fn decode_dynamic(dv: Option<&pb::DynamicValue>, ty: &Type, what: &str) -> Result<Value, Diagnostics> {
    let Some(dv) = dv else { return Ok(Value::Null) };
    let result = if !dv.msgpack.is_empty() {
        msgpack::decode(&dv.msgpack, ty)
    } else if !dv.json.is_empty() {
        json::decode_bytes(&dv.json, ty)
    } else {
        return Ok(Value::Null);
    };
    result.map_err(|e| {
        Diagnostic::attribute_error(
            msgpack::error_path(&e),
            format!("Invalid {what}"),
            format!("The provider could not decode the {what}: {e}."),
        )
        .into()
    })
}

pub fn encode_dynamic(value: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    msgpack::encode(value, ty).map(|msgpack| pb::DynamicValue { msgpack, json: vec![] }).map_err(|e| {
        Diagnostic::error(
            format!("Provider produced an invalid {what}"),
            format!("This is a bug in the provider, please report it: {e}."),
        )
        .into()
    })
}

fn diags_only(d: Diagnostics) -> Vec<pb::Diagnostic> {
    d.to_proto()
}

#[tonic::async_trait]
impl<P: Provider> provider_server::Provider for ProtocolServer<P> {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        use pb::get_metadata::{DataSourceMetadata, ResourceMetadata};
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: vec![],
            data_sources: self
                .data_sources
                .keys()
                .map(|k| DataSourceMetadata { type_name: k.clone() })
                .collect(),
            resources: self.resources.keys().map(|k| ResourceMetadata { type_name: k.clone() }).collect(),
            functions: vec![],
        }))
    }

    async fn get_provider_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(self.schema_response()))
    }

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        // No resource of ours declares an identity (import is by name).
        Ok(Response::new(pb::get_resource_identity_schemas::Response::default()))
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let req = request.into_inner();
        let diags = match decode_dynamic(req.config.as_ref(), &self.provider_type, "provider configuration") {
            Ok(config) => validated(&self.provider_schema, &config, |c| self.provider.validate(c)),
            Err(d) => d,
        };
        Ok(Response::new(pb::validate_provider_config::Response { diagnostics: diags_only(diags) }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let req = request.into_inner();
        let diags = (|| {
            let r = self.resource(&req.type_name)?;
            let config = decode_dynamic(req.config.as_ref(), &r.ty, "resource configuration")?;
            Ok::<_, Diagnostics>(validated(&r.schema, &config, |c| r.handler.validate(c)))
        })()
        .unwrap_or_else(|d| d);
        Ok(Response::new(pb::validate_resource_config::Response { diagnostics: diags_only(diags) }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let req = request.into_inner();
        let diags = (|| {
            let d = self.data_source(&req.type_name)?;
            let config = decode_dynamic(req.config.as_ref(), &d.ty, "data source configuration")?;
            Ok::<_, Diagnostics>(validated(&d.schema, &config, |c| d.handler.validate(c)))
        })()
        .unwrap_or_else(|d| d);
        Ok(Response::new(pb::validate_data_resource_config::Response { diagnostics: diags_only(diags) }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let req = request.into_inner();
        let result = (|| {
            let r = self.resource(&req.type_name)?;
            let raw = req.raw_state.unwrap_or_default();
            if raw.json.is_empty() {
                if raw.flatmap.is_empty() {
                    return Ok(pb::upgrade_resource_state::Response::default());
                }
                return Err(Diagnostic::error(
                    "Unsupported legacy state",
                    "This resource's state is in the pre-0.12 flatmap format, which this provider never wrote.",
                )
                .into());
            }
            let stored: serde_json::Value = serde_json::from_slice(&raw.json).map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Invalid stored state",
                    format!("The state is not JSON: {e}."),
                ))
            })?;
            // Said at debug so an upgrade from an older release can be seen
            // in Terraform's provider log (TF_LOG_PROVIDER=debug); the
            // upgrade test looks for it.
            tracing::debug!(
                type_name = %req.type_name,
                from_version = req.version,
                to_version = r.schema.version,
                "upgrading resource state"
            );
            let upgraded = r.handler.upgrade_state(req.version, stored).map_err(Diagnostics::from)?;
            let value = json::decode(&upgraded, &r.ty, &AttributePath::root()).map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Invalid stored state",
                    format!("The stored state does not match the schema: {e}."),
                ))
            })?;
            Ok(pb::upgrade_resource_state::Response {
                upgraded_state: Some(encode_dynamic(&value, &r.ty, "upgraded state")?),
                diagnostics: vec![],
            })
        })();
        Ok(Response::new(result.unwrap_or_else(|d: Diagnostics| pb::upgrade_resource_state::Response {
            upgraded_state: None,
            diagnostics: d.to_proto(),
        })))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let req = request.into_inner();
        let diags = match decode_dynamic(req.config.as_ref(), &self.provider_type, "provider configuration") {
            Ok(config) => self.provider.configure(&config, &req.terraform_version).await,
            Err(d) => d,
        };
        Ok(Response::new(pb::configure_provider::Response { diagnostics: diags.to_proto() }))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = request.into_inner();
        let result = async {
            let r = self.resource(&req.type_name)?;
            let state = decode_dynamic(req.current_state.as_ref(), &r.ty, "current state")?;
            let ReadResponse { new_state, private, diagnostics } = r.handler.read(state, req.private).await;
            Ok::<_, Diagnostics>(pb::read_resource::Response {
                new_state: Some(encode_dynamic(&new_state, &r.ty, "state")?),
                diagnostics: diagnostics.to_proto(),
                private,
                deferred: None,
                new_identity: None,
            })
        }
        .await;
        Ok(Response::new(result.unwrap_or_else(|d| pb::read_resource::Response {
            diagnostics: d.to_proto(),
            ..Default::default()
        })))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = request.into_inner();
        let result = async {
            let r = self.resource(&req.type_name)?;
            let prior = decode_dynamic(req.prior_state.as_ref(), &r.ty, "prior state")?;
            let proposed = decode_dynamic(req.proposed_new_state.as_ref(), &r.ty, "proposed state")?;
            let config = decode_dynamic(req.config.as_ref(), &r.ty, "configuration")?;
            if proposed.is_null() {
                // Destroy: nothing to plan.
                return Ok(pb::plan_resource_change::Response {
                    planned_state: Some(encode_dynamic(&Value::Null, &r.ty, "planned state")?),
                    planned_private: req.prior_private,
                    ..Default::default()
                });
            }
            // The generic plan work first, as terraform-plugin-framework
            // does: declared defaults where the configuration leaves a
            // setting out, and on create every computed value left null
            // "known after apply". The resource's own plan refines that.
            let mut proposed = proposed;
            plan_rules::apply_defaults(&r.schema.block, &mut proposed, &config);
            if prior.is_null() {
                plan_rules::mark_computed_unknown(&r.schema.block, &mut proposed);
            }
            let prior_state = prior.clone();
            let PlanResponse { planned, requires_replace: extra, keeps_in_place, private, diagnostics } = r
                .handler
                .plan(PlanRequest { prior, proposed, config, prior_private: req.prior_private })
                .await;
            if diagnostics.has_errors() {
                return Err(diagnostics);
            }
            // Replacement follows from force_new on the final plan (the
            // resource may have changed force-new values), less what the
            // resource knows to be no real change, plus its own reasons.
            let mut requires_replace = plan_rules::requires_replace(&r.schema.block, &prior_state, &planned);
            requires_replace.retain(|p| !keeps_in_place.contains(p));
            for p in extra {
                if !requires_replace.contains(&p) {
                    requires_replace.push(p);
                }
            }
            Ok(pb::plan_resource_change::Response {
                planned_state: Some(encode_dynamic(&planned, &r.ty, "planned state")?),
                requires_replace: requires_replace.iter().map(AttributePath::to_proto).collect(),
                planned_private: private,
                diagnostics: diagnostics.to_proto(),
                legacy_type_system: false,
                deferred: None,
                planned_identity: None,
            })
        }
        .await;
        Ok(Response::new(result.unwrap_or_else(|d| pb::plan_resource_change::Response {
            diagnostics: d.to_proto(),
            ..Default::default()
        })))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = request.into_inner();
        let result = async {
            let r = self.resource(&req.type_name)?;
            let prior = decode_dynamic(req.prior_state.as_ref(), &r.ty, "prior state")?;
            let planned = decode_dynamic(req.planned_state.as_ref(), &r.ty, "planned state")?;
            let config = decode_dynamic(req.config.as_ref(), &r.ty, "configuration")?;
            let ApplyResponse { new_state, private, diagnostics } =
                r.handler.apply(ApplyRequest { prior, planned, config, private: req.planned_private }).await;
            Ok::<_, Diagnostics>(pb::apply_resource_change::Response {
                new_state: Some(encode_dynamic(&new_state, &r.ty, "new state")?),
                private,
                diagnostics: diagnostics.to_proto(),
                legacy_type_system: false,
                new_identity: None,
            })
        }
        .await;
        Ok(Response::new(result.unwrap_or_else(|d| pb::apply_resource_change::Response {
            diagnostics: d.to_proto(),
            ..Default::default()
        })))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = request.into_inner();
        let result = async {
            let r = self.resource(&req.type_name)?;
            let state = r.handler.import(&req.id).await?;
            Ok::<_, Diagnostics>(pb::import_resource_state::Response {
                imported_resources: vec![pb::import_resource_state::ImportedResource {
                    type_name: req.type_name.clone(),
                    state: Some(encode_dynamic(&state, &r.ty, "imported state")?),
                    private: vec![],
                    identity: None,
                }],
                diagnostics: vec![],
                deferred: None,
            })
        }
        .await;
        Ok(Response::new(result.unwrap_or_else(|d| pb::import_resource_state::Response {
            diagnostics: d.to_proto(),
            ..Default::default()
        })))
    }

    async fn move_resource_state(
        &self,
        request: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        let req = request.into_inner();
        let d = Diagnostic::error(
            "Move not supported",
            format!(
                "Resources of type {:?} cannot be moved to {:?}.",
                req.source_type_name, req.target_type_name
            ),
        );
        Ok(Response::new(pb::move_resource_state::Response {
            diagnostics: vec![d.to_proto()],
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let req = request.into_inner();
        let result = async {
            let d = self.data_source(&req.type_name)?;
            let config = decode_dynamic(req.config.as_ref(), &d.ty, "data source configuration")?;
            let state = d.handler.read(config).await?;
            Ok::<_, Diagnostics>(pb::read_data_source::Response {
                state: Some(encode_dynamic(&state, &d.ty, "data source state")?),
                diagnostics: vec![],
                deferred: None,
            })
        }
        .await;
        Ok(Response::new(result.unwrap_or_else(|d| pb::read_data_source::Response {
            diagnostics: d.to_proto(),
            ..Default::default()
        })))
    }

    async fn get_functions(
        &self,
        _request: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn stop_provider(
        &self,
        _request: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        self.provider.stop().await;
        Ok(Response::new(pb::stop_provider::Response::default()))
    }
}
