//! The compute environment and the job queues (procurement's, and the
//! higher-priority one of the later stages on the same environment):
//! ensure (create or adopt and update), read, and delete in AWS's order
//! with waits.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_batch::Client;
use aws_sdk_batch::types::{
    CeState, CeStatus, CeType, ComputeEnvironmentDetail, ComputeEnvironmentOrder, ComputeResource,
    ComputeResourceUpdate, CrAllocationStrategy, CrType, JobQueueDetail, JqState, JqStatus,
};

use super::names::Names;
use super::part_tags;
use super::spec::{Compute, ComputeType};
use super::wait::{self, Poll, aws_error};
use crate::tfplugin::Diagnostics;

const FIRST_POLL: Duration = Duration::from_millis(200);

pub async fn describe_ce(
    batch: &Client,
    name: &str,
) -> Result<Option<ComputeEnvironmentDetail>, Diagnostics> {
    let out = batch
        .describe_compute_environments()
        .compute_environments(name)
        .send()
        .await
        .map_err(|e| aws_error("DescribeComputeEnvironments", e))?;
    // A deleted environment lingers as DELETED for a while: it is gone.
    Ok(out.compute_environments().iter().find(|c| c.status() != Some(&CeStatus::Deleted)).cloned())
}

pub async fn describe_queue(batch: &Client, name: &str) -> Result<Option<JobQueueDetail>, Diagnostics> {
    let out = batch
        .describe_job_queues()
        .job_queues(name)
        .send()
        .await
        .map_err(|e| aws_error("DescribeJobQueues", e))?;
    Ok(out.job_queues().iter().find(|q| q.status() != Some(&JqStatus::Deleted)).cloned())
}

fn cr_type(kind: ComputeType) -> CrType {
    match kind {
        ComputeType::Fargate => CrType::Fargate,
        ComputeType::FargateSpot => CrType::FargateSpot,
        ComputeType::Ec2 => CrType::Ec2,
        ComputeType::Spot => CrType::Spot,
    }
}

/// Creates the compute environment, or adopts the existing one and brings
/// its updatable settings in line; waits until VALID. Returns
/// (environment ARN, ECS cluster ARN).
pub async fn ensure_compute_environment(
    batch: &Client,
    names: &Names,
    compute: &Compute,
    tags: &BTreeMap<String, String>,
    deadline: Instant,
) -> Result<(String, String), Diagnostics> {
    let name = names.compute_environment();
    match describe_ce(batch, &name).await? {
        None => {
            let mut resources = ComputeResource::builder()
                .r#type(cr_type(compute.kind))
                .maxv_cpus(compute.max_vcpus)
                .set_subnets(Some(compute.subnet_ids.clone()))
                .set_security_group_ids(Some(compute.security_group_ids.clone()));
            if !compute.kind.is_fargate() {
                let types = if compute.instance_types.is_empty() {
                    vec!["optimal".to_string()]
                } else {
                    compute.instance_types.clone()
                };
                resources = resources
                    .minv_cpus(compute.min_vcpus)
                    .set_instance_types(Some(types))
                    .set_instance_role(compute.instance_role.clone())
                    .allocation_strategy(CrAllocationStrategy::from(
                        compute.allocation_strategy.as_deref().unwrap_or("BEST_FIT_PROGRESSIVE"),
                    ))
                    .set_bid_percentage(compute.bid_percentage);
            }
            let resources = resources.build();
            batch
                .create_compute_environment()
                .compute_environment_name(&name)
                .r#type(CeType::Managed)
                .state(CeState::Enabled)
                .compute_resources(resources)
                .set_service_role(compute.service_role_arn.clone())
                .set_tags(Some(tags.clone().into_iter().collect::<HashMap<_, _>>()))
                .send()
                .await
                .map_err(|e| aws_error("CreateComputeEnvironment", e))?;
        }
        Some(existing) => {
            let current = existing.compute_resources();
            let max_now = current.and_then(|c| c.maxv_cpus());
            let min_now = current.and_then(|c| c.minv_cpus()).unwrap_or(0);
            let enabled = existing.state() == Some(&CeState::Enabled);
            let wants_min = !compute.kind.is_fargate() && min_now != compute.min_vcpus;
            if max_now != Some(compute.max_vcpus) || wants_min || !enabled {
                let mut update = ComputeResourceUpdate::builder().maxv_cpus(compute.max_vcpus);
                if !compute.kind.is_fargate() {
                    update = update.minv_cpus(compute.min_vcpus);
                }
                batch
                    .update_compute_environment()
                    .compute_environment(&name)
                    .state(CeState::Enabled)
                    .compute_resources(update.build())
                    .send()
                    .await
                    .map_err(|e| aws_error("UpdateComputeEnvironment", e))?;
            }
            if let Some(arn) = existing.compute_environment_arn() {
                part_tags::sync_batch(batch, arn, tags).await?;
            }
        }
    }
    let ready = wait::until(&format!("compute environment {name}"), deadline, FIRST_POLL, || async {
        let Some(ce) = describe_ce(batch, &name).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        Ok(match ce.status() {
            Some(CeStatus::Valid) => Poll::Ready(ce),
            Some(CeStatus::Invalid) => Poll::Failed(format!(
                "AWS Batch marked {name} INVALID: {}",
                ce.status_reason().unwrap_or("no reason given")
            )),
            other => Poll::Pending(format!("{other:?}")),
        })
    })
    .await?;
    Ok((
        ready.compute_environment_arn().unwrap_or_default().to_string(),
        ready.ecs_cluster_arn().unwrap_or_default().to_string(),
    ))
}

/// Creates or adopts the queue `name` on the environment, with the wanted
/// priority and state; waits until VALID. Returns its ARN.
pub async fn ensure_queue(
    batch: &Client,
    (name, priority): (String, i32),
    enabled: bool,
    compute_environment_arn: &str,
    tags: &BTreeMap<String, String>,
    deadline: Instant,
) -> Result<String, Diagnostics> {
    let state = if enabled { JqState::Enabled } else { JqState::Disabled };
    match describe_queue(batch, &name).await? {
        None => {
            let order = ComputeEnvironmentOrder::builder()
                .order(1)
                .compute_environment(compute_environment_arn)
                .build();
            batch
                .create_job_queue()
                .job_queue_name(&name)
                .state(state)
                .priority(priority)
                .compute_environment_order(order)
                .set_tags(Some(tags.clone().into_iter().collect::<HashMap<_, _>>()))
                .send()
                .await
                .map_err(|e| aws_error("CreateJobQueue", e))?;
        }
        Some(existing) => {
            // A queue adopted by name must send its jobs to this
            // pipeline's compute environment, and to it only.
            let order = existing.compute_environment_order();
            let on_ours = order.len() == 1 && order[0].compute_environment() == Some(compute_environment_arn);
            if existing.priority() != Some(priority) || existing.state() != Some(&state) || !on_ours {
                let mut update = batch.update_job_queue().job_queue(&name).priority(priority).state(state);
                if !on_ours {
                    update = update.compute_environment_order(
                        ComputeEnvironmentOrder::builder()
                            .order(1)
                            .compute_environment(compute_environment_arn)
                            .build(),
                    );
                }
                update.send().await.map_err(|e| aws_error("UpdateJobQueue", e))?;
            }
            if let Some(arn) = existing.job_queue_arn() {
                part_tags::sync_batch(batch, arn, tags).await?;
            }
        }
    }
    let ready = wait::until(&format!("job queue {name}"), deadline, FIRST_POLL, || async {
        let Some(q) = describe_queue(batch, &name).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        Ok(match q.status() {
            Some(JqStatus::Valid) => Poll::Ready(q),
            Some(JqStatus::Invalid) => Poll::Failed(format!(
                "AWS Batch marked {name} INVALID: {}",
                q.status_reason().unwrap_or("no reason given")
            )),
            other => Poll::Pending(format!("{other:?}")),
        })
    })
    .await?;
    Ok(ready.job_queue_arn().unwrap_or_default().to_string())
}

/// Disables, deletes and waits until the queue `name` is gone. AWS refuses
/// to delete an enabled queue, and refuses to delete a compute environment
/// a queue still uses, so this runs first, for each queue.
pub async fn delete_queue(batch: &Client, name: &str, deadline: Instant) -> Result<(), Diagnostics> {
    let name = name.to_string();
    let Some(q) = describe_queue(batch, &name).await? else { return Ok(()) };
    if q.state() != Some(&JqState::Disabled) {
        batch
            .update_job_queue()
            .job_queue(&name)
            .state(JqState::Disabled)
            .send()
            .await
            .map_err(|e| aws_error("UpdateJobQueue", e))?;
    }
    settle_queue(batch, &name, deadline).await?;
    batch.delete_job_queue().job_queue(&name).send().await.map_err(|e| aws_error("DeleteJobQueue", e))?;
    wait::until(&format!("deletion of job queue {name}"), deadline, FIRST_POLL, || async {
        Ok(match describe_queue(batch, &name).await? {
            None => Poll::Ready(()),
            Some(q) => Poll::Pending(format!("{:?}", q.status())),
        })
    })
    .await
}

/// Deletes the pipeline's queues, then the compute environment they use
/// (AWS refuses to delete an environment a queue still names).
pub async fn delete_queues_and_environment(
    batch: &Client,
    names: &Names,
    deadline: Instant,
) -> Result<(), Diagnostics> {
    delete_queue(batch, &names.later_stages_job_queue(), deadline).await?;
    delete_queue(batch, &names.job_queue(), deadline).await?;
    delete_compute_environment(batch, names, deadline).await
}

/// Waits while the queue is in a transition (CREATING/UPDATING).
async fn settle_queue(batch: &Client, name: &str, deadline: Instant) -> Result<(), Diagnostics> {
    wait::until(&format!("job queue {name} to settle"), deadline, FIRST_POLL, || async {
        Ok(match describe_queue(batch, name).await? {
            None => Poll::Ready(()),
            Some(q) => match q.status() {
                Some(JqStatus::Creating | JqStatus::Updating) => Poll::Pending(format!("{:?}", q.status())),
                _ => Poll::Ready(()),
            },
        })
    })
    .await
}

pub async fn delete_compute_environment(
    batch: &Client,
    names: &Names,
    deadline: Instant,
) -> Result<(), Diagnostics> {
    let name = names.compute_environment();
    let Some(ce) = describe_ce(batch, &name).await? else { return Ok(()) };
    if ce.state() != Some(&CeState::Disabled) {
        batch
            .update_compute_environment()
            .compute_environment(&name)
            .state(CeState::Disabled)
            .send()
            .await
            .map_err(|e| aws_error("UpdateComputeEnvironment", e))?;
    }
    wait::until(&format!("compute environment {name} to settle"), deadline, FIRST_POLL, || async {
        Ok(match describe_ce(batch, &name).await? {
            None => Poll::Ready(()),
            Some(c) => match c.status() {
                Some(CeStatus::Creating | CeStatus::Updating) => Poll::Pending(format!("{:?}", c.status())),
                _ => Poll::Ready(()),
            },
        })
    })
    .await?;
    batch
        .delete_compute_environment()
        .compute_environment(&name)
        .send()
        .await
        .map_err(|e| aws_error("DeleteComputeEnvironment", e))?;
    // AWS marks an environment it cannot delete (its service role may not
    // remove the ECS cluster, say) INVALID: once it was DELETING, that is
    // final, and waiting out the timeout would only hide the reason.
    let deleting_seen = AtomicBool::new(false);
    wait::until(&format!("deletion of compute environment {name}"), deadline, FIRST_POLL, || async {
        Ok(match describe_ce(batch, &name).await? {
            None => Poll::Ready(()),
            Some(c) if c.status() == Some(&CeStatus::Deleting) => {
                deleting_seen.store(true, Ordering::Relaxed);
                Poll::Pending("DELETING".into())
            }
            Some(c) if c.status() == Some(&CeStatus::Invalid) && deleting_seen.load(Ordering::Relaxed) => {
                Poll::Failed(format!(
                    "AWS Batch marked {name} INVALID while deleting it: {}",
                    c.status_reason().unwrap_or("no reason given")
                ))
            }
            Some(c) => Poll::Pending(format!("{:?}", c.status())),
        })
    })
    .await
}
