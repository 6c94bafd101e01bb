//! Defaults of optional settings, written into the plan and the state.
//! These attributes are optional *and* computed: left out of the
//! configuration they take the state's value, so a configuration that
//! relies on defaults and one that spells them out both plan cleanly after
//! an import, which can only see the values.

use crate::tfplugin::{Number, Value};

use super::schema::STAGES;

fn int(n: i64) -> Value {
    Value::int(n)
}

fn fill(target: &mut Value, defaults: &[(&str, Value)]) {
    for (name, default) in defaults {
        if target.get(name).is_null() {
            target.set_attr(name, default.clone());
        }
    }
}

fn fill_block(state: &mut Value, block: &str, defaults: &[(&str, Value)]) {
    if let Some(Value::List(items)) = state.get_mut(block) {
        for item in items {
            fill(item, defaults);
        }
    }
}

pub fn stage_defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("vcpus", Value::Number(Number::from_i64(1))),
        ("memory", int(2048)),
        ("retry_attempts", int(3)),
        ("retry_on_exit_codes", Value::Set(vec![int(75)])),
        ("timeout_seconds", int(3600)),
    ]
}

pub fn efs_defaults() -> Vec<(&'static str, Value)> {
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

/// Fills every null defaulted attribute (unknowns are left alone).
pub fn fill_defaults(state: &mut Value) {
    fill(
        state,
        &[
            ("items_per_node", int(40)),
            ("max_nodes", int(10_000)),
            ("force_destroy", Value::Bool(false)),
            ("keep_old_revisions", Value::Bool(false)),
        ],
    );
    fill_block(state, "queue", &[("priority", int(1)), ("state", Value::string("ENABLED"))]);
    fill_block(state, "efs", &efs_defaults());
    fill_block(
        state,
        "egress_bucket",
        &[("create", Value::Bool(true)), ("prefix", Value::string("results"))],
    );
    for stage in STAGES {
        fill_block(state, stage, &stage_defaults());
    }
}

/// The names that are defaulted (schema marks them optional + computed).
pub fn is_defaulted(block: &str, attribute: &str) -> bool {
    let names: Vec<&str> = match block {
        "" => vec!["items_per_node", "max_nodes", "force_destroy", "keep_old_revisions"],
        "queue" => vec!["priority", "state"],
        "efs" => efs_defaults().into_iter().map(|(n, _)| n).collect(),
        "egress_bucket" => vec!["create", "prefix"],
        b if STAGES.contains(&b) => stage_defaults().into_iter().map(|(n, _)| n).collect(),
        _ => vec![],
    };
    names.contains(&attribute)
}
