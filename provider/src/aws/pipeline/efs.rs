//! EFS: the file system (created by creation token, or an existing one),
//! one mount target per subnet, and the access point that creates the
//! pipeline's root directory with its owner and mode.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_efs::Client;
use aws_sdk_efs::types::{
    AccessPointDescription, CreationInfo, FileSystemDescription, LifeCycleState, LifecyclePolicy,
    MountTargetDescription, PerformanceMode, PosixUser, RootDirectory, Tag, ThroughputMode,
    TransitionToIaRules,
};

use super::names::Names;
use super::part_tags;
use super::spec::Efs;
use super::state::Parts;
use super::wait::{self, Poll, aws_error};
use crate::tfplugin::{AttributePath, Diagnostic, Diagnostics};

const FIRST_POLL: Duration = Duration::from_millis(200);

/// The pipeline's tags and the `Name` tag EFS shows in its console.
fn tags_with_name(tags: &BTreeMap<String, String>, name: &str) -> BTreeMap<String, String> {
    let mut all = tags.clone();
    all.insert("Name".into(), name.to_string());
    all
}

fn efs_tags(tags: &BTreeMap<String, String>, name: &str) -> Result<Vec<Tag>, Diagnostics> {
    part_tags::efs_tag_list(&tags_with_name(tags, name))
}

pub async fn describe_fs_by_id(efs: &Client, id: &str) -> Result<Option<FileSystemDescription>, Diagnostics> {
    match efs.describe_file_systems().file_system_id(id).send().await {
        Ok(out) => Ok(out.file_systems().first().cloned()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_file_system_not_found()) => Ok(None),
        Err(e) => Err(aws_error("DescribeFileSystems", e)),
    }
}

async fn describe_fs_by_token(
    efs: &Client,
    token: &str,
) -> Result<Option<FileSystemDescription>, Diagnostics> {
    let out = efs
        .describe_file_systems()
        .creation_token(token)
        .send()
        .await
        .map_err(|e| aws_error("DescribeFileSystems", e))?;
    Ok(out.file_systems().iter().find(|f| f.life_cycle_state() != &LifeCycleState::Deleted).cloned())
}

/// The pipeline's file system as it is now, if it exists.
pub async fn find_file_system(
    efs: &Client,
    names: &Names,
    spec: &Efs,
) -> Result<Option<FileSystemDescription>, Diagnostics> {
    match &spec.existing_file_system_id {
        Some(id) => describe_fs_by_id(efs, id).await,
        None => describe_fs_by_token(efs, &names.efs_creation_token()).await,
    }
}

async fn wait_fs_available(
    efs: &Client,
    id: &str,
    deadline: Instant,
) -> Result<FileSystemDescription, Diagnostics> {
    wait::until(&format!("file system {id}"), deadline, FIRST_POLL, || async {
        Ok(match describe_fs_by_id(efs, id).await? {
            None => Poll::Pending("not visible yet".into()),
            Some(fs) => match fs.life_cycle_state() {
                LifeCycleState::Available => Poll::Ready(fs),
                LifeCycleState::Error => Poll::Failed(format!("file system {id} is in the error state")),
                other => Poll::Pending(other.as_str().to_string()),
            },
        })
    })
    .await
}

/// Finds or makes the file system, its mount targets and the access point,
/// recording each in `parts` as soon as it exists: a failure half way
/// still leaves in the state what a later apply adopts or a destroy
/// removes (the file system id above all).
pub(super) async fn ensure(
    efs: &Client,
    names: &Names,
    spec: &Efs,
    subnet_ids: &[String],
    tags: &BTreeMap<String, String>,
    deadline: Instant,
    parts: &mut Parts,
) -> Result<(), Diagnostics> {
    let fs_id = find_or_create_file_system(efs, names, spec, tags).await?;
    parts.file_system_id = Some(fs_id.clone());
    let fs = wait_fs_available(efs, &fs_id, deadline).await?;
    parts.file_system_arn = Some(fs.file_system_arn().unwrap_or_default().to_string());
    let added = &mut parts.mount_targets_added;
    let mount_target_ids =
        ensure_mount_targets(efs, &fs_id, subnet_ids, &spec.security_group_ids, deadline, added).await?;
    parts.mount_target_ids = Some(mount_target_ids);
    if spec.existing_file_system_id.is_none() {
        ensure_lifecycle(efs, &fs_id, spec.transition_to_ia.as_deref()).await?;
    }
    let ap = ensure_access_point(efs, names, spec, &fs_id, tags, deadline).await?;
    parts.access_point_id = Some(ap.access_point_id().unwrap_or_default().to_string());
    parts.access_point_arn = Some(ap.access_point_arn().unwrap_or_default().to_string());
    Ok(())
}

/// The id of the pipeline's file system: the configured one, the one made
/// earlier with the pipeline's creation token (kept by a destroy without
/// force_destroy, or made by a create that failed later), or a new one.
async fn find_or_create_file_system(
    efs: &Client,
    names: &Names,
    spec: &Efs,
    tags: &BTreeMap<String, String>,
) -> Result<String, Diagnostics> {
    if let Some(id) = &spec.existing_file_system_id {
        return match describe_fs_by_id(efs, id).await? {
            Some(_) => Ok(id.clone()),
            None => Err(Diagnostic::error(
                "File system not found",
                format!("efs.file_system_id {id:?} does not exist in this account and region."),
            )
            .into()),
        };
    }
    let token = names.efs_creation_token();
    if let Some(fs) = describe_fs_by_token(efs, &token).await? {
        check_adoptable(&fs, names, spec)?;
        update_throughput(efs, &fs, spec).await?;
        let id = fs.file_system_id().to_string();
        part_tags::sync_efs(efs, &id, &tags_with_name(tags, &names.pipeline)).await?;
        return Ok(id);
    }
    let mut create = efs
        .create_file_system()
        .creation_token(&token)
        .performance_mode(PerformanceMode::from(spec.performance_mode.as_str()))
        .throughput_mode(ThroughputMode::from(spec.throughput_mode.as_str()))
        .encrypted(true)
        .set_kms_key_id(spec.kms_key_id.clone())
        .set_tags(Some(efs_tags(tags, &names.pipeline)?));
    if let Some(mibps) = spec.provisioned_throughput_mibps {
        create = create.provisioned_throughput_in_mibps(mibps);
    }
    Ok(create.send().await.map_err(|e| aws_error("CreateFileSystem", e))?.file_system_id().to_string())
}

/// The file system's TransitionToIA policy, as configured (`None`: none).
pub async fn transition_to_ia(efs: &Client, fs_id: &str) -> Result<Option<String>, Diagnostics> {
    let current = efs
        .describe_lifecycle_configuration()
        .file_system_id(fs_id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeLifecycleConfiguration", e))?;
    Ok(current.lifecycle_policies().iter().find_map(|p| p.transition_to_ia()).map(|t| t.as_str().to_string()))
}

/// Sets the pipeline's file system's TransitionToIA policy to `wanted`,
/// keeping its other lifecycle policies (archive, back to primary) as
/// they are; nothing is written when it already matches.
async fn ensure_lifecycle(efs: &Client, fs_id: &str, wanted: Option<&str>) -> Result<(), Diagnostics> {
    let current = efs
        .describe_lifecycle_configuration()
        .file_system_id(fs_id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeLifecycleConfiguration", e))?;
    let policies = current.lifecycle_policies();
    let now = policies.iter().find_map(|p| p.transition_to_ia()).map(|t| t.as_str());
    if now == wanted {
        return Ok(());
    }
    let mut kept: Vec<LifecyclePolicy> =
        policies.iter().filter(|p| p.transition_to_ia().is_none()).cloned().collect();
    if let Some(wanted) = wanted {
        kept.push(LifecyclePolicy::builder().transition_to_ia(TransitionToIaRules::from(wanted)).build());
    }
    efs.put_lifecycle_configuration()
        .file_system_id(fs_id)
        .set_lifecycle_policies(Some(kept))
        .send()
        .await
        .map_err(|e| aws_error("PutLifecycleConfiguration", e))?;
    Ok(())
}

/// Throughput is the one setting of a file system that changes in place.
/// (moto has no UpdateFileSystem, so no test against it reaches this call.)
async fn update_throughput(efs: &Client, fs: &FileSystemDescription, spec: &Efs) -> Result<(), Diagnostics> {
    let mode = fs.throughput_mode().map(ThroughputMode::as_str).unwrap_or("bursting");
    let provisioned = spec.throughput_mode == "provisioned";
    let same_rate = !provisioned || fs.provisioned_throughput_in_mibps() == spec.provisioned_throughput_mibps;
    if mode == spec.throughput_mode && same_rate {
        return Ok(());
    }
    efs.update_file_system()
        .file_system_id(fs.file_system_id())
        .throughput_mode(ThroughputMode::from(spec.throughput_mode.as_str()))
        .set_provisioned_throughput_in_mibps(spec.provisioned_throughput_mibps.filter(|_| provisioned))
        .send()
        .await
        .map_err(|e| aws_error("UpdateFileSystem", e))?;
    Ok(())
}

/// A file system found by the pipeline's creation token is used only if
/// it is what the configuration asks for in the settings that cannot
/// change after creation: adopting one with another performance mode or
/// key (a replacement forced by those very settings, with the old file
/// system kept by `force_destroy = false`) would silently keep the old.
fn check_adoptable(fs: &FileSystemDescription, names: &Names, spec: &Efs) -> Result<(), Diagnostics> {
    let id = fs.file_system_id();
    let mut differences = Vec::new();
    let mode = fs.performance_mode().as_str();
    if mode != spec.performance_mode {
        differences.push(format!(
            "performance_mode is {mode:?}, the configuration asks for {:?}",
            spec.performance_mode
        ));
    }
    // An alias cannot be compared without asking KMS (EFS reports the
    // key's ARN), so only a key id or key ARN is checked.
    if let Some(wanted) =
        spec.kms_key_id.as_ref().filter(|k| !k.starts_with("alias/") && !k.contains(":alias/"))
    {
        let actual = fs.kms_key_id().unwrap_or_default();
        // AWS reports the key's ARN; the configuration may give its id.
        if actual != wanted && !actual.ends_with(&format!("/{wanted}")) {
            differences.push(format!("kms_key_id is {actual:?}, the configuration asks for {wanted:?}"));
        }
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(Diagnostic::error(
        "Kept file system does not match",
        format!(
            "EFS file system {id} (creation token {:?}) was kept from an earlier pipeline named {:?}, and this pipeline would use it, but its {}. These cannot change on an existing file system. Copy out what you need and delete that one file system (delete its mount targets and access points, then `aws efs delete-file-system --file-system-id {id}`), or set efs.file_system_id = {id:?} to use it as it is.",
            names.efs_creation_token(),
            names.pipeline,
            differences.join("; "),
        ),
    )
    .with_path(AttributePath::attr("efs").then_index(0))
    .into())
}

async fn ensure_mount_targets(
    efs: &Client,
    fs_id: &str,
    subnet_ids: &[String],
    security_groups: &[String],
    deadline: Instant,
    added: &mut Vec<String>,
) -> Result<Vec<String>, Diagnostics> {
    let covered: Vec<String> =
        mount_targets(efs, fs_id).await?.iter().map(|m| m.subnet_id().to_string()).collect();
    for subnet in subnet_ids.iter().filter(|s| !covered.contains(s)) {
        match efs
            .create_mount_target()
            .file_system_id(fs_id)
            .subnet_id(subnet)
            .set_security_groups(Some(security_groups.to_vec()))
            .send()
            .await
        {
            Ok(made) => added.push(made.mount_target_id().to_string()),
            // Another subnet in the same availability zone already has one:
            // jobs in this subnet reach EFS through it.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_mount_target_conflict()) => {}
            Err(e) => return Err(aws_error(&format!("CreateMountTarget in {subnet}"), e)),
        }
    }
    wait::until(&format!("mount targets of {fs_id}"), deadline, FIRST_POLL, || async {
        let targets = mount_targets(efs, fs_id).await?;
        if let Some(bad) = targets.iter().find(|m| m.life_cycle_state() == &LifeCycleState::Error) {
            return Ok(Poll::Failed(format!("mount target {} is in the error state", bad.mount_target_id())));
        }
        if targets.iter().all(|m| m.life_cycle_state() == &LifeCycleState::Available) {
            Ok(Poll::Ready(mount_target_ids(&targets)))
        } else {
            Ok(Poll::Pending("mount targets creating".into()))
        }
    })
    .await
}

/// The file system's mount targets.
pub async fn mount_targets(efs: &Client, fs_id: &str) -> Result<Vec<MountTargetDescription>, Diagnostics> {
    let out = efs
        .describe_mount_targets()
        .file_system_id(fs_id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeMountTargets", e))?;
    Ok(out.mount_targets().to_vec())
}

/// Mount target ids, sorted (as the state shows them).
pub fn mount_target_ids(targets: &[MountTargetDescription]) -> Vec<String> {
    let mut ids: Vec<String> = targets.iter().map(|m| m.mount_target_id().to_string()).collect();
    ids.sort();
    ids
}

pub async fn find_access_point(
    efs: &Client,
    names: &Names,
    fs_id: &str,
) -> Result<Option<AccessPointDescription>, Diagnostics> {
    let out = efs
        .describe_access_points()
        .file_system_id(fs_id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeAccessPoints", e))?;
    let wanted = names.access_point();
    Ok(out
        .access_points()
        .iter()
        .find(|ap| {
            ap.name() == Some(wanted.as_str())
                || ap.tags().iter().any(|t| t.key() == "Name" && t.value() == wanted)
        })
        .cloned())
}

async fn ensure_access_point(
    efs: &Client,
    names: &Names,
    spec: &Efs,
    fs_id: &str,
    tags: &BTreeMap<String, String>,
    deadline: Instant,
) -> Result<AccessPointDescription, Diagnostics> {
    if let Some(ap) = find_access_point(efs, names, fs_id).await?
        && let Some(id) = ap.access_point_id()
    {
        part_tags::sync_efs(efs, id, &tags_with_name(tags, &names.access_point())).await?;
    } else {
        let posix = PosixUser::builder()
            .uid(spec.posix_uid)
            .gid(spec.posix_gid)
            .build()
            .map_err(|e| aws_error("PosixUser", e))?;
        let creation = CreationInfo::builder()
            .owner_uid(spec.posix_uid)
            .owner_gid(spec.posix_gid)
            .permissions(&spec.permissions)
            .build()
            .map_err(|e| aws_error("CreationInfo", e))?;
        efs.create_access_point()
            .client_token(names.access_point())
            .file_system_id(fs_id)
            .posix_user(posix)
            .root_directory(
                RootDirectory::builder().path(&spec.root_directory).creation_info(creation).build(),
            )
            .set_tags(Some(efs_tags(tags, &names.access_point())?))
            .send()
            .await
            .map_err(|e| aws_error("CreateAccessPoint", e))?;
    }
    wait::until(&format!("access point {}", names.access_point()), deadline, FIRST_POLL, || async {
        Ok(match find_access_point(efs, names, fs_id).await? {
            None => Poll::Pending("not visible yet".into()),
            Some(ap) => match ap.life_cycle_state() {
                Some(LifeCycleState::Available) => Poll::Ready(ap),
                Some(LifeCycleState::Error) => Poll::Failed("access point is in the error state".into()),
                other => Poll::Pending(format!("{other:?}")),
            },
        })
    })
    .await
}

pub async fn delete_access_point(efs: &Client, names: &Names, fs_id: &str) -> Result<(), Diagnostics> {
    if let Some(ap) = find_access_point(efs, names, fs_id).await?
        && let Some(id) = ap.access_point_id()
    {
        efs.delete_access_point()
            .access_point_id(id)
            .send()
            .await
            .map_err(|e| aws_error("DeleteAccessPoint", e))?;
    }
    Ok(())
}

/// Deletes the file system's mount targets (`only` these ids, when given:
/// the ones the pipeline added to a file system the user brought) and
/// waits for them to go. The data stays; the network interfaces, which
/// hold the subnets and security groups they sit in, go.
pub async fn delete_mount_targets(
    efs: &Client,
    fs_id: &str,
    only: Option<&[String]>,
    deadline: Instant,
) -> Result<(), Diagnostics> {
    let chosen =
        |m: &MountTargetDescription| only.is_none_or(|ids| ids.iter().any(|id| id == m.mount_target_id()));
    for mt in mount_targets(efs, fs_id).await?.iter().filter(|m| chosen(m)) {
        efs.delete_mount_target()
            .mount_target_id(mt.mount_target_id())
            .send()
            .await
            .map_err(|e| aws_error("DeleteMountTarget", e))?;
    }
    wait::until(&format!("mount targets of {fs_id} to go"), deadline, FIRST_POLL, || async {
        Ok(if mount_targets(efs, fs_id).await?.iter().any(chosen) {
            Poll::Pending("deleting".into())
        } else {
            Poll::Ready(())
        })
    })
    .await
}

/// Deletes the mount targets, waits for them to go, then the file system.
pub async fn delete_file_system(efs: &Client, fs_id: &str, deadline: Instant) -> Result<(), Diagnostics> {
    if describe_fs_by_id(efs, fs_id).await?.is_none() {
        return Ok(());
    }
    delete_mount_targets(efs, fs_id, None, deadline).await?;
    efs.delete_file_system()
        .file_system_id(fs_id)
        .send()
        .await
        .map_err(|e| aws_error("DeleteFileSystem", e))?;
    wait::until(&format!("deletion of file system {fs_id}"), deadline, FIRST_POLL, || async {
        Ok(match describe_fs_by_id(efs, fs_id).await? {
            None => Poll::Ready(()),
            Some(fs) if fs.life_cycle_state() == &LifeCycleState::Deleted => Poll::Ready(()),
            Some(fs) => Poll::Pending(fs.life_cycle_state().as_str().to_string()),
        })
    })
    .await
}

/// Whether the pipeline created this file system (its creation token is
/// ours); a file system the user brought is never deleted.
pub async fn created_by_pipeline(efs: &Client, names: &Names, fs_id: &str) -> Result<bool, Diagnostics> {
    Ok(describe_fs_by_id(efs, fs_id)
        .await?
        .is_some_and(|fs| fs.creation_token() == names.efs_creation_token()))
}
