//! CSV validation with a Frictionless Table Schema rule set.

mod checks;
mod compiled;
mod fast;
mod pattern;
mod record_end;
mod rules;
mod schema;
mod shape;
mod validate;
pub mod values;

pub use compiled::CompiledRules;
pub use pattern::Pattern;
pub use rules::{FieldRule, Violation};
pub use schema::{Constraints, Dialect, FieldDescriptor, PrimaryKey, RuleSet, TableSchema};
pub use validate::{CsvError, CsvStats, RejectRecord, ValidateOptions, validate_csv};

/// The shipped GHCN-Daily by-year rule set (see docs/jobs.md).
pub const GHCN_DAILY_JSON: &str = include_str!("../../../rules/ghcn-daily.json");

/// Names of the rule sets shipped in the binary.
pub const BUILTIN_RULE_SETS: &[&str] = &["ghcn-daily"];

/// The shipped rule set called `name`.
pub fn builtin_rule_set(name: &str) -> Result<RuleSet, String> {
    let text = match name {
        "ghcn-daily" => GHCN_DAILY_JSON,
        other => {
            return Err(format!("unknown builtin rule set {other:?} (known: {BUILTIN_RULE_SETS:?})"));
        }
    };
    serde_json::from_str(text).map_err(|e| format!("builtin rule set {name}: {e}"))
}
