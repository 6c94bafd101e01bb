//! The generic Terraform plugin protocol 6 layer: values, types, schemas,
//! codecs and the gRPC service. No AWS in here; providers plug in through
//! the traits in [`provider`].

pub mod diagnostics;
pub mod json;
pub mod msgpack;
pub mod number;
pub mod plan_rules;
pub mod provider;
pub mod schema;
pub mod server;
pub mod settings;
pub mod types;
pub mod validate;
pub mod validators;
pub mod value;

pub use diagnostics::{AttributePath, Diagnostic, Diagnostics};
pub use number::Number;
pub use provider::{
    ApplyRequest, ApplyResponse, DataSource, PlanRequest, PlanResponse, Provider, ReadResponse, Resource,
};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Presence, Schema};
pub use settings::{Findings, SettingsReader};
pub use types::Type;
pub use validators::{TextRule, Validator};
pub use value::Value;
