//! Reading a pipeline back from AWS. Read and Import share one mapping from
//! what AWS has to the state, `refresh` (drift, and parts deleted behind
//! Terraform's back). Import first finds the pipeline by its name and builds
//! the configuration its AWS objects show (`configuration_from_aws`: the
//! settings Read leaves as configured), then refreshes that.

use std::collections::BTreeMap;

use aws_sdk_batch::types::{JobDefinition, JobQueueDetail, JqState, ResourceType};

use super::jobdefs::{self, RESERVED_ENV, SETTINGS_PARAMETER};
use super::names::{NAME_TAG, Names};
use super::schema::default_of;
use super::spec::PipelineSpec;
use super::state::{Parts, fill_state, in_block, resource_tags, set_in_block};
use super::{bucket, compute, efs};
use crate::aws::clients::{AwsClients, ClientSlot};
use crate::tfplugin::{Diagnostic, Diagnostics, Number, ReadResponse, Schema, Value};

/// A queue's priority and whether it is enabled.
type QueueSettings = (i32, bool);

fn settings_of(q: &JobQueueDetail) -> QueueSettings {
    (q.priority().unwrap_or(1), q.state() == Some(&JqState::Enabled))
}

/// The pipeline's queues as AWS has them: procurement's, the later stages'.
async fn observe_queues(
    clients: &AwsClients,
    names: &Names,
) -> Result<[Option<JobQueueDetail>; 2], Diagnostics> {
    Ok([
        compute::describe_queue(&clients.batch, &names.job_queue()).await?,
        compute::describe_queue(&clients.batch, &names.later_stages_job_queue()).await?,
    ])
}

/// What exists now, for the pipeline of this name.
async fn observe(
    clients: &AwsClients,
    spec: &PipelineSpec,
    fs_id: Option<&str>,
) -> Result<(Parts, BTreeMap<String, JobDefinition>, [Option<QueueSettings>; 2], Option<i32>), Diagnostics> {
    let names = Names::new(&spec.name);
    let mut parts = Parts::default();
    let mut max_vcpus = None;
    if let Some(ce) = compute::describe_ce(&clients.batch, &names.compute_environment()).await? {
        parts.compute_environment_arn = ce.compute_environment_arn().map(str::to_string);
        parts.ecs_cluster_arn = ce.ecs_cluster_arn().map(str::to_string);
        max_vcpus = ce.compute_resources().and_then(|c| c.maxv_cpus());
    }
    let [first, later] = observe_queues(clients, &names).await?;
    parts.job_queue_arn = first.as_ref().and_then(|q| q.job_queue_arn()).map(str::to_string);
    parts.later_stages_job_queue_arn = later.as_ref().and_then(|q| q.job_queue_arn()).map(str::to_string);
    let queue = [first.as_ref().map(settings_of), later.as_ref().map(settings_of)];
    let fs = match fs_id {
        Some(id) => {
            let mut by_id = spec.efs.clone();
            by_id.existing_file_system_id = Some(id.to_string());
            efs::find_file_system(&clients.efs, &names, &by_id).await?
        }
        None => efs::find_file_system(&clients.efs, &names, &spec.efs).await?,
    };
    if let Some(fs) = &fs {
        let id = fs.file_system_id().to_string();
        parts.file_system_arn = fs.file_system_arn().map(str::to_string);
        if let Some(ap) = efs::find_access_point(&clients.efs, &names, &id).await? {
            parts.access_point_id = ap.access_point_id().map(str::to_string);
            parts.access_point_arn = ap.access_point_arn().map(str::to_string);
        }
        parts.mount_target_ids = Some(efs::mount_target_ids(&efs::mount_targets(&clients.efs, &id).await?));
        parts.file_system_id = Some(id);
    }
    let mut defs = BTreeMap::new();
    for stage in super::schema::STAGES {
        if let Some(latest) =
            jobdefs::active_revisions(&clients.batch, &names.job_definition(stage)).await?.pop()
        {
            parts
                .job_definition_arns
                .insert(stage.to_string(), latest.job_definition_arn().unwrap_or_default().to_string());
            defs.insert(stage.to_string(), latest);
        }
    }
    if spec.egress_bucket.name.is_empty() || bucket::exists(&clients.s3, &spec.egress_bucket.name).await? {
        parts.egress_bucket_arn = Some(format!("arn:aws:s3:::{}", spec.egress_bucket.name));
    }
    Ok((parts, defs, queue, max_vcpus))
}

/// Whether the egress bucket is still there and is one this pipeline made
/// (the check destroy makes before deleting it).
async fn made_bucket_left(
    clients: &AwsClients,
    spec: &PipelineSpec,
    parts: &Parts,
) -> Result<bool, Diagnostics> {
    let bucket = &spec.egress_bucket;
    if !bucket.create || bucket.name.is_empty() || parts.egress_bucket_arn.is_none() {
        return Ok(false);
    }
    bucket::owned_by(&clients.s3, &bucket.name, &spec.name).await
}

fn image_of(def: &JobDefinition) -> Option<String> {
    def.container_properties().and_then(|c| c.image()).map(str::to_string)
}

/// The state as AWS has it. Null when the whole pipeline is
/// gone; a missing part leaves its ids null so the plan makes it again.
async fn refresh(clients: &AwsClients, state: &Value) -> Result<Value, Diagnostics> {
    let (Some(mut spec), _) = PipelineSpec::parse(state) else { return Ok(state.clone()) };
    let fs_id = in_block(state, "efs", "file_system_id").as_str().map(str::to_string);
    // The spec from state names the file system; whether we created it is
    // not a question for reading.
    spec.efs.existing_file_system_id = None;
    let (parts, defs, queue, max_vcpus) = observe(clients, &spec, fs_id.as_deref()).await?;
    let nothing_left = parts.compute_environment_arn.is_none()
        && parts.job_queue_arn.is_none()
        && parts.later_stages_job_queue_arn.is_none()
        && parts.file_system_arn.is_none()
        && parts.job_definition_arns.is_empty();
    // A bucket the pipeline made is one of its parts: a destroy that failed
    // at the bucket, everything else deleted, must leave the pipeline in the
    // state so the next destroy deletes (or names as kept) the bucket.
    if nothing_left && !made_bucket_left(clients, &spec, &parts).await? {
        return Ok(Value::Null);
    }
    let mut new_state = state.clone();
    fill_state(&mut new_state, &spec, &parts, &resource_tags(clients, &spec));
    if let Some(max) = max_vcpus {
        set_in_block(&mut new_state, "compute", "max_vcpus", Value::int(i64::from(max)));
    }
    refresh_queues(&mut new_state, queue);
    for (stage, def) in &defs {
        if let Some(image) = image_of(def) {
            set_in_block(&mut new_state, stage, "image", Value::string(image));
        }
    }
    // The lifecycle policy of the pipeline's own file system (a user's is
    // not managed, so not read).
    if let Some(id) = &parts.file_system_id
        && efs::created_by_pipeline(&clients.efs, &Names::new(&spec.name), id).await?
    {
        let ia = efs::transition_to_ia(&clients.efs, id).await?;
        set_in_block(&mut new_state, "efs", "transition_to_ia", ia.map(Value::string).unwrap_or(Value::Null));
    }
    Ok(new_state)
}

/// Each queue's priority as AWS has it; `state` is ENABLED only when
/// every queue there is, so either one disabled outside Terraform shows.
/// A state without a `queue` block (the configuration left it out) gets
/// one only when AWS differs from the defaults: the plan then shows the
/// drift (the block going away) and the apply puts the defaults back.
fn refresh_queues(state: &mut Value, [first, later]: [Option<QueueSettings>; 2]) {
    if first.is_none() && later.is_none() {
        return;
    }
    let default_int = |attr| default_of("queue", attr).and_then(|v| v.as_i64()).unwrap_or(0);
    let enabled = [first, later].iter().flatten().all(|(_, enabled)| *enabled);
    let state_text = Value::string(if enabled { "ENABLED" } else { "DISABLED" });
    if state.get("queue").elements().is_empty() {
        let priority = first.map_or(default_int("priority"), |(p, _)| i64::from(p));
        let later_priority = later.map_or(default_int("later_stages_priority"), |(p, _)| i64::from(p));
        let on_defaults = priority == default_int("priority")
            && later_priority == default_int("later_stages_priority")
            && enabled;
        if !on_defaults {
            state.set_attr(
                "queue",
                block(vec![
                    ("priority", Value::int(priority)),
                    ("later_stages_priority", Value::int(later_priority)),
                    ("state", state_text),
                ]),
            );
        }
        return;
    }
    if let Some((priority, _)) = first {
        set_in_block(state, "queue", "priority", Value::int(i64::from(priority)));
    }
    if let Some((priority, _)) = later {
        set_in_block(state, "queue", "later_stages_priority", Value::int(i64::from(priority)));
    }
    set_in_block(state, "queue", "state", state_text);
}

fn block(attrs: Vec<(&str, Value)>) -> Value {
    Value::List(vec![Value::object(attrs)])
}

fn strings(items: &[String]) -> Value {
    Value::Set(items.iter().map(Value::string).collect())
}

/// The value AWS has, or the declared default of `block`'s `attribute`
/// where AWS shows none. (Defaulted attributes are optional + computed, so
/// either way the plan is clean.)
fn shown_or_default(value: Option<Value>, block: &str, attribute: &str) -> Value {
    value.or_else(|| default_of(block, attribute)).unwrap_or(Value::Null)
}

fn stage_from(stage: &str, def: &JobDefinition) -> Value {
    let container = def.container_properties();
    let requirement = |kind: ResourceType| {
        container
            .map(|c| c.resource_requirements())
            .unwrap_or_default()
            .iter()
            .find(|r| r.r#type() == Some(&kind))
            .and_then(|r| r.value())
            .map(str::to_string)
    };
    let vcpus = requirement(ResourceType::Vcpu).and_then(|v| Number::parse(&v).ok());
    let memory = requirement(ResourceType::Memory).and_then(|v| v.parse::<i64>().ok());
    let environment: BTreeMap<String, Value> = container
        .map(|c| c.environment())
        .unwrap_or_default()
        .iter()
        .filter_map(|kv| Some((kv.name()?.to_string(), kv.value()?.to_string())))
        .filter(|(k, _)| !RESERVED_ENV.contains(&k.as_str()))
        .map(|(k, v)| (k, Value::string(v)))
        .collect();
    let retry = def.retry_strategy();
    let codes: Vec<i64> = retry
        .map(|r| r.evaluate_on_exit())
        .unwrap_or_default()
        .iter()
        .filter(|e| e.action().is_some_and(|a| a.as_str().eq_ignore_ascii_case("retry")))
        .filter_map(|e| e.on_exit_code()?.parse().ok())
        .collect();
    let command: Vec<String> = container.map(|c| c.command().to_vec()).unwrap_or_default();
    let attrs = vec![
        ("image", container.and_then(|c| c.image()).map(Value::string).unwrap_or(Value::Null)),
        ("vcpus", shown_or_default(vcpus.map(Value::Number), stage, "vcpus")),
        ("memory", shown_or_default(memory.map(Value::int), stage, "memory")),
        (
            "command",
            if command.is_empty() {
                Value::Null
            } else {
                Value::List(command.iter().map(Value::string).collect())
            },
        ),
        ("environment", if environment.is_empty() { Value::Null } else { Value::Map(environment) }),
        (
            "retry_attempts",
            shown_or_default(
                retry.and_then(|r| r.attempts()).map(|n| Value::int(i64::from(n))),
                stage,
                "retry_attempts",
            ),
        ),
        ("retry_on_exit_codes", Value::Set(codes.into_iter().map(Value::int).collect())),
        (
            "timeout_seconds",
            shown_or_default(
                def.timeout().and_then(|t| t.attempt_duration_seconds()).map(|n| Value::int(i64::from(n))),
                stage,
                "timeout_seconds",
            ),
        ),
        (
            "execution_role_arn",
            container.and_then(|c| c.execution_role_arn()).map(Value::string).unwrap_or(Value::Null),
        ),
        ("job_role_arn", container.and_then(|c| c.job_role_arn()).map(Value::string).unwrap_or(Value::Null)),
        (
            "log_group_name",
            container
                .and_then(|c| c.log_configuration())
                .filter(|l| l.log_driver() == Some(&aws_sdk_batch::types::LogDriver::Awslogs))
                .and_then(|l| l.options())
                .and_then(|o| o.get("awslogs-group"))
                .map(Value::string)
                .unwrap_or(Value::Null),
        ),
    ];
    block(attrs)
}

/// The whole configuration as AWS shows it, by pipeline name; an error
/// when no pipeline of that name exists.
async fn configuration_from_aws(
    clients: &AwsClients,
    schema: &Schema,
    name: &str,
) -> Result<Value, Diagnostics> {
    let names = Names::new(name);
    let not_found = || -> Diagnostics {
        Diagnostic::error(
            "Pipeline not found",
            format!(
                "No compute environment named {:?}: is {name:?} the pipeline's name, in this region?",
                names.compute_environment()
            ),
        )
        .into()
    };
    let ce =
        compute::describe_ce(&clients.batch, &names.compute_environment()).await?.ok_or_else(not_found)?;
    let resources = ce.compute_resources();
    let kind = resources.and_then(|r| r.r#type()).map(|t| t.as_str().to_string()).unwrap_or_default();
    let fargate = kind.starts_with("FARGATE");
    let own_tags: BTreeMap<String, Value> = ce
        .tags()
        .map(|t| {
            t.iter()
                .filter(|(k, v)| k.as_str() != NAME_TAG && clients.default_tags.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), Value::string(v)))
                .collect()
        })
        .unwrap_or_default();

    let mut state = Value::null_object(&schema.value_type());
    state.set_attr("name", Value::string(name));
    // Destroy behaviour is not visible in AWS: the safe defaults.
    state.set_attr("force_destroy", Value::Bool(false));
    state.set_attr("keep_old_revisions", Value::Bool(false));
    state.set_attr("id", Value::string(name));
    state.set_attr("tags", if own_tags.is_empty() { Value::Null } else { Value::Map(own_tags) });
    state.set_attr(
        "compute",
        block(vec![
            ("type", Value::string(&kind)),
            (
                "max_vcpus",
                resources
                    .and_then(|r| r.maxv_cpus())
                    .map(|n| Value::int(i64::from(n)))
                    .unwrap_or(Value::Null),
            ),
            (
                "min_vcpus",
                if fargate {
                    Value::Null
                } else {
                    resources
                        .and_then(|r| r.minv_cpus())
                        .map(|n| Value::int(i64::from(n)))
                        .unwrap_or(Value::Null)
                },
            ),
            ("subnet_ids", strings(resources.map(|r| r.subnets()).unwrap_or_default())),
            ("security_group_ids", strings(resources.map(|r| r.security_group_ids()).unwrap_or_default())),
            (
                "instance_types",
                match resources.map(|r| r.instance_types()).unwrap_or_default() {
                    // What create sends for none given.
                    types if fargate || types == ["optimal"] => Value::Null,
                    types => strings(types),
                },
            ),
            (
                "instance_role",
                resources.and_then(|r| r.instance_role()).map(Value::string).unwrap_or(Value::Null),
            ),
            (
                "allocation_strategy",
                resources
                    .and_then(|r| r.allocation_strategy())
                    .map(|s| s.as_str())
                    .filter(|s| *s != "BEST_FIT_PROGRESSIVE")
                    .map(Value::string)
                    .unwrap_or(Value::Null),
            ),
            (
                "bid_percentage",
                resources
                    .and_then(|r| r.bid_percentage())
                    .map(|n| Value::int(i64::from(n)))
                    .unwrap_or(Value::Null),
            ),
            ("service_role_arn", ce.service_role().map(Value::string).unwrap_or(Value::Null)),
        ]),
    );
    let [first, later] = observe_queues(clients, &names).await?;
    if first.is_some() || later.is_some() {
        let default_int = |attr| default_of("queue", attr).and_then(|v| v.as_i64()).unwrap_or(0);
        let priority = first.as_ref().map_or(default_int("priority"), |q| i64::from(settings_of(q).0));
        let later_priority =
            later.as_ref().map_or(default_int("later_stages_priority"), |q| i64::from(settings_of(q).0));
        let enabled = [&first, &later].iter().filter_map(|q| q.as_ref()).all(|q| settings_of(q).1);
        // Queues on defaults import as no `queue` block, the usual way to
        // write it.
        if priority != default_int("priority")
            || later_priority != default_int("later_stages_priority")
            || !enabled
        {
            state.set_attr(
                "queue",
                block(vec![
                    ("priority", Value::int(priority)),
                    ("later_stages_priority", Value::int(later_priority)),
                    ("state", Value::string(if enabled { "ENABLED" } else { "DISABLED" })),
                ]),
            );
        }
    }

    let mut defs = BTreeMap::new();
    for stage in super::schema::STAGES {
        if let Some(def) =
            jobdefs::active_revisions(&clients.batch, &names.job_definition(stage)).await?.pop()
        {
            state.set_attr(stage, stage_from(stage, &def));
            defs.insert(stage, def);
        }
    }
    // The file system and mount path as the job definitions use them.
    let volume = defs
        .get("procurement")
        .and_then(|d| d.container_properties())
        .and_then(|c| c.volumes().first().cloned());
    let fs_id = volume
        .as_ref()
        .and_then(|v| v.efs_volume_configuration())
        .and_then(|e| e.file_system_id())
        .map(str::to_string);
    let mount_path = defs
        .get("procurement")
        .and_then(|d| d.container_properties())
        .and_then(|c| c.mount_points().first())
        .and_then(|m| m.container_path())
        .map(str::to_string);
    let mut efs_attrs: Vec<(&str, Value)> = vec![
        ("file_system_id", fs_id.clone().map(Value::string).unwrap_or(Value::Null)),
        ("mount_path", shown_or_default(mount_path.map(Value::string), "efs", "mount_path")),
    ];
    if let Some(fs_id) = &fs_id {
        // Only the pipeline's own file system was shaped by these settings
        // (a configured one is used as it is, and they are ignored).
        let described = efs::describe_fs_by_id(&clients.efs, fs_id).await?;
        let own = described.as_ref().is_some_and(|fs| fs.creation_token() == names.efs_creation_token());
        if let Some(fs) = described.as_ref().filter(|_| own) {
            efs_attrs.push(("performance_mode", Value::string(fs.performance_mode().as_str())));
            efs_attrs.push((
                "throughput_mode",
                fs.throughput_mode().map(|t| Value::string(t.as_str())).unwrap_or(Value::Null),
            ));
            efs_attrs.push(("kms_key_id", fs.kms_key_id().map(Value::string).unwrap_or(Value::Null)));
            let ia = efs::transition_to_ia(&clients.efs, fs_id).await?;
            efs_attrs.push(("transition_to_ia", ia.map(Value::string).unwrap_or(Value::Null)));
        } else {
            // A file system the user brought: the settings are not read
            // from it, so they show their defaults, as planned.
            for attr in ["performance_mode", "throughput_mode"] {
                efs_attrs.push((attr, shown_or_default(None, "efs", attr)));
            }
        }
        if !own {
            // Which of a user's file system's mount targets the pipeline
            // added is not known here: they get the compute groups (what
            // the pipeline gives the ones it adds when none are set).
            efs_attrs.push(("security_group_ids", in_block(&state, "compute", "security_group_ids").clone()));
        } else if let Some(target) = efs::mount_targets(&clients.efs, fs_id).await?.first() {
            let groups = clients
                .efs
                .describe_mount_target_security_groups()
                .mount_target_id(target.mount_target_id())
                .send()
                .await
                .map_err(|e| super::wait::aws_error("DescribeMountTargetSecurityGroups", e))?;
            efs_attrs.push(("security_group_ids", strings(groups.security_groups())));
        }
        if let Some(ap) = efs::find_access_point(&clients.efs, &names, fs_id).await? {
            let root = ap.root_directory();
            let info = root.and_then(|r| r.creation_info());
            efs_attrs.push((
                "root_directory",
                shown_or_default(root.and_then(|r| r.path()).map(Value::string), "efs", "root_directory"),
            ));
            let posix_user = ap.posix_user();
            efs_attrs.push((
                "posix_uid",
                shown_or_default(posix_user.map(|p| Value::int(p.uid())), "efs", "posix_uid"),
            ));
            efs_attrs.push((
                "posix_gid",
                shown_or_default(posix_user.map(|p| Value::int(p.gid())), "efs", "posix_gid"),
            ));
            efs_attrs.push((
                "permissions",
                shown_or_default(info.map(|i| Value::string(i.permissions())), "efs", "permissions"),
            ));
        }
    }
    state.set_attr("efs", block(efs_attrs));

    // Settings that live only in the procurement definition's parameters.
    let settings: serde_json::Value = defs
        .get("procurement")
        .and_then(|d| d.parameters())
        .and_then(|p| p.get(SETTINGS_PARAMETER))
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().map(Value::string).unwrap_or(Value::Null);
    let source = &settings["source"];
    state.set_attr(
        "source",
        block(vec![
            ("s3_bucket", text(&source["s3_bucket"])),
            (
                "s3_prefix",
                source["s3_prefix"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(Value::string)
                    .unwrap_or(Value::Null),
            ),
            (
                "s3_suffix",
                source["s3_suffix"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(Value::string)
                    .unwrap_or(Value::Null),
            ),
            ("synthetic_count", source["synthetic_count"].as_i64().map(Value::int).unwrap_or(Value::Null)),
            ("sqs_queue_url", text(&source["sqs_queue_url"])),
            ("sqs_max_messages", source["sqs_max_messages"].as_i64().map(Value::int).unwrap_or(Value::Null)),
            (
                "sqs_visibility_timeout_seconds",
                source["sqs_visibility_timeout_seconds"].as_i64().map(Value::int).unwrap_or(Value::Null),
            ),
            (
                "synthetic_format",
                source["synthetic_format"].as_str().map(Value::string).unwrap_or(Value::Null),
            ),
            ("sftp_host", text(&source["sftp_host"])),
            // Defaults read back as unset, like an empty s3_prefix.
            (
                "sftp_port",
                source["sftp_port"]
                    .as_i64()
                    .filter(|p| *p != i64::from(contract::run_config::DEFAULT_SFTP_PORT))
                    .map(Value::int)
                    .unwrap_or(Value::Null),
            ),
            ("sftp_user", text(&source["sftp_user"])),
            ("sftp_private_key_secret_arn", text(&source["sftp_private_key_secret_arn"])),
            ("sftp_host_key", text(&source["sftp_host_key"])),
            ("sftp_directory", text(&source["sftp_directory"])),
            (
                "sftp_glob",
                source["sftp_glob"].as_str().filter(|g| *g != "*").map(Value::string).unwrap_or(Value::Null),
            ),
            (
                "sftp_recursive",
                source["sftp_recursive"].as_bool().filter(|r| *r).map(Value::Bool).unwrap_or(Value::Null),
            ),
            (
                "incremental",
                source["incremental"].as_bool().filter(|r| *r).map(Value::Bool).unwrap_or(Value::Null),
            ),
            (
                "claim_ttl_seconds",
                source["claim_ttl_seconds"].as_i64().map(Value::int).unwrap_or(Value::Null),
            ),
            ("sftp_archive_bucket", text(&source["sftp_archive_bucket"])),
            (
                "sftp_archive_prefix",
                source["sftp_archive_prefix"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(Value::string)
                    .unwrap_or(Value::Null),
            ),
        ]),
    );
    let transform = settings.get("transform").filter(|t| t.is_object());
    set_in_block(
        &mut state,
        "processing",
        "transform",
        transform.map(|t| Value::string(t.to_string())).unwrap_or(Value::Null),
    );
    let top_level = |name: &str| shown_or_default(settings[name].as_i64().map(Value::int), "", name);
    state.set_attr("items_per_node", top_level("items_per_node"));
    state.set_attr("max_nodes", top_level("max_nodes"));
    let eb = &settings["egress_bucket"];
    state.set_attr(
        "egress_bucket",
        block(vec![
            ("name", text(&eb["name"])),
            ("create", shown_or_default(eb["create"].as_bool().map(Value::Bool), "egress_bucket", "create")),
            ("prefix", shown_or_default(eb["prefix"].as_str().map(Value::string), "egress_bucket", "prefix")),
        ]),
    );
    Ok(state)
}

/// ReadResource: the prior state when AWS cannot be asked.
pub(super) async fn read(clients: &ClientSlot, state: Value, private: Vec<u8>) -> ReadResponse {
    let clients = match clients.get() {
        Ok(c) => c,
        Err(diagnostics) => return ReadResponse { new_state: state, private, diagnostics },
    };
    match refresh(&clients, &state).await {
        Ok(new_state) => ReadResponse { new_state, private, ..Default::default() },
        Err(diagnostics) => ReadResponse { new_state: state, private, diagnostics },
    }
}

/// ImportResourceState: the pipeline named `id`, as Read would show it.
pub(super) async fn import(clients: &ClientSlot, id: &str) -> Result<Value, Diagnostics> {
    let clients = clients.get()?;
    let configuration = configuration_from_aws(&clients, &super::schema::schema(), id).await?;
    refresh(&clients, &configuration).await
}
