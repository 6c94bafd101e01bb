//! The pipeline's state: the parts found or made, what is remembered
//! privately, and the helpers that write them into a state value.

use std::collections::BTreeMap;

use super::run_config;
use super::spec::PipelineSpec;
use crate::aws::clients::AwsClients;
use crate::aws::tags_all;
use crate::tfplugin::Value;

/// What converge (or read) found or made; None where a part is missing.
#[derive(Default)]
pub(super) struct Parts {
    pub(super) compute_environment_arn: Option<String>,
    pub(super) ecs_cluster_arn: Option<String>,
    pub(super) job_queue_arn: Option<String>,
    pub(super) later_stages_job_queue_arn: Option<String>,
    pub(super) file_system_id: Option<String>,
    pub(super) file_system_arn: Option<String>,
    pub(super) access_point_id: Option<String>,
    pub(super) access_point_arn: Option<String>,
    pub(super) mount_target_ids: Option<Vec<String>>,
    pub(super) job_definition_arns: BTreeMap<String, String>,
    pub(super) egress_bucket_arn: Option<String>,
    /// Mount targets this converge created.
    pub(super) mount_targets_added: Vec<String>,
}

/// What the pipeline remembers beyond the state (Terraform's private
/// data): the mount targets it added to a file system the user brought
/// (`efs.file_system_id`), which destroy removes again; the file system
/// and its other mount targets are the user's.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Private {
    #[serde(default)]
    pub(super) mount_targets_added: Vec<String>,
}

impl Private {
    /// Unreadable bytes (another version's, or none) remember nothing.
    pub(super) fn read(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub(super) fn to_bytes(&self) -> Vec<u8> {
        if self.mount_targets_added.is_empty() {
            return Vec::new();
        }
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn opt_string(v: &Option<String>) -> Value {
    v.as_ref().map(Value::string).unwrap_or(Value::Null)
}

/// Writes the computed attributes into a state value.
pub(super) fn fill_state(
    state: &mut Value,
    spec: &PipelineSpec,
    parts: &Parts,
    tags_all: &BTreeMap<String, String>,
) {
    state.set_attr("id", Value::string(&spec.name));
    state.set_attr("tags_all", tags_all::to_value(tags_all));
    state.set_attr("compute_environment_arn", opt_string(&parts.compute_environment_arn));
    state.set_attr("ecs_cluster_arn", opt_string(&parts.ecs_cluster_arn));
    state.set_attr("job_queue_arn", opt_string(&parts.job_queue_arn));
    state.set_attr("later_stages_job_queue_arn", opt_string(&parts.later_stages_job_queue_arn));
    state.set_attr("file_system_arn", opt_string(&parts.file_system_arn));
    state.set_attr("access_point_id", opt_string(&parts.access_point_id));
    state.set_attr("access_point_arn", opt_string(&parts.access_point_arn));
    state.set_attr(
        "mount_target_ids",
        parts
            .mount_target_ids
            .as_ref()
            .map(|ids| Value::List(ids.iter().map(Value::string).collect()))
            .unwrap_or(Value::Null),
    );
    state.set_attr(
        "job_definition_arns",
        if parts.job_definition_arns.is_empty() {
            Value::Null
        } else {
            Value::Map(parts.job_definition_arns.iter().map(|(k, v)| (k.clone(), Value::string(v))).collect())
        },
    );
    state.set_attr("egress_bucket_arn", opt_string(&parts.egress_bucket_arn));
    state.set_attr("run_config", Value::string(run_config::build(spec).to_string()));
    if let Some(id) = &parts.file_system_id {
        set_file_system_id(state, Value::string(id));
    }
    // The mount targets' groups: the configured ones, else the compute's.
    let groups = spec.efs.security_group_ids.iter().map(Value::string).collect();
    set_in_block(state, "efs", "security_group_ids", Value::Set(groups));
}

/// Whether the configuration names an existing file system.
pub(super) fn configured_file_system(config: &Value) -> bool {
    config.get("efs").elements().first().is_some_and(|e| !e.get("file_system_id").is_null())
}

pub(super) fn set_file_system_id(state: &mut Value, id: Value) {
    set_in_block(state, "efs", "file_system_id", id);
}

/// Sets `attr` in the only element of the list block `block`.
pub(super) fn set_in_block(state: &mut Value, block: &str, attr: &str, value: Value) {
    if let Some(Value::List(items)) = state.get_mut(block)
        && let Some(first) = items.first_mut()
    {
        first.set_attr(attr, value);
    }
}

/// The first element's `attr` of the list block `block`.
pub(super) fn in_block<'v>(value: &'v Value, block: &str, attr: &str) -> &'v Value {
    value.get(block).elements().first().map(|b| b.get(attr)).unwrap_or(&Value::Null)
}

pub(super) fn resource_tags(clients: &AwsClients, spec: &PipelineSpec) -> BTreeMap<String, String> {
    let mut all = tags_all::merged(&clients.default_tags, &Value::Null);
    all.extend(spec.tags.clone());
    all
}
