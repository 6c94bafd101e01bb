//! The traits a provider implements to plug into the protocol layer. Nothing
//! here knows about AWS: the protocol server decodes requests against these
//! schemas, calls these methods and encodes their answers.

use std::sync::Arc;

use async_trait::async_trait;

use super::diagnostics::{AttributePath, Diagnostic, Diagnostics};
use super::schema::Schema;
use super::value::Value;

pub struct PlanRequest {
    /// Null when the resource is being created.
    pub prior: Value,
    /// Terraform's proposal (the config merged with prior computed values)
    /// with the schema's plan work done: declared defaults filled in where
    /// the config leaves them out and, on create, computed values unknown.
    pub proposed: Value,
    pub config: Value,
    pub prior_private: Vec<u8>,
}

#[derive(Default)]
pub struct PlanResponse {
    pub planned: Value,
    /// Replacements beyond the schema's: the protocol layer itself reports
    /// every `force_new` attribute whose planned value differs from the
    /// prior state's.
    pub requires_replace: Vec<AttributePath>,
    /// `force_new` paths whose change the resource knows to be none (null
    /// and the value AWS chose for it, say): no replacement for them.
    pub keeps_in_place: Vec<AttributePath>,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct ApplyRequest {
    /// Null on create.
    pub prior: Value,
    /// Null on destroy.
    pub planned: Value,
    pub config: Value,
    pub private: Vec<u8>,
}

#[derive(Default)]
pub struct ApplyResponse {
    /// On failure, what exists now (so Terraform can taint it), or Null.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

#[derive(Default)]
pub struct ReadResponse {
    /// Null when the resource no longer exists.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

/// A managed resource type.
#[async_trait]
pub trait Resource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;

    /// Checks beyond the schema's (its presence rules and each attribute's
    /// declared validators run first): rules that relate settings. The
    /// config may contain unknowns: skip what cannot be checked yet.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    async fn plan(&self, request: PlanRequest) -> PlanResponse;
    async fn apply(&self, request: ApplyRequest) -> ApplyResponse;
    async fn read(&self, state: Value, private: Vec<u8>) -> ReadResponse;

    /// The state to read after `terraform import` with this id (the read
    /// that follows fills in the rest).
    async fn import(&self, id: &str) -> Result<Value, Diagnostics>;

    /// Upgrades a stored state (JSON) written by an older schema version to
    /// the current one. The default accepts only the current version.
    fn upgrade_state(
        &self,
        from_version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostic> {
        let current = self.schema().version;
        if from_version == current {
            Ok(state)
        } else {
            Err(Diagnostic::error(
                "Unsupported state version",
                format!(
                    "{} state version {from_version} cannot be upgraded to {current}; this provider is older than the one that wrote the state.",
                    self.type_name()
                ),
            ))
        }
    }
}

/// A data source type.
#[async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// The data source's full value (config plus computed attributes).
    async fn read(&self, config: Value) -> Result<Value, Diagnostics>;
}

/// A provider: its own configuration and the types it serves.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    async fn configure(&self, config: &Value, terraform_version: &str) -> Diagnostics;
    fn resources(&self) -> Vec<Arc<dyn Resource>>;
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;

    /// StopProvider: Terraform was interrupted; abandon long waits promptly.
    async fn stop(&self) {}
}
