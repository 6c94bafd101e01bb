//! Defaults of optional settings, written into the plan and the state.
//! These attributes are optional *and* computed, so the plan can show the
//! default as a known value; a configuration that relies on defaults and
//! one that spells them out then plan alike (after an import too, which
//! can only see the values).

use crate::tfplugin::{Number, Value};

use super::schema::STAGES;

fn int(n: i64) -> Value {
    Value::int(n)
}

fn stage_defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("vcpus", Value::Number(Number::from_i64(1))),
        ("memory", int(2048)),
        ("retry_attempts", int(3)),
        ("retry_on_exit_codes", Value::Set(vec![int(i64::from(contract::retry::RETRYABLE_EXIT_CODE))])),
        ("timeout_seconds", int(3600)),
    ]
}

fn efs_defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("performance_mode", Value::string("generalPurpose")),
        ("throughput_mode", Value::string("elastic")),
        ("root_directory", Value::string("/pipeline")),
        ("posix_uid", int(1000)),
        ("posix_gid", int(1000)),
        ("permissions", Value::string("0750")),
        ("mount_path", Value::string("/mnt/efs")),
    ]
}

/// The defaulted attributes of a block ("" for the resource itself).
fn defaults_of(block: &str) -> Vec<(&'static str, Value)> {
    match block {
        "" => vec![
            ("items_per_node", int(40)),
            ("max_nodes", int(10_000)),
            ("force_destroy", Value::Bool(false)),
            ("keep_old_revisions", Value::Bool(false)),
        ],
        "queue" => vec![("priority", int(1)), ("state", Value::string("ENABLED"))],
        "efs" => efs_defaults(),
        "egress_bucket" => vec![("create", Value::Bool(true)), ("prefix", Value::string("results"))],
        b if STAGES.contains(&b) => stage_defaults(),
        _ => vec![],
    }
}

/// The blocks with defaulted attributes.
const BLOCKS: [&str; 6] = ["queue", "efs", "egress_bucket", STAGES[0], STAGES[1], STAGES[2]];

/// Plans the defaults: every defaulted attribute the configuration leaves
/// out is planned as its default. Terraform proposes the *prior* value for
/// an optional + computed attribute left out of the configuration, so
/// without this, removing `force_destroy = true` would keep it true (and
/// apply, which reads the configuration, would disagree with the plan).
/// Unknown and set values are left as proposed.
pub fn plan_defaults(planned: &mut Value, config: &Value) {
    fill_unset(planned, config, &defaults_of(""));
    for block in BLOCKS {
        let defaults = defaults_of(block);
        let configured = config.get(block).elements();
        if let Some(Value::List(items)) = planned.get_mut(block) {
            for (item, config_item) in items.iter_mut().zip(configured) {
                fill_unset(item, config_item, &defaults);
            }
        }
    }
}

fn fill_unset(planned: &mut Value, config: &Value, defaults: &[(&str, Value)]) {
    for (name, default) in defaults {
        if config.get(name).is_null() {
            planned.set_attr(name, default.clone());
        }
    }
}

/// The default of a defaulted attribute.
pub fn default_of(block: &str, attribute: &str) -> Option<Value> {
    defaults_of(block).into_iter().find(|(name, _)| *name == attribute).map(|(_, v)| v)
}

/// The names that are defaulted (schema marks them optional + computed).
pub fn is_defaulted(block: &str, attribute: &str) -> bool {
    defaults_of(block).iter().any(|(name, _)| *name == attribute)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(force_destroy: Value, memory: Value) -> Value {
        Value::object([
            ("force_destroy", force_destroy),
            ("items_per_node", Value::unknown()),
            ("processing", Value::List(vec![Value::object([("memory", memory)])])),
        ])
    }

    #[test]
    fn a_setting_left_out_is_planned_as_its_default_not_the_prior_value() {
        // Proposed by Terraform: the prior state's values for settings the
        // configuration no longer has.
        let mut planned = pipeline(Value::Bool(true), Value::int(4096));
        let config = pipeline(Value::Null, Value::Null);
        plan_defaults(&mut planned, &config);
        assert_eq!(planned.get("force_destroy"), &Value::Bool(false));
        assert_eq!(planned.get("processing").elements()[0].get("memory"), &Value::int(2048));
        assert_eq!(planned.get("max_nodes"), &Value::int(10_000));
    }

    #[test]
    fn set_and_unknown_settings_are_kept() {
        let mut planned = pipeline(Value::Bool(true), Value::unknown());
        let config = pipeline(Value::Bool(true), Value::unknown());
        plan_defaults(&mut planned, &config);
        assert_eq!(planned.get("force_destroy"), &Value::Bool(true));
        assert!(planned.get("processing").elements()[0].get("memory").is_unknown());
        assert!(planned.get("items_per_node").is_unknown());
    }
}
