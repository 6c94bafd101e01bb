//! Plan: what the protocol layer cannot know from the schema (it has
//! already planned the declared defaults and, on create, marked computed
//! values unknown; it works out replacement from force_new): unknowns for
//! what apply will make again, and the force-new changes that are none.

use super::spec::PipelineSpec;
use super::state::{configured_file_system, in_block, resource_tags, set_file_system_id, set_in_block};
use super::{run_config, schema};
use crate::aws::clients::ClientSlot;
use crate::aws::tags_all;
use crate::tfplugin::{AttributePath, PlanRequest, PlanResponse, Value};

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
fn equivalent_replacements(config: &Value, prior: &Value) -> Vec<AttributePath> {
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
    equivalent
}

/// PlanResourceChange, after the protocol layer's defaults and unknowns:
/// unknown what apply will make again, and the force-new changes that
/// change nothing in AWS (so replace nothing).
pub(super) fn plan(clients: &ClientSlot, req: PlanRequest) -> PlanResponse {
    let mut planned = req.proposed.clone();
    let (spec, diagnostics) = PipelineSpec::parse(&req.config);
    if diagnostics.has_errors() {
        return PlanResponse { planned, diagnostics, private: req.prior_private, ..Default::default() };
    }
    // Mount target groups left out are the compute groups (as apply
    // resolves them), not the prior value Terraform proposes.
    if in_block(&req.config, "efs", "security_group_ids").is_null() {
        let compute_groups = in_block(&planned, "compute", "security_group_ids").clone();
        set_in_block(&mut planned, "efs", "security_group_ids", compute_groups);
    }
    if !req.prior.is_null() {
        // A part deleted outside Terraform (read left its id null) is
        // made again: its ids become "known after apply".
        for name in [
            "compute_environment_arn",
            "ecs_cluster_arn",
            "job_queue_arn",
            "later_stages_job_queue_arn",
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
        if req.prior.get("job_definition_arns").entries().is_some_and(|m| m.len() < schema::STAGES.len()) {
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
        jobdef_inputs.extend(["efs", "compute", "source", "items_per_node", "max_nodes", "egress_bucket"]);
        // The lifecycle policy is not in the definitions.
        let (mut prior, mut next) = (req.prior.clone(), planned.clone());
        set_in_block(&mut prior, "efs", "transition_to_ia", Value::Null);
        set_in_block(&mut next, "efs", "transition_to_ia", Value::Null);
        if jobdef_inputs.iter().any(|n| !prior.get(n).equals(next.get(n))) {
            planned.set_attr("job_definition_arns", Value::unknown());
        }
    }
    if let (Some(spec), Ok(clients)) = (&spec, clients.get()) {
        planned.set_attr("tags_all", tags_all::to_value(&resource_tags(&clients, spec)));
        planned.set_attr("run_config", Value::string(run_config::build(spec).to_string()));
        planned.set_attr("id", Value::string(&spec.name));
    } else {
        planned.set_attr("tags_all", Value::unknown());
        planned.set_attr("run_config", Value::unknown());
    }
    let keeps_in_place = equivalent_replacements(&req.config, &req.prior);
    PlanResponse { planned, keeps_in_place, diagnostics, private: req.prior_private, ..Default::default() }
}
