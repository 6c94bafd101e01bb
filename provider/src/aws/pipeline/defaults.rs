//! The declared defaults, for the callers that have not moved to the
//! declaration yet (the plan and import, until they move to their lifecycle
//! files: issue #20). Derived from schema.rs; nothing is declared here.

use crate::tfplugin::Value;
use crate::tfplugin::plan_rules::apply_defaults;

use super::schema::declaration;

/// Plans the declared defaults (the protocol layer has already done so;
/// doing it again changes nothing).
pub fn plan_defaults(planned: &mut Value, config: &Value) {
    apply_defaults(&declaration().block, planned, config);
}

pub use super::schema::default_of;
