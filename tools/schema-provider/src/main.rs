//! terraform-provider-schema-only: serves another provider's published
//! schema to Terraform, and nothing else.
//!
//! `terraform validate` needs each provider's schema to check a
//! configuration: argument names, blocks, required arguments, the attributes
//! references name. Where the real provider cannot be installed (no network
//! but the package registries), this binary stands in for it: copied or
//! linked as `terraform-provider-<name>` into a `dev_overrides` directory,
//! it reads the schema JSON named by `SCHEMA_PROVIDER_FILE` for the provider
//! `SCHEMA_PROVIDER_ADDRESS` and answers the protocol's schema and
//! validation calls. Planning, applying, reading and importing are refused:
//! it creates nothing.

mod schema_json;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use provider::plugin::handshake::{self, MAGIC_COOKIE_KEY};
use provider::plugin::serve::{ServeOptions, Transport, serve};
use provider::tfplugin::{
    ApplyRequest, ApplyResponse, DataSource, Diagnostic, Diagnostics, PlanRequest, PlanResponse, Provider,
    ReadResponse, Resource, Schema, Value,
};

const SCHEMA_FILE_VAR: &str = "SCHEMA_PROVIDER_FILE";
const ADDRESS_VAR: &str = "SCHEMA_PROVIDER_ADDRESS";
const DEFAULT_ADDRESS: &str = "registry.terraform.io/hashicorp/aws";

fn validate_only(type_name: &str) -> Diagnostics {
    Diagnostic::error(
        "Schema-only provider",
        format!("{type_name}: this stand-in serves the schema for `terraform validate` only; it cannot plan, apply, read or import."),
    )
    .into()
}

struct SchemaOnlyResource {
    name: &'static str,
    schema: Schema,
}

#[async_trait]
impl Resource for SchemaOnlyResource {
    fn type_name(&self) -> &'static str {
        self.name
    }
    fn schema(&self) -> Schema {
        self.schema.clone()
    }
    async fn plan(&self, _request: PlanRequest) -> PlanResponse {
        PlanResponse { diagnostics: validate_only(self.name), ..Default::default() }
    }
    async fn apply(&self, _request: ApplyRequest) -> ApplyResponse {
        ApplyResponse { diagnostics: validate_only(self.name), ..Default::default() }
    }
    async fn read(&self, _state: Value, _private: Vec<u8>) -> ReadResponse {
        ReadResponse { diagnostics: validate_only(self.name), ..Default::default() }
    }
    async fn import(&self, _id: &str) -> Result<Value, Diagnostics> {
        Err(validate_only(self.name))
    }
}

struct SchemaOnlyDataSource {
    name: &'static str,
    schema: Schema,
}

#[async_trait]
impl DataSource for SchemaOnlyDataSource {
    fn type_name(&self) -> &'static str {
        self.name
    }
    fn schema(&self) -> Schema {
        self.schema.clone()
    }
    async fn read(&self, _config: Value) -> Result<Value, Diagnostics> {
        Err(validate_only(self.name))
    }
}

struct SchemaOnlyProvider {
    schema: Schema,
    resources: Vec<Arc<dyn Resource>>,
    data_sources: Vec<Arc<dyn DataSource>>,
}

#[async_trait]
impl Provider for SchemaOnlyProvider {
    fn schema(&self) -> Schema {
        self.schema.clone()
    }
    async fn configure(&self, _config: &Value, _terraform_version: &str) -> Diagnostics {
        Diagnostics::new()
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        self.resources.clone()
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        self.data_sources.clone()
    }
}

/// Type names live as long as the process; the protocol layer's traits
/// hand them out as `&'static str`.
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

fn load() -> Result<SchemaOnlyProvider> {
    let path = std::env::var(SCHEMA_FILE_VAR).with_context(|| format!("{SCHEMA_FILE_VAR} is not set"))?;
    let address = std::env::var(ADDRESS_VAR).unwrap_or_else(|_| DEFAULT_ADDRESS.to_string());
    let bytes = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
    let document: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {path}"))?;
    let schemas = schema_json::parse(&document, &address).with_context(|| path.clone())?;
    Ok(SchemaOnlyProvider {
        schema: schemas.provider,
        resources: schemas
            .resources
            .into_iter()
            .map(|(name, schema)| {
                Arc::new(SchemaOnlyResource { name: leak(name), schema }) as Arc<dyn Resource>
            })
            .collect(),
        data_sources: schemas
            .data_sources
            .into_iter()
            .map(|(name, schema)| {
                Arc::new(SchemaOnlyDataSource { name: leak(name), schema }) as Arc<dyn DataSource>
            })
            .collect(),
    })
}

fn main() -> ExitCode {
    let cookie = std::env::var(MAGIC_COOKIE_KEY).ok();
    let versions = std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok();
    if let Err(e) = handshake::negotiate(cookie.as_deref(), versions.as_deref()) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let provider = match load() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("terraform-provider-schema-only: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let tls_disabled = std::env::var_os("TF_DISABLE_PLUGIN_TLS").is_some_and(|v| !v.is_empty());
    let options = ServeOptions {
        transport: Transport::Unix,
        client_cert_pem: if tls_disabled { None } else { std::env::var("PLUGIN_CLIENT_CERT").ok() },
        debug: false,
        provider_address: std::env::var(ADDRESS_VAR).unwrap_or_else(|_| DEFAULT_ADDRESS.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve(Arc::new(provider), options));
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("terraform-provider-schema-only: {e:#}");
            ExitCode::FAILURE
        }
    }
}
