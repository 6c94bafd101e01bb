//! Apply: create and update as one converge, and destroy.

use std::time::Instant;

use super::names::{NAME_TAG, Names};
use super::spec::PipelineSpec;
use super::state::{Parts, Private, fill_state, in_block, resource_tags};
use super::{bucket, compute, efs, jobdefs};
use crate::aws::clients::{AwsClients, ClientSlot};
use crate::aws::stop::{self, StopSignal};
use crate::tfplugin::{ApplyRequest, ApplyResponse, Diagnostic, Diagnostics, Value};

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
        efs::ensure(&clients.efs, &names, &spec.efs, &spec.compute.subnet_ids, &tags, deadline, &mut parts)
            .await?;

        let (ce_arn, cluster) =
            compute::ensure_compute_environment(&clients.batch, &names, &spec.compute, &tags, deadline)
                .await?;
        parts.compute_environment_arn = Some(ce_arn.clone());
        parts.ecs_cluster_arn = Some(cluster);
        let queue = &spec.queue;
        let first = (names.job_queue(), queue.priority);
        parts.job_queue_arn = Some(
            compute::ensure_queue(&clients.batch, first, queue.enabled, &ce_arn, &tags, deadline).await?,
        );
        let later = (names.later_stages_job_queue(), queue.later_stages_priority);
        parts.later_stages_job_queue_arn = Some(
            compute::ensure_queue(&clients.batch, later, queue.enabled, &ce_arn, &tags, deadline).await?,
        );

        let fs_id = parts.file_system_id.clone().unwrap_or_default();
        let ap_id = parts.access_point_id.clone().unwrap_or_default();
        let arns = &mut parts.job_definition_arns;
        jobdefs::ensure(&clients.batch, &names, spec, &fs_id, &ap_id, &tags, arns).await?;
        Ok(())
    }
    .await;
    (parts, result.err().unwrap_or_default())
}

/// Deletes in AWS's order. Returns what is left of the state (null when
/// the pipeline is gone, `state` as it was when a delete failed) with
/// warnings naming what was kept, or the error.
async fn destroy(
    clients: &AwsClients,
    state: &Value,
    private: &Private,
    spec: &PipelineSpec,
    deadline: Instant,
) -> (Value, Diagnostics) {
    let names = Names::new(&spec.name);
    let deleted: Result<Vec<String>, Diagnostics> = async {
        compute::delete_queues_and_environment(&clients.batch, &names, deadline).await?;
        jobdefs::delete_all(&clients.batch, &names).await?;
        let fs_id = in_block(state, "efs", "file_system_id").as_str().map(str::to_string);
        let mut kept = Vec::new();
        // A file system already gone (an earlier destroy that failed later
        // on, or a delete outside Terraform) has nothing left to delete:
        // asking for its access points or mount targets would fail.
        let fs_id = match fs_id {
            Some(id) if efs::describe_fs_by_id(&clients.efs, &id).await?.is_some() => Some(id),
            _ => None,
        };
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
        Ok(kept)
    }
    .await;
    match deleted {
        Ok(kept) => (Value::Null, kept_on_purpose(&spec.name, &kept)),
        Err(diagnostics) => (state.clone(), diagnostics),
    }
}

/// The warning naming what a destroy kept because it holds data.
fn kept_on_purpose(pipeline: &str, kept: &[String]) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if !kept.is_empty() {
        diags.push(Diagnostic::warning(
            "Data kept on purpose",
            format!(
                "batch_pipeline {:?} was destroyed, but these hold data and were kept (force_destroy = false):\n  - {}\nDelete them by hand when you no longer need the data (make cleanup-retained lists them by the tag {NAME_TAG}={}).",
                pipeline,
                kept.join("\n  - "),
                pipeline
            ),
        ));
    }
    diags
}

/// ApplyResourceChange: destroy when nothing is planned, else converge.
pub(super) async fn apply(clients: &ClientSlot, stop: &StopSignal, req: ApplyRequest) -> ApplyResponse {
    let clients = match clients.get() {
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
        let (new_state, diagnostics) = stop::scoped(stop.clone(), destroying).await;
        // What is left remembers what it remembered; what is gone, nothing.
        let private = if new_state.is_null() { Vec::new() } else { req.private };
        return ApplyResponse { new_state, private, diagnostics };
    }
    let (spec, diags) = PipelineSpec::parse(&req.config);
    let Some(spec) = spec else {
        return ApplyResponse { new_state: req.prior, diagnostics: diags, ..Default::default() };
    };
    let timeout = if req.prior.is_null() { spec.timeouts.create } else { spec.timeouts.update };
    let deadline = Instant::now() + timeout;
    let (parts, diagnostics) = stop::scoped(stop.clone(), converge(&clients, &spec, deadline)).await;
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
