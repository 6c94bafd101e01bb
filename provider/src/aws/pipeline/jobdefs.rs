//! The three array job definitions. A change registers a new revision (job
//! definitions are immutable) and, unless the user keeps them, deregisters
//! the superseded ones. Whether the latest revision already matches is known
//! from a fingerprint tag, so an unchanged pipeline registers nothing.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_batch::Client;
use aws_sdk_batch::types::{
    ContainerProperties, EfsAuthorizationConfig, EfsAuthorizationConfigIam, EfsTransitEncryption,
    EfsVolumeConfiguration, EvaluateOnExit, FargatePlatformConfiguration, JobDefinition, JobDefinitionType,
    JobTimeout, KeyValuePair, LogConfiguration, LogDriver, MountPoint, PlatformCapability,
    ResourceRequirement, ResourceType, RetryAction, RetryStrategy, Volume,
};

use super::names::Names;
use super::part_tags;
use super::run_config;
use super::spec::{ComputeType, PipelineSpec, Stage};
use super::wait::aws_error;
use crate::tfplugin::Diagnostics;

pub const FINGERPRINT_TAG: &str = "batch-pipeline:fingerprint";
/// Procurement's definition carries the settings no AWS object shows
/// (source, sizing, egress bucket) so that import can restore them.
pub const SETTINGS_PARAMETER: &str = "pipeline_settings";
/// Environment the provider sets itself; not part of the user's `environment`.
pub const RESERVED_ENV: [&str; 3] = ["PIPELINE_NAME", "PIPELINE_STAGE", "PIPELINE_EFS_ROOT"];

/// Everything that goes into a registration, in a stable text form.
fn fingerprint(spec: &PipelineSpec, stage: &Stage, fs_id: &str, ap_id: &str, settings: &str) -> String {
    let mut text = serde_json::json!({
        "settings": if stage.name == "procurement" { settings } else { "" },
        "image": stage.image, "vcpus": stage.vcpus, "memory": stage.memory, "command": stage.command,
        "environment": stage.environment, "retry_attempts": stage.retry_attempts,
        "retry_on_exit_codes": stage.retry_on_exit_codes, "timeout": stage.timeout_seconds,
        "execution_role": stage.execution_role_arn, "job_role": stage.job_role_arn,
        "fargate": spec.compute.kind.is_fargate(), "fs": fs_id, "ap": ap_id, "mount": spec.efs.mount_path,
        "uid": spec.efs.posix_uid, "gid": spec.efs.posix_gid,
    });
    // Only when set: definitions registered before the setting existed keep
    // their fingerprint (no new revision on upgrade).
    if let Some(group) = &stage.log_group_name {
        text["log_group"] = serde_json::json!(group);
    }
    let text = text.to_string();
    // FNV-1a: stable across builds and toolchains (it is stored in AWS).
    let hash =
        text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

pub async fn active_revisions(batch: &Client, name: &str) -> Result<Vec<JobDefinition>, Diagnostics> {
    let mut all = Vec::new();
    let mut pages =
        batch.describe_job_definitions().job_definition_name(name).status("ACTIVE").into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("DescribeJobDefinitions", e))?;
        all.extend(page.job_definitions().iter().cloned());
    }
    all.sort_by_key(|d| d.revision());
    Ok(all)
}

fn request_parts(
    spec: &PipelineSpec,
    stage: &Stage,
    fs_id: &str,
    ap_id: &str,
) -> Result<(ContainerProperties, RetryStrategy), Diagnostics> {
    let requirement =
        |kind: ResourceType, value: String| ResourceRequirement::builder().r#type(kind).value(value).build();
    let vcpus =
        if stage.vcpus.fract() == 0.0 { format!("{}", stage.vcpus as i64) } else { stage.vcpus.to_string() };
    let mut environment: Vec<KeyValuePair> =
        stage.environment.iter().map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()).collect();
    for (k, v) in [
        ("PIPELINE_NAME", spec.name.clone()),
        ("PIPELINE_STAGE", stage.name.to_string()),
        ("PIPELINE_EFS_ROOT", spec.efs.mount_path.clone()),
    ] {
        environment.push(KeyValuePair::builder().name(k).value(v).build());
    }
    let volume = Volume::builder()
        .name("efs")
        .efs_volume_configuration(
            EfsVolumeConfiguration::builder()
                .file_system_id(fs_id)
                // Encrypted in transit, through the access point, with IAM
                // authorization: the job role must be allowed to mount.
                .transit_encryption(EfsTransitEncryption::Enabled)
                .authorization_config(
                    EfsAuthorizationConfig::builder()
                        .access_point_id(ap_id)
                        .iam(EfsAuthorizationConfigIam::Enabled)
                        .build(),
                )
                .build(),
        )
        .build();
    let mut container = ContainerProperties::builder()
        .image(&stage.image)
        .set_command((!stage.command.is_empty()).then(|| stage.command.clone()))
        .resource_requirements(requirement(ResourceType::Vcpu, vcpus))
        .resource_requirements(requirement(ResourceType::Memory, stage.memory.to_string()))
        .set_environment(Some(environment))
        .set_execution_role_arn(stage.execution_role_arn.clone())
        .set_job_role_arn(stage.job_role_arn.clone())
        .volumes(volume)
        .mount_points(
            MountPoint::builder()
                .source_volume("efs")
                .container_path(&spec.efs.mount_path)
                .read_only(false)
                .build(),
        );
    if let Some(group) = &stage.log_group_name {
        container = container.log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", group)
                .options("awslogs-stream-prefix", stage.name)
                .build(),
        );
    }
    if spec.compute.kind.is_fargate() {
        // EFS access points with transit encryption need platform 1.4.0+.
        container = container.fargate_platform_configuration(
            FargatePlatformConfiguration::builder().platform_version("LATEST").build(),
        );
    }
    let mut retry = RetryStrategy::builder().attempts(stage.retry_attempts);
    for code in &stage.retry_on_exit_codes {
        retry = retry.evaluate_on_exit(
            EvaluateOnExit::builder().on_exit_code(code.to_string()).action(RetryAction::Retry).build(),
        );
    }
    // A reclaimed Spot capacity or a lost host is not the job's fault.
    retry = retry.evaluate_on_exit(
        EvaluateOnExit::builder()
            .on_status_reason(infrastructure_status_reason(spec.compute.kind))
            .action(RetryAction::Retry)
            .build(),
    );
    retry =
        retry.evaluate_on_exit(EvaluateOnExit::builder().on_reason("*").action(RetryAction::Exit).build());
    Ok((container.build(), retry.build()))
}

/// The status reason (a glob) of an attempt lost to the infrastructure
/// rather than failed by the job: EC2 reports a lost or reclaimed instance
/// as "Host EC2 (instance ...) terminated."; Fargate Spot reports a
/// reclaimed task as "Your Spot Task was interrupted.".
pub fn infrastructure_status_reason(kind: ComputeType) -> &'static str {
    match kind {
        ComputeType::FargateSpot => "Your Spot Task was interrupted*",
        _ => "Host EC2*",
    }
}

/// Registers each stage's definition unless the latest active revision
/// already matches; deregisters superseded revisions unless kept. Records
/// stage -> ARN (with revision) in `arns` as each is known, so a failure
/// half way keeps in the state the definitions already registered.
pub(super) async fn ensure(
    batch: &Client,
    names: &Names,
    spec: &PipelineSpec,
    fs_id: &str,
    ap_id: &str,
    tags: &BTreeMap<String, String>,
    arns: &mut BTreeMap<String, String>,
) -> Result<(), Diagnostics> {
    let settings = run_config::settings(spec).to_string();
    let settings = settings.as_str();
    for stage in &spec.stages {
        let name = names.job_definition(stage.name);
        let wanted = fingerprint(spec, stage, fs_id, ap_id, settings);
        let revisions = active_revisions(batch, &name).await?;
        let current =
            revisions.last().filter(|d| d.tags().and_then(|t| t.get(FINGERPRINT_TAG)) == Some(&wanted));
        let registered = current.is_none();
        let arn = match current {
            Some(d) => {
                let arn = d.job_definition_arn().unwrap_or_default().to_string();
                let mut all_tags = tags.clone();
                all_tags.insert(FINGERPRINT_TAG.into(), wanted.clone());
                part_tags::sync_batch(batch, &arn, &all_tags).await?;
                arn
            }
            None => {
                let (container, retry) = request_parts(spec, stage, fs_id, ap_id)?;
                let mut all_tags: HashMap<String, String> = tags.clone().into_iter().collect();
                all_tags.insert(FINGERPRINT_TAG.into(), wanted.clone());
                let platform = if spec.compute.kind.is_fargate() {
                    PlatformCapability::Fargate
                } else {
                    PlatformCapability::Ec2
                };
                let mut register = batch.register_job_definition();
                if stage.name == "procurement" {
                    register = register.parameters(SETTINGS_PARAMETER, settings);
                }
                let out = register
                    .job_definition_name(&name)
                    .r#type(JobDefinitionType::Container)
                    .platform_capabilities(platform)
                    .container_properties(container)
                    .retry_strategy(retry)
                    .timeout(JobTimeout::builder().attempt_duration_seconds(stage.timeout_seconds).build())
                    .propagate_tags(true)
                    .set_tags(Some(all_tags))
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("RegisterJobDefinition {name}"), e))?;
                out.job_definition_arn().unwrap_or_default().to_string()
            }
        };
        if !spec.keep_old_revisions {
            // Listed again after registering: a register whose answer was
            // lost (the connection reset after AWS had registered it) and
            // was retried by the SDK left a revision nobody heard of,
            // active between the old ones and ours.
            let revisions = if registered { active_revisions(batch, &name).await? } else { revisions };
            for old in revisions.iter().filter_map(|d| d.job_definition_arn()).filter(|a| *a != arn) {
                batch
                    .deregister_job_definition()
                    .job_definition(old)
                    .send()
                    .await
                    .map_err(|e| aws_error("DeregisterJobDefinition", e))?;
            }
        }
        arns.insert(stage.name.to_string(), arn);
    }
    Ok(())
}

/// Deregisters every active revision of the three definitions.
pub async fn delete_all(batch: &Client, names: &Names) -> Result<(), Diagnostics> {
    for stage in super::schema::STAGES {
        for def in active_revisions(batch, &names.job_definition(stage)).await? {
            let Some(arn) = def.job_definition_arn() else { continue };
            batch
                .deregister_job_definition()
                .job_definition(arn)
                .send()
                .await
                .map_err(|e| aws_error("DeregisterJobDefinition", e))?;
        }
    }
    Ok(())
}
