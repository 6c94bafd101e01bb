//! `batch_pipeline`: AWS Batch compute environment and queue, EFS file
//! system, mount targets and access point, three N_TO_N job definitions and
//! the egress bucket, kept true by Terraform as one resource.
//!
//! Create and update share one idempotent converge: every part is found by
//! its derived name (or EFS creation token) and created only when missing,
//! so a re-apply after a half-failed create adopts what exists.
//!
//! Laid out by lifecycle: `plan.rs`, `apply.rs` (converge and destroy),
//! `read.rs` (read and import), `state.rs` (what they write into the
//! state); this file only hands the `Resource` calls to them.
//!
//! A step that can stop half way, having changed AWS, returns what it got
//! to with its diagnostics, `(T, Diagnostics)` (converge: the parts made so
//! far; destroy: what is left of the state), as `PipelineSpec::parse` does,
//! so the caller records it. A step that changes nothing returns
//! `Result<T, Diagnostics>` (read, import and the lookups under them).

mod apply;
mod bucket;
mod compute;
mod efs;
mod jobdefs;
mod names;
mod part_tags;
mod plan;
mod read;
mod run_config;
pub mod schema;
pub mod spec;
#[cfg(test)]
mod standin_tests;
mod state;
mod wait;

use async_trait::async_trait;

use super::clients::ClientSlot;
use super::stop::StopSignal;
use crate::tfplugin::{
    ApplyRequest, ApplyResponse, Diagnostics, PlanRequest, PlanResponse, ReadResponse, Resource, Schema,
    Value,
};
use spec::PipelineSpec;

pub struct Pipeline {
    clients: ClientSlot,
    stop: StopSignal,
}

impl Pipeline {
    pub fn new(clients: ClientSlot, stop: StopSignal) -> Self {
        Pipeline { clients, stop }
    }
}

#[async_trait]
impl Resource for Pipeline {
    fn type_name(&self) -> &'static str {
        "batch_pipeline"
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        PipelineSpec::parse(config).1
    }

    async fn plan(&self, req: PlanRequest) -> PlanResponse {
        plan::plan(&self.clients, req)
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        apply::apply(&self.clients, &self.stop, req).await
    }

    async fn read(&self, state: Value, private: Vec<u8>) -> ReadResponse {
        read::read(&self.clients, state, private).await
    }

    async fn import(&self, id: &str) -> Result<Value, Diagnostics> {
        read::import(&self.clients, id).await
    }
}
