//! `batch_pipeline`: AWS Batch compute environment and queue, EFS file
//! system, mount targets and access point, three N_TO_N job definitions and
//! the egress bucket, kept true by Terraform as one resource.
//!
//! Create and update share one idempotent converge: every part is found by
//! its derived name (or EFS creation token) and created only when missing,
//! so a re-apply after a half-failed create adopts what exists.

mod bucket;
mod compute;
mod defaults;
mod efs;
mod import;
mod jobdefs;
mod names;
mod run_config;
pub mod schema;
pub mod spec;
#[cfg(test)]
mod standin_tests;
mod tagging;
mod wait;

use std::collections::BTreeMap;
use std::time::Instant;

use async_trait::async_trait;

use super::clients::{AwsClients, ClientSlot};
use super::stop::{self, StopSignal};
use super::tags;
use crate::tfplugin::conform;
use crate::tfplugin::{
    ApplyRequest, ApplyResponse, AttributePath, Diagnostic, Diagnostics, PlanRequest, PlanResponse,
    ReadResponse, Resource, Schema, Value,
};
use names::{NAME_TAG, Names};
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

/// What converge (or read) found or made; None where a part is missing.
#[derive(Default)]
struct Parts {
    compute_environment_arn: Option<String>,
    ecs_cluster_arn: Option<String>,
    job_queue_arn: Option<String>,
    file_system_id: Option<String>,
    file_system_arn: Option<String>,
    access_point_id: Option<String>,
    access_point_arn: Option<String>,
    mount_target_ids: Option<Vec<String>>,
    job_definition_arns: BTreeMap<String, String>,
    egress_bucket_arn: Option<String>,
    /// Mount targets this converge created.
    mount_targets_added: Vec<String>,
}

/// What the pipeline remembers beyond the state (Terraform's private
/// data): the mount targets it added to a file system the user brought
/// (`efs.file_system_id`), which destroy removes again; the file system
/// and its other mount targets are the user's.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Private {
    #[serde(default)]
    mount_targets_added: Vec<String>,
}

impl Private {
    /// Unreadable bytes (another version's, or none) remember nothing.
    fn read(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    fn to_bytes(&self) -> Vec<u8> {
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
fn fill_state(state: &mut Value, spec: &PipelineSpec, parts: &Parts, tags_all: &BTreeMap<String, String>) {
    state.set_attr("id", Value::string(&spec.name));
    state.set_attr("tags_all", tags::to_value(tags_all));
    state.set_attr("compute_environment_arn", opt_string(&parts.compute_environment_arn));
    state.set_attr("ecs_cluster_arn", opt_string(&parts.ecs_cluster_arn));
    state.set_attr("job_queue_arn", opt_string(&parts.job_queue_arn));
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
fn configured_file_system(config: &Value) -> bool {
    config.get("efs").elements().first().is_some_and(|e| !e.get("file_system_id").is_null())
}

fn set_file_system_id(state: &mut Value, id: Value) {
    set_in_block(state, "efs", "file_system_id", id);
}

/// Sets `attr` in the only element of the list block `block`.
fn set_in_block(state: &mut Value, block: &str, attr: &str, value: Value) {
    if let Some(Value::List(items)) = state.get_mut(block)
        && let Some(first) = items.first_mut()
    {
        first.set_attr(attr, value);
    }
}

/// The first element's `attr` of the list block `block`.
fn in_block<'v>(value: &'v Value, block: &str, attr: &str) -> &'v Value {
    value.get(block).elements().first().map(|b| b.get(attr)).unwrap_or(&Value::Null)
}

/// Replacements that are not: a force-new setting whose prior and planned
/// values mean the same to AWS.
/// - `efs.security_group_ids` null on both sides: a state from before the
///   setting was computed, where null meant the compute groups.
/// - `efs.file_system_id` left out: the id of the pipeline's own file
///   system is computed, and a new one (made again after it was deleted)
///   replaces nothing.
/// - `efs` settings that only shape a file system the pipeline creates,
///   with `file_system_id` given: nothing is created from them.
/// - `instance_types` / `allocation_strategy` null on one side and AWS's
///   value for null (`["optimal"]`, `BEST_FIT_PROGRESSIVE`) on the other.
fn drop_equivalent_replacements(paths: &mut Vec<AttributePath>, config: &Value, prior: &Value) {
    let efs = |attr: &str| AttributePath::attr("efs").then_index(0).then_attr(attr);
    let compute = |attr: &str| AttributePath::attr("compute").then_index(0).then_attr(attr);
    let mut equivalent = Vec::new();
    if in_block(config, "efs", "security_group_ids").is_null()
        && in_block(prior, "efs", "security_group_ids").is_null()
    {
        equivalent.push(efs("security_group_ids"));
    }
    if configured_file_system(config) {
        equivalent.extend(["performance_mode", "kms_key_id"].map(efs));
    } else {
        equivalent.push(efs("file_system_id"));
    }
    // Null and AWS's value for it, either way round.
    let same_or_default = |attr: &str, default: &Value| {
        let (before, after) = (in_block(prior, "compute", attr), in_block(config, "compute", attr));
        [before, after].iter().all(|v| v.is_null() || v.equals(default))
    };
    if same_or_default("instance_types", &Value::Set(vec![Value::string("optimal")])) {
        equivalent.push(compute("instance_types"));
    }
    if same_or_default("allocation_strategy", &Value::string("BEST_FIT_PROGRESSIVE")) {
        equivalent.push(compute("allocation_strategy"));
    }
    paths.retain(|p| !equivalent.contains(p));
}

fn resource_tags(clients: &AwsClients, spec: &PipelineSpec) -> BTreeMap<String, String> {
    let mut all = tags::merged(&clients.default_tags, &Value::Null);
    all.extend(spec.tags.clone());
    all
}

/// Creates what is missing and updates what differs, in dependency order.
/// On failure, returns what exists so far with the error.
async fn converge(clients: &AwsClients, spec: &PipelineSpec, deadline: Instant) -> (Parts, Diagnostics) {
    let names = Names::new(&spec.name);
    let mut tags = resource_tags(clients, spec);
    tags.insert(NAME_TAG.into(), spec.name.clone());
    let mut parts = Parts::default();
    let result: Result<(), Diagnostics> = async {
        let bucket = &spec.egress_bucket;
        parts.egress_bucket_arn =
            Some(bucket::ensure(&clients.s3, &bucket.name, bucket.create, &clients.region, &tags).await?);
        let added = &mut parts.mount_targets_added;
        let subnets = &spec.compute.subnet_ids;
        let efs_parts =
            match efs::ensure(&clients.efs, &names, &spec.efs, subnets, &tags, deadline, added).await {
                Ok(p) => p,
                Err((fs_id, d)) => {
                    parts.file_system_id = fs_id;
                    return Err(d);
                }
            };
        parts.file_system_id = Some(efs_parts.file_system_id.clone());
        parts.file_system_arn = Some(efs_parts.file_system_arn);
        parts.mount_target_ids = Some(efs_parts.mount_target_ids);
        parts.access_point_id = Some(efs_parts.access_point_id.clone());
        parts.access_point_arn = Some(efs_parts.access_point_arn);

        let (ce_arn, cluster) =
            compute::ensure_compute_environment(&clients.batch, &names, &spec.compute, &tags, deadline)
                .await?;
        parts.compute_environment_arn = Some(ce_arn.clone());
        parts.ecs_cluster_arn = Some(cluster);
        parts.job_queue_arn =
            Some(compute::ensure_queue(&clients.batch, &names, &spec.queue, &ce_arn, &tags, deadline).await?);

        let settings = run_config::settings(spec).to_string();
        match jobdefs::ensure(
            &clients.batch,
            &names,
            spec,
            &efs_parts.file_system_id,
            &efs_parts.access_point_id,
            &settings,
            &tags,
        )
        .await
        {
            Ok(arns) => parts.job_definition_arns = arns,
            Err((arns, d)) => {
                parts.job_definition_arns = arns;
                return Err(d);
            }
        }
        Ok(())
    }
    .await;
    (parts, result.err().unwrap_or_default())
}

/// Deletes in AWS's order. Returns warnings naming what was kept.
async fn destroy(
    clients: &AwsClients,
    state: &Value,
    private: &Private,
    spec: &PipelineSpec,
    deadline: Instant,
) -> Diagnostics {
    let names = Names::new(&spec.name);
    let result: Result<Diagnostics, Diagnostics> = async {
        compute::delete_queue(&clients.batch, &names, deadline).await?;
        compute::delete_compute_environment(&clients.batch, &names, deadline).await?;
        jobdefs::delete_all(&clients.batch, &names).await?;
        let fs_id = in_block(state, "efs", "file_system_id").as_str().map(str::to_string);
        let mut kept = Vec::new();
        if let Some(fs_id) = &fs_id {
            efs::delete_access_point(&clients.efs, &names, fs_id).await?;
            // The state always names the file system; only its creation
            // token tells whether this pipeline made it.
            let ours = efs::created_by_pipeline(&clients.efs, &names, fs_id).await?;
            if ours && spec.force_destroy {
                efs::delete_file_system(&clients.efs, fs_id, deadline).await?;
            } else if ours {
                // Its mount targets would hold the subnets and security
                // groups they sit in: whatever created those (the module's
                // network) could not delete them after this. A pipeline of
                // the same name adopts the file system and makes new ones.
                efs::delete_mount_targets(&clients.efs, fs_id, None, deadline).await?;
                kept.push(format!("EFS file system {fs_id} (its mount targets were deleted)"));
            } else {
                let added = Some(private.mount_targets_added.as_slice());
                efs::delete_mount_targets(&clients.efs, fs_id, added, deadline).await?;
            }
        }
        let bucket = &spec.egress_bucket;
        // Only a bucket this pipeline made: a create refused someone
        // else's bucket, but its state still says `create`.
        let ours = bucket.create && bucket::owned_by(&clients.s3, &bucket.name, &spec.name).await?;
        if ours && spec.force_destroy {
            bucket::delete(&clients.s3, &bucket.name).await?;
        } else if ours {
            kept.push(format!("S3 bucket {}", bucket.name));
        }
        let mut diags = Diagnostics::new();
        if !kept.is_empty() {
            diags.push(Diagnostic::warning(
                "Data kept on purpose",
                format!(
                    "batch_pipeline {:?} was destroyed, but these hold data and were kept (force_destroy = false):\n  - {}\nDelete them by hand when you no longer need the data (make cleanup-retained lists them by the tag {NAME_TAG}={}).",
                    spec.name,
                    kept.join("\n  - "),
                    spec.name
                ),
            ));
        }
        Ok(diags)
    }
    .await;
    result.unwrap_or_else(|d| d)
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
        let schema = self.schema();
        let mut planned = req.proposed.clone();
        let (spec, diagnostics) = PipelineSpec::parse(&req.config);
        if diagnostics.has_errors() {
            return PlanResponse { planned, diagnostics, private: req.prior_private, ..Default::default() };
        }
        defaults::plan_defaults(&mut planned, &req.config);
        // Mount target groups left out are the compute groups (as apply
        // resolves them), not the prior value Terraform proposes.
        if in_block(&req.config, "efs", "security_group_ids").is_null() {
            let compute_groups = in_block(&planned, "compute", "security_group_ids").clone();
            set_in_block(&mut planned, "efs", "security_group_ids", compute_groups);
        }
        if req.prior.is_null() {
            conform::mark_computed_unknown(&schema.block, &mut planned);
        } else {
            // A part deleted outside Terraform (read left its id null) is
            // made again: its ids become "known after apply".
            for name in [
                "compute_environment_arn",
                "ecs_cluster_arn",
                "job_queue_arn",
                "file_system_arn",
                "access_point_id",
                "access_point_arn",
                "mount_target_ids",
                "egress_bucket_arn",
                "job_definition_arns",
            ] {
                if req.prior.get(name).is_null() {
                    planned.set_attr(name, Value::unknown());
                }
            }
            if req.prior.get("job_definition_arns").entries().is_some_and(|m| m.len() < schema::STAGES.len())
            {
                planned.set_attr("job_definition_arns", Value::unknown());
            }
            // The file system or its access point gone (read left their
            // ids null): the job definitions name both, so they get new
            // revisions, and a file system the pipeline makes again gets a
            // new id.
            let fs_gone = req.prior.get("file_system_arn").is_null();
            if fs_gone || req.prior.get("access_point_id").is_null() {
                planned.set_attr("job_definition_arns", Value::unknown());
            }
            if fs_gone && !configured_file_system(&req.config) {
                set_file_system_id(&mut planned, Value::unknown());
            }
            // Anything a job definition is made of changed: new revisions.
            let mut jobdef_inputs: Vec<&str> = schema::STAGES.to_vec();
            jobdef_inputs.extend([
                "efs",
                "compute",
                "source",
                "items_per_node",
                "max_nodes",
                "egress_bucket",
            ]);
            if jobdef_inputs.iter().any(|n| !req.prior.get(n).equals(planned.get(n))) {
                planned.set_attr("job_definition_arns", Value::unknown());
            }
        }
        if let (Some(spec), Ok(clients)) = (&spec, self.clients.get()) {
            planned.set_attr("tags_all", tags::to_value(&resource_tags(&clients, spec)));
            planned.set_attr("run_config", Value::string(run_config::build(spec).to_string()));
            planned.set_attr("id", Value::string(&spec.name));
        } else {
            planned.set_attr("tags_all", Value::unknown());
            planned.set_attr("run_config", Value::unknown());
        }
        let mut requires_replace = conform::requires_replace(&schema.block, &req.prior, &planned);
        drop_equivalent_replacements(&mut requires_replace, &req.config, &req.prior);
        PlanResponse { planned, requires_replace, diagnostics, private: req.prior_private }
    }

    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let clients = match self.clients.get() {
            Ok(c) => c,
            Err(diagnostics) => {
                return ApplyResponse { new_state: req.prior, diagnostics, ..Default::default() };
            }
        };
        if req.planned.is_null() {
            let (Some(spec), _) = PipelineSpec::parse(&req.prior) else {
                return ApplyResponse {
                    new_state: req.prior,
                    diagnostics: Diagnostic::error(
                        "Corrupt state",
                        "The stored state of this pipeline cannot be read.",
                    )
                    .into(),
                    ..Default::default()
                };
            };
            let deadline = Instant::now() + spec.timeouts.delete;
            let private = Private::read(&req.private);
            let destroying = destroy(&clients, &req.prior, &private, &spec, deadline);
            let diagnostics = stop::scoped(self.stop.clone(), destroying).await;
            if diagnostics.has_errors() {
                return ApplyResponse { new_state: req.prior, private: req.private, diagnostics };
            }
            return ApplyResponse { new_state: Value::Null, diagnostics, ..Default::default() };
        }
        let (spec, diags) = PipelineSpec::parse(&req.config);
        let Some(spec) = spec else {
            return ApplyResponse { new_state: req.prior, diagnostics: diags, ..Default::default() };
        };
        let timeout = if req.prior.is_null() { spec.timeouts.create } else { spec.timeouts.update };
        let deadline = Instant::now() + timeout;
        let (parts, diagnostics) = stop::scoped(self.stop.clone(), converge(&clients, &spec, deadline)).await;
        let mut new_state = req.planned.clone();
        fill_state(&mut new_state, &spec, &parts, &resource_tags(&clients, &spec));
        // After a failed create, what was never made is null, not "known
        // after apply" (Terraform refuses unknowns in a new state).
        new_state.unknowns_to_null();
        let mut private = Private::read(&req.private);
        if spec.efs.existing_file_system_id.is_some() {
            private.mount_targets_added.extend(parts.mount_targets_added);
        } else {
            // The pipeline's own file system: destroy handles all of it.
            private.mount_targets_added.clear();
        }
        ApplyResponse { new_state, private: private.to_bytes(), diagnostics }
    }

    async fn read(&self, state: Value, private: Vec<u8>) -> ReadResponse {
        let clients = match self.clients.get() {
            Ok(c) => c,
            Err(diagnostics) => return ReadResponse { new_state: state, private, diagnostics },
        };
        match import::refresh(&clients, &state).await {
            Ok(new_state) => ReadResponse { new_state, private, ..Default::default() },
            Err(diagnostics) => ReadResponse { new_state: state, private, diagnostics },
        }
    }

    async fn import(&self, id: &str) -> Result<Value, Diagnostics> {
        let clients = self.clients.get()?;
        import::rebuild(&clients, &self.schema(), id).await
    }
}
