//! The `batch_pipeline` schema (docs/resources/pipeline.md is its user-facing
//! description; keep them in step).

use crate::tfplugin::{Attribute, Block, NestedBlock, Nesting, Schema, Type};

pub const STAGES: [&str; 3] = contract::STAGE_NAMES;

fn stage_block(stage: &str) -> NestedBlock {
    let mut block = Block::new(&format!("The {stage} array job definition."))
        .attr(Attribute::required("image", Type::String, "Container image."))
        .attr(Attribute::optional("vcpus", Type::Number, "vCPUs per node (default 1)."))
        .attr(Attribute::optional("memory", Type::Number, "Memory per node in MiB (default 2048)."))
        .attr(Attribute::optional("command", Type::list(Type::String), "Container command."))
        .attr(Attribute::optional("environment", Type::map(Type::String), "Extra environment variables."))
        .attr(Attribute::optional("retry_attempts", Type::Number, "Attempts per node, 1-10 (default 3)."))
        .attr(Attribute::optional(
            "retry_on_exit_codes",
            Type::set(Type::Number),
            "Exit codes that are retried (default [75]).",
        ))
        .attr(Attribute::optional(
            "timeout_seconds",
            Type::Number,
            "Timeout per attempt, >= 60 (default 3600).",
        ))
        .attr(Attribute::optional("execution_role_arn", Type::String, "ECS task execution role."))
        .attr(Attribute::optional("job_role_arn", Type::String, "Role the job runs as."));
    if stage == "processing" {
        block = block.attr(Attribute::optional("transform", Type::String, "JSON transform spec."));
    }
    NestedBlock::new(stage, Nesting::List, block).items(1, 1)
}

pub fn schema() -> Schema {
    let compute = Block::new("The managed compute environment.")
        .attr(Attribute::required("type", Type::String, "FARGATE, FARGATE_SPOT, EC2 or SPOT.").force_new())
        .attr(Attribute::required("max_vcpus", Type::Number, "Maximum vCPUs."))
        .attr(Attribute::optional("min_vcpus", Type::Number, "Minimum vCPUs (EC2/SPOT)."))
        .attr(Attribute::required("subnet_ids", Type::set(Type::String), "Subnets of the jobs.").force_new())
        .attr(
            Attribute::required(
                "security_group_ids",
                Type::set(Type::String),
                "Security groups of the jobs.",
            )
            .force_new(),
        )
        .attr(
            Attribute::optional("instance_types", Type::set(Type::String), "Instance types (EC2/SPOT).")
                .force_new(),
        )
        .attr(
            Attribute::optional("instance_role", Type::String, "Instance profile ARN (EC2/SPOT).")
                .force_new(),
        )
        .attr(
            Attribute::optional("allocation_strategy", Type::String, "Allocation strategy (EC2/SPOT).")
                .force_new(),
        )
        .attr(Attribute::optional("bid_percentage", Type::Number, "Spot bid percentage (SPOT).").force_new())
        // Computed too: left out, AWS Batch uses its service-linked role,
        // which an import reads back.
        .attr(
            Attribute::optional_computed("service_role_arn", Type::String, "Batch service role.").force_new(),
        );
    let queue = Block::new("The job queue.")
        .attr(Attribute::optional("priority", Type::Number, "Queue priority (default 1)."))
        .attr(Attribute::optional("state", Type::String, "ENABLED or DISABLED."));
    let efs = Block::new("The EFS file system and access point.")
        .attr(
            Attribute::optional_computed("file_system_id", Type::String, "Existing file system to use.")
                .force_new(),
        )
        .attr(Attribute::optional("performance_mode", Type::String, "generalPurpose or maxIO.").force_new())
        .attr(Attribute::optional("throughput_mode", Type::String, "elastic, bursting or provisioned."))
        .attr(Attribute::optional(
            "provisioned_throughput_mibps",
            Type::Number,
            "With provisioned throughput.",
        ))
        // Computed too: left out, EFS uses its AWS-managed key and the
        // mount targets the compute security groups; an import reads both.
        .attr(
            Attribute::optional_computed("kms_key_id", Type::String, "KMS key for encryption at rest.")
                .force_new(),
        )
        .attr(
            Attribute::optional_computed(
                "security_group_ids",
                Type::set(Type::String),
                "Mount target security groups.",
            )
            .force_new(),
        )
        .attr(Attribute::optional("root_directory", Type::String, "Access point root.").force_new())
        .attr(Attribute::optional("posix_uid", Type::Number, "Owner uid.").force_new())
        .attr(Attribute::optional("posix_gid", Type::Number, "Owner gid.").force_new())
        .attr(Attribute::optional("permissions", Type::String, "Octal mode of the root.").force_new())
        .attr(Attribute::optional("mount_path", Type::String, "Container mount path."));
    let source = Block::new("Where a run's work items come from.")
        .attr(Attribute::optional("s3_bucket", Type::String, "Bucket to list."))
        .attr(Attribute::optional("s3_prefix", Type::String, "Key prefix."))
        .attr(Attribute::optional("s3_suffix", Type::String, "Key suffix filter."))
        .attr(Attribute::optional("synthetic_count", Type::Number, "Generate this many ids."))
        .attr(Attribute::optional(
            "synthetic_format",
            Type::String,
            "Record format of the generated data: yelp-jsonl (default; for jsonl_calc) or ghcn-csv (GHCN-Daily by_year rows; for csv_validate with the ghcn-daily rule set).",
        ));
    let bucket = Block::new("The egress bucket.")
        .attr(Attribute::required("name", Type::String, "Bucket name.").force_new())
        .attr(Attribute::optional("create", Type::Bool, "Create it (default true).").force_new())
        .attr(Attribute::optional("prefix", Type::String, "Key prefix of results (default results)."));
    let timeouts = Block::new("Operation timeouts.")
        .attr(Attribute::optional("create", Type::String, "Default 30m."))
        .attr(Attribute::optional("update", Type::String, "Default 30m."))
        .attr(Attribute::optional("delete", Type::String, "Default 30m."));

    let mut block = Block::new("An AWS Batch N_TO_N array-job pipeline.")
        .attr(Attribute::computed("id", Type::String, "The pipeline name."))
        .attr(Attribute::required("name", Type::String, "Pipeline name.").force_new())
        .attr(Attribute::optional("items_per_node", Type::Number, "Work items per node (default 40)."))
        .attr(Attribute::optional("max_nodes", Type::Number, "Largest array size, 2-10000 (default 10000)."))
        .attr(Attribute::optional(
            "force_destroy",
            Type::Bool,
            "Delete the file system and bucket on destroy.",
        ))
        .attr(Attribute::optional(
            "keep_old_revisions",
            Type::Bool,
            "Keep superseded job definition revisions.",
        ))
        .attr(Attribute::optional("tags", Type::map(Type::String), "Tags."))
        .attr(Attribute::computed("tags_all", Type::map(Type::String), "Tags with the provider's defaults."))
        .attr(Attribute::computed("compute_environment_arn", Type::String, "Compute environment ARN."))
        .attr(Attribute::computed("ecs_cluster_arn", Type::String, "ECS cluster ARN."))
        .attr(Attribute::computed("job_queue_arn", Type::String, "Job queue ARN."))
        .attr(Attribute::computed("file_system_arn", Type::String, "File system ARN."))
        .attr(Attribute::computed("access_point_id", Type::String, "Access point id."))
        .attr(Attribute::computed("access_point_arn", Type::String, "Access point ARN."))
        .attr(Attribute::computed("mount_target_ids", Type::list(Type::String), "Mount target ids."))
        .attr(Attribute::computed(
            "job_definition_arns",
            Type::map(Type::String),
            "Stage -> job definition ARN.",
        ))
        .attr(Attribute::computed("egress_bucket_arn", Type::String, "Egress bucket ARN."))
        .attr(Attribute::computed("run_config", Type::String, "JSON run configuration for the prep Lambda."))
        .block(NestedBlock::new("compute", Nesting::List, compute).items(1, 1))
        .block(NestedBlock::new("queue", Nesting::List, queue).items(0, 1))
        .block(NestedBlock::new("efs", Nesting::List, efs).items(1, 1))
        .block(NestedBlock::new("source", Nesting::List, source).items(1, 1))
        .block(NestedBlock::new("egress_bucket", Nesting::List, bucket).items(1, 1))
        .block(NestedBlock::new("timeouts", Nesting::Single, timeouts));
    for stage in STAGES {
        block = block.block(stage_block(stage));
    }
    mark_defaulted("", &mut block);
    Schema::new(0, block)
}

/// Defaulted settings are optional + computed (see defaults.rs).
fn mark_defaulted(name: &str, block: &mut crate::tfplugin::Block) {
    for a in &mut block.attributes {
        if a.presence == crate::tfplugin::Presence::Optional && super::defaults::is_defaulted(name, &a.name) {
            a.presence = crate::tfplugin::Presence::OptionalComputed;
        }
    }
    for b in &mut block.blocks {
        let type_name = b.type_name.clone();
        mark_defaulted(&type_name, &mut b.block);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_follows_terraform_rules() {
        let problems = super::schema().block.check("batch_pipeline");
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
